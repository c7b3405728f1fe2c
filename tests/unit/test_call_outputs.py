"""core/call_outputs: CallVariantsOutput coding, the grouping key and the reference check."""
import pytest

from beam_pipelines.core import call_outputs as co
from beam_pipelines.core import postprocess
from schemas.protos import variants_pb2


def _variant(ref="A", alts=("C",), start=9, contig="chr1", ad=(6, 4), dp=10):
  v = variants_pb2.Variant(reference_name=contig, start=start, end=start + len(ref),
                           reference_bases=ref, alternate_bases=list(alts))
  call = v.calls.add(call_set_name="S1")
  call.info["DP"].values.add().int_value = dp
  for c in ad:
    call.info["AD"].values.add().int_value = c
  return v


def test_encode_decode_round_trip():
  v = _variant()
  got, image = co.decode_output(co.encode_output(v, [0], [0.1, 0.7, 0.2]))
  assert got == v and image == postprocess.ImagePrediction((0,), (0.1, 0.7, 0.2))


@pytest.mark.parametrize("indices,probs,message", [
    ([1], [0.1, 0.7, 0.2], r"alt_allele_indices \[1\] for 1 alt"),   # past the alts
    ([], [0.1, 0.7, 0.2], r"alt_allele_indices \[\]"),               # no image alt
    ([0], [0.5, 0.5], r"2 genotype probabilities, expected 3"),      # not a 3-class output
])
def test_decode_refuses_outputs_that_do_not_fit(indices, probs, message):
  with pytest.raises(ValueError, match=message):
    co.decode_output(co.encode_output(_variant(), indices, probs), "f.gz")


def test_key_ignores_info_order():
  # The same candidate written by two writers with map entries in another order: one key.
  a, b = _variant(), variants_pb2.Variant()
  b.CopyFrom(a)
  info = dict(b.calls[0].info)
  b.calls[0].ClearField("info")
  for k in reversed(list(info)):
    b.calls[0].info[k].CopyFrom(info[k])
  assert co.candidate_key(a) == co.candidate_key(b) == ("chr1", 9, 10, "A", ("C",))


def test_call_variant_uses_dp_ad_and_skips_reference_sites():
  call = co.call_variant(_variant(), [postprocess.ImagePrediction((0,), (0.01, 0.98, 0.01))])
  assert (call.genotype, call.dp, call.ad, call.vaf, call.filter) == (
      (0, 1), 10, (6, 4), (0.4,), "PASS")
  assert co.call_variant(_variant(alts=(".",)), []) is None


@pytest.mark.parametrize("variant,message", [
    (_variant(contig="chr9"), "on contig 'chr9', which the reference lacks"),
    (_variant(start=98, ref="ACGT"), "ends at 102 past the contig length 100"),
    (_variant(ref="G"), "has REF G but the reference has A"),
])
def test_reference_mismatch(variant, message):
  seq = "A" * 100
  problem = co.reference_mismatch(variant, {"chr1": 100}, lambda c, s, e: seq[s:e])
  assert message in problem
  assert co.reference_mismatch(_variant(), {"chr1": 100}, lambda c, s, e: seq[s:e]) is None
