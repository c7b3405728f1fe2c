"""tf.data input for the trainer: dataset config -> files -> parsed, preprocessed batches.

Why this shape (spec 9A/9B): DeepVariant's trainer reads a ``dataset_config.pbtxt`` (ours or
DeepVariant's), lists the TFRecord shards its ``tfrecord_path`` names, learns the tensor shape
from the first record, interleaves GZIP readers, shuffles records, parses with the example
contract and scales pixels ``uint8 -> (x - 128) / 128``. We do the same, with three pileflow
additions:

* **Checked before step 0.** Every problem a long run could hit late is found up front and
  reported as one line naming the file: missing config, a pattern matching no files, channels
  in ``example_info.json`` or in the shuffle's manifest (``x.pbtxt`` -> ``x.manifest.json``)
  disagreeing with the data, train and tune sets of different shape or
  channels, a model expecting other channels (``check_channels``).
* **Deterministic per (seed, epoch)** when ``deterministic_input`` is on (default): file order
  and record shuffle are seeded by seed + epoch and the interleave is deterministic, so a resumed
  run can skip exactly the examples it already consumed in the current epoch
  (``make_train_dataset(skip_examples=...)``). DeepVariant instead reads non-deterministically
  and restarts the input from scratch on resume.
* **Corrupt records name their file.** tf.data's DataLossError (a truncated or damaged file)
  and InvalidArgumentError (a record that does not parse, e.g. examples without labels) do not
  say which file is bad; ``locate_bad_file`` re-reads the files one by one to find it, and the
  loop reports it (``input_error_for``). Examples without labels (made in calling mode) are
  refused before step 0 from the first record of each set.

Batches are dicts: ``image`` float32 [B, H, W, C] in [-1, 0.9921875], ``label`` int32 [B],
``variant_type`` int32 [B] (0 unknown, 1 SNP, 2 indel). Feature keys come from
``schemas.example_format`` only.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from schemas import channels as channels_lib
from schemas import dataset_config as dataset_config_lib
from schemas import example_format as ef
from schemas import errors
from schemas import example_info as example_info_lib
from schemas import manifest as manifest_lib
from schemas import sharding
from schemas import small_model
from schemas.protos import tfexample_pb2

IMAGE = "image"
LABEL = "label"
VARIANT_TYPE = "variant_type"
VALID = "valid"  # tune batches only: 0 marks padding rows
_TF_DTYPES = {"string": tf.string, "int64": tf.int64}


class InputError(errors.InputError):
  """Bad training input; the message is one line naming the file and what is wrong."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What the trainer knows about one dataset before reading it in earnest.

  ``channels`` comes from the dataset's example_info.json (None when there is none);
  ``example_info_path`` says which file it was.
  """
  config_path: str
  name: str
  num_examples: int
  files: Tuple[str, ...]
  shape: Tuple[int, int, int]
  channels: Optional[Tuple[int, ...]]
  example_info_path: Optional[str]
  class_counts: Mapping[int, int]
  gzip: bool
  manifest_path: Optional[str] = None


def _is_remote(path: str) -> bool:
  return "://" in path


def resolve_patterns(tfrecord_path: str, config_path: str) -> List[str]:
  """Glob patterns of a config's ``tfrecord_path``.

  Comma-separated patterns are allowed and ``@N`` specs become shard globs (spec 9A). A relative
  pattern is resolved against the config file's directory (decision: DeepVariant resolves it
  against the working directory, which makes a dataset directory non-relocatable; absolute and
  ``gs://`` patterns behave identically either way).
  """
  base = os.path.dirname(os.path.abspath(config_path)) if not _is_remote(config_path) else ""
  patterns = []
  for pattern in (p.strip() for p in tfrecord_path.split(",")):
    if not pattern:
      continue
    pattern = sharding.glob_pattern(pattern)
    if not _is_remote(pattern) and not os.path.isabs(pattern) and base:
      pattern = os.path.join(base, pattern)
    patterns.append(pattern)
  return patterns


def list_files(patterns: Sequence[str], source: str) -> Tuple[str, ...]:
  """Sorted files matching every pattern; each pattern must match at least one file."""
  files = []
  for pattern in patterns:
    matched = sorted(tf.io.gfile.glob(pattern))
    if not matched:
      raise InputError(f"{source}: tfrecord_path pattern {pattern} matches no files")
    files.extend(matched)
  return tuple(dict.fromkeys(files))  # dedupe, keep order


def _gzip_of(files: Sequence[str], source: str) -> bool:
  flags = {".gz" in os.path.basename(f) for f in files}
  if len(flags) > 1:
    raise InputError(f"{source}: mixes gzip (.gz) and plain TFRecord files; DeepVariant's "
                     "readers need all of one kind")
  return flags.pop()


def _compression(gzip: bool) -> str:
  return "GZIP" if gzip else ""


def read_first_shape(path: str, gzip: bool) -> Tuple[int, int, int]:
  """``image/shape`` of the first record of ``path`` (how DeepVariant learns [H, W, C]).

  Raises:
    InputError: unreadable or empty file, not a pileup example, or an example without a label.
  """
  ds = tf.data.TFRecordDataset(path, compression_type=_compression(gzip)).take(1)
  try:
    records = [r.numpy() for r in ds]
  except (tf.errors.DataLossError, tf.errors.OpError) as e:
    raise InputError(f"{path}: corrupt record while reading the first example "
                     f"({_first_line(e)})") from None
  if not records:
    raise InputError(f"{path}: holds no records; cannot learn the image shape")
  if _is_small_model_example(records[0]):
    raise InputError(f"{path}: holds small-model examples ({small_model.FEATURES_ENCODED}), not "
                     f"pileup examples; train DeepVariant's small model on them with "
                     f"--config=small_model")
  try:
    shape = ef.example_shape(records[0])
  except Exception as e:  # protobuf DecodeError or a missing feature: say which file
    raise InputError(f"{path}: first record is not a pileup tf.Example ({e})") from None
  if len(shape) != 3:
    raise InputError(f"{path}: image/shape must be [H, W, C], found {list(shape)}")
  if ef.example_label(records[0]) is None:
    raise InputError(no_labels_message(path))
  return tuple(int(v) for v in shape)


def _is_small_model_example(data: bytes) -> bool:
  ex = tfexample_pb2.Example()
  try:
    ex.ParseFromString(data)
  except Exception:  # noqa: BLE001 - not a tf.Example: example_shape says so below
    return False
  feat = ex.features.feature
  return small_model.FEATURES_ENCODED in feat and ef.IMAGE_SHAPE not in feat


def no_labels_message(path: str) -> str:
  return (f"{path}: examples have no labels (no '{ef.LABEL}' feature: calling-mode examples?); "
          "training needs examples made with make_examples --mode training")


def _first_line(error: Exception) -> str:
  text = getattr(error, "message", None) or str(error)
  return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def find_example_info(patterns: Sequence[str], files: Sequence[str]) -> Optional[str]:
  """The example_info.json describing a dataset, or None.

  Looked for where the pipeline leaves it: ``<dir of first pattern>/example_info.json`` (the
  shuffle's copy, spec 8.2), then ``<first file>.example_info.json`` (make_examples' own,
  spec 1.6).
  """
  candidates = [os.path.join(os.path.dirname(patterns[0]),
                             example_info_lib.DATASET_EXAMPLE_INFO_NAME),
                files[0] + example_info_lib.EXAMPLE_INFO_SUFFIX]
  for path in candidates:
    if tf.io.gfile.exists(path):
      return path
  return None


# The shuffle writes its manifest beside the config: x.pbtxt -> x.manifest.json (the
# convention of beam_pipelines/shuffle_config.py, which the trainer may not import).


def manifest_path_for(config_path: str) -> str:
  return manifest_lib.manifest_path_for_config(config_path)


def _check_manifest(path: str, shape, channels, first_file: str):
  """Channels/shape of the shuffle's manifest must match the data; returns its channels."""
  with tf.io.gfile.GFile(path, "r") as f:
    try:
      manifest = manifest_lib.parse_manifest(f.read(), source=path)
    except ValueError as e:
      raise InputError(str(e)) from None
  m_channels = manifest.get("channels")
  m_shape = manifest.get("image_shape")
  if m_shape is not None and tuple(m_shape) != tuple(shape):
    raise InputError(f"{path}: manifest image_shape {list(m_shape)} but {first_file} has "
                     f"shape {list(shape)}")
  if m_channels is not None:
    m_channels = tuple(int(c) for c in m_channels)
    if len(m_channels) != shape[2]:
      raise InputError(
          f"{path}: manifest lists channels {channels_lib.describe_channels(m_channels)} "
          f"({len(m_channels)}) but {first_file} has {shape[2]} channels")
    check_channels(m_channels, channels, f"{path} (manifest) vs example_info.json")
  return m_channels


