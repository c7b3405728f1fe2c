"""The example contract: DeepVariant's golden examples decode, re-encode and round-trip."""
import collections
import os
import subprocess
import sys

import numpy as np
import pytest

from schemas import example_format as ef
from schemas import labels
from schemas import tfrecord
from schemas.protos import tfexample_pb2
from schemas.protos import variants_pb2

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
GOLDEN = os.path.join(DATA, "golden.training_examples.tfrecord.gz")


@pytest.fixture(scope="module")
def golden_raw():
  return list(tfrecord.read_records(GOLDEN))


@pytest.fixture(scope="module")
def golden(golden_raw):
  return [ef.decode_example(r) for r in golden_raw]


def _snp_variant(**kw):
  args = dict(contig="chr20", start=10001018, ref="T", alts=["G"], sample_name="NA12878",
              dp=44, ad=[31, 13])
  args.update(kw)
  return ef.variant_to_proto(**args)


# ---- Golden ------------------------------------------------------------------------------------
def test_golden_counts(golden):
  assert len(golden) == 49
  assert {r.shape for r in golden} == {(100, 221, 6)}
  assert {r.image.shape for r in golden} == {(100, 221, 6)}
  assert dict(collections.Counter(r.label for r in golden)) == {0: 1, 1: 12, 2: 36}
  assert dict(collections.Counter(r.variant_type for r in golden)) == {1: 45, 2: 4}
  assert {r.sequencing_type for r in golden} == {0}
  assert all(r.extra == {} and r.unknown == {} for r in golden)  # exactly DeepVariant's 8 keys


def test_golden_first_record(golden):
  first = golden[0]
  call = first.variant.calls[0]
  assert [v.int_value for v in call.info["DP"].values] == [44]
  assert [v.int_value for v in call.info["AD"].values] == [31, 13]
  assert [v.number_value for v in call.info["VAF"].values] == [0.29545454545454547]
  assert list(call.genotype) == [0, 1]
  assert call.call_set_name == "NA12878"
  assert first.locus == "chr20:10001019-10001019"
  assert first.alt_indices == (0,)
  assert (first.variant.reference_name, first.variant.start, first.variant.end) == (
      "chr20", 10001018, 10001019)
  assert first.variant.info["BAM_FNAME"].values[0].string_value == (
      "NA12878_S1.chr20.10_10p1mb.bam")
  assert first.label == 1 and first.variant_type == 1
  assert first.image.dtype == np.uint8 and not first.image.flags.writeable


def test_locus_for_indels_matches_golden(golden):
  by_locus = {r.locus: r for r in golden}
  # Insertion A->AAGGCT at 10001435 and deletion TAAAACTATGC->T at 10004768 (spec 1.3).
  assert by_locus["chr20:10001436-10001436"].variant.alternate_bases == ["AAGGCT"]
  assert by_locus["chr20:10004769-10004779"].variant.reference_bases == "TAAAACTATGC"
  assert all(ef.locus_string(r.variant) == r.locus for r in golden)


def test_variant_to_proto_rebuilds_every_golden_variant(golden):
  """Our Variant builder reproduces DeepVariant's candidate+label protos field for field."""
  for r in golden:
    v, call = r.variant, r.variant.calls[0]
    rebuilt = ef.variant_to_proto(
        v.reference_name, v.start, v.reference_bases, list(v.alternate_bases),
        sample_name=call.call_set_name, dp=call.info["DP"].values[0].int_value,
        ad=[x.int_value for x in call.info["AD"].values], genotype=list(call.genotype),
        bam_fname=ef.bam_fname_from_reads_flag("/data/NA12878_S1.chr20.10_10p1mb.bam"))
    assert rebuilt == v, r.locus


def test_golden_labels_follow_genotype_rule(golden):
  for r in golden:
    assert r.label == labels.label_for_image(r.variant.calls[0].genotype, r.alt_indices), r.locus


def _features(data):
  return tfexample_pb2.Example.FromString(data).features.feature


def test_reencoded_golden_records_parse_equal_per_key(golden_raw, golden):
  for raw, record in zip(golden_raw, golden):
    original, ours = _features(raw), _features(record.encode())
    assert set(original) == set(ours)
    for key in original:
      if key == ef.VARIANT_ENCODED:  # map order inside Variant.info differs; compare parsed
        parse = lambda f: variants_pb2.Variant.FromString(f.bytes_list.value[0])  # noqa: E731
        assert parse(original[key]) == parse(ours[key]), (record.locus, key)
      else:
        assert original[key] == ours[key], (record.locus, key)


# ---- Encoding ----------------------------------------------------------------------------------
def test_round_trip_with_extra_and_multiallelic():
  rng = np.random.default_rng(7)
  image = rng.integers(0, 255, size=(100, 221, 7), dtype=np.uint8)
  variant = ef.variant_to_proto("chr1", 99, "A", ["AT", "C"], sample_name="s", dp=20,
                                ad=[10, 6, 4], genotype=[1, 2], bam_fname="a.bam")
  data = ef.encode_example(image, variant, [0, 1], 2, sequencing_type=1, label=2,
                           extra={ef.DOWNSAMPLE_FRACTION: 0.5})
  r = ef.decode_example(data)
  np.testing.assert_array_equal(r.image, image)
  assert r.shape == (100, 221, 7)
  assert r.variant == variant
  assert r.alt_indices == (0, 1)
  assert (r.variant_type, r.sequencing_type, r.label) == (2, 1, 2)
  assert r.locus == "chr1:100-100"
  assert r.extra == {ef.DOWNSAMPLE_FRACTION: 0.5}
  assert [v.number_value for v in r.variant.calls[0].info["VAF"].values] == [0.3, 0.2]
  assert ef.example_label(data) == 2 and ef.example_shape(data) == (100, 221, 7)
  assert r.encode() == data  # deterministic serialization


