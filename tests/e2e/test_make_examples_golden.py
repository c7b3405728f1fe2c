"""make_examples on real GIAB reads against DeepVariant 1.5's golden training examples.

The golden file was made WITH local realignment, as pileflow runs by default. The first half
runs with ``--realign_reads=false`` and pins what a realignment-free engine reaches, each with
its reason; the second half runs with the defaults and pins how close realignment brings us.
Records are matched by (locus, alt alleles of the image).
"""
import collections
import os

import numpy as np
import pytest

from beam_pipelines import make_examples
from schemas import example_format, tfrecord
from tests import giab


def _run(tmp_path, name, *extra, region=giab.GOLDEN_REGION, mode_args=None):
  out = str(tmp_path / name / "ex.tfrecord.gz")
  args = mode_args(out) if mode_args else giab.training_args(out, region, *extra)
  assert make_examples.main(args) == 0
  return [example_format.decode_example(r) for r in tfrecord.read_records(out)], out


def _key(e):
  return e.locus, tuple(e.variant.alternate_bases[i] for i in e.alt_indices)


def _rows(e):
  return collections.Counter(bytes(r) for r in e.image[5:] if r.any())


@pytest.fixture(scope="module")
def golden():
  return {_key(e): e for e in map(example_format.decode_example,
                                  tfrecord.read_records(giab.GOLDEN))}


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
  records, out = _run(tmp_path_factory.mktemp("golden"), "haplotype", "--realign_reads=false")
  return {_key(e): e for e in records}, records, out


def test_every_golden_example_reproduced_with_its_label(golden, ours):
  by_key, _, _ = ours
  matched = set(golden) & set(by_key)
  assert len(golden) == 49
  assert len(matched) == 49  # issue: >= 47
  assert all(golden[k].label == by_key[k].label for k in matched)
  assert all(golden[k].variant_type == by_key[k].variant_type for k in matched)


def test_extra_examples_are_the_realignment_artifacts(golden, ours):
  by_key, _, _ = ours
  extra = sorted(k for k in by_key if k not in golden)
  # Without realignment, 6 mismatch clusters next to deletions (10004769 TAAAACTATGC>T,
  # 10006819 AAAAC>A, 10008146 TA>T) pass the SNP thresholds; all are labeled hom-ref.
  # DeepVariant's realigner moves those reads' gaps and the mismatches disappear.
  assert [k[0] for k in extra] == [
      "chr20:10004778-10004778", "chr20:10004779-10004779", "chr20:10006820-10006820",
      "chr20:10006823-10006823", "chr20:10006847-10006847", "chr20:10008147-10008147"]
  assert all(by_key[k].label == 0 for k in extra)


def test_variant_protos_match_where_reads_were_not_realigned(golden, ours):
  by_key, _, _ = ours
  same = [k for k in golden if by_key[k].variant == golden[k].variant]
  # DP/AD agree at 40 of 49 sites; the other 9 sit next to indels where realignment moved
  # reads (see test_candidates_giab.py for the per-site table).
  assert len(same) >= 40


def test_reference_rows_pixel_identical(golden, ours):
  by_key, _, _ = ours
  assert all(np.array_equal(golden[k].image[:5], by_key[k].image[:5]) for k in golden)


def test_read_rows_mostly_identical(golden, ours):
  by_key, _, _ = ours
  def fraction(keys):
    total = reproduced = 0
    for k in keys:
      mine = _rows(by_key[k])
      for row, n in _rows(golden[k]).items():
        total += n
        reproduced += min(n, mine.get(row, 0))
    return reproduced / total

  snps = [k for k, g in golden.items() if g.variant_type == 1]
  # The realigner unclips soft clips and re-places gaps near indels, changing a few rows in
  # almost every image (identical multisets: only 3 of 45 SNP images). Row by row, SNP images
  # reproduce 94.3% of the golden rows pixel-exactly (97.6% if a golden row may also match one
  # of our reads with its soft clips unclipped, see test_pileup.py), all images 92.3% (indel
  # images differ most: realignment re-places their gaps).
  assert fraction(snps) >= 0.94
  assert fraction(golden) >= 0.92


def test_example_info_matches_golden(ours):
  _, _, out = ours
  with open(giab.GOLDEN_INFO) as g, open(out + ".example_info.json") as o:
    assert o.read() == g.read()