def inspect_dataset(config_path: str) -> DatasetInfo:
  """Reads a dataset config and checks its files, shape and channels (no training reads).

  Raises:
    InputError: missing/invalid config, a pattern matching no files, a corrupt first record,
      or an example_info.json whose shape or channel count disagrees with the data.
  """
  if not config_path:
    raise InputError("dataset config path is empty")
  if not tf.io.gfile.exists(config_path):
    raise InputError(f"{config_path}: dataset config does not exist")
  with tf.io.gfile.GFile(config_path, "r") as f:
    try:
      config = dataset_config_lib.parse_dataset_config(f.read(), source=config_path)
    except ValueError as e:
      raise InputError(str(e)) from None
  patterns = resolve_patterns(config.tfrecord_path, config_path)
  if not patterns:
    raise InputError(f"{config_path}: tfrecord_path is empty")
  files = list_files(patterns, config_path)
  gzip = _gzip_of(files, config_path)
  shape = read_first_shape(files[0], gzip)
  info_path = find_example_info(patterns, files)
  channels = None
  if info_path:
    try:
      with tf.io.gfile.GFile(info_path, "r") as f:
        info = example_info_lib.parse_example_info(f.read(), source=info_path)
    except ValueError as e:
      raise InputError(str(e)) from None
    channels = tuple(info.channels)
    if len(channels) != shape[2]:
      raise InputError(
          f"{info_path}: lists channels {channels_lib.describe_channels(channels)} "
          f"({len(channels)}) but {files[0]} has {shape[2]} channels (shape {list(shape)})")
    if info.shape is not None and tuple(info.shape) != shape:
      raise InputError(f"{info_path}: shape {list(info.shape)} but {files[0]} has "
                       f"shape {list(shape)}")
  manifest_path = manifest_path_for(config_path)
  if tf.io.gfile.exists(manifest_path):
    channels = _check_manifest(manifest_path, shape, channels, files[0]) or channels
  else:
    manifest_path = None
  return DatasetInfo(config_path=config_path, name=config.name,
                     num_examples=int(config.num_examples), files=files, shape=shape,
                     channels=channels, example_info_path=info_path,
                     class_counts=dict(config.class_counts), gzip=gzip,
                     manifest_path=manifest_path)


