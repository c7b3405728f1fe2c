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
correct but only fit for tests.

Batches: ``align_many(queries, target)`` (reads against one haplotype, haplotypes against one
window) and ``align_pairs(queries, targets)`` give exactly ``align_codes`` for each pair, but run
the forward and reverse searches of the whole batch in SIMD lanes (see the comment above
``LANES``) and build the CIGARs in compiled code, so a call costs a few microseconds of Python
per alignment. ``align_codes`` is a batch of one. Measured on the GIAB chr20 100 kb harness
(8,902 alignments, 2-core AVX-512 VM): 3.2 s one at a time before; 1.3 s one at a time and
about 0.6 s batched per window now. Results are identical (compared on all 8,902).
"""
from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

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
  """One pass of SSW v1.0 ``banded_sw``; fills ``dirs`` and returns the best cell score.

  ``dirs`` is stored banded, ``dirs[i, j - i + band, k]``, (n, 2 * band + 1, 3): only cells with
  ``|j - i| <= band`` are ever written, so a full (n, m, 3) matrix (what SSW allocates) would be
  zeros elsewhere; ``_dir`` reads those as 0, which is what stops the traceback there.
  """
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
      c = j - i + band
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
      dirs[i, c, 0] = 3 if t1 > t2 else 2
      hb = h_row[j - 1] if j - 1 >= beg else 0
      t1 = hb - gap_open
      t2 = f - gap_extend
      f = t1 if t1 > t2 else t2
      dirs[i, c, 1] = 5 if t1 > t2 else 4
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
        dirs[i, c, 2] = 1
      elif e1 > f1:
        dirs[i, c, 2] = dirs[i, c, 0]
      else:
        dirs[i, c, 2] = dirs[i, c, 1]
    for j in range(beg, end + 1):
      h_prev[j] = h_row[j]
      e_prev[j] = e_row[j]
    prev_beg = beg
    prev_end = end
  return best


@_jit
def _dir(dirs, band, i, j, state):
  """``dirs`` of the banded pass at (i, j); 0 outside the band (never written by SSW either)."""
  c = j - i + band
  if c < 0 or c > 2 * band:
    return 0
  return dirs[i, c, state]


@_jit
def _banded_cigar(query, ref, score, match, mismatch, gap_open, gap_extend):
  """Ops (0=M, 1=I, 2=D) and lengths of SSW's banded global traceback, in order."""
  n = query.shape[0]
  m = ref.shape[0]
  band = abs(m - n) + 1
  limit = max(n, m) + 1
  while True:
    dirs = np.zeros((n, 2 * band + 1, 3), dtype=np.uint8)
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
    d = _dir(dirs, band, i, j, state)
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


# -- batched kernel ----------------------------------------------------------------------------
#
# ``align_many`` runs the forward and the reverse search of many alignments at once. The DP is
# vectorised across SIMD *lanes*: ``LANES`` independent strips of the matrix are advanced
# together, one reference column per step, by an inner loop over the lanes that LLVM turns into
# vector instructions. A lane is a *segment* (``S`` consecutive query rows) of one alignment:
#
# * many queries: one segment per query (32 queries side by side);
# * few or one query: each query is cut into segments on consecutive lanes, and segment k runs
#   k columns behind segment k-1 (a skewed wavefront), so at every step it finds the last row of
#   the segment above already computed for the column it needs: ``H`` and ``F`` of column j one
#   step ago, ``H`` of column j-1 two steps ago (the diagonal). A query of 101 rows fills the
#   32 lanes with segments of 8 rows; a 600-base haplotype with segments of 19.
#
# Every lane has its own target code per step (the target column that lane is in), so lanes of
# different targets (the reverse pass: each alignment has its own reversed target prefix) mix
# freely. A lane outside its target (before column 0 or past the end) sees ``N``.
#
# Exactness. Cell values are those of ``_best_end`` (the recurrences are the same; E and F start
# at ``-gap_open`` instead of -inf, which gives the same H everywhere, as max(., 0) and h >= 0
# absorb the difference). Padding is ``N`` (score 0): query rows past the end (the bottom of the
# last segment) and target columns past the end. Claim: a padding cell never exceeds M_j, the
# best real cell of the same alignment in columns <= j. Induction in DP order: its H is the max
# of 0, diag + 0, E and F, and each of these is a real or padding cell of a column <= j (minus a
# non-negative penalty). So a padding cell can equal the global best S only if a real cell in a
# column <= j already holds S, and that real cell is either in an earlier column or, in the same
# column, in an earlier row (padding rows are the last rows). Both the forward answer (first
# column reaching S, smallest row) and the reverse answer (first column whose best reaches the
# stop score, smallest row) are therefore unchanged by padding, whatever ties it produces.
#
# Column maxima. Each lane keeps the running maximum of its segment's column in the ``C`` field;
# after a step, a segment whose maximum is positive and at least the best seen so far for its
# alignment (any column) is scanned for its first row holding that maximum and recorded in the
# alignment's per-column (max, row) arrays, segments of one column arriving in row order (so the
# strict ``>`` keeps the smallest row). Every segment that holds the final best S is recorded
# (S >= anything seen), which is all the answer needs: the first column whose recorded maximum
# is S, and its row; smaller recorded values are never consulted.
#
# Value range. With int16 lanes (twice the lanes of int32): H <= match * min(n, m), and E, F,
# diag + s >= -(gap_open + gap_extend) and >= -mismatch; ``_lane_dtype`` picks int32 when a batch
# could leave the int16 range, so no intermediate ever wraps.

