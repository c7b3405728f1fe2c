"""DeepVariant's postprocess rule: merging multi-allelic images, GT/GQ/QUAL/PL/FILTER, VCF text."""
import numpy as np
import pytest

from beam_pipelines.core import postprocess as pp

I = pp.ImagePrediction


def test_worked_example_of_the_docstring():
  kept, probs = pp.merge_predictions("C", ["A", "G"], [
      I((0,), (0.1, 0.8, 0.1)), I((1,), (0.2, 0.7, 0.1)), I((0, 1), (0.05, 0.05, 0.9))])
  assert kept == ("A", "G")
  # 0/0 0/1 1/1 0/2 1/2 2/2 = min over informing images, / 1.25
  np.testing.assert_allclose(probs, np.array([0.05, 0.05, 0.1, 0.05, 0.9, 0.1]) / 1.25)
  assert pp.call_from_probabilities(probs)[0] == (1, 2)


def test_biallelic_image_is_used_as_is():
  kept, probs = pp.merge_predictions("A", ["T"], [I((0,), (0.2, 0.5, 0.3))])
  assert kept == ("T",) and probs.tolist() == [0.2, 0.5, 0.3]


def test_weak_alt_is_removed_with_its_images():
  # alt G's own image says ref/ref 0.9 -> QUAL 0.46 < 1: G goes, the pair image is ignored.
  kept, probs = pp.merge_predictions("C", ["A", "G"], [
      I((0,), (0.1, 0.1, 0.8)), I((1,), (0.91, 0.08, 0.01)), I((0, 1), (0.1, 0.2, 0.7))])
  assert kept == ("A",)
  np.testing.assert_allclose(probs, [0.1, 0.1, 0.8])


def test_all_alts_weak_keeps_the_best_one():
  kept, _ = pp.merge_predictions("C", ["A", "G"], [
      I((0,), (0.95, 0.04, 0.01)), I((1,), (0.92, 0.05, 0.03)), I((0, 1), (0.9, 0.05, 0.05))])
  assert kept == ("G",)  # G's image has the higher QUAL (p(alt) 0.08 vs 0.05)


def test_missing_pair_image_gives_het_alt_zero():
  _, probs = pp.merge_predictions("C", ["A", "G"], [I((0,), (0.1, 0.6, 0.3)),
                                                    I((1,), (0.1, 0.6, 0.3))])
  assert probs[4] == 0.0  # 1/2: no image shows both alts (exclude_het_alt_images)


def test_duplicate_image_is_refused():
  with pytest.raises(ValueError, match="two images"):
    pp.merge_predictions("C", ["A", "G"], [I((0,), (1, 0, 0)), I((0,), (1, 0, 0))])


@pytest.mark.parametrize("probs,gt,gq,qual,pls,filt", [
    ((0.01, 0.98, 0.01), (0, 1), 17, 20.0, (19, 0, 19), "PASS"),   # PL truncated: 19.91
    ((0.0, 0.0, 1.0), (1, 1), 100, 100.0, (100, 100, 0), "PASS"),  # bounded at 100
    ((0.995, 0.004, 0.001), (0, 0), 23, 0.0217692, (0, 23, 29), "RefCall"),  # GQ >= 20: 0/0
    ((0.9, 0.06, 0.04), (-1, -1), 10, 0.4575749, (0, 11, 13), "RefCall"),  # GQ < 20: ./.
])
def test_call_values(probs, gt, gq, qual, pls, filt):
  got = pp.call_from_probabilities(np.array(probs))
  assert got[0] == gt and got[1] == gq and got[3] == pls and got[4] == filt
  assert got[2] == pytest.approx(qual, abs=1e-6)


def test_no_reads_is_a_no_call():
  # DeepVariant's uncall_gt_if_no_ad: AD summing to 0 -> ./., GQ 0, PL 0,0, FILTER NoCall.
  call = pp.call_candidate("chr1", 9, "A", ["C"], [I((0,), (0.1, 0.8, 0.1))], dp=0, ad=[0, 0])
  assert (call.genotype, call.gq, call.pls, call.filter) == ((-1, -1), 0, (0, 0), "NoCall")
  assert pp.vcf_line(call).endswith("\t./.:0:0:0,0:0:0,0")


@pytest.mark.parametrize("qual,text", [(36.895, "36.9"), (34.514, "34.5"), (42.04, "42"),
                                       (0.0, "0"), (100.0, "100"), (2.45, "2.5"),
                                       (0.04, "0")])
def test_qual_is_printed_to_one_decimal(qual, text):
  assert pp.format_qual(qual) == text


def test_low_qual_filter():
  # QUAL phred(0.4) = 3.98 is below a qual_filter of 10 -> LowQual (default 1.0 would PASS).
  assert pp.call_from_probabilities(np.array([0.4, 0.5, 0.1]), qual_filter=10)[4] == "LowQual"
  assert pp.call_from_probabilities(np.array([0.4, 0.5, 0.1]))[4] == "PASS"


def test_call_candidate_prunes_ad_vaf_and_simplifies():
  call = pp.call_candidate("chr1", 99, "GTT", ["G", "GT"], [
      I((0,), (0.95, 0.04, 0.01)), I((1,), (0.05, 0.15, 0.8)), I((0, 1), (0.3, 0.3, 0.4))],
      dp=20, ad=[2, 1, 17])
  assert (call.ref, call.alts) == ("GT", ("G",))  # 'G' removed, shared T trimmed
  assert call.ad == (2, 17) and call.vaf == (0.85,) and call.genotype == (1, 1)
  assert pp.vcf_line(call).split("\t")[:5] == ["chr1", "100", ".", "GT", "G"]


def test_vcf_line_format():
  call = pp.Call("chr2", 9, "A", ("C",), (0, 1), 17, 20.0, (20, 0, 20), "PASS", 30, (15, 15),
                 (0.5,), (0.01, 0.98, 0.01))
  assert pp.vcf_line(call) == ("chr2\t10\t.\tA\tC\t20\tPASS\t.\tGT:GQ:DP:AD:VAF:PL\t"
                               "0/1:17:30:15,15:0.5:20,0,20")


def test_header_lists_contigs_and_sample():
  text = pp.vcf_header([("c1", 100), ("c2", 50)], "NA1")
  assert "##contig=<ID=c2,length=50>" in text and text.endswith("FORMAT\tNA1\n")
  assert '##FILTER=<ID=RefCall' in text and text.startswith("##fileformat=VCFv4.2\n")
