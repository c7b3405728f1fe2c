"""Local Smith-Waterman alignment that places gaps where DeepVariant's aligner (SSW) does.

Why our own and not a generic aligner: v1.5 aligns haplotypes to the reference, and reads that
the k-mer pass cannot place, with the Striped Smith-Waterman library (SSW v1.0, through its C++
``Aligner``). Where an indel sits in a homopolymer or a tandem repeat every equally scoring
placement is "correct", and the realigned reads (hence candidates and pileups) depend on which
one SSW picks, so we reproduce its choices, not just its score:

1. **Score and end**: plain affine-gap local alignment (gap of length g costs
   ``gap_open + (g - 1) * gap_extend``; ``N`` scores 0 against anything). The end is the *first*
   reference column whose best cell reaches the global maximum, and within that column the
   *smallest* query index that reaches it.
2. **Begin**: the same search run on both sequences reversed, cut at that end; the first
   (i.e. right-most) column reaching the maximum gives the reference begin, the smallest
   reversed query index the query begin. This yields the shortest alignment with the best score.
3. **CIGAR**: SSW's ``banded_sw`` between begin and end: a banded DP (band half-width
   ``|ref_len - query_len| + 1``, doubled until it reaches the score) traced back from the
   bottom-right cell, preferring the diagonal on ties, then the deletion (gap in the query),
   and extension over opening. The traceback stops at the first query base, which is always
   emitted as a match (as SSW v1.0 does).
4. The wrapper turns ``M`` runs into ``=``/``X`` and adds ``S`` for unaligned query ends.

Everything is 0-based; the reported ``ref_begin`` is the index in the reference string.

The DP kernels are plain loops over uint8 code arrays (A=0, C=1, G=2, T=3, other=4), compiled
with numba when it is installed (about 100x faster); without numba they run as Python, which
is correct but only fit for tests.
"""
from __future__ import annotations

import dataclasses
from typing import List, Tuple

import numpy as np

from beam_pipelines.core.jit import HAVE_NUMBA, njit as _jit  # noqa: F401

_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
  _CODE[_b] = _i
  _CODE[_b + 32] = _i  # lower case


def encode(seq: str) -> np.ndarray:
  """'ACGTN' -> uint8 codes 0..4 (anything not A/C/G/T is 4, i.e. N)."""
  return _CODE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


@_jit
def _score(a, b, match, mismatch):
  if a == 4 or b == 4:
    return 0
  return match if a == b else -mismatch


@_jit
def _best_end(query, ref, match, mismatch, gap_open, gap_extend, stop_at):
  """(score, ref_end, query_end) of the best local alignment, with SSW's tie rules.

  Stops at the first column whose best cell reaches ``stop_at`` (SSW's ``terminate``, used by
  the reverse pass that looks for the begin; pass a huge value to scan everything).
  """
  n = query.shape[0]
  m = ref.shape[0]
  # Query profile: score of each query base against reference code 0..4.
  prof = np.zeros((5, n), dtype=np.int32)
  for c in range(5):
    for i in range(n):
      prof[c, i] = _score(query[i], c, match, mismatch)
  h_prev = np.zeros(n, dtype=np.int32)   # H of the previous reference column
  h_cur = np.zeros(n, dtype=np.int32)
  e = np.full(n, -(1 << 28), dtype=np.int32)  # gap along the reference (horizontal)
  best = 0
  best_ref = -1
  best_query = -1
  for j in range(m):
    prow = prof[ref[j]]
    f = -(1 << 28)                        # gap along the query (vertical)
    h_up = 0
    diag = 0
    col_max = 0
    col_arg = -1
    for i in range(n):
      hp = h_prev[i]
      ev = max(hp - gap_open, e[i] - gap_extend)
      e[i] = ev
      if i > 0:
        f = max(h_up - gap_open, f - gap_extend)
      h = max(max(diag + prow[i], ev), max(f, 0))
      diag = hp
      h_cur[i] = h
      h_up = h
      if h > col_max:
        col_max = h
        col_arg = i
    if col_max > best:
      best = col_max
      best_ref = j
      best_query = col_arg
    if col_max >= stop_at:
      break
    h_prev, h_cur = h_cur, h_prev
  return best, best_ref, best_query


