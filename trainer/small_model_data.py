"""The small model's training input: a dataset config -> numpy arrays, checked up front.

Why numpy and not tf.data: a small-model dataset is one short integer vector per candidate
(70 int64s), tens of thousands to a few million of them: all of it fits in memory many times
over, and an epoch is then a permutation of row indices (``epoch_order``, a pure function of
(seed, epoch), so a resumed run sees the same order) instead of a shuffle buffer whose output
depends on file order and buffer size.

The files are read with ``schemas.tfrecord.read_records`` (CRC-checked, gzip by name) and
decoded with ``schemas.small_model.decode_example``, the contract's own parser. Everything a
run could trip over is refused before step 0, one line naming the config and the file:

* the config is missing or not a dataset config; its ``tfrecord_path`` matches no file;
* the records are pileup examples (a CNN dataset handed to ``--config=small_model``), or not
  tf.Examples at all, or have no labels (calling-mode examples);
* the vectors do not have the length ``--config.vaf_context_window_size`` gives (70 for the
  default 51), or differ in length from record to record.

Variant types for the SNP/indel split of the tune metrics come from the vector itself
(``is_snp`` -> 1, ``is_insertion`` or ``is_deletion`` -> 2), found by name in
``schemas.small_model.feature_names``, not by position.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Iterator, List, Mapping, Optional, Tuple

import numpy as np

from schemas import dataset_config as dataset_config_lib
from schemas import errors
from schemas import example_format as ef
from schemas import small_model as contract
from schemas import tfrecord
from schemas.protos import tfexample_pb2


class InputError(errors.InputError):
  """Bad small-model training input; one line naming the file and what is wrong."""


@dataclasses.dataclass(frozen=True)
class SmallModelDataset:
  """One split in memory: ``features`` int64 [N, F], ``labels`` int64 [N], ``variant_types``
  int64 [N] (0 other, 1 SNP, 2 indel)."""
  config_path: str
  name: str
  files: Tuple[str, ...]
  features: np.ndarray
  labels: np.ndarray
  variant_types: np.ndarray
  config_num_examples: int
  class_counts: Mapping[int, int]

  @property
  def num_examples(self) -> int:
    return int(len(self.labels))


def _is_remote(path: str) -> bool:
  return "://" in path


def _resolve_files(config_path: str, tfrecord_path: str) -> Tuple[str, ...]:
  # The CNN input's rules (relative patterns against the config's folder, '@N' specs,
  # comma-separated lists, each pattern must match): one implementation for both models.
  from trainer import input_pipeline as inp
  try:
    return inp.list_files(inp.resolve_patterns(tfrecord_path, config_path), config_path)
  except inp.InputError as e:
    raise InputError(str(e)) from None


def _records(path: str) -> Iterator[bytes]:
  if not _is_remote(path):
    yield from tfrecord.read_records(path)
    return
  import tensorflow as tf  # gs:// and the like: TensorFlow's file systems
  ds = tf.data.TFRecordDataset(path, compression_type="GZIP" if tfrecord.is_gzip_path(path)
                               else "")
  for record in ds:
    yield record.numpy()


def _is_pileup_example(data: bytes) -> bool:
  ex = tfexample_pb2.Example()
  try:
    ex.ParseFromString(data)
  except Exception:  # noqa: BLE001 - not a tf.Example at all: decode_example says so
    return False
  return ef.IMAGE_ENCODED in ex.features.feature or ef.IMAGE_SHAPE in ex.features.feature


def pileup_dataset_message(config_path: str, path: str) -> str:
  return (f"{config_path}: {path} holds pileup examples ({ef.IMAGE_ENCODED}), not small-model "
          f"examples ({contract.FEATURES_ENCODED}); --config=small_model trains on make_dataset's "
          f"small_model/<split>/dataset_config.pbtxt (pileup datasets go to a CNN preset, "
          f"e.g. --config=small)")


def variant_types_of(features: np.ndarray, names) -> np.ndarray:
  """0 other, 1 SNP, 2 indel, from the vector's own is_snp/is_insertion/is_deletion."""
  index = {n: i for i, n in enumerate(names)}
  out = np.zeros(len(features), np.int64)
  out[features[:, index["is_snp"]] > 0] = 1
  indel = (features[:, index["is_insertion"]] > 0) | (features[:, index["is_deletion"]] > 0)
  out[indel] = 2
  return out


