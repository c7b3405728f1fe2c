"""Cutting reads to reference intervals: alt-aligned views and spliced (RNA) reads.

Why one module: DeepVariant trims a read to a window with one rule (its realigner's
``trim_read``), and uses it both to cut the reads of an alt-aligned view to the haplotype's
span (core/alt_aligned.py) and, with ``--split_skip_reads``, to cut a spliced read into its
aligned blocks (``split_skip_reads``). Coordinates are 0-based half-open.
"""
from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

from beam_pipelines.core.reads import CIGAR_N, READ_CONSUMING, REF_CONSUMING, Read


def trim_cigar(cigar: Sequence[Tuple[int, int]], ref_trim: int, ref_length: int
               ) -> Tuple[Tuple[Tuple[int, int], ...], int, int]:
  """(CIGAR covering ``ref_length`` reference bases after the first ``ref_trim``, read bases
  trimmed off the front, read bases kept).

  Operations that consume no reference (I, S) before the trim point go with the trim; after the
  covered span the walk stops at the first reference-consuming operation.
  """
  to_trim, to_cover = ref_trim, ref_length
  read_trim = kept_len = 0
  out: List[Tuple[int, int]] = []
  for op, n in cigar:
    ref_step = n if op in REF_CONSUMING else 0
    reads_bases = op in READ_CONSUMING
    length = n
    if to_trim > 0:
      if ref_step <= to_trim:
        to_trim -= ref_step
        read_trim += n if reads_bases else 0
        continue
      ref_step -= to_trim
      read_trim += to_trim if reads_bases else 0
      length = ref_step
      to_trim = 0
    if ref_step <= to_cover:
      out.append((op, length))
      to_cover -= ref_step
      kept_len += length if reads_bases else 0
    else:
      if to_cover:
        out.append((op, to_cover))
        kept_len += to_cover if reads_bases else 0
      break
  return tuple((op, n) for op, n in out if n), read_trim, kept_len


def trim_read(read: Read, start: int, end: int) -> Read:
  """The part of ``read`` aligned inside ``[start, end)``."""
  trim_left = max(start - read.start, 0)
  cigar, read_trim, kept = trim_cigar(read.cigar, trim_left, end - max(start, read.start))
  return dataclasses.replace(read, start=start if trim_left else read.start, cigar=cigar,
                             seq=read.seq[read_trim:read_trim + kept],
                             qual=read.qual[read_trim:read_trim + kept])


def aligned_blocks(read: Read) -> List[Tuple[int, int]]:
  """Reference intervals of the read between its N (skip) operations, in order; a block that
  covers no reference base (e.g. only an insertion between two skips) is left out."""
  blocks, pos, start = [], read.start, read.start
  for op, n in read.cigar:
    if op == CIGAR_N:
      if pos > start:
        blocks.append((start, pos))
      pos += n
      start = pos
    elif op in REF_CONSUMING:
      pos += n
  if pos > start:
    blocks.append((start, pos))
  return blocks


def split_skip_reads(reads: Sequence[Read]) -> List[Read]:
  """``--split_skip_reads``: every read with N operations replaced by one read per aligned
  block (same name, flags and mate, so fragment-level choices treat the pieces as one), in
  input order; reads without N pass unchanged.

  Why: a spliced RNA alignment spans its introns; unsplit, it would be a row of every pileup
  inside the intron and a read of every realignment window there, with no base at either.
  """
  out: List[Read] = []
  for r in reads:
    if not any(op == CIGAR_N for op, _ in r.cigar):
      out.append(r)
      continue
    for start, end in aligned_blocks(r):
      piece = trim_read(r, start, end)
      if piece.seq:
        out.append(piece)
  return out