def test_both_labelers_agree_on_the_golden_region(tmp_path, ours):
  _, haplotype, _ = ours
  positional, _ = _run(tmp_path, "positional", "--labeler_algorithm", "positional_labeler",
                       "--realign_reads=false")
  assert [(_key(e), e.label) for e in positional] == [(_key(e), e.label) for e in haplotype]


def test_whole_window_training_and_calling(tmp_path):
  training, _ = _run(tmp_path, "train", region=giab.WINDOW)
  calling, _ = _run(tmp_path, "call", mode_args=lambda out: [
      "--mode", "calling", "--ref", giab.REF, "--reads", giab.BAM, "--regions", giab.WINDOW,
      "--examples", out])
  by_class = collections.Counter(e.label for e in training)
  by_type = collections.Counter(e.variant_type for e in calling)
  print(f"training: {len(training)} examples, by class {dict(sorted(by_class.items()))}; "
        f"calling: {len(calling)} examples, by type {dict(sorted(by_type.items()))}")
  # Confident regions cover only the first 10.5 kb of the window, so training examples are
  # the golden region's 50 plus one; calling covers every candidate of the 100 kb. (Without
  # realignment: 56 {0: 7, 1: 13, 2: 36} and 309 {SNP 231, INDEL 78}: realignment removes
  # 5 hom-ref mismatch clusters next to deletions and turns clipped or gapped SNP evidence
  # into indel candidates.)
  assert len(training) == 51 and by_class == {0: 2, 1: 13, 2: 36}
  assert all(e.label is None for e in calling)
  assert len(calling) == 307 and by_type == {1: 217, 2: 90}
  loci = [e.locus for e in calling]
  starts = [int(l.split(":")[1].split("-")[0]) for l in loci]
  assert starts == sorted(starts)  # genome order in an unsharded output


# ---- with the defaults (realignment on), as the golden run was made --------------------------
@pytest.fixture(scope="module")
def realigned(tmp_path_factory):
  records, out = _run(tmp_path_factory.mktemp("golden_realigned"), "realigned")
  return {_key(e): e for e in records}, out


def test_realigned_reproduces_golden_labels_with_one_extra(golden, realigned):
  by_key, _ = realigned
  assert set(golden) <= set(by_key)
  assert all(golden[k].label == by_key[k].label for k in golden)
  extra = sorted(k[0] for k in by_key if k not in golden)
  # Issue 3 allows <= 3 extra. The one left sits in an A-homopolymer window with 16 assembled
  # haplotypes where our Smith-Waterman ties break differently from DeepVariant's SSW.
  assert extra == ["chr20:10008147-10008147"]


def test_realigned_read_rows_identical_in_95_percent(golden, realigned):
  by_key, _ = realigned
  identical = [k for k in golden if _rows(golden[k]) == _rows(by_key[k])]
  snps = [k for k in golden if golden[k].variant_type == 1]
  # Measured: 47/49 (95.9%) overall, 44/45 SNPs; the two that differ (10008146 TA>T: 5 of 48
  # rows, 10008221 T>C: 2 of 56) are in the same homopolymer window as the extra example.
  assert len(identical) >= 0.95 * len(golden)
  assert sum(k in identical for k in snps) >= 0.9 * len(snps)
  assert all(np.array_equal(golden[k].image[:5], by_key[k].image[:5]) for k in golden)


def test_realigned_labeling_metrics_match_the_golden_run_info(realigned):
  _, out = realigned
  import json
  summary = json.load(open(out + ".summary.json"))
  counts = summary["counters"]
  assert summary["realign_reads"] is True                 # the default
  # 16 assembled windows over the golden region; reads moved counted (measured, see README).
  assert counts["realignment_windows"] > 0 and counts["reads_realigned"] > 0
  # DeepVariant's golden run_info (spec 10): 29 non-confident candidate sites, 48 truth sites
  # all found at exact positions, 1 false-positive site.
  assert counts["candidates_non_confident"] == 29
  assert counts["labeling_n_truth_variant_sites"] == 48
  assert counts["labeling_n_exact_position_matches"] == 48
  assert counts["labeling_n_false_positive_sites"] == 2  # ours: the golden's 1 + the extra
