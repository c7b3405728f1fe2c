"""The dataset manifest: a JSON file beside dataset_config.pbtxt saying what a dataset holds.

Why: dataset_config.pbtxt (spec 8.3) only carries a name, a path and a count. Before training,
people need to know what they are about to train on: counts per class, variant type, input
file, sample and downsample fraction; the image shape and channel list (a 6-channel model must
not meet 7-channel examples, what-users-need item 2); the seed and command line that made it,
and the size and checksum of every input, so a dataset can be rebuilt and verified. The trainer
reads it without Beam or pysam, hence it lives in schemas/.

Layout (``MANIFEST_VERSION`` 1; JSON with sorted keys, 1-space indent, trailing newline)::

    {
     "manifest_version": 1,
     "example_schema_version": "1",          # schemas.SCHEMA_VERSION of the examples
     "name": "HG001",                        # dataset name (as in dataset_config.pbtxt)
     "shard_pattern": "out/train-?????-of-?????.tfrecord.gz",
     "shards": [{"path": ..., "examples": 123, "bytes": 456}, ...],
     "num_examples": 342758,
     "class_counts": {"0": 44516, "1": 173673, "2": 124569},
     "unlabeled_examples": 0,
     "variant_type_counts": {"indel": ..., "snp": ..., "unknown": ...},
     "input_counts": {"<input path>": n, ...},
     "sample_counts": {"NA12878": n, ...},   # call_set_name of the example's variant
     "downsample_fraction_counts": {"0.5": n, "none": n},   # "none": feature absent
     "image_shape": [100, 221, 6],
     "channels": [1, 2, 3, 4, 5, 6],         # null when no input had an example_info.json
     "seed": 7, "command_line": "shuffle --input_pattern_list=...",
     "inputs": [{"path": ..., "bytes": ..., "crc32c": "<base64>", "examples": n}],
     "corrupt_inputs": [{"path": ..., "error": "..."}],   # only with --skip_corrupt
     "label_qa_warnings": ["class 0 (hom_ref) is empty ..."],
     "dataset_config": "out/dataset_config.pbtxt",          # or null
     "shuffle": {"num_buckets": 8, "bucket_budget_bytes": ...}
    }

``crc32c`` is base64 of the big-endian CRC32C of the file's bytes, the form ``gsutil hash -c``
prints and GCS stores, so inputs on gs:// can be verified without downloading them.

``Tally`` is the counting half: a mergeable accumulator fed one serialized tf.Example at a
time (each Beam bundle keeps one; they are merged at the end).
"""
from __future__ import annotations

import collections
import dataclasses
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from schemas import SCHEMA_VERSION
from schemas import _files
from schemas import example_format as ef
from schemas import small_model
from schemas.protos import tfexample_pb2
from schemas.protos import variants_pb2

MANIFEST_VERSION = 1
NO_FRACTION = "none"
VARIANT_TYPE_NAMES = {0: "unknown", 1: "snp", 2: "indel"}

_REQUIRED: Dict[str, type] = {
    "manifest_version": int, "example_schema_version": str, "name": str, "shard_pattern": str,
    "shards": list, "num_examples": int, "class_counts": dict, "unlabeled_examples": int,
    "variant_type_counts": dict, "input_counts": dict, "sample_counts": dict,
    "downsample_fraction_counts": dict, "image_shape": (list, type(None)),
    "channels": (list, type(None)), "seed": int, "command_line": str, "inputs": list,
    "corrupt_inputs": list, "label_qa_warnings": list, "dataset_config": (str, type(None)),
    "shuffle": dict,
}


class ManifestError(ValueError):
  """A manifest is malformed or inconsistent; the message names the file and the field."""


def fraction_key(fraction: Optional[float]) -> str:
  """How a downsample fraction is spelt in counts: ``0.5`` -> ``'0.5'``, None -> ``'none'``."""
  return NO_FRACTION if fraction is None else f"{float(fraction):g}"


