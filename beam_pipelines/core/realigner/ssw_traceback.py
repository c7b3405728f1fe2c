"""SSW v1.0's banded global traceback, which decides where an alignment's gaps go.

Why a module of its own: once the best local alignment's score, begin and end are known (by the
scalar search in ``smith_waterman`` or the SIMD lanes in ``sw_lanes``), DeepVariant's aligner
(SSW v1.0 ``banded_sw``) fills a banded DP between begin and end and traces it back with fixed
tie preferences; both search paths hand their results to the same traceback here, so gap
placement in homopolymers and repeats is decided in one place (rules in ``smith_waterman``'s
module docstring, step 3). Codes: A=0, C=1, G=2, T=3, other=4 (N, scores 0).
"""
from __future__ import annotations

import numpy as np

from beam_pipelines.core.jit import njit as _jit


@_jit
def pair_score(a, b, match, mismatch):
  if a == 4 or b == 4:
    return 0
  return match if a == b else -mismatch


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
      diag = hd + pair_score(query[i], ref[j], match, mismatch)
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
def banded_cigar(query, ref, score, match, mismatch, gap_open, gap_extend):
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
