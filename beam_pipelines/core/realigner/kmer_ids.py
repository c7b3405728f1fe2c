"""Exact integer ids for the k-mers of a de Bruijn window (the first half of ``debruijn``).

Why: k runs up to 101, so k-mers do not fit a machine word, and hashing strings per k-mer is
what made the assembler slow. Here every k-mer of the window's byte array (reference, then the
reads; see ``debruijn``'s module docstring) gets the rank of its first occurrence as its id:
level k is packed into an int64 where it fits (an injective key, hashed into an open-addressing
table), and each next level is ``(id of the m-mer at i, base at i + m)`` ranked through a
direct-address table, so ids are exact (no collisions) and come out in first-occurrence order,
which is the edge insertion order the path enumeration depends on. An edge is a (k+1)-mer, so
the edge ids of one k are the vertex ids of the next.
"""
from __future__ import annotations

import numpy as np

from beam_pipelines.core.jit import njit

# Fibonacci hashing multiplier (0x9E3779B97F4A7C15 as a signed 64-bit value).
_HASH_MUL = -7046029254386353131


@njit
def alphabet(text, nref):
  """(symbol codes of ``text`` as uint8, alphabet size, bits per symbol).

  The alphabet is A/C/G/T plus every byte of the reference (an N there is a vertex letter like
  any other); read bytes outside it are never inside a usable k-mer, so they get code 0.
  """
  present = np.zeros(256, dtype=np.bool_)
  for b in (65, 67, 71, 84):
    present[b] = True
  for i in range(nref):
    present[text[i]] = True
  lut = np.zeros(256, dtype=np.uint8)
  sigma = 0
  for b in range(256):
    if present[b]:
      lut[b] = sigma
      sigma += 1
  bits = 1
  while (1 << bits) < sigma:
    bits += 1
  sym = np.empty(text.shape[0], dtype=np.uint8)
  for i in range(text.shape[0]):
    sym[i] = lut[text[i]]
  return sym, sigma, bits


@njit
def usable_run_lengths(text, qual, min_base_quality, nref, read_ends):
  """rem[i]: usable bases from i on within i's sequence (see module docstring).

  A read base is usable when it is A/C/G/T (``text`` holds reads upper-cased) with quality
  >= ``min_base_quality``; ``qual`` covers the read part only (window offset ``nref`` on);
  ``read_ends`` are the exclusive end offsets of the reads in the window array, in order.
  """
  acgt = np.zeros(256, dtype=np.bool_)
  for b in (65, 67, 71, 84):
    acgt[b] = True
  n = text.shape[0]
  rem = np.empty(n, dtype=np.int32)
  for i in range(nref):
    rem[i] = nref - i
  start = nref
  for r in range(read_ends.shape[0]):
    end = read_ends[r]
    run = 0
    for i in range(end - 1, start - 1, -1):
      run = run + 1 if acgt[text[i]] and qual[i - nref] >= min_base_quality else 0
      rem[i] = run
    start = end
  return rem


@njit
def _packed_pass(sym, rem, npos, k, bits, out, keys, vals):
  """One try of ``_packed_ids`` with a table of ``len(vals)`` slots; -1 if it got half full.

  The table never grows inside the loop: reassigning arrays there costs numba its fast path,
  so a full table means starting again with a larger one (rare; sizes grow 4x).
  """
  size = vals.shape[0]
  log = 0
  while (1 << log) < size:
    log += 1
  tmask = size - 1
  limit = size // 2
  kmask = (np.int64(1) << (k * bits)) - 1
  count = 0
  packed = np.int64(0)
  last = min(sym.shape[0], npos + k - 1)
  for j in range(last):
    packed = ((packed << bits) | np.int64(sym[j])) & kmask
    i = j - k + 1
    if i < 0:
      continue
    if rem[i] < k:
      out[i] = -1
      continue
    h = ((packed * _HASH_MUL) >> (64 - log)) & tmask
    while True:
      v = vals[h]
      if v < 0:
        if count == limit:
          return -1
        keys[h] = packed
        vals[h] = count
        out[i] = count
        count += 1
        break
      if keys[h] == packed:
        out[i] = v
        break
      h = (h + 1) & tmask
  for i in range(max(0, last - k + 1), npos):
    out[i] = -1
  return count


