"""The batched Smith-Waterman (``align_many`` / ``align_pairs``) against a plain specification.

The oracle below is the textbook affine-gap local alignment written over full matrices, with the
tie rules of the module docstring spelled out directly (end: first reference column reaching the
maximum, smallest query row there; begin: the same on both sequences reversed and cut at the
end, stopping at the score). It shares no code with the kernels. CIGARs (SSW's banded traceback
quirks) are checked for internal consistency (lengths, =/X against the bases, the score they
spell) and against the one-at-a-time scalar path.
"""
import random

import numpy as np
import pytest

from beam_pipelines.core.realigner import smith_waterman as sw
from beam_pipelines.core.realigner import sw_lanes

BASES = "ACGT"


def _oracle_end(q, t, match, mismatch, gap_open, gap_extend, stop=None):
  """(best, column, row) by full DP; columns scanned left to right, ``stop`` as in SSW."""
  n, m = len(q), len(t)
  neg = -10**9
  h = [[0] * (m + 1) for _ in range(n + 1)]
  e = [[neg] * (m + 1) for _ in range(n + 1)]
  f = [[neg] * (m + 1) for _ in range(n + 1)]
  best, best_col, best_row = 0, -1, -1
  for j in range(1, m + 1):
    col_max, col_row = 0, -1
    for i in range(1, n + 1):
      e[i][j] = max(h[i][j - 1] - gap_open, e[i][j - 1] - gap_extend)
      f[i][j] = max(h[i - 1][j] - gap_open, f[i - 1][j] - gap_extend)
      a, b = q[i - 1], t[j - 1]
      s = 0 if a == 4 or b == 4 else (match if a == b else -mismatch)
      h[i][j] = max(0, h[i - 1][j - 1] + s, e[i][j], f[i][j])
      if h[i][j] > col_max:
        col_max, col_row = h[i][j], i - 1
    if col_max > best:
      best, best_col, best_row = col_max, j - 1, col_row
    if stop is not None and col_max >= stop:
      break
  return best, best_col, best_row


def _oracle(q, t, match=4, mismatch=6, gap_open=8, gap_extend=2):
  """(score, ref_begin, ref_end, query_begin, query_end), or score 0 and -1s."""
  q, t = list(q), list(t)
  if not q or not t:
    return 0, -1, -1, -1, -1
  score, ref_end, query_end = _oracle_end(q, t, match, mismatch, gap_open, gap_extend)
  if score <= 0:
    return 0, -1, -1, -1, -1
  _, rev_col, rev_row = _oracle_end(q[:query_end + 1][::-1], t[:ref_end + 1][::-1], match,
                                    mismatch, gap_open, gap_extend, stop=score)
  return score, ref_end - rev_col, ref_end, query_end - rev_row, query_end


def _check_cigar(aln, q, t, check_span=True):
  """The CIGAR covers the query, spans [ref_begin, ref_end], and its =/X agree with the bases.

  ``check_span=False``: SSW's traceback stops at the first query base and emits it as a match
  wherever the reference column is, so with gap_open < gap_extend its CIGAR can cover fewer
  reference bases than [ref_begin, ref_end] (a quirk we reproduce, not a kernel error).
  """
  if aln.score == 0:
    assert aln.cigar == ()
    return
  qi = ri = 0
  ops = [op for op, _ in aln.cigar]
  assert all(n > 0 for _, n in aln.cigar)
  assert "S" not in ops[1:-1]
  for op, n in aln.cigar:
    if op == "S":
      qi += n
    elif op in "=X":
      for k in range(n):
        same = q[qi + k] == t[aln.ref_begin + ri + k]
        assert same == (op == "="), (aln, qi + k)
      qi += n
      ri += n
    elif op == "I":
      qi += n
    else:
      ri += n
  assert qi == len(q)
  if check_span:
    assert ri == aln.ref_end - aln.ref_begin + 1
  lead = aln.cigar[0][1] if aln.cigar[0][0] == "S" else 0
  assert lead == aln.query_begin
  tail = aln.cigar[-1][1] if aln.cigar[-1][0] == "S" else 0
  assert tail == len(q) - 1 - aln.query_end


def _rand_seq(rng, n, n_rate=0.0):
  return "".join("N" if rng.random() < n_rate else rng.choice(BASES) for _ in range(n))


