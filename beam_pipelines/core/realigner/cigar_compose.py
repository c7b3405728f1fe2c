"""Composing a read->haplotype alignment with the haplotype->reference one (spec 6 step 3).

The realigner aligns a read to a candidate haplotype and the haplotype to the reference; the
read's new CIGAR is the composition of the two. DeepVariant v1.5 (``FastPassAligner::
CalculateReadToRefAlignment``) walks both CIGARs one base at a time, and its quirks decide the
exact CIGAR of reads that straddle haplotype indels, so this module follows the same rules:

* The haplotype->reference CIGAR is first trimmed to start at the read's haplotype offset
  (M/S/I bases count, D is skipped), and a leading D left over is dropped.
* A leading soft clip of the read->haplotype CIGAR is copied as is.
* Each step pairs one read->haplotype op with one haplotype->reference op. The result is the
  first of S, D, I, M present in the pair (``=``/``X`` count as M). A read I consumes only the
  read op, else a haplotype D consumes only the haplotype op, else both advance.
* A read D against a haplotype I (or a read I against a haplotype D) cancels one base of each;
  in the second case one M is pushed back in front of both remaining CIGARs.
* Appending an op never lets the read-consuming length exceed the read length; appending an I
  right after a D (or a D after an I) cancels one base of each and adds an M before it.
* If the haplotype CIGAR runs out first, the remaining read ops are appended whole.

Worked example: haplotype = reference with 2 bases deleted at haplotype offset 50 (CIGAR
``50M2D50M``); a read placed at haplotype offset 10 with ``60=`` composes to ``40M2D20M``.

CIGARs here are lists of [op, length] with op one of 'M', 'I', 'D', 'S'.
"""
from __future__ import annotations

import collections
from typing import Deque, List, Sequence, Tuple

M, I, D, S = "M", "I", "D", "S"
_PRIORITY = (S, D, I, M)


def normalize_ops(cigar: Sequence[Tuple[str, int]]) -> List[List]:
  """``=``/``X`` -> M, adjacent equal ops merged, zero lengths dropped."""
  out: List[List] = []
  for op, n in cigar:
    if n <= 0:
      continue
    op = M if op in ("=", "X", "M") else op
    if out and out[-1][0] == op:
      out[-1][1] += n
    else:
      out.append([op, n])
  return out


def _aligned_length(cigar: List[List]) -> int:
  return sum(n for op, n in cigar if op != D)


def _merge(op: str, length: int, read_len: int, cigar: List[List]) -> None:
  """Appends ``op`` x ``length`` to ``cigar`` with v1.5's cap and I/D cancellation rules.

  Equivalent to calling v1.5's one-op merge once with ``length`` when no cancellation applies;
  an I after a D (or D after I) is applied one base at a time, as repeated one-base merges do.
  """
  while length > 0:
    last = cigar[-1][0] if cigar else None
    aligned = _aligned_length(cigar)
    if aligned == read_len:
      return
    if (op == I and last == D) or (op == D and last == I):
      obl = cigar[-2] if len(cigar) > 1 else cigar[-1]
      if obl[0] != M:
        cigar.insert(len(cigar) - 1, [M, 1])
      else:
        obl[1] += 1
      if cigar[-1][1] == 1:
        cigar.pop()
      else:
        cigar[-1][1] -= 1
      length -= 1
      continue
    n = length if op == D else min(length, read_len - aligned)
    if n <= 0:
      return
    if op == last:
      cigar[-1][1] += n
    else:
      cigar.append([op, n])
    return


def _merge_whole_op(op: str, length: int, read_len: int, cigar: List[List]) -> None:
  """v1.5's merge of a whole (multi-base) op: the I/D cancellation touches one base only."""
  last = cigar[-1][0] if cigar else None
  aligned = _aligned_length(cigar)
  n = length if op == D else min(length, read_len - aligned)
  if n <= 0 or aligned == read_len:
    return
  if (op == I and last == D) or (op == D and last == I):
    _merge(op, 1, read_len, cigar)
  elif op == last:
    cigar[-1][1] += n
  else:
    cigar.append([op, n])