@njit
def _packed_ids(sym, rem, npos, k, bits, out):
  """Level-k ids of positions < ``npos`` by packing (needs ``k * bits <= 62``); returns count.

  ``out[i]`` is the first-occurrence rank of the k-mer at ``i`` when ``rem[i] >= k``, else -1.
  The packed value is injective, so an open-addressing table keyed on it gives exact ids; the
  table starts small (a window has far fewer distinct k-mers than positions, and a table that
  stays in cache is what makes this fast).
  """
  size = 4096
  while True:
    keys = np.empty(size, dtype=np.int64)
    vals = np.full(size, -1, dtype=np.int32)
    count = _packed_pass(sym, rem, npos, k, bits, out, keys, vals)
    if count >= 0:
      return count
    size *= 4


@njit
def extend_ids(ids, count, sym, rem, npos, m, sigma, out):
  """Level-(m+1) ids from level-m ids (``count`` of them): the (m+1)-mer at i is the pair
  (m-mer at i, symbol at i + m), looked up in a direct-address table of count * sigma entries.

  Returns the number of distinct (m+1)-mers; ranks are first-occurrence order, like every level.
  """
  table = np.full(count * sigma, -1, dtype=np.int32)
  new = 0
  for i in range(npos):
    if rem[i] > m:
      key = ids[i] * sigma + sym[i + m]
      v = table[key]
      if v < 0:
        v = new
        table[key] = v
        new += 1
      out[i] = v
    else:
      out[i] = -1
  return new


@njit
def level_ids(sym, rem, npos, k, sigma, bits):
  """Level-k ids from scratch (pack as far as 62 bits allow, then extend); (ids, count)."""
  kp = min(k, 62 // bits)
  cur = np.empty(npos, dtype=np.int32)
  count = _packed_ids(sym, rem, npos, kp, bits, cur)
  m = kp
  while m < k:
    nxt = np.empty(npos, dtype=np.int32)
    count = extend_ids(cur, count, sym, rem, npos, m, sigma, nxt)
    cur = nxt
    m += 1
  return cur, count


@njit
def reference_k(sym, rem, nref, min_k, max_k, step_k, sigma, bits):
  """Smallest k = min_k + j * step_k <= max_k whose reference k-mers are all distinct, or -1.

  Only reference positions take part (they come first in the window array, so ``rem`` of the
  window serves as is).
  """
  k = min_k
  if k > max_k:
    return -1
  ids, count = level_ids(sym, rem, nref, k, sigma, bits)
  while count != nref - k + 1:
    target = k + step_k
    if target > max_k:
      return -1
    while k < target:
      nxt = np.empty(nref, dtype=np.int32)
      count = extend_ids(ids, count, sym, rem, nref, k, sigma, nxt)
      ids = nxt
      k += 1
  return k


@njit
def edge_ids(vid, vcount, sym, text, rem, nref, k, sigma, eid):
  """The graph for k in one pass: edge ids = level-(k+1) ids (as ``extend_ids``, into
  ``eid``), plus per edge its tail and head vertex, occurrence count and whether the reference
  has it (the reference comes first, so an edge's first occurrence is there if any is), and
  the last base of every head vertex (what spelling a path needs).

  Returns (edge count, eu, ev, ew, eref, vlast), edges indexed by id = insertion order.
  """
  table = np.full(vcount * sigma, -1, dtype=np.int32)
  room = vcount * sigma
  eu = np.empty(room, dtype=np.int32)
  ev = np.empty(room, dtype=np.int32)
  ew = np.zeros(room, dtype=np.int32)
  eref = np.zeros(room, dtype=np.bool_)
  vlast = np.zeros(vcount, dtype=np.uint8)
  count = 0
  for i in range(rem.shape[0]):
    if rem[i] > k:
      key = vid[i] * sigma + sym[i + k]
      e = table[key]
      if e < 0:
        e = count
        table[key] = e
        count += 1
        eu[e] = vid[i]
        ev[e] = vid[i + 1]
        eref[e] = i < nref
        vlast[vid[i + 1]] = text[i + k]
      ew[e] += 1
      eid[i] = e
    else:
      eid[i] = -1
  return count, eu[:count], ev[:count], ew[:count], eref[:count], vlast
