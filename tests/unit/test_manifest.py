"""Unit tests for schemas/manifest.py: counting examples, and the manifest's write/read/validate."""
import copy
import json
import os

import numpy as np
import pytest

from schemas import SCHEMA_VERSION
from schemas import example_format as ef
from schemas import manifest as m
from schemas import tfrecord

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
GOLDEN = os.path.join(DATA, "golden.training_examples.tfrecord.gz")


@pytest.fixture(scope="module")
def golden():
  return list(tfrecord.read_records(GOLDEN))


def _example(label=None, fraction=None, shape=(4, 5, 6), sample="S1", ref="A", alt="C"):
  variant = ef.variant_to_proto("chr1", 10, ref, [alt], sample_name=sample, dp=3, ad=[2, 1])
  extra = {ef.DOWNSAMPLE_FRACTION: fraction} if fraction is not None else None
  return ef.encode_example(np.zeros(shape, np.uint8), variant, [0], 1 if len(ref) == 1 else 2,
                           label=label, extra=extra)


def test_tally_counts_golden(golden):
  tally = m.Tally()
  for payload in golden:
    assert tally.add(payload, "golden") == (100, 221, 6)
  # Golden contents per the data README: labels 1 x0, 12 x1, 36 x2; 45 SNPs, 4 indels.
  assert tally.examples == 49
  assert dict(tally.labels) == {0: 1, 1: 12, 2: 36}
  assert dict(tally.variant_types) == {"snp": 45, "indel": 4}
  assert dict(tally.samples) == {"NA12878": 49}
  assert dict(tally.fractions) == {"none": 49}
  assert tally.unlabeled == 0
  assert tally.shapes == {(100, 221, 6): "golden"}


@pytest.mark.parametrize("kwargs,field,key", [
    ({"label": 2}, "labels", 2),                        # label counted by value
    ({}, "unlabeled", None),                           # calling example: no label
    ({"fraction": 0.5}, "fractions", "0.5"),           # downsample feature spelt with :g
    ({"fraction": 0.3}, "fractions", "0.3"),           # float32 0.3 still reads '0.3'
    ({"sample": "HG002"}, "samples", "HG002"),         # call_set_name of the variant
    ({"ref": "AT", "alt": "A"}, "variant_types", "indel"),  # deletion -> indel
])
def test_tally_fields(kwargs, field, key):
  tally = m.Tally()
  tally.add(_example(**kwargs), "src")
  value = getattr(tally, field)
  assert (value == 1) if key is None else (value[key] == 1)


def test_tally_rejects_non_examples():
  with pytest.raises(ValueError, match="not a serialized tf.Example"):
    m.Tally().add(b"\xff\xff\xff", "junk")


def test_tally_merge_keeps_smallest_source_per_shape():
  a, b = m.Tally(), m.Tally()
  a.add(_example(label=0), "z.tfrecord")
  b.add(_example(label=1), "a.tfrecord")
  b.add(_example(label=1, shape=(4, 5, 7)), "b.tfrecord")
  a.merge(b)
  assert a.examples == 3 and dict(a.labels) == {0: 1, 1: 2}
  assert a.shapes == {(4, 5, 6): "a.tfrecord", (4, 5, 7): "b.tfrecord"}
  assert m.Tally.from_json_dict(json.loads(json.dumps(a.to_json_dict()))).to_json_dict() == \
      a.to_json_dict()


def _manifest(golden):
  tally = m.Tally()
  for payload in golden:
    tally.add(payload, GOLDEN)
  return m.build_manifest(
      name="HG001", shard_pattern="out/x-?????-of-?????.tfrecord.gz",
      shards=[{"path": "out/x-00000-of-00002.tfrecord.gz", "examples": 30, "bytes": 1},
              {"path": "out/x-00001-of-00002.tfrecord.gz", "examples": 19, "bytes": 1}],
      tally=tally, image_shape=(100, 221, 6), channels=(1, 2, 3, 4, 5, 6), seed=7,
      command_line="shuffle --seed 7",
      inputs=[{"path": GOLDEN, "bytes": 311246, "crc32c": "EHWZ9Q==", "examples": 49}],
      dataset_config="out/dataset_config.pbtxt", shuffle={"num_buckets": 2})


def test_manifest_round_trip(golden, tmp_path):
  manifest = _manifest(golden)
  path = str(tmp_path / "d.manifest.json")
  m.write_manifest(path, manifest)
  text = open(path).read()
  assert text.endswith("}\n") and text == m.manifest_json(manifest)
  back = m.read_manifest(path)
  assert back == manifest
  assert back["manifest_version"] == m.MANIFEST_VERSION
  assert back["example_schema_version"] == SCHEMA_VERSION
  assert m.class_counts(back) == {0: 1, 1: 12, 2: 36}
  assert back["variant_type_counts"] == {"indel": 4, "snp": 45}
  assert back["input_counts"] == {GOLDEN: 49}


@pytest.mark.parametrize("mutate,fragment", [
    (lambda d: d.pop("seed"), "missing field(s) ['seed']"),                  # required field
    (lambda d: d.update(num_examples="49"), "field 'num_examples' has type str"),  # wrong type
    (lambda d: d.update(manifest_version=99), "manifest_version 99 is not supported"),
    (lambda d: d["class_counts"].update({"2": 35}), "class_counts add up to 48"),  # inconsistent
    (lambda d: d["shards"][0].update(examples=29), "shards hold 48 examples"),     # shard sum
    (lambda d: d.update(image_shape=[100, 221]), "image_shape must be [H, W, C]"),
    (lambda d: d["sample_counts"].update({"X": -1}), "non-negative integers"),
    (lambda d: d.update(num_examples=True), "has type bool"),               # bool is not int
])
def test_validate_rejects(golden, mutate, fragment):
  manifest = copy.deepcopy(_manifest(golden))
  mutate(manifest)
  with pytest.raises(m.ManifestError) as e:
    m.validate_manifest(manifest, "d.json")
  assert fragment in str(e.value) and str(e.value).startswith("d.json: ")


def test_parse_rejects_bad_json():
  with pytest.raises(m.ManifestError, match="x.json: not valid JSON"):
    m.parse_manifest("{", "x.json")