def check_channels(expected: Optional[Sequence[int]], found: Optional[Sequence[int]],
                   what: str) -> None:
  """One-line refusal when a consumer expects other channels than a dataset has.

  Either side may be unknown (None), in which case nothing is checked.
  """
  if expected is None or found is None:
    return
  if tuple(expected) != tuple(found):
    raise InputError(f"{what}: " + channels_lib.channel_mismatch_message(expected, found))


def check_same_layout(train: DatasetInfo, tune: DatasetInfo) -> None:
  """Train and tune sets must feed the same model: same shape and channels."""
  if train.shape != tune.shape:
    raise InputError(f"{tune.config_path}: tune examples have shape {list(tune.shape)} but "
                     f"train examples ({train.config_path}) have {list(train.shape)}")
  check_channels(train.channels, tune.channels,
                 f"{tune.config_path} (tune) vs {train.config_path} (train)")


# ---- Parsing -------------------------------------------------------------------------------------
def _feature_spec() -> Dict[str, tf.io.FixedLenFeature]:
  return {key: tf.io.FixedLenFeature(shape, _TF_DTYPES[dtype])
          for key, (dtype, shape) in ef.parse_spec(training=True).items()}


def preprocess_images(raw: tf.Tensor, shape: Sequence[int]) -> tf.Tensor:
  """uint8 bytes [B] -> float32 [B, H, W, C] with ``(x - 128) / 128`` (spec 9A/9B)."""
  pixels = tf.io.decode_raw(raw, tf.uint8)
  pixels = tf.reshape(pixels, [-1, *shape])
  return (tf.cast(pixels, tf.float32) - 128.0) / 128.0


