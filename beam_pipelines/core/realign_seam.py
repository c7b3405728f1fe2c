"""The seam where local realignment (spec 6) plugs into the per-partition recipe.

Why a seam: v1.5 realigns a partition's reads (those <= 500 bp) before allele counting and
before drawing any pileup (spec 2.3 step 2), so every partition's reads flow through one
function between "fetch, filter, cap" and "count, call, draw". The pipeline calls
``prepare_reads`` unconditionally; whether it realigns is decided by its ``realign`` argument
(``--realign_reads``), so turning realignment on or off changes no pipeline code.
"""
from __future__ import annotations

from typing import List, MutableMapping, Optional, Sequence, Union

from beam_pipelines.core import counters
from beam_pipelines.core.reads import Read
from beam_pipelines.core.realigner import RealignerOptions, realign_reads
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import Range

# What ``--realign_reads`` maps to: DeepVariant v1.5's realigner configuration.
DEFAULT_REALIGNER = RealignerOptions()


def prepare_reads(reads: Sequence[Read], region: Range, ref: RefWindow,
                  realign: Union[bool, RealignerOptions, None] = False,
                  counts: Optional[MutableMapping[str, int]] = None) -> List[Read]:
  """Returns the reads to count and draw for partition ``region`` (0-based half-open).

  Args:
    reads: the partition's reads after filters, downsampling and the reservoir cap.
    region: the partition.
    ref: reference window; with realignment it must cover the partition +/- 100 bp and every
      read's aligned span +/- 20 bp (``example_maker.reference_span`` with a 21-bp read margin).
    realign: False/None (default): the reads unchanged, in the same order. True: realign with
      DeepVariant's defaults. A ``RealignerOptions``: realign with those (its ``enabled=False``
      means off).
    counts: when given, ``reads_realigned`` and ``realignment_windows`` are added to it.

  With realignment the result is ``[reads longer than 500 bp, original order] + realigner
  output`` (reads in no assembled window first, then each window's reads), as v1.5.
  """
  if realign is True:
    realign = DEFAULT_REALIGNER
  if not realign or not realign.enabled:
    return list(reads)
  result = realign_reads(reads, region, ref, realign)
  if counts is not None:
    counts[counters.READS_REALIGNED] += result.reads_realigned
    counts[counters.REALIGNMENT_WINDOWS] += len(result.assembled)
  return result.reads
