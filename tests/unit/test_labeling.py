"""Positional and haplotype labelers: hand-built cases, metrics by hand, and the golden run."""
import os

import pysam
import pytest

from beam_pipelines.core import labeling
from beam_pipelines.core.labeling import (LabeledCandidate, LabelingError, LabelingMetrics,
                                          label_haplotypes, label_positional, select_truths)
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import IntervalIndex, Range, partition
from beam_pipelines.core.variants import Candidate, TruthVariant
from beam_pipelines.io.bed import read_confident_regions
from beam_pipelines.io.truth import TruthReader

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")

# A made-up contig 'c'. The homopolymer CAAAAAAG and the other positions used below are
# located with REF.index() so the tests say which bases they rely on.
REF = ("GGCATCGATTCGAGCTAGTCCATGCAAAAAAGTCGTACGGTACCTGATCAGTTGCACGTATGCCATCGACTTAGCCGATG"
       "TACAGTCCGTAGCTAGTTCAGCGATCGTTACGGCTAGTCATCGGATCCA")
WINDOW = RefWindow("c", 0, REF, len(REF))
ALL_CONFIDENT = IntervalIndex([Range("c", 0, len(REF))])
HOMOPOLYMER = REF.index("CAAAAAAG")  # C at HOMOPOLYMER, six A's, then G


def cand(start, ref, *alts):
  return Candidate("c", start, ref, tuple(sorted(alts)), dp=20, ad=(10,) + (5,) * len(alts))


def truth(start, ref, alts, gt, filtered=False):
  return TruthVariant("c", start, ref, tuple(alts), tuple(gt), filtered)


def snp(pos, alt, gt=None):
  """A candidate (gt None) or a truth SNP at 0-based pos against REF."""
  assert REF[pos] != alt
  return cand(pos, REF[pos], alt) if gt is None else truth(pos, REF[pos], (alt,), gt)


def hap_genotypes(cands, truths, confident=ALL_CONFIDENT):
  labels, _ = label_haplotypes(cands, truths, confident, WINDOW)
  return [l.genotype for l in labels]


def pos_genotypes(cands, truths, confident=ALL_CONFIDENT):
  return [l.genotype for l in label_positional(cands, truths, confident)]


# --------------------------------------------------------------------------------------------
# SNP genotypes.

@pytest.mark.parametrize("truth_gt, want_hap, want_pos", [
    ((0, 1), (0, 1), (0, 1)),   # het
    ((1, 0), (0, 1), (1, 0)),   # het written 1/0: haplotype sorts, positional keeps GT order
    ((1, 1), (1, 1), (1, 1)),   # hom-alt
    ((0, 0), (0, 0), (0, 0)),   # hom-ref truth record: same as no truth
    ((-1, -1), (0, 0), (0, 0)),  # ./. : haplotype drops it (sum <= 0), positional maps '.'->0
    ((1,), (1, 1), (1,)),       # haploid alt: only hom-alt spells the single truth haplotype
    (None, (0, 0), (0, 0)),     # no truth at all
])
def test_snp_labels(truth_gt, want_hap, want_pos):
  truths = [] if truth_gt is None else [snp(40, "T" if REF[40] != "T" else "A", truth_gt)]
  c = snp(40, "T" if REF[40] != "T" else "A")
  assert hap_genotypes([c], truths) == [want_hap]
  assert pos_genotypes([c], truths) == [want_pos]


def test_snp_with_different_alt_than_truth_is_hom_ref():
  alts = [b for b in "ACGT" if b != REF[40]]
  assert hap_genotypes([snp(40, alts[0])], [snp(40, alts[1], (1, 1))]) == [(0, 0)]
  assert pos_genotypes([snp(40, alts[0])], [snp(40, alts[1], (1, 1))]) == [(0, 0)]


def test_filtered_truth_is_ignored():
  alt = "T" if REF[40] != "T" else "A"
  t = truth(40, REF[40], (alt,), (1, 1), filtered=True)
  assert hap_genotypes([snp(40, alt)], [t]) == [(0, 0)]
  assert pos_genotypes([snp(40, alt)], [t]) == [(0, 0)]