LANES = 32        # lanes per block: two 256-bit vectors of int16
_REC = 5 * LANES  # one row record: H, E, F, D (diagonal carry), C (running column max)
_MIN_SEG = 8      # shortest segment: below this the per-step bookkeeping dominates


@_jit
def _lane_block(qcat, qoff, qlen, tcat, toff, tlen, pair, lane_pair, lane_seg, nseg, S,
                stop, use_stop, match, mismatch, gap_open, gap_extend, W, out_a, out_b, out_c):
  """Runs one block of lanes over all its steps (see the comment above ``LANES``).

  ``pair[g]`` are the block's alignments (indices into qoff/qlen/toff/tlen), ``lane_pair[l]``
  the block-local alignment of lane l (-1: unused), ``lane_seg[l]`` its segment number, ``nseg``
  segments per alignment, ``S`` rows per segment. Without ``use_stop``: writes (best score,
  first column reaching it, smallest row) to out_a/out_b/out_c, or (0, -1, -1). With it: the
  first column whose best reaches ``stop[p]`` and its smallest row to out_b/out_c (falling back
  to the first best column when no column does). Positions are 0-based.
  """
  U = np.uint64
  dt = W.dtype.type
  L = LANES
  FH = U(0)
  FE = U(LANES)
  FF = U(2 * LANES)
  FD = U(3 * LANES)
  FC = U(4 * LANES)
  REC = U(_REC)
  QX = U(LANES)
  QD = U(2 * LANES)
  go = dt(gap_open)
  ge = dt(gap_extend)
  z = dt(0)
  g = pair.shape[0]
  mmax = 0
  nsteps = 0
  for gi in range(g):
    p = pair[gi]
    if tlen[p] > mmax:
      mmax = tlen[p]
    if tlen[p] + nseg[gi] - 1 > nsteps:
      nsteps = tlen[p] + nseg[gi] - 1
  cm = np.zeros((g, mmax), dtype=np.int32)
  ca = np.full((g, mmax), -1, dtype=np.int32)
  seen = np.zeros(g, dtype=np.int32)
  done = np.zeros(g, dtype=np.bool_)
  # Query table: per segment row r and lane, the code (5 = N/padding, never equal to a target
  # code), the score on a mismatch, and match minus mismatch score (both 0 for N/padding).
  Q = np.zeros(S * 3 * L, dtype=W.dtype)
  for r in range(S):
    for l in range(L):
      gi = lane_pair[l]
      code = 5
      if gi >= 0:
        i = lane_seg[l] * S + r
        p = pair[gi]
        if i < qlen[p]:
          code = qcat[qoff[p] + i]
      o = r * 3 * L + l
      if code < 4:
        Q[o] = code
        Q[o + L] = -mismatch
        Q[o + 2 * L] = match + mismatch
      else:
        Q[o] = 5
  # Row records 0..S+1: record 0 is the row above the segment (filled every step), records
  # 1..S the segment's rows, record S+1 only receives the diagonal carry of the last row.
  nW = (S + 2) * _REC
  for o in range(nW):
    W[o] = 0
  for r in range(S + 2):
    for l in range(L):
      W[r * _REC + LANES + l] = -go        # E
      W[r * _REC + 2 * LANES + l] = -go    # F
  TV = np.zeros(2 * L, dtype=W.dtype)      # per lane: target code, score mask (0 for N)
  PM = np.zeros(L, dtype=W.dtype)          # -1 where the lane continues the lane before it
  BH = np.zeros(L, dtype=W.dtype)          # last-row H of the lane before, previous step
  BF = np.full(L, -go, dtype=W.dtype)      # last-row F of the lane before, previous step
  for l in range(L):
    if lane_pair[l] >= 0 and lane_seg[l] > 0:
      PM[l] = -1
  last = U(S * _REC)
  ndone = 0
  for t in range(nsteps):
    for l in range(L):
      gi = lane_pair[l]
      j = t - lane_seg[l]
      code = 4
      if gi >= 0:
        p = pair[gi]
        if 0 <= j < tlen[p]:
          code = tcat[toff[p] + j]
      if code < 4:
        TV[l] = code
        TV[L + l] = -1
      else:
        TV[l] = 4
        TV[L + l] = 0
    for l0 in range(L):
      l = U(l0)
      W[REC + FD + l] = W[FH + l]   # diagonal of row 0: the row above, previous column
      W[FH + l] = dt(BH[l] & PM[l])
      W[FF + l] = BF[l] if PM[l] != 0 else -go
    for r in range(S):
      base = U((r + 1) * _REC)
      prv = base - REC
      nxt = base + REC
      qb = U(r * 3 * LANES)
      for l0 in range(LANES):
        l = U(l0)
        hp = W[base + FH + l]
        ev = max(dt(hp - go), dt(W[base + FE + l] - ge))
        W[base + FE + l] = ev
        fv = max(dt(W[prv + FH + l] - go), dt(W[prv + FF + l] - ge))
        W[base + FF + l] = fv
        # Branch-free (a select of two loads would become a gather): mismatch score plus the
        # match-mismatch difference where the codes are equal, masked to 0 for target N.
        eq = dt(0) - dt(Q[qb + l] == TV[l])
        sc = dt(dt(Q[qb + QX + l] + (Q[qb + QD + l] & eq)) & TV[U(LANES) + l])
        h = max(max(dt(W[base + FD + l] + sc), ev), max(fv, z))
        W[base + FH + l] = h
        W[nxt + FD + l] = hp
        W[base + FC + l] = max(h, W[prv + FC + l])
    BH[0] = 0
    BF[0] = -go
    for l0 in range(LANES - 1):
      l = U(l0)
      BH[l + U(1)] = W[last + FH + l]
      BF[l + U(1)] = W[last + FF + l]
    for l in range(L):
      gi = lane_pair[l]
      if gi < 0:
        continue
      j = t - lane_seg[l]
      if j < 0 or j >= tlen[pair[gi]]:
        continue
      best = np.int32(W[S * _REC + 4 * LANES + l])
      if best <= 0 or best < seen[gi]:
        continue
      seen[gi] = best
      row = -1
      for r in range(S):
        if W[(r + 1) * _REC + l] == best:
          row = lane_seg[l] * S + r
          break
      if best > cm[gi, j]:
        cm[gi, j] = best
        ca[gi, j] = row
    if use_stop:
      for gi in range(g):
        if done[gi]:
          continue
        p = pair[gi]
        jc = t - (nseg[gi] - 1)
        if 0 <= jc < tlen[p] and cm[gi, jc] >= stop[p]:
          done[gi] = True
          ndone += 1
          out_a[p] = cm[gi, jc]
          out_b[p] = jc
          out_c[p] = ca[gi, jc]
      if ndone == g:
        break
  for gi in range(g):
    if done[gi]:
      continue
    p = pair[gi]
    best = 0
    col = -1
    for j in range(tlen[p]):
      if cm[gi, j] > best:
        best = cm[gi, j]
        col = j
    out_a[p] = best
    out_b[p] = col
    out_c[p] = ca[gi, col] if col >= 0 else -1


