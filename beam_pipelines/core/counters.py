"""Every counter pileflow reports, named in one place.

Why one place: the same names feed Beam metrics (visible live in the Dataflow UI), the run
summary printed at the end, and the dataset manifest; a typo in one of them would silently
split a count. Per-partition code accumulates into a ``collections.Counter`` keyed by these
names; the Beam adapter forwards it to Metrics counters under ``NAMESPACE``.
"""
from __future__ import annotations

import collections
from typing import Iterable, Mapping

NAMESPACE = "pileflow"

PARTITIONS = "partitions"
READS_SEEN = "reads_seen"
READS_KEPT = "reads_kept"
READS_FILTERED_PREFIX = "reads_filtered_"  # + read_filters reason, e.g. reads_filtered_duplicate
READS_DOWNSAMPLED_OUT = "reads_downsampled_out"
READS_OVER_CAP = "reads_over_partition_cap"
READS_REALIGNED = "reads_realigned"           # reads the local realigner moved
REALIGNMENT_WINDOWS = "realignment_windows"    # windows with assembled non-reference haplotypes
CANDIDATES = "candidates"
CANDIDATES_NON_CONFIDENT = "candidates_non_confident"
CANDIDATES_OFF_CONTIG_EDGE = "candidates_window_off_contig"
EXAMPLES = "examples"
EXAMPLES_CLASS_PREFIX = "examples_class_"  # + 0/1/2
EXAMPLES_TYPE_PREFIX = "examples_type_"  # + snp/indel/unknown
EXAMPLES_FRACTION_PREFIX = "examples_downsample_"  # + fraction, e.g. examples_downsample_0.5
TRUTH_FALSE_NEGATIVES = "truth_variants_without_candidate"
SMALL_MODEL_EXAMPLES = "small_model_examples"  # labeled small-model examples written
SMALL_MODEL_SCORED = "small_model_candidates_scored"  # candidates the small model saw
SMALL_MODEL_CALLED = "small_model_candidates_called"  # ... and called (no pileup for them)
CNN_CANDIDATES = "cnn_candidates"  # candidates left for the CNN (pileups drawn)
LABELING_PREFIX = "labeling_"  # + LabelingMetrics field name


def filtered(reason: str) -> str:
  return READS_FILTERED_PREFIX + reason


def example_class(label: int) -> str:
  return f"{EXAMPLES_CLASS_PREFIX}{label}"


def example_type(type_name: str) -> str:
  return EXAMPLES_TYPE_PREFIX + type_name


def example_fraction(fraction: float) -> str:
  return f"{EXAMPLES_FRACTION_PREFIX}{fraction:g}"


def labeling(field: str) -> str:
  return LABELING_PREFIX + field


def merge(counters: Iterable[Mapping[str, int]]) -> collections.Counter:
  total: collections.Counter = collections.Counter()
  for c in counters:
    total.update(c)
  return total
