"""Read filters (spec 3.1) and the per-partition reservoir (spec 3.3)."""
import numpy as np
import pytest

from beam_pipelines.core import read_filters as rf
from beam_pipelines.core.read_filters import (ReadFilterOptions, filter_reason,
                                              reservoir_sample)
from beam_pipelines.core.reads import Read, parse_cigar

PAIRED, PROPER, UNMAPPED, MATE_UNMAPPED = 0x1, 0x2, 0x4, 0x8
READ1, SECONDARY, QCFAIL, DUP, SUPP = 0x40, 0x100, 0x200, 0x400, 0x800


def _read(flag, mapq=60, contig="chr20", mate_contig="chr20"):
  return Read(name="r", flag=flag, contig=contig, start=100, mapq=mapq,
              cigar=parse_cigar("10M"), seq="ACGTACGTAC", qual=np.full(10, 30, np.uint8),
              mate_contig=mate_contig, mate_start=500 if mate_contig else -1)


DEFAULT = ReadFilterOptions()


@pytest.mark.parametrize("flag,mapq,mate_contig,opts,expected", [
    (PAIRED | PROPER | READ1, 60, "chr20", DEFAULT, None),  # a normal proper pair is kept
    (0, 60, None, DEFAULT, None),  # unpaired read is kept
    (UNMAPPED | PAIRED, 60, "chr20", DEFAULT, "unmapped"),  # unmapped record dropped
    (PAIRED | PROPER | DUP, 60, "chr20", DEFAULT, "duplicate"),  # duplicates dropped by default
    (PAIRED | PROPER | DUP, 60, "chr20",
     ReadFilterOptions(keep_duplicates=True), None),  # duplicate kept on flag
    (PAIRED | PROPER | QCFAIL, 60, "chr20", DEFAULT, "qc_fail"),  # QC-fail always dropped
    (PAIRED | PROPER | SECONDARY, 60, "chr20", DEFAULT, "secondary"),  # secondary dropped
    (PAIRED | PROPER | SECONDARY, 60, "chr20",
     ReadFilterOptions(keep_secondary_alignments=True), None),  # secondary kept on flag
    (PAIRED | PROPER | SUPP, 60, "chr20", DEFAULT, "supplementary"),  # supplementary dropped
    (PAIRED | PROPER | SUPP, 60, "chr20",
     ReadFilterOptions(keep_supplementary_alignments=True), None),  # kept on flag
    (PAIRED, 60, "chr21", DEFAULT, "mate_on_other_contig"),  # improper, mate elsewhere: dropped
    (PAIRED, 60, "chr20", DEFAULT, None),  # improper pair on the same contig is kept
    (PAIRED | PROPER, 60, "chr21", DEFAULT, None),  # proper-pair flag wins over mate contig
    (PAIRED | MATE_UNMAPPED, 60, "chr21", DEFAULT, None),  # mate unmapped: no mapped position
    (PAIRED, 60, None, DEFAULT, None),  # RNEXT '*': mate has no position
    (0, 60, "chr21", DEFAULT, None),  # unpaired (number_reads < 2) ignores RNEXT
    (PAIRED | PROPER, 4, "chr20", DEFAULT, "low_mapping_quality"),  # MAPQ 4 < 5
    (PAIRED | PROPER, 5, "chr20", DEFAULT, None),  # MAPQ 5 == threshold is kept
    (PAIRED | PROPER, 0, "chr20", ReadFilterOptions(min_mapping_quality=0), None),  # no MAPQ cut
    (PAIRED | PROPER, 255, "chr20", DEFAULT, None),  # MAPQ 255 (unavailable) passes >= 5
    (UNMAPPED | DUP | SECONDARY, 0, "chr20", DEFAULT, "unmapped"),  # first reason wins
    (DUP | QCFAIL | SECONDARY | SUPP, 0, "chr20", DEFAULT, "duplicate"),  # dup before qc_fail
    (QCFAIL | SECONDARY, 60, "chr20", DEFAULT, "qc_fail"),  # qc_fail before secondary
    (SECONDARY | SUPP, 60, "chr20", DEFAULT, "secondary"),  # secondary before supplementary
    (PAIRED, 0, "chr21", DEFAULT, "mate_on_other_contig"),  # placement before MAPQ
])
def test_filter_reason(flag, mapq, mate_contig, opts, expected):
  assert filter_reason(_read(flag, mapq, mate_contig=mate_contig), opts) == expected


def test_reason_names_are_stable():
  # Counter names surface in run summaries and manifests; renaming one breaks dashboards.
  assert rf.ALL_REASONS == ("unmapped", "duplicate", "qc_fail", "secondary", "supplementary",
                            "mate_on_other_contig", "low_mapping_quality")


def test_options_validate():
  with pytest.raises(ValueError, match="min_mapping_quality"):
    ReadFilterOptions(min_mapping_quality=-1)


def _algorithm_r_from_draw_list(items, k, seed):
  """Independent formulation: draw every j first (one RandomState, in order), then apply."""
  rng = np.random.RandomState(seed)
  draws = [int(rng.randint(0, i + 1)) for i in range(k, len(items))]
  out = list(items[:k])
  for i, j in zip(range(k, len(items)), draws):
    if j < k:
      out[j] = items[i]
  return out


@pytest.mark.parametrize("n,k", [
    (0, 1500),  # empty partition
    (10, 10),  # exactly k: unchanged
    (1499, 1500),  # under the cap: unchanged, order kept
    (3000, 0),  # k == 0 means no cap
])
def test_reservoir_keeps_order_under_cap(n, k):
  items = [f"read{i}" for i in range(n)]
  assert reservoir_sample(items, k) == items


@pytest.mark.parametrize("n,k,seed", [
    (11, 10, rf.RESERVOIR_SEED),  # one draw
    (2000, 1500, rf.RESERVOIR_SEED),  # v1.5 default cap
    (5000, 7, rf.RESERVOIR_SEED),  # small reservoir, many replacements
    (300, 100, 12345),  # another seed
])
def test_reservoir_matches_numpy_randomstate(n, k, seed):
  items = list(range(n))
  got = reservoir_sample(items, k, seed=seed)
  assert got == _algorithm_r_from_draw_list(items, k, seed)
  assert len(got) == k and len(set(got)) == k
  # Reseeded per call (per partition): the same input gives the same sample.
  assert reservoir_sample(items, k, seed=seed) == got


def test_reservoir_small_case_by_hand():
  # RandomState(609314161).randint(0, 4) and .randint(0, 5) decide slots for items 3 and 4.
  rng = np.random.RandomState(609314161)
  j3, j4 = rng.randint(0, 4), rng.randint(0, 5)
  expected = ["a", "b", "c"]
  if j3 < 3:
    expected[j3] = "d"
  if j4 < 3:
    expected[j4] = "e"
  assert reservoir_sample(["a", "b", "c", "d", "e"], 3) == expected


def test_reservoir_seed_changes_sample():
  items = list(range(1000))
  assert reservoir_sample(items, 10, seed=1) != reservoir_sample(items, 10, seed=2)


def test_reservoir_rejects_negative_cap():
  with pytest.raises(ValueError, match="max_reads_per_partition"):
    reservoir_sample([1, 2], -1)