@_jit
def _lane_pass(qcat, qoff, qlen, tcat, toff, tlen, todo, stop, use_stop, match, mismatch,
               gap_open, gap_extend, proto, out_a, out_b, out_c):
  """Packs the alignments ``todo`` into blocks of ``LANES`` lanes and runs them.

  Longest queries first; full blocks hold ``LANES`` queries, one segment each; the rest share
  one block, each query cut into segments of the smallest length (at least ``_MIN_SEG``) for
  which they fit. Packing changes only speed, never a result (each alignment's cells are
  computed the same way whatever lanes it gets).
  """
  n_todo = todo.shape[0]
  if n_todo == 0:
    return
  lens = np.empty(n_todo, dtype=np.int64)
  for k in range(n_todo):
    lens[k] = qlen[todo[k]]
  order = todo[np.argsort(-lens, kind="mergesort")]
  nmax_all = qlen[order[0]]
  W = np.zeros((nmax_all + 2) * _REC, dtype=proto.dtype)
  lane_pair = np.empty(LANES, dtype=np.int64)
  lane_seg = np.empty(LANES, dtype=np.int64)
  a = 0
  while a < n_todo:
    rem = n_todo - a
    g = LANES if rem >= LANES else rem
    pair = order[a:a + g]
    nmax = qlen[pair[0]]
    if g == LANES:
      S = nmax
    else:
      total = 0
      for gi in range(g):
        total += qlen[pair[gi]]
      S = max(_MIN_SEG, (total + LANES - 1) // LANES)
      while S < nmax:
        used = 0
        for gi in range(g):
          used += (qlen[pair[gi]] + S - 1) // S
        if used <= LANES:
          break
        S += 1
      if S > nmax:
        S = nmax
    if S < 1:
      S = 1
    nseg = np.empty(g, dtype=np.int64)
    lane = 0
    for l in range(LANES):
      lane_pair[l] = -1
      lane_seg[l] = 0
    for gi in range(g):
      k = (qlen[pair[gi]] + S - 1) // S
      if k < 1:
        k = 1
      nseg[gi] = k
      for s in range(k):
        lane_pair[lane] = gi
        lane_seg[lane] = s
        lane += 1
    _lane_block(qcat, qoff, qlen, tcat, toff, tlen, pair, lane_pair, lane_seg, nseg, S, stop,
                use_stop, match, mismatch, gap_open, gap_extend, W, out_a, out_b, out_c)
    a += g


@_jit
def _reverse_band(q, t, stop, match, gap_open, gap_extend):
  """Half-width of a band that holds every cell of the reverse pass that can reach ``stop``.

  Why it exists: in the reverse pass (both sequences reversed and cut at the forward end) every
  cell reaching the best score S lies on an alignment of score S, and such an alignment starts
  at (0, 0) (an alignment of score S inside the prefixes must end at the forward end). An
  alignment with ``a`` aligned pairs and ``g`` gap bases scores at most
  ``match * a - gap_extend * g`` when gap_open >= gap_extend (N pairs score 0 <= match), and
  ``a <= min(n, m)``, so it never strays more than ``g <= (match * min(n, m) - S) / gap_extend``
  diagonals from (0, 0). Returns -1 (no band) when the scoring breaks that argument.
  """
  if gap_extend <= 0 or gap_open < gap_extend or match < 0:
    return -1
  top = match * min(q.shape[0], t.shape[0]) - stop
  if top < 0:
    return -1
  return top // gap_extend


@_jit
def _banded_first_hit(q, t, stop, band, match, mismatch, gap_open, gap_extend):
  """(column, row) of the reverse pass's answer, computing only cells with |j - i| <= band.

  The answer is the first column with a cell reaching ``stop`` (the best score S; no cell can
  exceed it) and the smallest row there. Cells outside the band are taken as H = 0, E = F = -inf,
  which never exceeds their true values, so every computed cell is a lower bound of its true
  value, and a cell on an alignment of score S (all inside the band, see ``_reverse_band``) is
  exact: the set of cells reaching S is the one of the full pass. Rows are scanned in order, so
  the first hit of a column is its smallest row. Returns (-1, -1) if nothing reaches ``stop``.
  """
  n = q.shape[0]
  m = t.shape[0]
  neg = -(1 << 28)
  prof = np.zeros((5, 5), dtype=np.int32)
  for a in range(5):
    for b in range(5):
      prof[a, b] = _score(a, b, match, mismatch)
  # Rows by column j at index j + 1 (index 0 is column -1: H = 0). Row i reads the previous
  # row at columns [i - band - 1, i + band]; the previous row wrote [i - 1 - band, i - 1 + band]
  # and the entry at i + band was never written by any row (bands only move right), so it
  # still holds the out-of-band values H = 0, F = -inf, as does every entry before row 0.
  hprev = np.zeros(m + 1, dtype=np.int32)
  fprev = np.full(m + 1, neg, dtype=np.int32)
  hcur = np.zeros(m + 1, dtype=np.int32)
  fcur = np.full(m + 1, neg, dtype=np.int32)
  best_col = m
  best_row = -1
  for i in range(n):
    jlo = i - band if i > band else 0
    jhi = i + band if i + band < m - 1 else m - 1
    if jlo > jhi or jlo > best_col:
      break
    srow = prof[q[i] if q[i] < 4 else 4]
    e = neg
    hl = 0
    hd = hprev[jlo]
    for j in range(jlo, jhi + 1):
      hu = hprev[j + 1]
      ev = max(hl - gap_open, e - gap_extend)
      fv = max(hu - gap_open, fprev[j + 1] - gap_extend)
      h = max(max(hd + srow[t[j] if t[j] < 4 else 4], ev), max(fv, 0))
      hd = hu
      hcur[j + 1] = h
      fcur[j + 1] = fv
      e = ev
      hl = h
      if h >= stop and j < best_col:
        best_col = j
        best_row = i
    hprev, hcur = hcur, hprev
    fprev, fcur = fcur, fprev
  if best_row < 0:
    return -1, -1
  return best_col, best_row


_OP_EQ, _OP_X, _OP_I, _OP_D, _OP_S = 0, 1, 2, 3, 4
_OP_CHARS = ("=", "X", "I", "D", "S")


@_jit
def _align_batch(qcat, qoff, qlen, tcat, toff, tlen, match, mismatch, gap_open, gap_extend,
                 proto):
  """All of ``align_codes`` for alignment k = (qcat[qoff[k]:+qlen[k]], tcat[toff[k]:+tlen[k]]).

  Returns score, ref_begin, ref_end, query_begin, query_end per alignment (0-based, inclusive;
  -1 when score is 0) and the CIGARs as flat op codes (``_OP_CHARS``) and lengths with offsets.
  """
  npair = qlen.shape[0]
  score = np.zeros(npair, dtype=np.int64)
  ref_end = np.full(npair, -1, dtype=np.int64)
  query_end = np.full(npair, -1, dtype=np.int64)
  ref_begin = np.full(npair, -1, dtype=np.int64)
  query_begin = np.full(npair, -1, dtype=np.int64)
  no_stop = np.zeros(npair, dtype=np.int64)
  nonempty = 0
  for k in range(npair):
    if qlen[k] > 0 and tlen[k] > 0:
      nonempty += 1
  todo = np.empty(nonempty, dtype=np.int64)
  w = 0
  for k in range(npair):
    if qlen[k] > 0 and tlen[k] > 0:
      todo[w] = k
      w += 1
  _lane_pass(qcat, qoff, qlen, tcat, toff, tlen, todo, no_stop, False, match, mismatch,
             gap_open, gap_extend, proto, score, ref_end, query_end)
  # Reverse pass: both sequences reversed and cut at the end, stopping at the score.
  nrev = 0
  rq_total = 0
  rt_total = 0
  for k in range(npair):
    if score[k] > 0:
      nrev += 1
      rq_total += query_end[k] + 1
      rt_total += ref_end[k] + 1
  rev = np.empty(nrev, dtype=np.int64)
  rqcat = np.empty(rq_total, dtype=qcat.dtype)
  rtcat = np.empty(rt_total, dtype=tcat.dtype)
  rqoff = np.zeros(npair, dtype=np.int64)
  rqlen = np.zeros(npair, dtype=np.int64)
  rtoff = np.zeros(npair, dtype=np.int64)
  rtlen = np.zeros(npair, dtype=np.int64)
  w = 0
  oq = 0
  ot = 0
  for k in range(npair):
    if score[k] <= 0:
      continue
    rev[w] = k
    w += 1
    nq = query_end[k] + 1
    nt = ref_end[k] + 1
    rqoff[k] = oq
    rqlen[k] = nq
    rtoff[k] = ot
    rtlen[k] = nt
    for i in range(nq):
      rqcat[oq + i] = qcat[qoff[k] + nq - 1 - i]
    for j in range(nt):
      rtcat[ot + j] = tcat[toff[k] + nt - 1 - j]
    oq += nq
    ot += nt
  rev_score = np.zeros(npair, dtype=np.int64)
  rev_ref = np.full(npair, -1, dtype=np.int64)
  rev_query = np.full(npair, -1, dtype=np.int64)
  # A narrow band (scalar, ~4x the cost per cell of a lane) where it covers under a quarter of
  # the columns the lane kernel would scan; the lane kernel for the rest.
  lane_rev = np.empty(nrev, dtype=np.int64)
  nlane = 0
  for w in range(nrev):
    k = rev[w]
    rq = rqcat[rqoff[k]:rqoff[k] + rqlen[k]]
    rt = rtcat[rtoff[k]:rtoff[k] + rtlen[k]]
    band = _reverse_band(rq, rt, score[k], match, gap_open, gap_extend)
    cols = min(rtlen[k], rqlen[k] + max(band, 0))
    if band >= 0 and 4 * (2 * band + 1) < cols:
      col, row = _banded_first_hit(rq, rt, score[k], band, match, mismatch, gap_open,
                                   gap_extend)
      if col >= 0:
        rev_ref[k] = col
        rev_query[k] = row
        continue
    lane_rev[nlane] = k
    nlane += 1
  _lane_pass(rqcat, rqoff, rqlen, rtcat, rtoff, rtlen, lane_rev[:nlane], score, True, match,
             mismatch, gap_open, gap_extend, proto, rev_score, rev_ref, rev_query)
  # Banded traceback and the final =/X/I/D/S CIGAR.
  cap = 0
  for k in range(npair):
    if score[k] > 0:
      cap += qlen[k] + tlen[k] + 4
  cig_op = np.empty(cap, dtype=np.uint8)
  cig_len = np.empty(cap, dtype=np.int64)
  cig_off = np.zeros(npair + 1, dtype=np.int64)
  w = 0
  for k in range(npair):
    if score[k] > 0:
      rb = ref_end[k] - rev_ref[k]
      qb = query_end[k] - rev_query[k]
      ref_begin[k] = rb
      query_begin[k] = qb
      q = qcat[qoff[k] + qb:qoff[k] + query_end[k] + 1]
      r = tcat[toff[k] + rb:toff[k] + ref_end[k] + 1]
      ops, lens = _banded_cigar(q, r, score[k], match, mismatch, gap_open, gap_extend)
      if qb > 0:
        cig_op[w] = _OP_S
        cig_len[w] = qb
        w += 1
      qi = 0
      ri = 0
      for t in range(ops.shape[0]):
        op = ops[t]
        n = lens[t]
        if op == 0:
          run_op = -1
          for u in range(n):
            cur = _OP_EQ if q[qi + u] == r[ri + u] else _OP_X
            if cur == run_op:
              cig_len[w - 1] += 1
            else:
              cig_op[w] = cur
              cig_len[w] = 1
              w += 1
              run_op = cur
          qi += n
          ri += n
        elif op == 1:
          cig_op[w] = _OP_I
          cig_len[w] = n
          w += 1
          qi += n
        else:
          cig_op[w] = _OP_D
          cig_len[w] = n
          w += 1
          ri += n
      tail = qlen[k] - query_end[k] - 1
      if tail > 0:
        cig_op[w] = _OP_S
        cig_len[w] = tail
        w += 1
    else:
      ref_end[k] = -1
      query_end[k] = -1
    cig_off[k + 1] = w
  return score, ref_begin, ref_end, query_begin, query_end, cig_op[:w], cig_len[:w], cig_off


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
  score, rb, re_, qb, qe, ops, lens, off = _align_batch(
      qcat, qoff, qlen, tcat, toff, tlen, int(match), int(mismatch), int(gap_open),
      int(gap_extend), proto)
  chars = [_OP_CHARS[o] for o in ops.tolist()]
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