def _mutate(rng, seq, rate):
  """A copy of ``seq`` with substitutions, insertions and deletions (an indel-rich read)."""
  out = []
  for c in seq:
    r = rng.random()
    if r < rate / 3:
      out.append(rng.choice(BASES))
    elif r < 2 * rate / 3:
      out.append(c + _rand_seq(rng, rng.randint(1, 4)))
    elif r < rate:
      continue
    else:
      out.append(c)
  return "".join(out)


def _cases(seed, count):
  """(queries, target) groups: random, repeats, homopolymers, N runs, mutated substrings."""
  rng = random.Random(seed)
  groups = []
  for _ in range(count):
    kind = rng.choice(["random", "repeat", "homopolymer", "substring", "n_rich"])
    m = rng.randint(1, 70)
    if kind == "repeat":
      unit = _rand_seq(rng, rng.randint(1, 4))
      target = (unit * 80)[:m]
    elif kind == "homopolymer":
      target = _rand_seq(rng, m // 3) + rng.choice(BASES) * (m - 2 * (m // 3)) + \
          _rand_seq(rng, m // 3)
    elif kind == "n_rich":
      target = _rand_seq(rng, m, n_rate=0.2)
    else:
      target = _rand_seq(rng, m)
    queries = []
    for _ in range(rng.choice([1, 1, 2, 3, 5, 9])):
      r = rng.random()
      if r < 0.5 and len(target) > 2:
        a = rng.randint(0, len(target) - 1)
        b = rng.randint(a + 1, len(target))
        q = _mutate(rng, target[a:b], rng.choice([0.0, 0.05, 0.2]))
        q = _rand_seq(rng, rng.randint(0, 3)) + q + _rand_seq(rng, rng.randint(0, 3))
      elif r < 0.6:
        q = _rand_seq(rng, rng.randint(1, 50), n_rate=0.3)
      else:
        q = _rand_seq(rng, rng.randint(1, 50))
      queries.append(q or "A")
    groups.append((queries, target))
  return groups


def _assert_matches_oracle(alns, queries, targets, params):
  for aln, q, t in zip(alns, queries, targets):
    qc, tc = sw.encode(q), sw.encode(t)
    want = _oracle(qc.tolist(), tc.tolist(), *params)
    got = (aln.score, aln.ref_begin, aln.ref_end, aln.query_begin, aln.query_end)
    assert got == want, (q, t, params, got, want)
    _check_cigar(aln, qc, tc, check_span=params[2] >= params[3])


@pytest.mark.parametrize("seed", [
    1,  # mixed kinds with the default (DeepVariant) scoring
    2,  # another draw: different group sizes and repeat units
    3,  # a third draw
])
def test_align_many_matches_oracle(seed):
  params = (4, 6, 8, 2)
  for queries, target in _cases(seed, 25):
    alns = sw.align_many([sw.encode(q) for q in queries], sw.encode(target), *params)
    assert len(alns) == len(queries)
    _assert_matches_oracle(alns, queries, [target] * len(queries), params)
    scalar = [sw._align_codes_scalar(sw.encode(q), sw.encode(target), *params) for q in queries]
    assert alns == scalar


@pytest.mark.parametrize("params", [
    (2, 3, 5, 1),    # shallower scoring: longer gaps pay off
    (1, 1, 1, 1),    # linear gaps, many ties
    (3, 2, 2, 3),    # gap_open < gap_extend: the reverse-pass band does not apply
    (5, 4, 12, 1),   # cheap extension: long indels
])
def test_align_many_other_scoring(params):
  for queries, target in _cases(sum(params), 15):
    alns = sw.align_many([sw.encode(q) for q in queries], sw.encode(target), *params)
    _assert_matches_oracle(alns, queries, [target] * len(queries), params)
    assert alns == [sw._align_codes_scalar(sw.encode(q), sw.encode(target), *params)
                    for q in queries]


def test_align_pairs_mixes_targets_in_one_batch():
  # 70 pairs fill two full 32-lane blocks and a shared remainder block, each lane its own target.
  rng = random.Random(7)
  queries, targets = [], []
  for _ in range(70):
    t = _rand_seq(rng, rng.randint(5, 60))
    a = rng.randint(0, len(t) - 3)
    queries.append(_mutate(rng, t[a:a + rng.randint(3, 30)], 0.1) or "C")
    targets.append(t)
  alns = sw.align_pairs([sw.encode(q) for q in queries], [sw.encode(t) for t in targets])
  _assert_matches_oracle(alns, queries, targets, (4, 6, 8, 2))


def test_many_queries_one_target_uses_full_blocks_exactly():
  # 45 reads of one haplotype: one full block of 32 (one segment each) plus 13 segmented ones;
  # the batch must equal aligning each read on its own.
  rng = random.Random(11)
  hap = _rand_seq(rng, 150)
  reads = []
  for _ in range(45):
    a = rng.randint(0, 100)
    reads.append(_mutate(rng, hap[a:a + rng.randint(20, 50)], 0.08) or "G")
  codes = [sw.encode(r) for r in reads]
  batch = sw.align_many(codes, sw.encode(hap))
  single = [sw.align_codes(c, sw.encode(hap)) for c in codes]
  assert batch == single
  _assert_matches_oracle(batch, reads, [hap] * len(reads), (4, 6, 8, 2))


@pytest.mark.parametrize("query,target,want", [
    ("", "ACGT", (0, -1, -1, -1, -1)),          # empty query: no alignment
    ("ACGT", "", (0, -1, -1, -1, -1)),          # empty target: no alignment
    ("NNNN", "ACGT", (0, -1, -1, -1, -1)),      # N scores 0: nothing positive
    ("A", "A", (4, 0, 0, 0, 0)),                # single base
    ("A", "CCCA", (4, 3, 3, 0, 0)),             # single base found at the end
    ("AAAA", "AAAAAAAA", (16, 0, 3, 0, 3)),     # homopolymer: first column reaching the max
    ("ACAC", "ACACACAC", (16, 0, 3, 0, 3)),     # tandem repeat: leftmost copy
])
def test_edge_cases(query, target, want):
  aln = sw.align_many([sw.encode(query)], sw.encode(target))[0]
  assert (aln.score, aln.ref_begin, aln.ref_end, aln.query_begin, aln.query_end) == want
  assert want == _oracle(sw.encode(query).tolist(), sw.encode(target).tolist())


def test_long_query_and_int32_lanes():
  # A 300-base haplotype against its 320-base reference (segmented over all lanes), once with
  # int16 lanes and once with a match score that forces int32 lanes; both equal the scalar path.
  rng = random.Random(5)
  ref = _rand_seq(rng, 320)
  hap = ref[10:150] + "TTTT" + ref[150:200] + ref[205:310]
  for params in ((4, 6, 8, 2), (200, 6, 8, 2)):
    assert sw._lane_dtype(*params, len(hap), len(ref)) == (np.int16 if params[0] == 4
                                                           else np.int32)
    aln = sw.align_many([sw.encode(hap)], sw.encode(ref), *params)[0]
    assert aln == sw._align_codes_scalar(sw.encode(hap), sw.encode(ref), *params)
    assert aln.ref_begin == 10 and aln.query_begin == 0


def test_empty_batch_and_mismatched_pairs():
  assert sw.align_many([], sw.encode("ACGT")) == []
  with pytest.raises(ValueError, match="2 queries but 1 targets"):
    sw.align_pairs([sw.encode("A"), sw.encode("C")], [sw.encode("A")])


def test_reverse_band_finds_the_oracle_begin():
  # The banded reverse search (used where the band is narrow) gives the oracle's begin on
  # indel-rich copies, including where the band clips at both sequence ends.
  rng = random.Random(3)
  for _ in range(80):
    t = _rand_seq(rng, rng.randint(10, 60))
    q = _mutate(rng, t, 0.1) or "A"
    qc, tc = sw.encode(q), sw.encode(t)
    score, rb, re_, qb, qe = _oracle(qc.tolist(), tc.tolist())
    if score == 0:
      continue
    rq = np.ascontiguousarray(qc[:qe + 1][::-1])
    rt = np.ascontiguousarray(tc[:re_ + 1][::-1])
    band = sw_lanes.reverse_band(rq, rt, score, 4, 8, 2)
    assert band >= 0
    col, row = sw_lanes.banded_first_hit(rq, rt, score, band, 4, 6, 8, 2)
    assert (re_ - col, qe - row) == (rb, qb)