def left_trim(hap_cigar: Sequence[Sequence], offset: int) -> Deque[List]:
  """The haplotype->reference CIGAR from haplotype offset ``offset`` on (see module doc)."""
  ops: Deque[List] = collections.deque([list(x) for x in hap_cigar])
  pos = 0
  while pos != offset:
    if not ops:
      break
    op, n = ops.popleft()
    if op in (M, S, I, "H"):
      if n + pos > offset:
        ops.appendleft([op, n - (offset - pos)])
      pos = min(n + pos, offset)
  if ops and ops[0][0] == D:
    ops.popleft()
  return ops


def compose(read_len: int, read_cigar: Sequence[Sequence], read_offset: int,
            hap_cigar: Sequence[Sequence]) -> List[List]:
  """Read->reference CIGAR from the read's CIGAR against the haplotype (starting at haplotype
  offset ``read_offset``, 0-based) and the haplotype's CIGAR against the reference."""
  r_ops: Deque[List] = collections.deque([list(x) for x in read_cigar])
  h_ops = left_trim(hap_cigar, read_offset)
  out: List[List] = []
  if not h_ops:
    return out
  if r_ops and r_ops[0][0] == S:
    _merge_whole_op(S, r_ops[0][1], read_len, out)
    r_ops.popleft()
  cur_r = [None, 0]
  cur_h = [None, 0]
  while (r_ops or h_ops) and _aligned_length(out) < read_len:
    if r_ops and not h_ops and cur_h[1] == 0:
      op, n = r_ops.popleft()
      _merge_whole_op(op, n, read_len, out)
      continue
    if not r_ops and cur_r[1] == 0 and h_ops:
      break
    if cur_r[1] == 0:
      cur_r = list(r_ops.popleft())
    if cur_h[1] == 0:
      cur_h = list(h_ops.popleft())
    while cur_r[1] > 0 and cur_h[1] > 0:
      ro, ho = cur_r[0], cur_h[0]
      if (ro == D and ho == I) or (ro == I and ho == D):
        cur_h[1] -= 1
        cur_r[1] -= 1
        if ho == D:
          h_ops.appendleft([M, 1])
          r_ops.appendleft([M, 1])
        continue
      op = next(p for p in _PRIORITY if p == ro or p == ho)
      if ro == I:
        n = cur_r[1]
        cur_r[1] = 0
      elif ho == D:
        n = cur_h[1]
        cur_h[1] = 0
      else:
        n = min(cur_r[1], cur_h[1])
        cur_r[1] -= n
        cur_h[1] -= n
      _merge(op, n, read_len, out)
  return out


def is_normalized(cigar: Sequence[Sequence], ref_offset: int, reference: str,
                  read_seq: str) -> bool:
  """False when an indel could shift left (v1.5 ``IsAlignmentNormalized``).

  An insertion is not normalized when its last base equals the reference base before it; a
  deletion (not at the read start) when its last deleted base equals the read base before it;
  a deletion running past ``reference`` is rejected too. ``ref_offset`` is the read's start in
  ``reference`` (0-based).
  """
  if ref_offset < 0:
    return True
  ref_pos = ref_offset
  read_pos = 0
  for op, n in cigar:
    if op == S:
      read_pos += n
      continue
    if op != M:
      if op == D:
        if ref_pos + n > len(reference):
          return False
        last = reference[ref_pos + n - 1]
        if read_pos > 0 and last == read_seq[read_pos - 1]:
          return False
      elif op == I:
        last = read_seq[read_pos + n - 1]
        if ref_pos > 0 and last == reference[ref_pos - 1]:
          return False
    if op != I:
      ref_pos += n
    if op != D:
      read_pos += n
  return True
