"""The compiled fast pass (fast_pass.py) against small, obviously-correct references.

The references below restate the module docstring with plain loops (a dict of read k-mers, a
set of tried placements, coverage recounted from the accepted placements at every step); the
production code must agree on every haplotype score, placement position and placement score,
and ``align_reads`` must agree read for read with a step 3-6 reference that composes every
CIGAR with ``cigar_compose.compose`` (no shortcut).
"""
import dataclasses

import numpy as np
import pytest

from beam_pipelines.core.reads import Read, parse_cigar
from beam_pipelines.core.realigner import cigar_compose, fast_pass, smith_waterman
from beam_pipelines.core.realigner.fast_pass import FastPassAligner
from beam_pipelines.core.realigner.options import AlignerOptions

MARGIN = 20


# -- references -----------------------------------------------------------------------------
def _ref_mismatches(a, b):
  return sum(1 for x, y in zip(a, b) if x != y and x != "N" and y != "N")


def _ref_fast_pass(hap, reference, seqs, opts, prefix_len, suffix_len):
  """Step 2 for one haplotype: (score, {read: (position, score)})."""
  k = opts.kmer_size
  index = {}
  for r, seq in enumerate(seqs):
    if len(seq) > k:
      for p in range(len(seq) - k + 1):
        index.setdefault(seq[p:p + k], []).append((r, p))
  best = {}
  accepted = []  # every accepted (start, length), superseded or not
  tried = set()
  for i in range(len(hap) - k + 1):
    for r, p in index.get(hap[i:i + k], []):
      t = max(0, i - p)
      length = len(seqs[r])
      if t + length > len(hap) or (r, t) in tried:
        continue
      tried.add((r, t))
      mm = _ref_mismatches(hap[t:t + length], seqs[r])
      if mm > opts.max_num_of_mismatches:
        continue
      accepted.append((t, length))
      score = (length - mm) * opts.match - mm * opts.mismatch
      if score > best.get(r, (-1, 0))[1]:
        best[r] = (t, score)
    covered = sum(1 for t, n in accepted if t <= i < t + n)
    if hap != reference and prefix_len <= i < len(hap) - suffix_len and covered == 0:
      return 0, {}
  return sum(s for _, s in best.values()), best


def _ref_align_reads(aligner, reads):
  """Steps 2-6 with plain loops; every read's CIGAR is composed with cigar_compose."""
  opts = aligner.opts
  seqs = [r.seq.upper() for r in reads]
  haps = aligner.haplotypes
  fast = [_ref_fast_pass(h, aligner.reference, seqs, opts, aligner.prefix_len,
                         aligner.suffix_len) for h in haps]
  totals = [score for score, _ in fast]
  placements = [{r: (t, s, (("M", len(seqs[r])),)) for r, (t, s) in pl.items()}
                for _, pl in fast]
  hap_cigar, ref_pos, is_ref = [], [], []
  for hap in haps:
    if hap == aligner.reference:
      cigar, pos, same = (("=", len(hap)),), 0, True
    else:
      aln = smith_waterman.align(hap, aligner.reference, opts.match, opts.mismatch,
                                 opts.gap_open, opts.gap_extend)
      cigar = aln.cigar if aln.score > 0 else ()
      pos = aln.ref_begin if aln.score > 0 else 0
      same = aln.score > 0 and cigar == (("=", len(hap)),)
    hap_cigar.append(cigar)
    ref_pos.append(pos)
    is_ref.append(same)
  threshold = fast_pass.score_threshold(len(seqs[0]), opts)
  for r, seq in enumerate(seqs):
    if any(pl.get(r, (0, 0))[1] > 0 for pl in placements):
      continue
    for h, hap in enumerate(haps):
      if totals[h] == 0:
        continue
      aln = smith_waterman.align(seq, hap, opts.match, opts.mismatch, opts.gap_open,
                                 opts.gap_extend)
      if aln.score > 0 and aln.score >= threshold:
        placements[h][r] = (aln.ref_begin, aln.score, aln.cigar)
  order = sorted(range(len(haps)), key=lambda h: totals[h])
  out = []
  for r, (read, seq) in enumerate(zip(reads, seqs)):
    best, best_score = None, 0
    for h in order:
      s = placements[h].get(r, (0, 0))[1]
      if s > best_score or (best_score > 0 and s == best_score and not is_ref[h]):
        best, best_score = h, s
    if best is None or not cigar_compose.normalize_ops(hap_cigar[best]):
      out.append(read)
      continue
    t, _, read_cigar = placements[best][r]
    shifts = fast_pass.position_shifts(len(haps[best]), hap_cigar[best])
    offset = ref_pos[best] + t + int(shifts[t])
    cigar = cigar_compose.compose(len(seq), cigar_compose.normalize_ops(read_cigar), t,
                                  cigar_compose.normalize_ops(hap_cigar[best]))
    if (not cigar or not cigar_compose.is_normalized(cigar, offset, aligner.reference, seq)
        or sum(n for op, n in cigar if op != "D") != len(seq)):
      out.append(read)
      continue
    codes = tuple(("MIDNSHP=X".index(op), n) for op, n in cigar)
    out.append(dataclasses.replace(read, start=aligner.ref_start + offset, cigar=codes))
  return out