def test_candidate_outside_confident_regions():
  alt = "T" if REF[40] != "T" else "A"
  confident = IntervalIndex([Range("c", 0, 40)])  # candidate and truth start at 40: outside
  assert label_positional([snp(40, alt)], [snp(40, alt, (1, 1))], confident) == []
  labels, metrics = label_haplotypes([snp(40, alt)], [snp(40, alt, (1, 1))], confident, WINDOW)
  # The truth starts outside the confident regions too, so it is invisible: 0/0, not confident.
  assert labels == [LabeledCandidate(snp(40, alt), (0, 0), False)]
  assert metrics == LabelingMetrics(n_non_confident_candidate_variant_sites=1)


def test_truth_outside_confident_is_invisible_to_confident_candidate():
  alt = "T" if REF[40] != "T" else "A"
  confident = IntervalIndex([Range("c", 41, len(REF))])
  t = snp(40, alt, (1, 1))
  assert select_truths([t], confident) == []
  # candidate at 41 is confident; the truth at 40 is not, so no truth exists for it.
  assert hap_genotypes([snp(41, "T" if REF[41] != "T" else "A")], [t], confident) == [(0, 0)]


# --------------------------------------------------------------------------------------------
# Multi-allelic candidates and truths.

def _multi_site():
  pos = next(i for i in range(30, 60) if REF[i] in "AG")
  return pos, REF[pos]


@pytest.mark.parametrize("truth_alts, truth_gt, want_hap, want_pos", [
    (("C", "T"), (1, 2), (1, 2), (1, 2)),   # same alt order as the (sorted) candidate
    (("T", "C"), (1, 2), (1, 2), (2, 1)),   # truth lists T first: positional keeps GT order
    (("T", "C"), (2, 2), (1, 1), (1, 1)),   # hom for the candidate's first alt C
    (("C", "T"), (0, 2), (0, 2), (0, 2)),   # het for the second alt
])
def test_multiallelic_candidate(truth_alts, truth_gt, want_hap, want_pos):
  pos, base = _multi_site()
  c = cand(pos, base, "T", "C")
  t = truth(pos, base, truth_alts, truth_gt)
  assert hap_genotypes([c], [t]) == [want_hap]
  assert pos_genotypes([c], [t]) == [want_pos]


def test_truth_with_two_alts_but_candidate_has_one_counts_a_missed_allele():
  pos, base = _multi_site()
  c = cand(pos, base, "C")
  t = truth(pos, base, ("C", "T"), (1, 2))
  labels, metrics = label_haplotypes([c], [t], ALL_CONFIDENT, WINDOW)
  assert [l.genotype for l in labels] == [(0, 1)]
  assert metrics == LabelingMetrics(
      n_truth_variant_sites=1, n_truth_variant_alleles=2, n_true_positive_sites=1,
      n_true_positive_alleles=1, n_false_negative_alleles=1,
      n_truth_multiallelics_sites_with_missed_alleles=1,
      n_candidate_variant_sites=1, n_candidate_variant_alleles=1,
      n_exact_position_matches=1)  # alts differ ([C] vs [C, T]): no allele match
  assert pos_genotypes([c], [t]) == [(1, 0)]  # C -> 1, T (absent) -> 0, in GT order


# --------------------------------------------------------------------------------------------
# Representation differences: only the haplotype labeler sees through them.

def test_deletion_shifted_in_homopolymer():
  h = HOMOPOLYMER
  c = cand(h, "CA", "C")              # left-aligned: deletes the A at h+1
  t = truth(h + 3, "AA", ("A",), (1, 1))  # same event written further right (deletes h+4)
  labels, metrics = label_haplotypes([c], [t], ALL_CONFIDENT, WINDOW)
  assert [l.genotype for l in labels] == [(1, 1)]
  assert metrics.n_inexact_position_matches == 1
  assert metrics.n_exact_position_matches == 0
  assert metrics.n_true_positive_alleles == 2
  assert pos_genotypes([c], [t]) == [(0, 0)]