@_jit
def _banded_pass(query, ref, band, match, mismatch, gap_open, gap_extend, dirs):
  """One pass of SSW v1.0 ``banded_sw``; fills ``dirs`` and returns the best cell score."""
  n = query.shape[0]
  m = ref.shape[0]
  h_prev = np.zeros(m, dtype=np.int32)
  e_prev = np.zeros(m, dtype=np.int32)
  h_row = np.zeros(m, dtype=np.int32)
  e_row = np.zeros(m, dtype=np.int32)
  best = 0
  prev_beg = 0
  prev_end = -1
  for i in range(n):
    beg = i - band
    if beg < 0:
      beg = 0
    end = i + band
    if end > m - 1:
      end = m - 1
    f = 0
    for j in range(beg, end + 1):
      in_prev = i > 0 and prev_beg <= j <= prev_end
      hp = h_prev[j] if in_prev else 0
      ep = e_prev[j] if in_prev else 0
      if i == 0:
        t1 = -gap_open
        t2 = -gap_extend
      else:
        t1 = hp - gap_open
        t2 = ep - gap_extend
      ev = t1 if t1 > t2 else t2
      dirs[i, j, 0] = 3 if t1 > t2 else 2
      hb = h_row[j - 1] if j - 1 >= beg else 0
      t1 = hb - gap_open
      t2 = f - gap_extend
      f = t1 if t1 > t2 else t2
      dirs[i, j, 1] = 5 if t1 > t2 else 4
      e1 = ev if ev > 0 else 0
      f1 = f if f > 0 else 0
      gap = e1 if e1 > f1 else f1
      hd = 0
      if i > 0 and j >= 1 and prev_beg <= j - 1 <= prev_end:
        hd = h_prev[j - 1]
      diag = hd + _score(query[i], ref[j], match, mismatch)
      h = gap if gap > diag else diag
      h_row[j] = h
      e_row[j] = ev
      if h > best:
        best = h
      if gap <= diag:
        dirs[i, j, 2] = 1
      elif e1 > f1:
        dirs[i, j, 2] = dirs[i, j, 0]
      else:
        dirs[i, j, 2] = dirs[i, j, 1]
    for j in range(beg, end + 1):
      h_prev[j] = h_row[j]
      e_prev[j] = e_row[j]
    prev_beg = beg
    prev_end = end
  return best


@_jit
def _banded_cigar(query, ref, score, match, mismatch, gap_open, gap_extend):
  """Ops (0=M, 1=I, 2=D) and lengths of SSW's banded global traceback, in order."""
  n = query.shape[0]
  m = ref.shape[0]
  band = abs(m - n) + 1
  dirs = np.zeros((n, m, 3), dtype=np.uint8)
  limit = max(n, m) + 1
  while True:
    best = _banded_pass(query, ref, band, match, mismatch, gap_open, gap_extend, dirs)
    if best >= score or band > limit:
      break
    band *= 2
  ops = np.zeros(n + m + 2, dtype=np.int32)
  lens = np.zeros(n + m + 2, dtype=np.int32)
  k = 0
  i = n - 1
  j = m - 1
  count = 0
  op = 0
  prev_op = 0
  state = 2
  while i > 0:
    if j < 0:
      break
    d = dirs[i, j, state]
    if d == 1:
      i -= 1
      j -= 1
      state = 2
      op = 0
    elif d == 2:
      i -= 1
      state = 0
      op = 1
    elif d == 3:
      i -= 1
      state = 2
      op = 1
    elif d == 4:
      j -= 1
      state = 1
      op = 2
    elif d == 5:
      j -= 1
      state = 2
      op = 2
    else:
      break
    if op == prev_op:
      count += 1
    else:
      ops[k] = prev_op
      lens[k] = count
      k += 1
      prev_op = op
      count = 1
  if op == 0:
    ops[k] = op
    lens[k] = count + 1
    k += 1
  else:
    ops[k] = op
    lens[k] = count
    k += 1
    ops[k] = 0
    lens[k] = 1
    k += 1
  # Reverse (traceback runs from the end) and drop zero-length leftovers.
  out_ops = np.zeros(k, dtype=np.int32)
  out_lens = np.zeros(k, dtype=np.int32)
  w = 0
  for t in range(k - 1, -1, -1):
    if lens[t] > 0:
      if w > 0 and out_ops[w - 1] == ops[t]:
        out_lens[w - 1] += lens[t]
      else:
        out_ops[w] = ops[t]
        out_lens[w] = lens[t]
        w += 1
  return out_ops[:w], out_lens[:w]