def load_dataset(config_path: str, window_size: int,
                 max_examples: int = 0) -> SmallModelDataset:
  """Reads every example of the split ``config_path`` describes (the first ``max_examples``
  in file order when > 0).

  Raises:
    InputError: any of the refusals of the module docstring.
  """
  if not config_path:
    raise InputError("dataset config path is empty")
  if _is_remote(config_path):
    import tensorflow as tf
    if not tf.io.gfile.exists(config_path):
      raise InputError(f"{config_path}: dataset config does not exist")
    with tf.io.gfile.GFile(config_path, "r") as f:
      text = f.read()
  else:
    if not os.path.isfile(config_path):
      raise InputError(f"{config_path}: dataset config does not exist")
    with open(config_path, "r", encoding="utf-8") as f:
      text = f.read()
  try:
    config = dataset_config_lib.parse_dataset_config(text, source=config_path)
  except ValueError as e:
    raise InputError(str(e)) from None
  files = _resolve_files(config_path, config.tfrecord_path)
  names = contract.feature_names(window_size)
  width = len(names)
  rows: List[Tuple[int, ...]] = []
  labels: List[int] = []
  for path in files:
    try:
      for i, data in enumerate(_records(path)):
        if i == 0 and _is_pileup_example(data):
          raise InputError(pileup_dataset_message(config_path, path))
        try:
          ex = contract.decode_example(data, source=f"{path} record {i}")
        except ValueError as e:
          raise InputError(f"{config_path}: {e}") from None
        if ex.label is None:
          raise InputError(f"{config_path}: {path} record {i} has no {contract.LABEL_ENCODED} "
                           f"(calling-mode small-model examples?); training needs examples "
                           f"made with make_examples --mode training")
        if len(ex.features) != width:
          raise InputError(
              f"{config_path}: {path} record {i} has {len(ex.features)} features but "
              f"--config.vaf_context_window_size={window_size} gives {width} "
              f"({len(contract.BASE_FEATURES) + len(contract.VARIANT_FEATURES)} + the context "
              f"window); set it to the --small_model_vaf_context_window_size the examples "
              f"were made with")
        rows.append(ex.features)
        labels.append(ex.label)
        if max_examples and len(rows) >= max_examples:
          break
    except tfrecord.TFRecordError as e:
      raise InputError(f"{config_path}: {e}") from None
    if max_examples and len(rows) >= max_examples:
      break
  if not rows:
    raise InputError(f"{config_path}: its files hold no examples")
  features = np.asarray(rows, np.int64).reshape(len(rows), width)
  label_array = np.asarray(labels, np.int64)
  counts = np.bincount(label_array, minlength=3)
  return SmallModelDataset(
      config_path=config_path, name=config.name, files=tuple(files), features=features,
      labels=label_array, variant_types=variant_types_of(features, names),
      config_num_examples=int(config.num_examples),
      class_counts={k: int(counts[k]) for k in range(3)})


def input_scaling(features: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """(mean, scale) float32 of the training features; scale = std floored at 1, so a feature
  that never varies in training (e.g. is_multiallelic, always 0) is shifted, never blown up."""
  x = np.asarray(features, np.float64)
  return (x.mean(axis=0).astype(np.float32),
          np.maximum(x.std(axis=0), 1.0).astype(np.float32))


def scale_features(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
  """What the Keras model sees: the same float32 expression as
  ``schemas.small_model.SmallModel.logits``, so export and Keras agree bit for bit here."""
  return ((np.asarray(features, np.float32) - mean) / scale).astype(np.float32)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
  """The row order of one epoch: a permutation that depends on (seed, epoch) only."""
  return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch)]).permutation(n)


def describe_counts(data: SmallModelDataset) -> str:
  return ", ".join(f"{k}: {v}" for k, v in sorted(data.class_counts.items()))


def count_note(data: SmallModelDataset) -> Optional[str]:
  """A line for the log when the config's num_examples disagrees with the files."""
  if data.config_num_examples != data.num_examples:
    return (f"{data.config_path}: num_examples {data.config_num_examples} but its files hold "
            f"{data.num_examples} examples; training on the {data.num_examples} read")
  return None
