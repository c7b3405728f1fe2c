"""core/gvcf: DeepVariant's reference confidence and gVCF blocks, on hand-made counts."""
import numpy as np
import pytest

from beam_pipelines.core import gvcf
from schemas.protos import variants_pb2

OPTS = gvcf.GvcfOptions(gq_resolution=5)


def test_all_reference_reads_give_the_goldens_first_block():
  # DeepVariant's golden gVCF: 45 reads, all reference -> GQ 50 (capped), these likelihoods.
  gq, gl = gvcf.reference_confidence(45, 45, OPTS)
  assert gq == 50
  np.testing.assert_allclose(gl, [-1.2923689896027213e-14, -13.526796774119184,
                                  -134.98044604098541], rtol=0, atol=1e-9)


@pytest.mark.parametrize("n_ref,n_total,gq", [
    (0, 0, 1),      # no reads: 1/3 each -> phred(2/3) = 1.76 -> 1
    (3, 3, 9),      # three reference reads: P(0/1) = 1/8 dominates the error
    (5, 10, 0),     # half alt: 0/1 is most likely, GQ of 0/0 is 0
    (150, 150, 50), # capped at max_gq
])
def test_reference_confidence_gq(n_ref, n_total, gq):
  assert gvcf.reference_confidence(n_ref, n_total, OPTS)[0] == gq


def test_counts_over_100_are_scaled_as_deepvariants_table():
  assert gvcf.rescale_counts(150, 300) == (50, 100)
  assert gvcf.rescale_counts(1, 301) == (1, 100)   # ceil
  np.testing.assert_array_equal(gvcf.reference_confidence(150, 300, OPTS)[1],
                                gvcf.reference_confidence(50, 100, OPTS)[1])


@pytest.mark.parametrize("raw,binsize,want", [(0, 5, 0), (1, 5, 1), (5, 5, 1), (6, 5, 6),
                                               (50, 5, 46), (7, 1, 7)])
def test_quantize_gq(raw, binsize, want):
  assert gvcf.quantize_gq(raw, binsize) == want


def _decode(blobs):
  out = []
  for b in blobs:
    v = variants_pb2.Variant.FromString(b)
    c = v.calls[0]
    out.append((v.start, v.end, v.reference_bases, tuple(c.genotype),
                c.info["GQ"].values[0].int_value, c.info["MIN_DP"].values[0].int_value))
  return out


def test_blocks_merge_by_gq_bin_and_split_at_variant_looking_sites():
  # positions 100..107: deep reference, a het-looking site, reference again with lower depth,
  # an N (no record, breaks the block), reference.
  ref = "ACGTACNT"
  ref_support = np.array([40, 40, 5, 40, 4, 5, 0, 30])
  depths = np.array([40, 41, 10, 40, 4, 5, 0, 30])
  got = _decode(gvcf.gvcf_records("c", 100, ref, ref_support, depths, "S", OPTS))
  assert got == [
      (100, 102, "A", (0, 0), 50, 40),    # GQ 50 and 48 share bin 46: one block, min GQ/DP
      (102, 103, "G", (-1, -1), 0, 10),   # 0/1 more likely than 0/0: its own ./. record
      (103, 104, "T", (0, 0), 50, 40),
      (104, 106, "A", (0, 0), 12, 4),     # GQ 12 and 15 share bin 11
      (107, 108, "T", (0, 0), 50, 30),    # the N at 106 has no record
  ]


def test_block_likelihoods_are_the_first_positions():
  blobs = gvcf.gvcf_records("c", 0, "AC", np.array([44, 36]), np.array([44, 36]), "S", OPTS)
  (block,) = [variants_pb2.Variant.FromString(b) for b in blobs]
  np.testing.assert_allclose(block.calls[0].genotype_likelihood,
                             gvcf.reference_confidence(44, 44, OPTS)[1], atol=0)
  assert block.calls[0].info["MIN_DP"].values[0].int_value == 36
  assert list(block.alternate_bases) == ["<*>"] and block.calls[0].call_set_name == "S"


def test_med_dp_only_when_asked():
  opts = gvcf.GvcfOptions(gq_resolution=5, include_med_dp=True)
  (b,) = gvcf.gvcf_records("c", 0, "AAA", np.array([30, 40, 50]), np.array([30, 40, 50]), "S",
                           opts)
  assert variants_pb2.Variant.FromString(b).calls[0].info["MED_DP"].values[0].int_value == 40
  (b,) = gvcf.gvcf_records("c", 0, "AAA", np.array([30, 40, 50]), np.array([30, 40, 50]), "S",
                           OPTS)
  assert "MED_DP" not in variants_pb2.Variant.FromString(b).calls[0].info


def test_bad_reference_base_is_refused():
  with pytest.raises(ValueError, match=r"c:2: reference base 'X' is not a DNA or IUPAC code"):
    gvcf.gvcf_records("c", 0, "AX", np.array([1, 1]), np.array([1, 1]), "S", OPTS)


def _block(start, end, ref="A", contig="c"):
  (b,) = gvcf.gvcf_records(contig, start, ref * (end - start), np.full(end - start, 30),
                           np.full(end - start, 30), "S", OPTS)
  return variants_pb2.Variant.FromString(b)


def test_merge_cuts_blocks_around_calls_as_deepvariant():
  # Block [0, 10) of A's; a 3-bp deletion call at [4, 7); a second block [10, 12) on the
  # same contig; a call on the next contig. The reference base at 7 is 'G'.
  calls = [gvcf.CallSpan(0, 4, 7, "CALL1"), gvcf.CallSpan(1, 0, 1, "CALL2")]
  blocks = [(0, _block(0, 10)), (0, _block(10, 12))]
  lines = list(gvcf.merge_gvcf(calls, blocks, lambda contig, pos: "G"))
  assert [l.split("\t")[1:5] + [l.split("\t")[7]] if l.startswith("c\t") else l
          for l in lines] == [
      ["1", ".", "A", "<*>", "END=4"],      # before the call: the block's own REF
      "CALL1",
      ["8", ".", "G", "<*>", "END=10"],     # after it: REF is the reference base at 7
      ["11", ".", "A", "<*>", "END=12"],
      "CALL2"]


def test_merge_drops_a_block_inside_a_call_and_keeps_calls_without_blocks():
  calls = [gvcf.CallSpan(0, 2, 8, "DEL"), gvcf.CallSpan(0, 20, 21, "SNP")]
  lines = list(gvcf.merge_gvcf(calls, [(0, _block(3, 5))], lambda c, p: "T"))
  assert lines == ["DEL", "SNP"]


def test_block_line_format():
  line = gvcf.block_line(_block(99, 120, "C"))
  assert line.split("\t") == ["c", "100", ".", "C", "<*>", "0", ".", "END=120",
                              "GT:GQ:MIN_DP:PL", "0/0:50:30:0,90,899"]