@dataclasses.dataclass
class Tally:
  """Counts over serialized examples; ``add`` one record, ``merge`` two tallies.

  ``shapes`` maps each image shape seen to the first (smallest) source name that had it, so
  a mix of shapes can be reported naming one file of each.
  """
  examples: int = 0
  unlabeled: int = 0
  labels: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  variant_types: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  samples: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  fractions: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  inputs: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  shapes: Dict[Tuple[int, ...], str] = dataclasses.field(default_factory=dict)

  def add(self, payload: bytes, source: str) -> Tuple[int, ...]:
    """Counts one serialized tf.Example read from ``source``; returns its image shape.

    Raises:
      ValueError: the record is not a tf.Example with the features counted here.
    """
    try:
      features = tfexample_pb2.Example.FromString(payload).features.feature
    except Exception as e:  # protobuf raises its own DecodeError type
      raise ValueError(f"not a serialized tf.Example ({e})") from None
    if small_model.FEATURES_ENCODED in features and ef.IMAGE_SHAPE not in features:
      return self._add_small_model(features, source)
    shape = tuple(int(v) for v in features[ef.IMAGE_SHAPE].int64_list.value) \
        if ef.IMAGE_SHAPE in features else ()
    if len(shape) != 3:
      raise ValueError(f"feature {ef.IMAGE_SHAPE!r} must be [H, W, C], got {list(shape)}")
    self.examples += 1
    if ef.LABEL in features and features[ef.LABEL].int64_list.value:
      self.labels[int(features[ef.LABEL].int64_list.value[0])] += 1
    else:
      self.unlabeled += 1
    vtype = int(features[ef.VARIANT_TYPE].int64_list.value[0]) \
        if ef.VARIANT_TYPE in features and features[ef.VARIANT_TYPE].int64_list.value else 0
    self.variant_types[VARIANT_TYPE_NAMES.get(vtype, f"type_{vtype}")] += 1
    sample = ""
    if ef.VARIANT_ENCODED in features and features[ef.VARIANT_ENCODED].bytes_list.value:
      variant = variants_pb2.Variant.FromString(features[ef.VARIANT_ENCODED].bytes_list.value[0])
      if variant.calls:
        sample = variant.calls[0].call_set_name
    self.samples[sample] += 1
    fraction = None
    if ef.DOWNSAMPLE_FRACTION in features and \
        features[ef.DOWNSAMPLE_FRACTION].float_list.value:
      fraction = features[ef.DOWNSAMPLE_FRACTION].float_list.value[0]
    self.fractions[fraction_key(fraction)] += 1
    self.inputs[source] += 1
    if shape not in self.shapes or source < self.shapes[shape]:
      self.shapes[shape] = source
    return shape

  def _add_small_model(self, features, source: str) -> Tuple[int, ...]:
    """A small-model example: its "shape" is (number of features,); label from the one-hot,
    type from its is_snp feature; no sample or fraction is stored in these examples."""
    values = features[small_model.FEATURES_ENCODED].int64_list.value
    shape = (len(values),)
    self.examples += 1
    hot = list(features[small_model.LABEL_ENCODED].int64_list.value) \
        if small_model.LABEL_ENCODED in features else []
    if hot:
      if len(hot) != 3 or sorted(hot) != [0, 0, 1]:
        raise ValueError(f"small-model label {hot} is not a one-hot of 3 classes")
      self.labels[hot.index(1)] += 1
    else:
      self.unlabeled += 1
    snp_at = small_model.feature_names(0).index("is_snp")
    is_snp = len(values) > snp_at and values[snp_at] == 1
    self.variant_types["snp" if is_snp else "indel"] += 1
    self.samples[""] += 1
    self.fractions[fraction_key(None)] += 1
    self.inputs[source] += 1
    if shape not in self.shapes or source < self.shapes[shape]:
      self.shapes[shape] = source
    return shape

  def merge(self, other: "Tally") -> "Tally":
    """Adds ``other`` into this tally (in place) and returns it."""
    self.examples += other.examples
    self.unlabeled += other.unlabeled
    for mine, theirs in ((self.labels, other.labels), (self.variant_types, other.variant_types),
                         (self.samples, other.samples), (self.fractions, other.fractions),
                         (self.inputs, other.inputs)):
      mine.update(theirs)
    for shape, source in other.shapes.items():
      if shape not in self.shapes or source < self.shapes[shape]:
        self.shapes[shape] = source
    return self

  def to_json_dict(self) -> Dict[str, Any]:
    return {
        "examples": self.examples, "unlabeled": self.unlabeled,
        "labels": {str(k): v for k, v in sorted(self.labels.items())},
        "variant_types": dict(sorted(self.variant_types.items())),
        "samples": dict(sorted(self.samples.items())),
        "fractions": dict(sorted(self.fractions.items())),
        "inputs": dict(sorted(self.inputs.items())),
        "shapes": [[list(s), src] for s, src in sorted(self.shapes.items())],
    }

  @classmethod
  def from_json_dict(cls, d: Mapping[str, Any]) -> "Tally":
    return cls(examples=int(d["examples"]), unlabeled=int(d["unlabeled"]),
               labels=collections.Counter({int(k): v for k, v in d["labels"].items()}),
               variant_types=collections.Counter(d["variant_types"]),
               samples=collections.Counter(d["samples"]),
               fractions=collections.Counter(d["fractions"]),
               inputs=collections.Counter(d["inputs"]),
               shapes={tuple(s): src for s, src in d["shapes"]})


