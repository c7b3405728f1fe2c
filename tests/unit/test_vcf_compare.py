"""The comparison core on hand-built truth/call pairs (no files)."""
import pytest

from beam_pipelines.core import vcf_compare as vc

# 0-based reference of contig 'c' (60 bp): a homopolymer of 6 A at 10..15, a CA repeat at 28..37.
REF = "GCTAGCTAGC" + "AAAAAA" + "CGTGCATGCATGCA" + "CACACACA" + "GTCAGTCAGTCAGTCAGTCAGT"
CONFIDENT = [(0, 55)]


def fetch(contig, start, end):
  return REF[max(0, start):end] if contig == "c" else ""


def confident(contig, start, end):
  return contig == "c" and any(s <= start and max(end, start + 1) <= e for s, e in CONFIDENT)


def R(pos1, ref, alts, gt, passing=True, contig="c"):
  """A record at 1-based POS (as written in a VCF)."""
  assert contig != "c" or REF[pos1 - 1:pos1 - 1 + len(ref)] == ref, (pos1, ref)
  return vc.Record(contig, pos1 - 1, ref, tuple(alts), tuple(gt), passing)


def rows_of(truth, query, **kw):
  comparison = vc.compare(truth, query, confident, fetch, **kw)
  return {r["Type"]: r for r in vc.summarize(comparison)}, comparison


@pytest.mark.parametrize("start,ref,alt,expected", [
    (15, "AC", "C", [(9, "CA", "C")]),          # deletion at the homopolymer end moves left
    (12, "AA", "A", [(9, "CA", "C")]),          # same deletion written mid-run
    (15, "A", "AA", [(9, "C", "CA")]),          # insertion likewise
    (33, "ACA", "A", [(27, "GCA", "G")]),       # CA-unit deletion in a repeat moves to its start
    (3, "AG", "GG", [(3, "A", "G")]),           # padded SNP is trimmed
    (2, "TAG", "CAT", [(2, "T", "C"), (4, "G", "T")]),  # MNP split into SNPs
])
def test_normalize(start, ref, alt, expected):
  assert vc.normalize("c", start, ref, alt, fetch) == expected


# ---- must-show 1: each rule on a hand-built pair ----------------------------------------------
def test_indel_at_shifted_position_in_homopolymer_matches():
  truth = [R(10, "CA", ["C"], (0, 1))]            # left-aligned deletion of one A
  query = [R(15, "AA", ["A"], (0, 1))]            # the same deletion written at the run's end
  rows, comparison = rows_of(truth, query)
  assert (rows["INDEL"]["TRUTH.TP"], rows["INDEL"]["TRUTH.FN"], rows["INDEL"]["QUERY.FP"]) == (1, 0, 0)
  assert comparison.query[0].match_kind == "exact"  # matched after normalisation


def test_genotype_error_is_a_fp_and_a_fn_as_hap_py_counts_it():
  truth = [R(4, "A", ["G"], (0, 1)), R(20, "G", ["T"], (1, 1))]
  query = [R(4, "A", ["G"], (1, 1)), R(20, "G", ["T"], (1, 1))]  # 4: hom instead of het
  rows, _ = rows_of(truth, query)
  snp = rows["SNP"]
  assert (snp["TRUTH.TP"], snp["TRUTH.FN"], snp["QUERY.TP"], snp["QUERY.FP"], snp["FP.gt"]) == (
      1, 1, 1, 1, 1)
  assert snp["METRIC.F1_Score"] == 0.5


def test_squash_ploidy_counts_a_genotype_error_once_as_a_tp():
  truth = [R(4, "A", ["G"], (0, 1))]
  query = [R(4, "A", ["G"], (1, 1))]              # right allele, hom instead of het
  rows, _ = rows_of(truth, query, genotype_match=False)
  snp = rows["SNP"]
  assert (snp["TRUTH.TP"], snp["TRUTH.FN"], snp["QUERY.FP"], snp["FP.gt"]) == (1, 0, 0, 1)
  assert snp["METRIC.F1_Score"] == 1.0


def test_false_positive_outside_confident_regions_is_ignored():
  truth = [R(4, "A", ["G"], (0, 1))]
  query = [R(4, "A", ["G"], (0, 1)), R(58, "A", ["T"], (0, 1))]  # 58 is past the BED end (55)
  rows, _ = rows_of(truth, query)
  assert (rows["SNP"]["QUERY.FP"], rows["SNP"]["QUERY.UNK"], rows["SNP"]["QUERY.TP"]) == (0, 1, 1)
  assert rows["SNP"]["METRIC.Precision"] == 1.0


