"""Smith-Waterman searches of many alignments at once, in SIMD lanes (the batched kernels).

Why: the realigner aligns thousands of ~100-bp reads to a few haplotypes per window; one scalar
DP per alignment ran at ~5 ns per cell. Here ``LANES`` strips of DP matrices advance together,
one target column per step, through an inner loop over lanes that LLVM turns into vector
instructions (~0.3 ns per lane-cell). ``align_batch`` gives, for every (query, target) pair,
exactly what ``smith_waterman.align_codes`` defines (score, end, begin, CIGAR); the public entry
points are ``smith_waterman.align_many`` / ``align_pairs``. The comment below explains the
lane layout and why padding can never change an answer.
"""
from __future__ import annotations

import numpy as np

from beam_pipelines.core.jit import njit as _jit
from beam_pipelines.core.realigner.ssw_traceback import banded_cigar, pair_score


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
def reverse_band(q, t, stop, match, gap_open, gap_extend):
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
def banded_first_hit(q, t, stop, band, match, mismatch, gap_open, gap_extend):
  """(column, row) of the reverse pass's answer, computing only cells with |j - i| <= band.

  The answer is the first column with a cell reaching ``stop`` (the best score S; no cell can
  exceed it) and the smallest row there. Cells outside the band are taken as H = 0, E = F = -inf,
  which never exceeds their true values, so every computed cell is a lower bound of its true
  value, and a cell on an alignment of score S (all inside the band, see ``reverse_band``) is
  exact: the set of cells reaching S is the one of the full pass. Rows are scanned in order, so
  the first hit of a column is its smallest row. Returns (-1, -1) if nothing reaches ``stop``.
  """
  n = q.shape[0]
  m = t.shape[0]
  neg = -(1 << 28)
  prof = np.zeros((5, 5), dtype=np.int32)
  for a in range(5):
    for b in range(5):
      prof[a, b] = pair_score(a, b, match, mismatch)
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
OP_CHARS = ("=", "X", "I", "D", "S")


@_jit
def align_batch(qcat, qoff, qlen, tcat, toff, tlen, match, mismatch, gap_open, gap_extend,
                 proto):
  """All of ``align_codes`` for alignment k = (qcat[qoff[k]:+qlen[k]], tcat[toff[k]:+tlen[k]]).

  Returns score, ref_begin, ref_end, query_begin, query_end per alignment (0-based, inclusive;
  -1 when score is 0) and the CIGARs as flat op codes (``OP_CHARS``) and lengths with offsets.
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
    band = reverse_band(rq, rt, score[k], match, gap_open, gap_extend)
    cols = min(rtlen[k], rqlen[k] + max(band, 0))
    if band >= 0 and 4 * (2 * band + 1) < cols:
      col, row = banded_first_hit(rq, rt, score[k], band, match, mismatch, gap_open,
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
      ops, lens = banded_cigar(q, r, score[k], match, mismatch, gap_open, gap_extend)
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
