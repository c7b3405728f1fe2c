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
with numba when it is installed; without numba the scalar kernels run as Python, which is
correct but only fit for tests. The modules: this one (rules, scalar search, public API),
``ssw_traceback.py`` (step 3, shared by both search paths) and ``sw_lanes.py`` (batched search).

Batches: ``align_many(queries, target)`` (reads against one haplotype, haplotypes against one
window) and ``align_pairs(queries, targets)`` give exactly ``align_codes`` for each pair, but run
the forward and reverse searches of the whole batch in SIMD lanes (``sw_lanes.py``) and build
the CIGARs in compiled code, so a call costs a few microseconds of Python per alignment.
``align_codes`` is a batch of one. Measured on the GIAB chr20 100 kb harness (8,902
alignments, 2-core AVX-512 VM): 3.2 s one at a time before; 1.3 s one at a time and
about 0.6 s batched per window now. Results are identical (compared on all 8,902).
"""
from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

import numpy as np

from beam_pipelines.core.jit import HAVE_NUMBA, njit as _jit
from beam_pipelines.core.realigner.ssw_traceback import banded_cigar, pair_score
from beam_pipelines.core.realigner.sw_lanes import OP_CHARS, align_batch

_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
  _CODE[_b] = _i
  _CODE[_b + 32] = _i  # lower case


def encode(seq: str) -> np.ndarray:
  """'ACGTN' -> uint8 codes 0..4 (anything not A/C/G/T is 4, i.e. N)."""
  return _CODE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


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
      prof[c, i] = pair_score(query[i], c, match, mismatch)
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


def _align_codes_scalar(query: np.ndarray, ref: np.ndarray, match: int, mismatch: int,
                        gap_open: int, gap_extend: int) -> Alignment:
  """One alignment with the scalar kernels: the path without numba, where the lane kernel
  would run as Python and be far slower than these loops."""
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
  ops, lens = banded_cigar(q, r, score, match, mismatch, gap_open, gap_extend)
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


_INT16_LIMIT = 32000


def _lane_dtype(match: int, mismatch: int, gap_open: int, gap_extend: int, max_query: int,
                max_target: int):
  """int16 lanes when no DP value can leave the int16 range, else int32.

  Why: int16 doubles the lanes per vector. Every value the kernel forms lies in
  [-(gap_open + gap_extend) or -mismatch, match * (min(n, m) + 1)] (see the kernel comment), so
  this bound is exact, not a heuristic.
  """
  top = abs(match) * (min(max_query, max_target) + 1)
  low = abs(gap_open) + abs(gap_extend) + abs(mismatch)
  if top < _INT16_LIMIT and low < _INT16_LIMIT:
    return np.int16
  return np.int32


def _as_codes(seq) -> np.ndarray:
  arr = np.asarray(seq)
  if arr.dtype != np.uint8:
    arr = arr.astype(np.uint8)
  return arr


def align_pairs(queries: Sequence[np.ndarray], targets: Sequence[np.ndarray], match: int = 4,
                mismatch: int = 6, gap_open: int = 8, gap_extend: int = 2) -> List[Alignment]:
  """``[align_codes(q, t) for q, t in zip(queries, targets)]``, computed in one batch.

  Why a pair form: lanes may hold different targets, so alignments of different targets (e.g.
  every fallback read against every haplotype of a window) can share one batch; the more
  alignments per call, the fuller the SIMD lanes and the smaller the per-call overhead. Inputs
  are ``encode`` codes (0..4); positions in the results are 0-based.
  """
  if len(queries) != len(targets):
    raise ValueError(f"align_pairs: {len(queries)} queries but {len(targets)} targets")
  if not HAVE_NUMBA:
    return [_align_codes_scalar(_as_codes(q), _as_codes(t), match, mismatch, gap_open,
                                gap_extend) for q, t in zip(queries, targets)]
  qs = [_as_codes(q) for q in queries]
  ts = [_as_codes(t) for t in targets]
  return _run_batch(qs, ts, None, match, mismatch, gap_open, gap_extend)


def align_many(queries: Sequence[np.ndarray], target: np.ndarray, match: int = 4,
               mismatch: int = 6, gap_open: int = 8, gap_extend: int = 2) -> List[Alignment]:
  """``[align_codes(q, target) for q in queries]`` (same scores, ends, begins, CIGARs and tie
  rules), computed in one batch: reads against one haplotype, haplotypes against one window.

  Inputs are ``encode`` codes (0..4); positions in the results are 0-based.
  """
  if not HAVE_NUMBA:
    t = _as_codes(target)
    return [_align_codes_scalar(_as_codes(q), t, match, mismatch, gap_open, gap_extend)
            for q in queries]
  qs = [_as_codes(q) for q in queries]
  return _run_batch(qs, None, _as_codes(target), match, mismatch, gap_open, gap_extend)


def _run_batch(qs, ts, target, match, mismatch, gap_open, gap_extend) -> List[Alignment]:
  n = len(qs)
  if n == 0:
    return []
  qlen = np.fromiter((len(q) for q in qs), dtype=np.int64, count=n)
  qoff = np.zeros(n, dtype=np.int64)
  np.cumsum(qlen[:-1], out=qoff[1:])
  qcat = np.concatenate(qs) if n > 1 else np.ascontiguousarray(qs[0])
  if ts is None:
    tcat = np.ascontiguousarray(target)
    toff = np.zeros(n, dtype=np.int64)
    tlen = np.full(n, len(tcat), dtype=np.int64)
  else:
    tlen = np.fromiter((len(t) for t in ts), dtype=np.int64, count=n)
    toff = np.zeros(n, dtype=np.int64)
    np.cumsum(tlen[:-1], out=toff[1:])
    tcat = np.concatenate(ts) if n > 1 else np.ascontiguousarray(ts[0])
  if qcat.dtype != np.uint8:
    qcat = qcat.astype(np.uint8)
  if tcat.dtype != np.uint8:
    tcat = tcat.astype(np.uint8)
  proto = np.zeros(1, dtype=_lane_dtype(match, mismatch, gap_open, gap_extend,
                                        int(qlen.max()), int(tlen.max())))
  score, rb, re_, qb, qe, ops, lens, off = align_batch(
      qcat, qoff, qlen, tcat, toff, tlen, int(match), int(mismatch), int(gap_open),
      int(gap_extend), proto)
  chars = [OP_CHARS[o] for o in ops.tolist()]
  cig = list(zip(chars, lens.tolist()))
  off_l = off.tolist()
  out = []
  for k, (s, a, b, c, d) in enumerate(zip(score.tolist(), rb.tolist(), re_.tolist(),
                                          qb.tolist(), qe.tolist())):
    if s <= 0:
      out.append(_NO_ALIGNMENT)
    else:
      out.append(Alignment(s, a, b, c, d, tuple(cig[off_l[k]:off_l[k + 1]])))
  return out


def align_codes(query: np.ndarray, ref: np.ndarray, match: int = 4, mismatch: int = 6,
                gap_open: int = 8, gap_extend: int = 2) -> Alignment:
  """Aligns code arrays (see ``encode``); see the module docstring for the exact rules."""
  if not HAVE_NUMBA:
    return _align_codes_scalar(query, ref, match, mismatch, gap_open, gap_extend)
  return align_many([query], ref, match, mismatch, gap_open, gap_extend)[0]


def align(query: str, ref: str, match: int = 4, mismatch: int = 6, gap_open: int = 8,
          gap_extend: int = 2) -> Alignment:
  """Local alignment of ``query`` against ``ref`` (strings), SSW-compatible."""
  return align_codes(encode(query), encode(ref), match, mismatch, gap_open, gap_extend)