def make_parse_fn(shape: Sequence[int]):
  """Vectorised parser for a batch of serialized examples (parse after batching is ~2x faster)."""
  spec = _feature_spec()
  shape = tuple(int(v) for v in shape)

  def parse(serialized: tf.Tensor) -> Dict[str, tf.Tensor]:
    features = tf.io.parse_example(serialized, spec)
    return {
        IMAGE: preprocess_images(features[ef.IMAGE_ENCODED], shape),
        LABEL: tf.cast(features[ef.LABEL], tf.int32),
        VARIANT_TYPE: tf.cast(features[ef.VARIANT_TYPE], tf.int32),
    }
  return parse


# ---- Datasets ------------------------------------------------------------------------------------
def epoch_file_order(files: Sequence[str], seed: int, epoch: int) -> List[str]:
  """The training file order of one epoch: a permutation seeded by (seed, epoch)."""
  rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch)])
  return [files[i] for i in rng.permutation(len(files))]


def _records(files: Sequence[str], gzip: bool, cycle_length: int, buffer_bytes: int,
             deterministic: bool) -> tf.data.Dataset:
  ds = tf.data.Dataset.from_tensor_slices(list(files))
  return ds.interleave(
      lambda f: tf.data.TFRecordDataset(f, compression_type=_compression(gzip),
                                        buffer_size=buffer_bytes),
      cycle_length=max(1, min(cycle_length, len(files))), block_length=1,
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)


def _shard_for_input_pipeline(files: Sequence[str], input_context) -> Tuple[List[str], bool]:
  """Files of this input pipeline (multi-worker); True when records must be sharded instead."""
  if input_context is None or input_context.num_input_pipelines == 1:
    return list(files), False
  n, i = input_context.num_input_pipelines, input_context.input_pipeline_id
  if len(files) >= n:
    return list(files)[i::n], False
  return list(files), True