@dataclasses.dataclass(frozen=True)
class Alignment:
  """One local alignment of a query against a reference string (0-based, inclusive ends).

  ``cigar`` is a list of (op char, length) with ops in ``=XIDS`` and covers the whole query
  (unaligned query ends are ``S``). ``score`` 0 means no alignment (empty cigar).
  """
  score: int
  ref_begin: int
  ref_end: int
  query_begin: int
  query_end: int
  cigar: Tuple[Tuple[str, int], ...]

  def cigar_string(self) -> str:
    return "".join(f"{n}{op}" for op, n in self.cigar)


_NO_ALIGNMENT = Alignment(0, -1, -1, -1, -1, ())


def align_codes(query: np.ndarray, ref: np.ndarray, match: int = 4, mismatch: int = 6,
                gap_open: int = 8, gap_extend: int = 2) -> Alignment:
  """Aligns code arrays (see ``encode``); see the module docstring for the exact rules."""
  if len(query) == 0 or len(ref) == 0:
    return _NO_ALIGNMENT
  score, ref_end, query_end = _best_end(query, ref, match, mismatch, gap_open, gap_extend,
                                        1 << 30)
  if score <= 0:
    return _NO_ALIGNMENT
  rq = np.ascontiguousarray(query[:query_end + 1][::-1])
  rr = np.ascontiguousarray(ref[:ref_end + 1][::-1])
  _, rev_ref, rev_query = _best_end(rq, rr, match, mismatch, gap_open, gap_extend, score)
  ref_begin = ref_end - rev_ref
  query_begin = query_end - rev_query
  q = np.ascontiguousarray(query[query_begin:query_end + 1])
  r = np.ascontiguousarray(ref[ref_begin:ref_end + 1])
  ops, lens = _banded_cigar(q, r, score, match, mismatch, gap_open, gap_extend)
  cigar: List[Tuple[str, int]] = []
  if query_begin > 0:
    cigar.append(("S", query_begin))
  qi, ri = 0, 0
  for op, n in zip(ops.tolist(), lens.tolist()):
    if op == 0:
      same = q[qi:qi + n] == r[ri:ri + n]
      # Split the M run into =/X runs.
      change = np.flatnonzero(np.diff(same.astype(np.int8))) + 1
      bounds = [0] + change.tolist() + [n]
      for a, b in zip(bounds[:-1], bounds[1:]):
        if b > a:
          cigar.append(("=" if same[a] else "X", b - a))
      qi += n
      ri += n
    elif op == 1:
      cigar.append(("I", n))
      qi += n
    else:
      cigar.append(("D", n))
      ri += n
  tail = len(query) - query_end - 1
  if tail > 0:
    cigar.append(("S", tail))
  return Alignment(int(score), int(ref_begin), int(ref_end), int(query_begin), int(query_end),
                   tuple(cigar))


def align(query: str, ref: str, match: int = 4, mismatch: int = 6, gap_open: int = 8,
          gap_extend: int = 2) -> Alignment:
  """Local alignment of ``query`` against ``ref`` (strings), SSW-compatible."""
  return align_codes(encode(query), encode(ref), match, mismatch, gap_open, gap_extend)