def test_multiallelic_truth_matched_by_two_biallelic_calls():
  truth = [R(5, "G", ["A", "T"], (1, 2))]
  query = [R(5, "G", ["A"], (0, 1)), R(5, "G", ["T"], (0, 1))]
  rows, _ = rows_of(truth, query)
  snp = rows["SNP"]
  assert (snp["TRUTH.TOTAL"], snp["TRUTH.TP"], snp["QUERY.TP"], snp["QUERY.FP"], snp["FP.gt"]) == (
      2, 2, 2, 0, 0)


def test_filtered_calls_are_skipped():
  truth = [R(4, "A", ["G"], (0, 1))]
  query = [R(4, "A", ["G"], (0, 1), passing=False), R(9, "G", ["C"], (0, 1), passing=False)]
  rows, _ = rows_of(truth, query)
  snp = rows["SNP"]
  assert (snp["TRUTH.TP"], snp["TRUTH.FN"], snp["QUERY.TOTAL"], snp["QUERY.FP"],
          snp["QUERY.FILTERED"]) == (0, 1, 0, 0, 2)


# ---- more rules ---------------------------------------------------------------------------------
def test_haplotype_match_complex_vs_decomposed():
  # Truth writes SNP + deletion; the call writes one complex replacement spelling the same.
  truth = [R(2, "C", ["A"], (1, 1)), R(3, "TA", ["T"], (1, 1))]   # C->A at 2, delete A at 4
  query = [R(2, "CTA", ["AT"], (1, 1))]
  rows, comparison = rows_of(truth, query)
  assert rows["SNP"]["TRUTH.TP"] == 1 and rows["INDEL"]["TRUTH.TP"] == 1
  assert rows["INDEL"]["QUERY.TP"] == 1 and rows["INDEL"]["QUERY.FP"] == 0
  assert {a.match_kind for a in comparison.alleles()} == {"haplotype"}


def test_different_allele_is_fp_and_fn():
  truth = [R(4, "A", ["G"], (0, 1))]
  query = [R(4, "A", ["T"], (0, 1))]
  rows, _ = rows_of(truth, query)
  assert (rows["SNP"]["TRUTH.FN"], rows["SNP"]["QUERY.FP"], rows["SNP"]["FP.gt"]) == (1, 1, 0)
  assert rows["SNP"]["FP.al"] == 1  # a wrong allele where the truth has one


def test_titv_het_hom_and_frac_na():
  # Truth: A>G het (transition), C>A hom (transversion), G>T het. Query: the same three plus
  # a SNP outside the confident region (UNK): Frac_NA 1/4.
  truth = [R(4, "A", ["G"], (0, 1)), R(10, "C", ["A"], (1, 1)), R(20, "G", ["T"], (0, 1))]
  query = truth + [R(58, "A", ["C"], (0, 1))]
  rows, _ = rows_of(truth, query)
  snp = rows["SNP"]
  assert snp["TRUTH.TOTAL.TiTv_ratio"] == pytest.approx(0.5)
  assert snp["TRUTH.TOTAL.het_hom_ratio"] == pytest.approx(2.0)
  assert snp["QUERY.TOTAL.het_hom_ratio"] == pytest.approx(3.0)
  assert snp["METRIC.Frac_NA"] == pytest.approx(0.25) and snp["FP.al"] == 0
  assert rows["INDEL"]["TRUTH.TOTAL.TiTv_ratio"] == ""  # SNP rows only


def test_hom_ref_and_no_call_records_are_not_variants():
  rows, _ = rows_of([R(4, "A", ["G"], (0, 0))], [R(4, "A", ["G"], (None, None))])
  assert rows["SNP"]["TRUTH.TOTAL"] == 0 and rows["SNP"]["QUERY.TOTAL"] == 0


def test_truth_outside_confident_not_counted_and_strata_rows():
  truth = [R(4, "A", ["G"], (0, 1)), R(58, "A", ["T"], (0, 1))]
  query = [R(4, "A", ["G"], (0, 1)), R(21, "C", ["T"], (0, 1))]
  comparison = vc.compare(truth, query, confident, fetch)
  rows = vc.summarize(comparison, {"first10": lambda c, s, e: s < 10})
  by = {(r["Type"], r["Subset"]): r for r in rows}
  assert by[("SNP", "*")]["TRUTH.TOTAL"] == 1 and by[("SNP", "*")]["QUERY.FP"] == 1
  assert by[("SNP", "first10")]["QUERY.FP"] == 0 and by[("SNP", "first10")]["TRUTH.TP"] == 1
  scores = vc.overall_scores(rows)
  assert scores["recall"] == 1.0 and scores["precision"] == 0.5
  assert scores["f1"] == pytest.approx(2 / 3)


def test_table_and_csv_have_every_column():
  rows = vc.summarize(vc.compare([], [], confident, fetch))
  assert vc.to_csv(rows).splitlines()[0] == ",".join(vc.SUMMARY_COLUMNS)
  assert len(vc.format_table(rows).splitlines()) == 3  # header + SNP + INDEL
