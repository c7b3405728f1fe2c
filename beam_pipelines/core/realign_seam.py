"""The seam where local realignment (spec 6) will plug in.

Why a seam now: v1.5 realigns a partition's reads (those <= 500 bp) before allele counting and
before drawing any pileup (spec 2.3 step 2), so every partition's reads must flow through one
function between "fetch, filter, cap" and "count, call, draw". Putting that call in place today
means realignment (a later issue) changes this module only, not the pipeline.
"""
from __future__ import annotations

from typing import List, Sequence

from beam_pipelines.core.reads import Read
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import Range


def prepare_reads(reads: Sequence[Read], region: Range, ref: RefWindow) -> List[Read]:
  """Returns the reads to count and draw for partition ``region`` (0-based half-open).

  Today: the reads unchanged, in the same order (realignment is not implemented yet, so
  candidates near indels can differ from DeepVariant's, see spec 10). With realignment the
  result becomes ``[reads longer than 500 bp, original order] + realigner output``.
  """
  del region, ref  # used once realignment lands
  return list(reads)