# -- random windows -------------------------------------------------------------------------
def _rand(rng, n, alphabet="ACGT"):
  return "".join(rng.choice(list(alphabet), size=n)) if n > 0 else ""


def _core(rng, kind, n):
  """Window core sequences of several shapes (repeats make many k-mer hits per read)."""
  if kind == "random":
    return _rand(rng, n)
  if kind == "tandem":
    unit = _rand(rng, int(rng.randint(2, 7)))
    return (_rand(rng, n // 3) + unit * (n // len(unit)))[:n] + _rand(rng, n // 3)
  if kind == "homopolymer":
    seq = list(_rand(rng, n))
    for _ in range(4):
      at = int(rng.randint(0, n - 12))
      seq[at:at + 10] = rng.choice(list("ACGT")) * 10
    return "".join(seq)
  return ("ACGT" * n)[:n]  # "period4": every k-mer recurs every 4 bases


def _variant(rng, core):
  at = int(rng.randint(MARGIN, len(core) - MARGIN))
  what = rng.randint(3)
  if what == 0:
    return core[:at] + "ACGT".replace(core[at], "")[rng.randint(3)] + core[at + 1:]
  if what == 1:
    return core[:at] + _rand(rng, int(rng.randint(1, 7))) + core[at:]
  return core[:at] + core[at + int(rng.randint(1, 7)):]


def _reads(rng, haps, count, length, n_rate=0.0):
  seqs = []
  for _ in range(count):
    kind = rng.rand()
    n = length if rng.rand() < 0.8 else int(rng.randint(1, length + 10))
    if kind < 0.1:
      seqs.append(_rand(rng, n))  # placed nowhere: Smith-Waterman fallback
      continue
    hap = haps[rng.randint(len(haps))]
    n = min(n, len(hap))
    start = int(rng.randint(0, len(hap) - n + 1))
    seq = list(hap[start:start + n])
    for _ in range(rng.randint(0, 4)):
      seq[rng.randint(n)] = rng.choice(list("ACGT"))
    for q in range(n):
      if rng.rand() < n_rate:
        seq[q] = "N"
    seqs.append("".join(seq))
  return seqs


def _window(seed, kind="random", core_len=160, read_len=60, count=40, n_rate=0.0,
            opts=AlignerOptions()):
  rng = np.random.RandomState(seed)
  prefix, suffix = _rand(rng, MARGIN), _rand(rng, MARGIN)
  core = _core(rng, kind, core_len)
  haps = sorted({core} | {_variant(rng, core) for _ in range(rng.randint(1, 4))})
  if rng.rand() < 0.3:
    haps.remove(core)  # not every window keeps the reference haplotype
  haps = [prefix + h + suffix for h in haps]
  reference = prefix + core + suffix
  seqs = _reads(rng, haps, count, read_len, n_rate)
  aligner = FastPassAligner(reference, 1000, MARGIN, MARGIN, haps, opts)
  return aligner, seqs


def _assert_same_fast_pass(aligner, seqs):
  hap_scores, positions, scores = aligner.fast_pass(seqs)
  for h, hap in enumerate(aligner.haplotypes):
    want_score, want = _ref_fast_pass(hap, aligner.reference, seqs, aligner.opts,
                                      aligner.prefix_len, aligner.suffix_len)
    assert hap_scores[h] == want_score, h
    want_pos = [want.get(r, (-1, 0))[0] for r in range(len(seqs))]
    want_scores = [want.get(r, (-1, 0))[1] for r in range(len(seqs))]
    assert positions[h].tolist() == want_pos, h
    assert scores[h].tolist() == want_scores, h


@pytest.mark.parametrize("kind,k,max_mm,read_len,n_rate", [
    ("random", 32, 2, 60, 0.0),        # v1.5 defaults on unique sequence
    ("random", 32, 2, 60, 0.02),       # N in reads: k-mers dropped, mismatches still exact
    ("tandem", 8, 2, 40, 0.0),         # short k in a tandem repeat: many hits per read, ties
    ("homopolymer", 10, 3, 45, 0.01),  # runs: the same k-mer at many haplotype positions
    ("period4", 12, 2, 30, 0.0),       # every k-mer recurs every 4 bases: tried de-duplication
    ("random", 31, 0, 33, 0.0),        # reads of k+2 bases or shorter, exact matches only
    ("tandem", 5, 5, 20, 0.05),        # tiny k, lenient mismatch limit
])
def test_fast_pass_matches_reference_on_random_windows(kind, k, max_mm, read_len, n_rate):
  """Scores, positions and placement scores equal the plain-loop reference, window by window."""
  opts = AlignerOptions(kmer_size=k, max_num_of_mismatches=max_mm)
  for seed in range(12):
    aligner, seqs = _window(seed, kind, read_len=read_len, n_rate=n_rate, opts=opts)
    _assert_same_fast_pass(aligner, seqs)


def test_fast_pass_discards_and_keeps_reference_like_reference():
  """A haplotype with a variant no read supports is discarded (score 0, no placements) while
  the reference haplotype, walked with the same reads, is kept."""
  rng = np.random.RandomState(5)
  ref = _rand(rng, 200)
  alt = ref[:100] + "TTTTT" + ref[100:]
  seqs = [ref[s:s + 60] for s in range(0, 141, 7)]
  aligner = FastPassAligner(ref, 0, MARGIN, MARGIN, [alt, ref])
  hap_scores, positions, scores = aligner.fast_pass(seqs)
  assert hap_scores[0] == 0 and (positions[0] == -1).all() and (scores[0] == 0).all()
  assert hap_scores[1] == 240 * len(seqs)  # every read placed exactly: 60 * 4
  _assert_same_fast_pass(aligner, seqs)


@pytest.mark.parametrize("first,end,discarded", [
    (21, 200, True),   # haplotype offset 20 (= prefix length) uncovered: checked, discarded
    (20, 200, False),  # covered from the prefix length on: kept
    (0, 179, True),    # offset 179 (= 200 - suffix - 1) uncovered: discarded
    (0, 180, False),   # offset 180 is in the suffix margin, never checked: kept
])
def test_discard_checks_exactly_the_offsets_between_the_margins(first, end, discarded):
  """Reads tile haplotype offsets [first, end); k = 8 so every offset up to 192 is walked."""
  rng = np.random.RandomState(21)
  hap = _rand(rng, 200)
  seqs = [hap[s:s + 40] for s in range(first, end - 40 + 1)]
  aligner = FastPassAligner(_rand(rng, 200), 0, MARGIN, MARGIN, [hap],
                            AlignerOptions(kmer_size=8))
  hap_scores, _, scores = aligner.fast_pass(seqs)
  assert (hap_scores[0] == 0) == discarded
  assert (scores[0] == 0).all() == discarded
  _assert_same_fast_pass(aligner, seqs)


@pytest.mark.parametrize("hap_edit,expect_python", [
    (lambda h: h, []),                               # upper-case ACGT only: all compiled
    (lambda h: h[:50] + "N" + h[51:], [0]),         # an N in a haplotype: that one in Python
    (lambda h: h[:70] + h[70].lower() + h[71:], [0]),  # lower case is not ACGT either
])
def test_non_acgt_haplotypes_take_the_python_path(monkeypatch, hap_edit, expect_python):
  """Only haplotypes with a non-ACGT byte go through ``_fast_align``; results still match."""
  rng = np.random.RandomState(3)
  ref = _rand(rng, 220)
  hap = hap_edit(ref[:120] + "G" + ref[121:])
  seqs = [hap[s:s + 50].upper() for s in range(0, 171, 5)] + ["N" * 40 + ref[:30]]
  aligner = FastPassAligner(ref, 0, MARGIN, MARGIN, [hap, ref])
  called = []
  original = FastPassAligner._fast_align

  def spy(self, h, *args):
    called.append(self.haplotypes.index(h))
    return original(self, h, *args)

  monkeypatch.setattr(FastPassAligner, "_fast_align", spy)
  _assert_same_fast_pass(aligner, seqs)
  assert called == expect_python


def test_long_kmer_falls_back_to_python_exactly():
  """k = 40 does not fit 2 bits/base in 64 bits: every haplotype takes the Python path."""
  aligner, seqs = _window(9, "random", read_len=70, opts=AlignerOptions(kmer_size=40))
  _assert_same_fast_pass(aligner, seqs)


@pytest.mark.parametrize("haps,seqs", [
    ([], ["ACGT" * 10]),                   # no haplotypes
    (["ACGTACGTAC"], ["ACGT" * 10]),       # haplotype shorter than k
    (["ACGT" * 20], []),                   # no reads
    (["ACGT" * 20], ["ACGT" * 8, "A"]),    # reads of exactly k bases and of 1: never indexed
    (["ACGT" * 20], ["N" * 50]),           # all-N read: no k-mer, never placed
])
def test_fast_pass_edge_inputs(haps, seqs):
  """Degenerate inputs give empty results of the right shape, like the reference."""
  aligner = FastPassAligner("ACGT" * 20, 0, 0, 0, haps)
  hap_scores, positions, scores = aligner.fast_pass(seqs)
  assert positions.shape == scores.shape == (len(haps), len(seqs))
  _assert_same_fast_pass(aligner, seqs)


def test_kernel_runs_as_plain_python():
  """The uncompiled kernel (what runs without numba) gives the compiled kernel's answer."""
  aligner, seqs = _window(1, "tandem", core_len=90, read_len=40, count=15,
                          opts=AlignerOptions(kmer_size=9))
  compiled = aligner.fast_pass(seqs)
  kernel = fast_pass._fast_pass_kernel
  try:
    fast_pass._fast_pass_kernel = getattr(kernel, "py_func", kernel)
    plain = aligner.fast_pass(seqs)
  finally:
    fast_pass._fast_pass_kernel = kernel
  for a, b in zip(compiled, plain):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("length", [0, 1, 31, 32, 33, 101, 255, 256, 70000])
def test_mismatches_counts_exactly(length):
  """Every length (SIMD remainders included), N on either side; no narrow counter overflows."""
  rng = np.random.RandomState(length)
  a = rng.choice(np.frombuffer(b"ACGTN", dtype=np.uint8), size=length)
  b = rng.choice(np.frombuffer(b"ACGTN", dtype=np.uint8), size=length)
  want = _ref_mismatches(a.tobytes().decode(), b.tobytes().decode())
  assert fast_pass._mismatches(a, b) == want
  c = np.full(length, ord("A"), dtype=np.uint8)
  d = np.full(length, ord("C"), dtype=np.uint8)
  assert fast_pass._mismatches(c, d) == length


# -- steps 5 and 6 ----------------------------------------------------------------------------
def _as_reads(seqs, start=1000):
  return [Read(name=f"r{i}", flag=0, contig="chrT", start=start + i, mapq=60,
               cigar=((0, len(s)),), seq=s, qual=np.full(len(s), 30, dtype=np.uint8))
          for i, s in enumerate(seqs)]


@pytest.mark.parametrize("kind,read_len", [
    ("random", 60),       # SNPs and indels in unique sequence
    ("tandem", 50),       # indels in repeats: shifted, un-normalized compositions
    ("homopolymer", 45),  # indels in runs
])
def test_align_reads_matches_reference(kind, read_len):
  """New starts and CIGARs (and which reads are kept as they were) equal the plain-loop
  reference that composes every CIGAR; this covers the [M, len] shortcut of step 6."""
  opts = AlignerOptions(kmer_size=16)
  for seed in range(8):
    aligner, seqs = _window(100 + seed, kind, core_len=140, read_len=read_len, count=30,
                            opts=opts)
    reads = _as_reads(seqs)
    got = aligner.align_reads(reads)
    want = _ref_align_reads(aligner, reads)
    assert [(r.start, r.cigar) for r in got] == [(r.start, r.cigar) for r in want], seed
    # The input object comes back exactly when its alignment is unchanged (what counts
    # reads_realigned).
    assert [a is b for a, b in zip(got, reads)] == [
        (w.start, w.cigar) == (r.start, r.cigar) for w, r in zip(want, reads)]


def _random_hap_cigar(rng, hap_len):
  ops, used = [], 0
  if rng.rand() < 0.3:
    n = int(rng.randint(1, 6))
    ops.append(["S", n])
    used += n
  while used < hap_len:
    n = min(int(rng.randint(1, 25)), hap_len - used)
    ops.append(["M", n])
    used += n
    if used >= hap_len:
      break
    for op in rng.permutation(["I", "D"])[:rng.randint(1, 3)]:
      n = int(rng.randint(1, 5))
      if op == "I":
        n = min(n, hap_len - used)
        used += n
      if n:
        ops.append([str(op), n])
  return cigar_compose.normalize_ops(ops)


def test_run_ends_shortcut_equals_compose():
  """Wherever ``t + len <= run_ends[t]``, compose of an all-M read gives [M, len]: checked on
  random haplotype CIGARs with S, adjacent I/D and short M runs, at every offset and length."""
  rng = np.random.RandomState(0)
  checked = 0
  for _ in range(200):
    hap_len = int(rng.randint(5, 80))
    cigar = _random_hap_cigar(rng, hap_len)
    ends = fast_pass.run_ends(hap_len, cigar)
    for t in range(hap_len):
      for n in range(1, hap_len - t + 1):
        if t + n <= ends[t]:
          assert cigar_compose.compose(n, [["M", n]], t, cigar) == [["M", n]], (cigar, t, n)
          checked += 1
  assert checked > 1000


def test_run_ends_values():
  """Worked example: S2 M3 I2 D1 M4 -> M runs at haplotype offsets [2, 5) and [7, 11)."""
  ends = fast_pass.run_ends(11, [["S", 2], ["M", 3], ["I", 2], ["D", 1], ["M", 4]])
  assert ends.tolist() == [0, 0, 5, 5, 5, 0, 0, 11, 11, 11, 11]


def test_moved_equals_dataclasses_replace():
  """A moved read is ``dataclasses.replace`` (all fields, ``end`` recomputed); an unmoved read
  is returned as is."""
  read = Read("q", 99, "chrT", 10, 60, parse_cigar("5M2D5M"), "ACGTACGTAC",
              np.arange(10, dtype=np.uint8), 300, "chrT", 400)
  assert read.end == 22
  new = fast_pass._moved(read, 15, parse_cigar("10M"))
  assert new == dataclasses.replace(read, start=15, cigar=parse_cigar("10M"))
  assert new.end == 25 and new.qual is read.qual
  assert fast_pass._moved(read, 10, parse_cigar("5M2D5M")) is read