def _complex_site():
  q = next(i for i in range(60, 90) if REF[i + 1] != REF[i + 2])
  return q, REF[q:q + 3], next(b for b in "ACGT" if b != REF[q])


def test_snp_plus_deletion_in_truth_is_one_complex_candidate():
  q, xyz, w = _complex_site()
  c = cand(q, xyz, w + xyz[1])                  # XYZ > WY
  truths = [truth(q, xyz[0], (w,), (1, 1)),     # X > W
            truth(q + 1, xyz[1:], (xyz[1],), (1, 1))]  # YZ > Y
  assert hap_genotypes([c], truths) == [(1, 1)]
  assert pos_genotypes([c], truths) == [(0, 0)]


def test_complex_truth_is_matched_by_snp_and_deletion_candidates():
  q, xyz, w = _complex_site()
  cands = [cand(q, xyz[0], w), cand(q + 1, xyz[1:], xyz[1])]
  t = truth(q, xyz, (w + xyz[1],), (0, 1))
  assert hap_genotypes(cands, [t]) == [(0, 1), (0, 1)]
  assert pos_genotypes(cands, [t]) == [(0, 0), (0, 0)]


def test_tie_goes_to_first_candidate_in_enumeration_order():
  # Two candidates spell the same one-A deletion; truth is het. Both (0/1, 0/0) and
  # (0/0, 0/1) match with (FN, FP, TP) = (0, 1, 1); DeepVariant's order visits the former first.
  h = HOMOPOLYMER
  cands = [cand(h, "CA", "C"), cand(h + 3, "AA", "A")]
  t = truth(h, "CA", ("C",), (0, 1))
  assert hap_genotypes(cands, [t]) == [(0, 1), (0, 0)]


# --------------------------------------------------------------------------------------------
# Metrics by hand.

def test_metrics_small_case_by_hand():
  alt = {p: next(b for b in "ACGT" if b != REF[p]) for p in (10, 15, 20, 70)}
  confident = IntervalIndex([Range("c", 0, 60)])
  truths = [snp(10, alt[10], (0, 1)),   # found by the candidate at 10
            snp(15, alt[15], (1, 1))]   # no candidate: 1 FN site, 2 FN alleles
  cands = [snp(10, alt[10]),            # TP, exact position/allele/genotype match
           snp(20, alt[20]),            # FP
           snp(70, alt[70])]            # outside confident regions
  labels, metrics = label_haplotypes(cands, truths, confident, WINDOW)
  assert [(l.genotype, l.is_confident) for l in labels] == [
      ((0, 1), True), ((0, 0), True), ((0, 0), False)]
  assert metrics.to_dict() == {
      "n_truth_variant_sites": 2, "n_truth_variant_alleles": 2,
      "n_candidate_variant_sites": 2, "n_candidate_variant_alleles": 2,
      "n_non_confident_candidate_variant_sites": 1,
      "n_true_positive_sites": 1, "n_true_positive_alleles": 1,
      "n_false_negative_sites": 1, "n_false_negative_alleles": 2,
      "n_false_positive_sites": 1, "n_false_positive_alleles": 1,
      "n_inexact_position_matches": 0, "n_exact_position_matches": 1,
      "n_exact_position_and_allele_matches": 1,
      "n_exact_position_and_allele_and_genotype_matches": 1,
      "n_truth_multiallelics_sites_with_missed_alleles": 0}


def test_metrics_sum_across_partitions():
  a = LabelingMetrics(n_truth_variant_sites=2, n_false_positive_sites=1)
  b = LabelingMetrics(n_truth_variant_sites=3, n_true_positive_alleles=4)
  total = sum([a, b])
  assert total == LabelingMetrics(n_truth_variant_sites=5, n_false_positive_sites=1,
                                  n_true_positive_alleles=4)
  assert LabelingMetrics.field_names()[0] == "n_truth_variant_sites"
  assert LabelingMetrics.field_names()[-1] == "n_truth_multiallelics_sites_with_missed_alleles"
  assert len(LabelingMetrics.field_names()) == 16
  assert LabelingMetrics.from_dict(total.to_dict()) == total


