"""Which stretches of a partition get assembled (spec 6 step 1, DeepVariant's VARIANT_READS model).

How (v1.5 ``window_selector``):

1. Count alleles over the partition expanded by ``region_expansion_in_bp`` (20) each side,
   clipped to the contig, with MAPQ >= ``min_mapq`` (20) and base quality >= ``min_base_quality``
   (20) -- the same allele counter as candidate calling, other thresholds.
2. Every non-low-quality, non-reference read allele anchored at position p adds 1 to:
   a substitution: p; a deletion of L bases: the deleted span ``[p + 1, p + 1 + L)``; an
   insertion or soft clip of L bases: ``[p + 1 - L, p + 1 + L)`` (a span of the allele length on
   each side of the anchor). Counts outside the expanded region are dropped.
3. Positions whose count is within [``min_num_supporting_reads``, ``max_num_supporting_reads``]
   (2..300) are candidates; candidates at most ``2 * min_windows_distance`` (160) apart are
   chained, and each chain becomes ``[first - 80, last + 80)``.

Worked example: 5 reads with a 2-bp deletion anchored at 1000 mark 1001 and 1002 -> window
[921, 1082). Positions are 0-based; windows are half-open Ranges.

Windows may start before 0 or end past the contig; the realigner skips those, as v1.5 does.
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np

from beam_pipelines.core.allele_counter import (DELETION, INSERTION, SOFT_CLIP, SUBSTITUTION,
                                                count_alleles)
from beam_pipelines.core.reads import Read
from beam_pipelines.core.realigner.options import WindowSelectorOptions
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import Range


def expanded_region(region: Range, opts: WindowSelectorOptions, contig_length: int) -> Range:
  """``region`` +/- ``region_expansion_in_bp``, clipped to ``[0, contig_length)``."""
  return Range(region.contig, max(0, region.start - opts.region_expansion_in_bp),
               min(contig_length, region.end + opts.region_expansion_in_bp))


def variant_read_counts(reads: Sequence[Read], ref: RefWindow, region: Range,
                        opts: WindowSelectorOptions) -> np.ndarray:
  """Per-position evidence counts over ``region`` (already expanded), see module docstring."""
  counts = count_alleles(reads, ref, region, min_base_quality=opts.min_base_quality,
                         min_mapping_quality=opts.min_mapq)
  n = region.end - region.start
  diff = np.zeros(n + 1, dtype=np.int64)
  for pos, alleles in counts.read_alleles.items():
    i = pos - region.start
    for allele in alleles.values():
      if allele.is_low_quality:
        continue
      length = len(allele.bases)
      if allele.type == SUBSTITUTION:
        lo, hi = i, i + 1
      elif allele.type in (INSERTION, SOFT_CLIP):
        lo, hi = i + 1 - (length - 1), i + length
      elif allele.type == DELETION:
        lo, hi = i + 1, i + length
      else:
        continue
      lo, hi = max(lo, 0), min(hi, n)
      if lo < hi:
        diff[lo] += 1
        diff[hi] -= 1
  return np.cumsum(diff[:n])


def windows_from_positions(positions: Sequence[int], contig: str,
                           opts: WindowSelectorOptions) -> List[Range]:
  """Chains sorted candidate positions and pads each chain (see module docstring)."""
  windows: List[Range] = []
  start = end = None
  dist = opts.min_windows_distance
  for pos in sorted(positions):
    if start is None:
      start = end = pos
    elif pos > end + 2 * dist:
      windows.append(Range(contig, start - dist, end + dist))
      start = end = pos
    else:
      end = pos
  if start is not None:
    windows.append(Range(contig, start - dist, end + dist))
  return windows


def select_windows(reads: Sequence[Read], ref: RefWindow, region: Range,
                   opts: WindowSelectorOptions = WindowSelectorOptions()) -> List[Range]:
  """Assembly windows for partition ``region`` (0-based half-open), sorted by start.

  ``ref`` must cover the expanded region and every deletion anchored in it (the partition's
  reference window does).
  """
  if not reads:
    return []
  expanded = expanded_region(region, opts, ref.contig_length)
  counts = variant_read_counts(reads, ref, expanded, opts)
  hits = np.flatnonzero((counts >= opts.min_num_supporting_reads)
                        & (counts <= opts.max_num_supporting_reads))
  return windows_from_positions((hits + expanded.start).tolist(), region.contig, opts)