def build_manifest(*, name: str, shard_pattern: str, shards: Sequence[Mapping[str, Any]],
                   tally: Tally, image_shape: Optional[Sequence[int]],
                   channels: Optional[Sequence[int]], seed: int, command_line: str,
                   inputs: Sequence[Mapping[str, Any]] = (),
                   corrupt_inputs: Sequence[Mapping[str, Any]] = (),
                   label_qa_warnings: Sequence[str] = (),
                   dataset_config: Optional[str] = None,
                   shuffle: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
  """The manifest dict (validated) for a dataset whose examples ``tally`` counted."""
  manifest = {
      "manifest_version": MANIFEST_VERSION,
      "example_schema_version": SCHEMA_VERSION,
      "name": name,
      "shard_pattern": shard_pattern,
      "shards": [dict(s) for s in shards],
      "num_examples": tally.examples,
      "class_counts": {str(k): int(v) for k, v in sorted(tally.labels.items())},
      "unlabeled_examples": tally.unlabeled,
      "variant_type_counts": dict(sorted(tally.variant_types.items())),
      "input_counts": dict(sorted(tally.inputs.items())),
      "sample_counts": dict(sorted(tally.samples.items())),
      "downsample_fraction_counts": dict(sorted(tally.fractions.items())),
      "image_shape": None if image_shape is None else [int(v) for v in image_shape],
      "channels": None if channels is None else [int(c) for c in channels],
      "seed": int(seed),
      "command_line": command_line,
      "inputs": [dict(i) for i in inputs],
      "corrupt_inputs": [dict(c) for c in corrupt_inputs],
      "label_qa_warnings": list(label_qa_warnings),
      "dataset_config": dataset_config,
      "shuffle": dict(shuffle or {}),
  }
  validate_manifest(manifest, "manifest being written")
  return manifest


def _fail(source: str, message: str) -> None:
  raise ManifestError(f"{source}: {message}")


def validate_manifest(manifest: Mapping[str, Any], source: str = "<manifest>") -> None:
  """Checks fields, types and that the counts add up; raises ManifestError naming the field."""
  if not isinstance(manifest, Mapping):
    _fail(source, f"expected a JSON object, got {type(manifest).__name__}")
  missing = sorted(set(_REQUIRED) - set(manifest))
  if missing:
    _fail(source, f"missing field(s) {missing}")
  for key, kind in _REQUIRED.items():
    value = manifest[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
      _fail(source, f"field {key!r} has type {type(value).__name__}")
  if manifest["manifest_version"] != MANIFEST_VERSION:
    _fail(source, f"manifest_version {manifest['manifest_version']} is not supported "
                  f"(this reader knows {MANIFEST_VERSION})")
  n = manifest["num_examples"]
  if n < 0:
    _fail(source, f"num_examples is negative ({n})")
  for key in ("class_counts", "variant_type_counts", "input_counts", "sample_counts",
              "downsample_fraction_counts"):
    counts = manifest[key]
    if any(not isinstance(v, int) or v < 0 for v in counts.values()):
      _fail(source, f"{key} must map to non-negative integers")
    total = sum(counts.values()) + (manifest["unlabeled_examples"] if key == "class_counts"
                                    else 0)
    if total != n:
      _fail(source, f"{key} add up to {total}, not num_examples {n}")
  for label in manifest["class_counts"]:
    if not label.lstrip("-").isdigit():
      _fail(source, f"class_counts key {label!r} is not an integer label")
  shard_total = 0
  for i, shard in enumerate(manifest["shards"]):
    if not isinstance(shard, Mapping) or not {"path", "examples"} <= set(shard):
      _fail(source, f"shards[{i}] needs path and examples")
    shard_total += int(shard["examples"])
  if manifest["shards"] and shard_total != n:
    _fail(source, f"shards hold {shard_total} examples, not num_examples {n}")
  if manifest["image_shape"] is not None and len(manifest["image_shape"]) != 3:
    _fail(source, f"image_shape must be [H, W, C], got {manifest['image_shape']}")


def manifest_json(manifest: Mapping[str, Any]) -> str:
  """Deterministic text: sorted keys, 1-space indent, newline at the end."""
  return json.dumps(manifest, sort_keys=True, indent=1) + "\n"


def write_manifest(path: str, manifest: Mapping[str, Any]) -> None:
  """Validates and writes ``manifest`` to a local ``path`` atomically."""
  validate_manifest(manifest, path)
  _files.atomic_write_bytes(path, manifest_json(manifest).encode("utf-8"))


def parse_manifest(text: str, source: str = "<string>") -> Dict[str, Any]:
  try:
    manifest = json.loads(text)
  except json.JSONDecodeError as e:
    raise ManifestError(f"{source}: not valid JSON ({e})") from None
  validate_manifest(manifest, source)
  return manifest


def read_manifest(path: str) -> Dict[str, Any]:
  with open(path, "r", encoding="utf-8") as f:
    return parse_manifest(f.read(), source=path)


def class_counts(manifest: Mapping[str, Any]) -> Dict[int, int]:
  """``class_counts`` with integer labels, e.g. for class weights in the trainer."""
  return {int(k): int(v) for k, v in manifest["class_counts"].items()}


__all__: List[str] = ["MANIFEST_VERSION", "ManifestError", "Tally", "build_manifest",
                      "validate_manifest", "manifest_json", "write_manifest", "parse_manifest",
                      "read_manifest", "class_counts", "fraction_key"]


MANIFEST_SUFFIX = ".manifest.json"


def manifest_path_for_config(config_path: str) -> str:
  """Where the manifest of a dataset config lives: ``x.pbtxt`` -> ``x.manifest.json``.

  One convention shared by the shuffle (which writes it) and the trainer (which checks the
  data against it), so neither spells the suffix.
  """
  base = config_path[:-len(".pbtxt")] if config_path.endswith(".pbtxt") else config_path
  return base + MANIFEST_SUFFIX