# --------------------------------------------------------------------------------------------
# Enumeration order, grouping, errors.

@pytest.mark.parametrize("n_alts, order", [
    (1, [(0, 1), (1, 1), (0, 0)]),                            # spec 4.3
    (2, [(0, 1), (1, 2), (0, 0), (1, 1), (0, 2), (2, 2)]),    # spec 4.3
])
def test_candidate_genotype_order_matches_spec(n_alts, order):
  assert list(labeling.candidate_genotype_options(n_alts)) == order


@pytest.mark.parametrize("n_alts", [3, 4, 5])
def test_candidate_genotype_order_is_cpython_set_order(n_alts):
  # The tabulated orders equal what DeepVariant's set comprehension yields (int-tuple hashes
  # are not randomised), and each lists every unphased genotype once.
  built = list({(i, j) for j in range(n_alts + 1) for i in range(j + 1)})
  got = list(labeling.candidate_genotype_options(n_alts))
  assert got == built
  assert len(set(got)) == (n_alts + 1) * (n_alts + 2) // 2


def _group_sizes(cands, truths=()):
  return [(len(c), len(t)) for c, t in labeling._group_variants(cands, list(truths))]


@pytest.mark.parametrize("cands, sizes", [
    ([cand(0, "A", "C"), cand(30, "A", "C")], [(2, 0)]),     # 30 - 1 + 1 = 30 <= 30: joins
    ([cand(0, "A", "C"), cand(31, "A", "C")], [(1, 0), (1, 0)]),  # 31 > 30: new group
    ([cand(i, "A", "C") for i in range(9)], [(8, 0), (1, 0)]),    # at most 8 candidates
    # 3-alt candidates have 10 genotypes: 10^5 is not < 100,000, so the 5th starts a group.
    ([cand(i, "A", "C", "G", "T") for i in range(6)], [(4, 0), (2, 0)]),
    # the 9th candidate ends where the 8th does (insertion at 7): forced into the group.
    ([cand(i, "A", "C") for i in range(8)] + [cand(7, "A", "AT")], [(9, 0)]),
])
def test_grouping_limits(cands, sizes):
  assert _group_sizes(cands) == sizes


def test_grouping_counts_candidates_and_truths_separately():
  # 8 candidates + 1 truth: the truth is the 1st of its kind, so it still joins (3^9 < 1e5).
  cands = [cand(i, "A", "C") for i in range(8)]
  assert _group_sizes(cands, [truth(8, "A", ("C",), (0, 1))]) == [(8, 1)]


def test_grouping_product_limit_and_forced_same_end():
  # Candidate then truth at each of 0..7 (candidates first on ties). 3^11 >= 100,000 stops the
  # 11th variant (candidate at 5); the truth at 5 ends where it does, so it is forced along.
  cands = [cand(i, "A", "C") for i in range(8)]
  truths = [truth(i, "A", ("C",), (0, 1)) for i in range(8)]
  groups = labeling._group_variants(cands, truths)
  assert [([c.start for c in g_c], [t.start for t in g_t]) for g_c, g_t in groups] == [
      ([0, 1, 2, 3, 4], [0, 1, 2, 3, 4]), ([5, 6, 7], [5, 6, 7])]


def test_ref_allele_disagreeing_with_reference_fails_naming_the_region():
  wrong = next(b for b in "ACGT" if b != REF[40])
  bad = Candidate("c", 40, wrong, (REF[40],), 10, (5, 5))
  with pytest.raises(LabelingError, match=r"c:40-61"):
    label_haplotypes([bad], [], ALL_CONFIDENT, WINDOW)


def test_group_window_outside_fetched_reference_fails():
  small = RefWindow("c", 30, REF[30:50], len(REF))
  with pytest.raises(LabelingError, match="not inside the fetched reference window"):
    label_haplotypes([snp(40, "T" if REF[40] != "T" else "A")], [], ALL_CONFIDENT, small)


