"""Read filters (spec 3.1) and the per-partition read cap (spec 3.3).

Why a reason and not a bool: every dropped read is counted under a stable name, so the run
summary can say *why* coverage went missing (CONVENTIONS habit 8). The names below are the
contract; the counters module refers to them, never to string literals.

Base quality is deliberately not looked at here: v1.5 enforces it per base in the allele counter
and the pileup encoder (``min_base_quality_mode = ENFORCED_BY_CLIENT``).
"""
from __future__ import annotations

import dataclasses
from typing import List, Sequence, TypeVar

import numpy as np

from beam_pipelines.core.reads import (FLAG_DUPLICATE, FLAG_MATE_UNMAPPED, FLAG_PAIRED,
                                       FLAG_PROPER_PAIR, FLAG_QCFAIL, FLAG_SECONDARY,
                                       FLAG_SUPPLEMENTARY, FLAG_UNMAPPED, Read)

# Stable reason names, in the order they are checked (the first that applies is reported).
REASON_UNMAPPED = "unmapped"
REASON_DUPLICATE = "duplicate"
REASON_QC_FAIL = "qc_fail"
REASON_SECONDARY = "secondary"
REASON_SUPPLEMENTARY = "supplementary"
REASON_MATE_ON_OTHER_CONTIG = "mate_on_other_contig"
REASON_LOW_MAPPING_QUALITY = "low_mapping_quality"
ALL_REASONS = (REASON_UNMAPPED, REASON_DUPLICATE, REASON_QC_FAIL, REASON_SECONDARY,
               REASON_SUPPLEMENTARY, REASON_MATE_ON_OTHER_CONTIG, REASON_LOW_MAPPING_QUALITY)

# MakeExamplesOptions.random_seed: the reservoir's RandomState seed (spec 2.1, 3.3).
RESERVOIR_SEED = 609314161


@dataclasses.dataclass(frozen=True)
class ReadFilterOptions:
  """The v1.5 read requirements (flags ``--min_mapping_quality``, ``--keep_*``)."""
  min_mapping_quality: int = 5
  keep_duplicates: bool = False
  keep_secondary_alignments: bool = False
  keep_supplementary_alignments: bool = False

  def __post_init__(self):
    if self.min_mapping_quality < 0:
      raise ValueError(f"--min_mapping_quality must be >= 0, got {self.min_mapping_quality}")


def filter_reason(read: Read, opts: ReadFilterOptions) -> str | None:
  """None when ``read`` is kept, else the name of the first failed requirement (spec 3.1).

  Checked in the order of ``ALL_REASONS``; a read failing several is reported under the first,
  so each dropped read is counted exactly once.

  "Properly placed" (Nucleus): a read is kept when it is unpaired, OR carries the proper-pair
  flag, OR its mate has no mapped position (mate-unmapped flag or RNEXT ``*``), OR the mate is
  on the same contig. Only improper pairs whose mate maps to another contig are dropped, e.g.
  flag 0x1 (paired, not proper) with mate on chr21 while the read is on chr20 -> dropped;
  the same with the mate on chr20 (any distance) -> kept.
  """
  flag = read.flag
  if flag & FLAG_UNMAPPED or not read.contig:
    return REASON_UNMAPPED
  if flag & FLAG_DUPLICATE and not opts.keep_duplicates:
    return REASON_DUPLICATE
  if flag & FLAG_QCFAIL:
    return REASON_QC_FAIL
  if flag & FLAG_SECONDARY and not opts.keep_secondary_alignments:
    return REASON_SECONDARY
  if flag & FLAG_SUPPLEMENTARY and not opts.keep_supplementary_alignments:
    return REASON_SUPPLEMENTARY
  if (flag & FLAG_PAIRED and not flag & FLAG_PROPER_PAIR and not flag & FLAG_MATE_UNMAPPED
      and read.mate_contig is not None and read.mate_contig != read.contig):
    return REASON_MATE_ON_OTHER_CONTIG
  if read.mapq < opts.min_mapping_quality:
    return REASON_LOW_MAPPING_QUALITY
  return None


T = TypeVar("T")


def reservoir_sample(reads: Sequence[T], k: int, seed: int = RESERVOIR_SEED) -> List[T]:
  """Caps a partition's reads at ``k`` exactly as v1.5 does (spec 3.3); ``k == 0`` is no cap.

  Algorithm R with a fresh ``numpy.random.RandomState(seed)`` per call, i.e. per partition:
  keep the first k items; for item i >= k (0-based) draw ``j = rng.randint(0, i + 1)`` and put
  the item in slot j when ``j < k``. With at most k items the list is returned unchanged (and no
  draw is made). The legacy RandomState is used on purpose: it is the generator DeepVariant calls,
  so the sample is bit-identical, and it is a pure function of (seed, input order), so every
  runner and worker count gives the same reads.

  Example: 5 reads, k=3 -> slots start as [r0, r1, r2]; r3 draws j in [0, 4), r4 in [0, 5).
  """
  if k < 0:
    raise ValueError(f"--max_reads_per_partition must be >= 0, got {k}")
  if k == 0 or len(reads) <= k:
    return list(reads)
  rng = np.random.RandomState(seed)
  sample = list(reads[:k])
  randint = rng.randint
  for i in range(k, len(reads)):
    j = randint(0, i + 1)
    if j < k:
      sample[j] = reads[i]
  return sample