def test_calling_example_has_no_label_and_seven_features():
  variant = _snp_variant()
  assert list(variant.calls[0].genotype) == [-1, -1]  # calling-mode genotype
  data = ef.encode_example(np.zeros((100, 221, 6), np.uint8), variant, [0], 1)
  assert len(_features(data)) == 7
  r = ef.decode_example(data)
  assert r.label is None and ef.example_label(data) is None


def test_downsample_fraction_is_float32():
  data = ef.encode_example(np.zeros((3, 3, 6), np.uint8), _snp_variant(), [0], 1,
                           extra={ef.DOWNSAMPLE_FRACTION: 0.1})
  assert _features(data)[ef.DOWNSAMPLE_FRACTION].WhichOneof("kind") == "float_list"
  assert ef.decode_example(data).extra[ef.DOWNSAMPLE_FRACTION] == float(np.float32(0.1))


def test_reference_site_candidate_carries_only_dp():
  v = ef.variant_to_proto("chr20", 5, "A", ["."], sample_name="s", dp=30)
  assert sorted(v.calls[0].info) == ["DP"] and v.end == 6


@pytest.mark.parametrize("indices,hexbytes", [
    ([0], "0a0100"),  # spec 1.3, verified on golden
    ([0, 1], "0a020001"),  # packed int32 pair
    ([1], "0a0101"),  # second single-alt image
])
def test_alt_allele_indices_bytes(indices, hexbytes):
  assert ef.alt_allele_indices_bytes(indices).hex() == hexbytes
  assert ef.parse_alt_allele_indices(bytes.fromhex(hexbytes)) == tuple(indices)


@pytest.mark.parametrize("kwargs,match", [
    (dict(image=np.zeros((3, 3, 6), np.float32)), "uint8"),  # float image
    (dict(image=np.zeros((3, 18), np.uint8)), "uint8 HxWxC"),  # missing channel axis
    (dict(alt_indices=[1]), "alt_indices"),  # only one alt exists
    (dict(alt_indices=[]), "alt_indices"),  # an image always shows an alt
    (dict(extra={"unknown_key": 1}), "unknown extra feature"),  # keys are declared here only
])
def test_encode_rejects_bad_input(kwargs, match):
  args = dict(image=np.zeros((3, 3, 6), np.uint8), variant=_snp_variant(), alt_indices=[0],
              variant_type=1)
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    ef.encode_example(**args)


def test_variant_to_proto_rejects_wrong_ad_length():
  with pytest.raises(ValueError, match="AD must have 3 counts"):
    ef.variant_to_proto("chr1", 0, "A", ["C", "G"], sample_name="s", dp=5, ad=[1, 2])


def test_decode_rejects_broken_examples():
  data = ef.encode_example(np.zeros((2, 2, 6), np.uint8), _snp_variant(), [0], 1)
  example = tfexample_pb2.Example.FromString(data)
  del example.features.feature[ef.LOCUS]
  with pytest.raises(ValueError, match="missing required feature"):
    ef.decode_example(example.SerializeToString())
  example = tfexample_pb2.Example.FromString(data)
  example.features.feature[ef.IMAGE_SHAPE].int64_list.value[0] = 3
  with pytest.raises(ValueError, match="has 24 bytes but"):
    ef.decode_example(example.SerializeToString())


def test_unknown_features_are_kept():
  data = ef.encode_example(np.zeros((2, 2, 6), np.uint8), _snp_variant(), [0], 1)
  example = tfexample_pb2.Example.FromString(data)
  example.features.feature["denovo_label"].int64_list.value.append(1)  # a later DV key
  assert ef.decode_example(example.SerializeToString()).unknown == {"denovo_label": (1,)}


def test_parse_spec():
  assert ef.parse_spec() == {
      "image/encoded": ("string", ()), "variant/encoded": ("string", ()),
      "alt_allele_indices/encoded": ("string", ()), "variant_type": ("int64", ()),
      "sequencing_type": ("int64", ()), "label": ("int64", ()), "locus": ("string", ())}
  assert "label" not in ef.parse_spec(training=False)  # calling examples have no label
  assert ef.parse_spec(include_shape=True)["image/shape"] == ("int64", (3,))


# ---- Living next to TensorFlow -----------------------------------------------------------------
_TF_SCRIPT = r"""
import sys
import numpy as np
import schemas
from schemas import example_format as ef, tfrecord
import tensorflow as tf  # after schemas: our private Example must not clash with tf's
raw = next(iter(tfrecord.read_records(sys.argv[1])))
ours = ef.decode_example(raw)
theirs = tf.train.Example.FromString(raw)
assert list(theirs.features.feature['image/shape'].int64_list.value) == [100, 221, 6]
dtypes = {'string': tf.string, 'int64': tf.int64}
spec = {k: tf.io.FixedLenFeature(shape, dtypes[d]) for k, (d, shape) in ef.parse_spec().items()}
parsed = tf.io.parse_single_example(raw, spec)
image = tf.reshape(tf.io.decode_raw(parsed['image/encoded'], tf.uint8), ours.shape).numpy()
assert np.array_equal(image, ours.image)
assert int(parsed['label']) == ours.label and parsed['locus'].numpy().decode() == ours.locus
assert int(parsed['variant_type']) == ours.variant_type
# And TF parses what we encode.
again = tf.train.Example.FromString(ours.encode())
assert again.features.feature['locus'].bytes_list.value[0] == b'chr20:10001019-10001019'
print('ok')
"""


def test_schemas_then_tensorflow_in_one_process():
  pytest.importorskip("tensorflow")
  out = subprocess.run([sys.executable, "-c", _TF_SCRIPT, GOLDEN], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
  assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