def test_window_is_clipped_at_contig_end():
  last = len(REF) - 1
  alt = next(b for b in "ACGT" if b != REF[last])
  assert hap_genotypes([snp(last, alt)], [snp(last, alt, (0, 1))]) == [(0, 1)]


# --------------------------------------------------------------------------------------------
# Real data: the golden training run (spec section 10).

# Spec section 10, "Training records in order": 1-based locus, ref>alt, label genotype.
GOLDEN = """
10001019 T>G 0/1; 10001298 T>A 1/1; 10001436 A>AAGGCT 1/1; 10001474 C>T 1/1; 10001617 C>A 0/1;
10001628 G>A 1/1; 10001661 T>C 1/1; 10001670 T>G 1/1; 10002058 T>G 1/1; 10002099 C>T 0/1;
10002138 C>G 1/1; 10002142 G>C 1/1; 10002625 G>T 1/1; 10003021 C>T 1/1; 10003109 A>C 0/0;
10003358 A>C 0/1; 10003651 T>C 1/1; 10003692 A>G 1/1; 10003832 G>A 1/1; 10004094 A>C 1/1;
10004147 A>G 1/1; 10004351 C>G 1/1; 10004389 T>G 1/1; 10004610 A>C 1/1; 10004725 A>G 0/1;
10004769 TAAAACTATGC>T 0/1; 10004874 A>C 1/1; 10004887 A>G 0/1; 10005010 C>T 1/1;
10005427 C>T 1/1; 10005499 A>G 1/1; 10005587 A>G 0/1; 10005723 A>G 1/1; 10006291 G>A 0/1;
10006682 T>A 1/1; 10006819 AAAAC>A 1/1; 10007150 G>C 0/1; 10007175 C>T 0/1; 10007352 C>T 1/1;
10007531 A>G 1/1; 10007980 A>C 1/1; 10008146 TA>T 1/1; 10008221 T>C 1/1; 10008458 T>G 1/1;
10009227 A>G 0/1; 10009246 A>G 1/1; 10009400 T>A 1/1; 10009512 C>G 1/1; 10009719 A>G 1/1
"""


def _golden():
  out = []
  for item in GOLDEN.replace("\n", " ").split(";"):
    locus, alleles, gt = item.split()
    ref, alt = alleles.split(">")
    out.append((int(locus) - 1, ref, alt, tuple(int(g) for g in gt.split("/"))))
  return out


@pytest.fixture(scope="module")
def golden_run():
  """Labels the golden candidates partition by partition with both labelers."""
  golden = _golden()
  fasta = pysam.FastaFile(os.path.join(DATA, "ucsc.hg19.chr20.unittest.fasta.gz"))
  confident = read_confident_regions(os.path.join(DATA, "test_nist.b37_chr20_100kbp_at_10mb.bed"))
  hap, pos, metrics = {}, {}, []
  with TruthReader(os.path.join(DATA, "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz")) as reader:
    partitions = partition([Range("chr20", 9999999, 10010000)], 1000)
    assert len(partitions) == 11
    for part in partitions:
      cands = [Candidate("chr20", s, r, (a,), 30, (15, 15)) for s, r, a, _ in golden
               if part.start <= s < part.end]
      lo, hi = max(part.start - 1000, 0), part.end + 1000
      window = RefWindow("chr20", lo, fasta.fetch("chr20", lo, hi).upper(),
                         fasta.get_reference_length("chr20"))
      truths = reader.fetch(part)
      labels, m = label_haplotypes(cands, truths, confident, window, region=part)
      metrics.append(m)
      hap.update((l.candidate.start, l) for l in labels)
      pos.update((l.candidate.start, l) for l in
                 label_positional(cands, truths, confident, region=part))
  fasta.close()
  return golden, hap, pos, sum(metrics)


def test_golden_candidate_refs_agree_with_reference():
  fasta = pysam.FastaFile(os.path.join(DATA, "ucsc.hg19.chr20.unittest.fasta.gz"))
  for start, ref, _, _ in _golden():
    assert fasta.fetch("chr20", start, start + len(ref)).upper() == ref
  fasta.close()