def make_train_dataset(info: DatasetInfo, batch_size: int, *, seed: int, epoch: int,
                       shuffle_buffer: int, read_threads: int, buffer_bytes: int,
                       deterministic: bool = True, skip_examples: int = 0,
                       input_context: Optional[tf.distribute.InputContext] = None
                       ) -> tf.data.Dataset:
  """Endless batches for one epoch's order (the epoch is cut by the caller's step count).

  ``batch_size`` is the global batch; with an ``input_context`` each pipeline batches its
  per-replica share. ``skip_examples`` (per pipeline) drops that many shuffled records before
  parsing, to resume in the middle of an epoch. The stream repeats the epoch's order if the
  files hold fewer records than the config claims.
  """
  files, shard_records = _shard_for_input_pipeline(
      epoch_file_order(info.files, seed, epoch), input_context)
  ds = _records(files, info.gzip, read_threads, buffer_bytes, deterministic)
  if shard_records:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  ds = ds.shuffle(shuffle_buffer, seed=(int(seed) * 1_000_003 + int(epoch)) & 0x7FFFFFFF,
                  reshuffle_each_iteration=False)
  ds = ds.repeat()
  if skip_examples:
    ds = ds.skip(skip_examples)
  per_replica = (input_context.get_per_replica_batch_size(batch_size) if input_context
                 else batch_size)
  ds = ds.batch(per_replica, drop_remainder=True)
  ds = ds.map(make_parse_fn(info.shape), num_parallel_calls=tf.data.AUTOTUNE,
              deterministic=deterministic)
  options = tf.data.Options()
  options.deterministic = deterministic
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
  return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def make_tune_dataset(info: DatasetInfo, batch_size: int, *, num_examples: int,
                      read_threads: int, buffer_bytes: int,
                      input_context: Optional[tf.distribute.InputContext] = None
                      ) -> tf.data.Dataset:
  """The first ``num_examples`` tune records (0 = all) in file order, batched, one pass.

  Unlike DeepVariant we do not shuffle the tune set: every tune run scores the very same
  examples, so metric changes between steps are the model's, not the sample's (decision).
  No example is dropped: on one replica the last batch may be partial; with several replicas
  the set is padded with copies of its first record marked ``valid`` = 0 up to a whole number
  of global batches, because a replica handed an empty batch fails inside some conv kernels
  (seen with oneDNN on a 2-device CPU MirroredStrategy). Scores must skip ``valid`` == 0 rows.
  """
  files, shard_records = _shard_for_input_pipeline(info.files, input_context)
  ds = _records(files, info.gzip, read_threads, buffer_bytes, deterministic=True)
  if shard_records:
    ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  if num_examples:
    per_pipeline = num_examples // (input_context.num_input_pipelines if input_context else 1)
    ds = ds.take(max(1, per_pipeline))
  per_replica = (input_context.get_per_replica_batch_size(batch_size) if input_context
                 else batch_size)
  ds = ds.map(lambda r: (r, tf.constant(1, tf.int32)))
  if input_context is not None and input_context.num_replicas_in_sync > 1:
    per_pipeline_batch = batch_size // input_context.num_input_pipelines
    padding = ds.take(1).map(lambda r, v: (r, tf.constant(0, tf.int32)))
    ds = ds.concatenate(padding.repeat(per_pipeline_batch - 1))
    ds = ds.batch(per_pipeline_batch, drop_remainder=True).unbatch()
  parse = make_parse_fn(info.shape)

  def parse_with_valid(records, valid):
    out = parse(records)
    out[VALID] = valid
    return out
  ds = ds.batch(per_replica).map(parse_with_valid, num_parallel_calls=tf.data.AUTOTUNE)
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
  return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def locate_bad_file(files: Sequence[str], gzip: bool,
                    parse=None) -> Optional[Tuple[str, int, str, Exception]]:
  """(file, good records before the bad one, error line, error) of the first bad file, or None.

  A file is bad when a record cannot be read (DataLossError: truncated or damaged) or, with
  ``parse`` (a batch parser such as ``make_parse_fn(shape)``), when a record does not parse.
  Run after tf.data reports an error, which does not name the file; reads every file again.
  """
  for path in files:
    count = 0
    ds = tf.data.TFRecordDataset(path, compression_type=_compression(gzip))
    if parse is not None:
      ds = ds.map(lambda r: parse(tf.expand_dims(r, 0)))
    try:
      for _ in ds:
        count += 1
    except tf.errors.OpError as e:
      return path, count, _first_line(e), e
  return None


def locate_corrupt_file(files: Sequence[str], gzip: bool) -> Optional[Tuple[str, int, str]]:
  """(file, good records before the break, error line) of the first unreadable file, or None."""
  found = locate_bad_file(files, gzip)
  return found[:3] if found else None


def bad_file_message(path: str, good: int, line: str, error: Exception) -> str:
  """One line for a file :func:`locate_bad_file` found."""
  if isinstance(error, tf.errors.DataLossError):
    return f"{path}: corrupt record after {good} good records ({line})"
  if isinstance(error, tf.errors.NotFoundError):
    return f"{path}: no longer readable ({line})"
  if f"Feature: {ef.LABEL} " in line:
    return no_labels_message(path)
  return f"{path}: record {good + 1} does not parse as a pileup example ({line})"


def input_error_for(infos: Sequence[DatasetInfo], error: Exception) -> Optional[InputError]:
  """An InputError naming the file behind a tf.data ``error``, or None if no file is bad.

  DataLossError: the first file with an unreadable record. InvalidArgumentError: the first file
  with a record that does not parse with the training spec (e.g. no ``label``).
  """
  parse_errors = isinstance(error, tf.errors.InvalidArgumentError)
  for info in infos:
    found = locate_bad_file(info.files, info.gzip,
                            parse=make_parse_fn(info.shape) if parse_errors else None)
    if found:
      return InputError(bad_file_message(*found))
  return None


def corrupt_input_error(infos: Sequence[DatasetInfo], error: Exception) -> InputError:
  """An InputError naming the corrupt file behind a tf.data ``error`` (or the error itself)."""
  found = input_error_for(infos, error)
  if found is not None:
    return found
  return InputError(f"corrupt input in {', '.join(i.config_path for i in infos)} "
                    f"({_first_line(error)})")
