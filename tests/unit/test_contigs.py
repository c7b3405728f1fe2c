"""Contig reconciliation with DeepVariant's 90% rule (spec 2.2)."""
import pytest

from beam_pipelines.core import contigs


def test_default_excluded_contigs_is_deepvariants_list():
  excluded = contigs.default_excluded_contigs()
  assert len(excluded) == 3402  # spec: 3,402 names
  assert "GL000207.1" in excluded and "chrM" not in excluded and "MT" not in excluded


def test_common_contigs_keep_reference_order_and_drop_excluded():
  plan = contigs.reconcile({"chr2": 100, "chr1": 900, "decoy": 50},
                           {"chr1": 900, "chr2": 100, "decoy": 50},
                           excluded=frozenset({"decoy"}))
  assert list(plan.contigs) == ["chr2", "chr1"]
  assert plan.excluded == ["decoy"]


def test_length_mismatch_below_ninety_percent_names_contig_and_lengths():
  with pytest.raises(contigs.ContigMismatchError) as err:
    contigs.reconcile({"chr1": 900, "chr2": 100}, {"chr1": 800, "chr2": 100},
                      reads_name="sample.bam")
  msg = str(err.value)
  assert "sample.bam" in msg and "chr1 (ref 900 bp, reads 800 bp)" in msg and "10.0%" in msg


def test_missing_small_contig_is_tolerated_at_ninety_percent():
  plan = contigs.reconcile({"chr1": 900, "chr2": 100}, {"chr1": 900})
  assert plan.contigs == {"chr1": 900} and plan.missing_in_reads == ["chr2"]


def test_truth_header_restricts_contigs_in_training():
  plan = contigs.reconcile({"chr1": 950, "chr2": 50}, {"chr1": 950, "chr2": 50},
                           truth={"chr1": None})
  assert plan.contigs == {"chr1": 950} and plan.missing_in_truth == ["chr2"]


def test_truth_on_other_naming_fails():
  with pytest.raises(contigs.ContigMismatchError, match="truth.vcf.gz lacks 1, 2"):
    contigs.reconcile({"1": 900, "2": 100}, {"1": 900, "2": 100},
                      truth={"chr1": 900, "chr2": 100}, truth_name="truth.vcf.gz")