def test_golden_labels_haplotype_labeler(golden_run):
  golden, hap, _, _ = golden_run
  assert len(golden) == 49
  wrong = [(s + 1, hap[s].genotype, gt) for s, _, _, gt in golden
           if hap[s].genotype != gt or not hap[s].is_confident]
  assert wrong == []
  assert hap[10003108].genotype == (0, 0)  # 10003109 A>C: the one false positive


def test_golden_labels_positional_labeler(golden_run):
  golden, _, pos, _ = golden_run
  assert sorted(pos) == sorted(s for s, _, _, _ in golden)
  wrong = [(s + 1, pos[s].genotype, gt) for s, _, _, gt in golden if pos[s].genotype != gt]
  assert wrong == []
  assert pos[10003108].genotype == (0, 0)


def test_golden_labeling_metrics(golden_run):
  # Spec section 10's labeling_metrics, except non-confident candidates (29 there): only the
  # 49 confident golden candidates are labeled here.
  _, _, _, metrics = golden_run
  assert metrics == LabelingMetrics(
      n_truth_variant_sites=48, n_truth_variant_alleles=48, n_candidate_variant_sites=49,
      n_candidate_variant_alleles=49, n_true_positive_sites=48, n_true_positive_alleles=84,
      n_false_positive_sites=1, n_false_positive_alleles=1, n_exact_position_matches=48,
      n_exact_position_and_allele_matches=48,
      n_exact_position_and_allele_and_genotype_matches=48)


def test_truth_assignment_keeps_last_equivalent_genotype():
  # Truth 1/0 has options (0,0), (0,1), (1,0); (0,1) and (1,0) spell the same haplotypes and
  # the last one enumerated, (1,0), is kept, so the allele slot-by-slot comparison with the
  # original 1/0 counts one true-positive allele and no false negative.
  alt = "T" if REF[40] != "T" else "A"
  _, metrics = label_haplotypes([snp(40, alt)], [snp(40, alt, (1, 0))], ALL_CONFIDENT, WINDOW)
  assert (metrics.n_true_positive_alleles, metrics.n_false_negative_alleles) == (1, 0)
  assert metrics.n_exact_position_and_allele_and_genotype_matches == 1


CLASSES = ("ref", "class1", "class2")


@pytest.mark.parametrize("truth,alt_indices,want", [
    (None, (0,), 0),                                                         # no truth here
    (TruthVariant("c", 5, "C", ("T",), (0, 1), info_class="class2"), (0,), 2),
    (TruthVariant("c", 5, "C", ("T",), (0, 0), info_class="class2"), (0,), 0),  # 0/0 truth
    (TruthVariant("c", 5, "CA", ("C",), (0, 1), info_class="class1"), (0,), 0),  # other REF
    (TruthVariant("c", 5, "C", ("T",), (1, 1), info_class=None), (0,), 0),   # no INFO: 0
    (TruthVariant("c", 5, "C", ("G",), (0, 1), info_class="class1"), (0,), 0),  # other alt
    (TruthVariant("c", 5, "C", ("G",), (0, 1), info_class="class1"), (1,), 1),  # image of G
    (TruthVariant("c", 5, "C", ("G",), (0, 1), info_class="class1"), (0, 1), 1),  # any alt
])
def test_customized_class_label(truth, alt_indices, want):
  candidate = Candidate("c", 5, "C", ("T", "G"), dp=20, ad=(10, 5, 5))  # alt 0 T, alt 1 G
  assert labeling.customized_class_label(candidate, truth, alt_indices, CLASSES) == want


def test_customized_class_not_in_list_is_refused():
  truth = TruthVariant("c", 5, "C", ("T",), (0, 1), info_class="class9")
  with pytest.raises(LabelingError, match=r"c:6 has class 'class9'"):
    labeling.customized_class_label(Candidate("c", 5, "C", ("T",), dp=1, ad=(0, 1)), truth,
                                    (0,), CLASSES)
