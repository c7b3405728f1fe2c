"""ShuffleExamples / ShuffleExampleFiles: a global shuffle whose memory does not grow with the data.

    inputs (file paths, or serialized examples)
      -> Scatter: key = keyed hash(seed, record bytes); append (key, zlib-1(record)) to the
         file of the key's bucket (one file per bucket per bundle); count labels/types/shapes
      -> KeyByShard -> GroupByKey (bucket file PATHS and sizes only, never records)
      -> WriteShard: per bucket in key order, load it (at most the budget), sort by key, inflate
         and append each record to the shard's gzip TFRecord (in the run's temp dir)
      (side) tallies -> CombineGlobally -> one summary JSON in the temp dir

The order is all records sorted by key (core/shuffle_plan.py), so the bytes of every shard are
the same on DirectRunner in-memory, multi-processing, Dataflow and across reruns; no step keeps
more than one bucket in memory. Shards become visible only when the driver calls
``ShuffleOutputs.commit`` after the pipeline succeeded: a failed run leaves nothing that looks
finished. All paths go through Beam FileSystems (io/filesystem.py), so gs:// works.

The helpers the driver needs around the pipeline (input expansion and checks, the output
workspace and commit, config + manifest writing) live here too, so ``make_dataset`` can reuse
the whole shuffle without going through ``python -m beam_pipelines.shuffle``.
"""
from __future__ import annotations

import base64
import dataclasses
import os
import gzip
import json
import logging
import struct
import time
import uuid
import zlib
from typing import Any, BinaryIO, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import apache_beam as beam
import google_crc32c
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from schemas import errors
from schemas import output_paths

from beam_pipelines import flags
from beam_pipelines.core import counters
from beam_pipelines.core import label_qa
from beam_pipelines.core import shuffle_plan as sp
from beam_pipelines.io import filesystem as fs
from schemas import channels as channel_rules
from schemas import dataset_config
from schemas import example_info
from schemas import manifest as manifest_lib
from schemas import tfrecord

log = logging.getLogger("pileflow.shuffle")

# Counter names (Beam metrics under counters.NAMESPACE).
SHUFFLE_RECORDS_SCATTERED = "shuffle_records_scattered"
SHUFFLE_RECORDS_WRITTEN = "shuffle_records_written"
SHUFFLE_CORRUPT_INPUTS = "shuffle_corrupt_inputs_skipped"
SHUFFLE_SPLIT_PASSES = "shuffle_bucket_split_passes"

TEMP_COMPRESSION_LEVEL = 1   # bucket files: fast, and ~9.9 KB per pileup in RAM, not 133 KB
SHARD_SUFFIX = ".tfrecord.gz"
_KEY = struct.Struct("<Q")
_READ_BLOCK = 1 << 20


class ShuffleDataError(errors.InputError):
  """An input's bytes are corrupt or not examples: bad input (exit code 2), found mid-run.

  The message names the file and the byte offset of the bad record.
  """


# ---- input files -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class InputFile:
  path: str
  size: int


def expand_inputs(input_pattern_list: str) -> List[InputFile]:
  """Files matched by the comma-separated glob patterns, in pattern then name order.

  Raises:
    flags.UsageError: the list is empty, or a pattern matches no file (one line, naming it).
  """
  patterns = [p.strip() for p in input_pattern_list.split(",") if p.strip()]
  if not patterns:
    raise flags.UsageError("--input_pattern_list is empty")
  files: List[InputFile] = []
  seen = set()
  for pattern in patterns:
    matched = [p for p in fs.glob(pattern) if not p.endswith(example_info.EXAMPLE_INFO_SUFFIX)]
    if not matched:
      raise flags.UsageError(f"--input_pattern_list: pattern {pattern} matches no files")
    for path in matched:
      if path not in seen:
        seen.add(path)
        files.append(InputFile(path, fs.size(path)))
  return files


class _HashingReader:
  """Wraps a raw file: counts bytes and CRC32Cs them as the gzip/TFRecord reader pulls them."""

  def __init__(self, raw: BinaryIO):
    self._raw = raw
    self.crc = google_crc32c.Checksum()
    self.bytes = 0

  def read(self, n: int = -1) -> bytes:
    data = self._raw.read(n)
    self.crc.update(data)
    self.bytes += len(data)
    return data

  def readable(self) -> bool:
    return True

  def drain(self) -> None:
    while self.read(_READ_BLOCK):
      pass

  def crc32c_b64(self) -> str:
    return base64.b64encode(self.crc.digest()).decode("ascii")


def _open_records(raw: BinaryIO, path: str) -> Tuple[BinaryIO, str]:
  if tfrecord.is_gzip_path(path):
    return (gzip.GzipFile(filename="", mode="rb", fileobj=raw),
            f"{path} (gzip; offsets are in the decompressed stream)")
  return raw, path


def iter_records_with_offsets(path: str) -> Iterator[Tuple[int, bytes]]:
  """(byte offset, payload) of every record of ``path``; offsets in the decompressed stream."""
  with fs.open_read(path) as raw:
    stream, name = _open_records(raw, path)
    offset = 0
    for payload in tfrecord.iter_stream(stream, name):
      yield offset, payload
      offset += 16 + len(payload)


def first_record_shape(path: str) -> Optional[Tuple[int, ...]]:
  """Image shape of the first record of ``path``; None if empty or unreadable at its head."""
  try:
    for _, payload in iter_records_with_offsets(path):
      return manifest_lib.Tally().add(payload, path)
  except (tfrecord.TFRecordError, ValueError, OSError):
    return None  # the scatter step reports it with file and offset
  return None


@dataclasses.dataclass(frozen=True)
class InputCheck:
  """What preflight learned about the inputs: one shape and one channel list, and from where."""
  shape: Optional[Tuple[int, ...]]
  shape_source: Optional[str]
  channels: Optional[Tuple[int, ...]]
  channels_source: Optional[str]


def check_inputs(files: Sequence[InputFile]) -> InputCheck:
  """Checks every input has the same image shape and channel list; names two files if not.

  Shape comes from each file's first record and from ``<file>.example_info.json`` when
  present; channels only from the latter (examples do not carry them).

  Raises:
    flags.UsageError: two inputs differ in shape or in channels.
  """
  shape = shape_src = channels = channels_src = None
  for f in files:
    found_shapes = []
    info_path = f.path + example_info.EXAMPLE_INFO_SUFFIX
    if fs.exists(info_path):
      try:
        info = example_info.parse_example_info(fs.read_bytes(info_path).decode("utf-8"),
                                               info_path)
      except ValueError as e:
        raise flags.UsageError(str(e)) from None
      if info.shape is not None:
        found_shapes.append(tuple(info.shape))
      if channels is None:
        channels, channels_src = tuple(info.channels), f.path
      elif tuple(info.channels) != channels:
        raise flags.UsageError(
            f"inputs differ in channels: {channels_src} has "
            f"{channel_rules.describe_channels(channels)} but {f.path} has "
            f"{channel_rules.describe_channels(info.channels)}")
    head = first_record_shape(f.path)
    if head is not None:
      found_shapes.append(head)
    for s in found_shapes:
      if shape is None:
        shape, shape_src = s, f.path
      elif s != shape:
        raise flags.UsageError(f"inputs differ in image shape: {shape_src} has {list(shape)} "
                               f"but {f.path} has {list(s)}")
  return InputCheck(shape, shape_src, channels, channels_src)


# ---- the temp workspace and the commit ---------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BucketPiece:
  """One bundle's records of one bucket: a file of framed (key, zlib record) entries."""
  bucket: int
  path: str
  records: int
  nbytes: int


@dataclasses.dataclass(frozen=True)
class ShuffleOutputs:
  """Final shard names under ``prefix`` and the run's private temp directory beside them."""
  prefix: str
  num_shards: int
  tmp_dir: str

  @classmethod
  def for_prefix(cls, prefix: str, num_shards: int,
                 run_id: Optional[str] = None) -> "ShuffleOutputs":
    if num_shards <= 0:
      raise flags.UsageError(f"--num_shards must be > 0, got {num_shards}")
    run_id = run_id or uuid.uuid4().hex[:12]
    out_dir = fs.dirname(prefix) or "."
    return cls(prefix, num_shards,
               fs.join(out_dir, f".pileflow-shuffle-tmp-{fs.basename(prefix)}-{run_id}"))

  @property
  def width(self) -> int:
    return max(5, len(str(self.num_shards)))

  def final_path(self, shard: int) -> str:
    w = self.width
    return f"{self.prefix}-{shard:0{w}d}-of-{self.num_shards:0{w}d}{SHARD_SUFFIX}"

  @property
  def final_paths(self) -> List[str]:
    return [self.final_path(s) for s in range(self.num_shards)]

  @property
  def shard_pattern(self) -> str:
    """What dataset_config.pbtxt's tfrecord_path says (DeepVariant's ``-?????-of-?????``)."""
    return dataset_config.shuffled_tfrecord_path(self.prefix)

  def existing_shards(self) -> List[str]:
    """Shards of any shard count already under the prefix (``<prefix>-*-of-*.tfrecord.gz``)."""
    return fs.glob(f"{self.prefix}-*-of-*{SHARD_SUFFIX}")

  def refuse_existing(self, overwrite: bool, flag: str = "--output_pattern_prefix",
                      shown: Optional[str] = None) -> None:
    """Refuses a prefix that already holds shards unless ``overwrite``; ``flag``/``shown`` are
    what the user typed (make_dataset's ``--output_dir``, not the split prefix it implies)."""
    existing = self.existing_shards()
    if existing and not overwrite:
      raise flags.UsageError(f"{flag} {shown or self.prefix} already holds "
                             f"{len(existing)} shard(s) (e.g. {existing[0]}); pass --overwrite "
                             "to replace them")

  def preflight(self, overwrite: bool, flag: str = "--output_pattern_prefix",
                shown: Optional[str] = None) -> None:
    """The output-path policy (schemas.output_paths) before any work: the prefix names files,
    not a directory; existing shards need ``overwrite``; the folder is writable."""
    shown = shown or self.prefix
    if self.prefix.endswith("/") or fs.basename(self.prefix) in ("", ".", ".."):
      raise output_paths.OutputPathError(
          f"{flag}={shown}: names a directory; give a file name prefix (e.g. DIR/train)")
    self.refuse_existing(overwrite, flag, shown)
    output_paths.check_file_outputs(self.final_paths, flag, overwrite=True, shown=shown)

  def piece_path(self, bucket: int, bundle_id: str) -> str:
    return fs.join(self.tmp_dir, "buckets", f"b{bucket:07d}", f"{bundle_id}.rec")

  def tmp_shard_path(self, shard: int) -> str:
    return fs.join(self.tmp_dir, "shards", fs.basename(self.final_path(shard)))

  def shard_info_path(self, shard: int) -> str:
    return self.tmp_shard_path(shard) + ".info.json"

  def summary_path(self) -> str:
    return fs.join(self.tmp_dir, "scatter_summary.json")

  def read_summary(self) -> "ScatterSummary":
    return ScatterSummary.from_json_dict(json.loads(fs.read_bytes(self.summary_path())))

  def shard_infos(self) -> List[Dict[str, Any]]:
    """Per shard: path, examples, bytes (a shard no bucket reached is written empty)."""
    infos = []
    for shard in range(self.num_shards):
      path = self.shard_info_path(shard)
      if fs.exists(path):
        info = json.loads(fs.read_bytes(path))
      else:
        with fs.create(self.tmp_shard_path(shard)) as raw:
          tfrecord.gzip_writer(raw).close()
        info = {"examples": 0, "seconds": 0.0}
      info["bytes"] = fs.size(self.tmp_shard_path(shard))
      info["path"] = self.final_path(shard)
      infos.append(info)
    return infos

  def commit_shards(self, infos: Sequence[Mapping[str, Any]]) -> None:
    """Removes stale shards of the prefix (other shard counts), moves the new ones in."""
    finals = set(self.final_paths)
    stale = [p for p in self.existing_shards() if p not in finals]
    if stale:
      FileSystems.delete(stale)
    fs.rename([self.tmp_shard_path(s) for s in range(self.num_shards)], self.final_paths)

  def abort(self) -> None:
    fs.delete_tree(self.tmp_dir)


# ---- scatter -----------------------------------------------------------------------------------
@dataclasses.dataclass
class ScatterSummary:
  """What the scatter step learned: example counts, inputs read, corrupt inputs skipped."""
  tally: manifest_lib.Tally = dataclasses.field(default_factory=manifest_lib.Tally)
  inputs: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
  corrupt: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
  scatter_seconds: float = 0.0

  def merge(self, other: "ScatterSummary") -> "ScatterSummary":
    self.tally.merge(other.tally)
    self.inputs.extend(other.inputs)
    self.corrupt.extend(other.corrupt)
    self.scatter_seconds += other.scatter_seconds
    return self

  def to_json_dict(self) -> Dict[str, Any]:
    return {"tally": self.tally.to_json_dict(),
            "inputs": sorted(self.inputs, key=lambda i: i["path"]),
            "corrupt": sorted(self.corrupt, key=lambda c: c["path"]),
            "scatter_seconds": round(self.scatter_seconds, 3)}

  @classmethod
  def from_json_dict(cls, d: Mapping[str, Any]) -> "ScatterSummary":
    return cls(manifest_lib.Tally.from_json_dict(d["tally"]), list(d["inputs"]),
               list(d["corrupt"]), float(d["scatter_seconds"]))


class _BucketWriter:
  """Appends (key, zlib record) frames to one file per bucket for the current bundle."""

  def __init__(self, outputs: ShuffleOutputs, plan: sp.ShufflePlan):
    self._outputs, self._plan = outputs, plan
    self._bundle_id = uuid.uuid4().hex
    self._files: Dict[int, BinaryIO] = {}
    self._records: Dict[int, int] = {}
    self._bytes: Dict[int, int] = {}

  def add(self, payload: bytes) -> None:
    key = self._plan.key(payload)
    bucket = self._plan.bucket_of(key)
    stored = _KEY.pack(key) + zlib.compress(payload, TEMP_COMPRESSION_LEVEL)
    f = self._files.get(bucket)
    if f is None:
      f = self._files[bucket] = fs.create(self._outputs.piece_path(bucket, self._bundle_id))
      self._records[bucket] = self._bytes[bucket] = 0
    f.write(tfrecord.frame_record(stored))
    self._records[bucket] += 1
    self._bytes[bucket] += len(stored)

  def close(self) -> List[BucketPiece]:
    pieces = []
    for bucket in sorted(self._files):
      self._files[bucket].close()
      pieces.append(BucketPiece(bucket, self._outputs.piece_path(bucket, self._bundle_id),
                                self._records[bucket], self._bytes[bucket]))
    self._files.clear()
    return pieces


class _ScatterFn(beam.DoFn):
  """Base: one bucket writer and one summary per bundle, emitted at the bundle's end."""

  SUMMARY = "summary"

  def __init__(self, outputs: ShuffleOutputs, plan: sp.ShufflePlan):
    self._outputs, self._plan = outputs, plan

  def setup(self):
    self._scattered = Metrics.counter(counters.NAMESPACE, SHUFFLE_RECORDS_SCATTERED)

  def start_bundle(self):
    self._writer = _BucketWriter(self._outputs, self._plan)
    self._summary = ScatterSummary()
    self._started = time.time()

  def finish_bundle(self):
    pieces = self._writer.close()
    self._summary.scatter_seconds = time.time() - self._started
    for piece in pieces:
      yield GlobalWindows.windowed_value(piece)
    yield beam.pvalue.TaggedOutput(self.SUMMARY, GlobalWindows.windowed_value(self._summary))


class _ScatterFilesFn(_ScatterFn):
  """Reads whole TFRecord files strictly (CRC per record) and scatters their records."""

  def __init__(self, outputs: ShuffleOutputs, plan: sp.ShufflePlan, skip_corrupt: bool,
               expected_shape: Optional[Tuple[int, ...]], shape_source: Optional[str]):
    super().__init__(outputs, plan)
    self._skip_corrupt = skip_corrupt
    self._expected_shape, self._shape_source = expected_shape, shape_source

  def setup(self):
    super().setup()
    self._corrupt_counter = Metrics.counter(counters.NAMESPACE, SHUFFLE_CORRUPT_INPUTS)

  def process(self, path: str):
    started = time.time()
    n = 0
    with fs.open_read(path) as raw:
      hashing = _HashingReader(raw)
      stream, name = _open_records(hashing, path)
      offset = 0
      try:
        for payload in tfrecord.iter_stream(stream, name):
          try:
            shape = self._summary.tally.add(payload, path)
          except ValueError as e:
            raise ShuffleDataError(f"{name}: record at byte offset {offset}: {e}") from None
          if self._expected_shape is not None and shape != self._expected_shape:
            raise ShuffleDataError(
                f"inputs differ in image shape: {self._shape_source} has "
                f"{list(self._expected_shape)} but {path} has {list(shape)} (record at byte "
                f"offset {offset})")
          self._writer.add(payload)
          n += 1
          offset += 16 + len(payload)
      except tfrecord.TFRecordError as e:
        if not self._skip_corrupt:
          raise ShuffleDataError(str(e)) from None
        log.warning("shuffle: skipping the rest of %s: %s", path, e)
        self._summary.corrupt.append({"path": path, "error": str(e), "records_kept": n})
        self._corrupt_counter.inc()
      hashing.drain()
    self._scattered.inc(n)
    self._summary.inputs.append({"path": path, "bytes": hashing.bytes,
                                 "crc32c": hashing.crc32c_b64(), "examples": n})
    log.info("shuffle: scattered %s: %d records in %.1f s", path, n, time.time() - started)
    return iter(())


class _ScatterRecordsFn(_ScatterFn):
  """Scatters serialized examples already in a PCollection (e.g. straight from make_examples)."""

  def __init__(self, outputs: ShuffleOutputs, plan: sp.ShufflePlan, source: str):
    super().__init__(outputs, plan)
    self._source = source

  def process(self, payload: bytes):
    try:
      self._summary.tally.add(payload, self._source)
    except ValueError as e:
      raise ShuffleDataError(f"{self._source}: {e}") from None
    self._writer.add(payload)
    self._scattered.inc()
    return iter(())


# ---- group and write ---------------------------------------------------------------------------
def _load_bucket(pieces: Sequence[BucketPiece], plan: sp.ShufflePlan, passes: int,
                 index: int) -> Tuple[np.ndarray, List[bytes]]:
  """Keys and zlib records of one bucket (or of key sub-range ``index`` of ``passes``)."""
  keys: List[int] = []
  blobs: List[bytes] = []
  for piece in pieces:
    with fs.open_read(piece.path) as f:
      for stored in tfrecord.iter_stream(f, piece.path):
        (key,) = _KEY.unpack_from(stored)
        if passes > 1 and sp.split_index(key, piece.bucket, plan.num_buckets, passes) != index:
          continue
        keys.append(key)
        blobs.append(stored[_KEY.size:])
  return np.array(keys, dtype=np.uint64), blobs


class _WriteShardFn(beam.DoFn):
  """Writes one shard: its buckets in key order, each sorted in memory, into a gzip TFRecord."""

  def __init__(self, outputs: ShuffleOutputs, plan: sp.ShufflePlan):
    self._outputs, self._plan = outputs, plan

  def setup(self):
    self._written = Metrics.counter(counters.NAMESPACE, SHUFFLE_RECORDS_WRITTEN)
    self._passes = Metrics.counter(counters.NAMESPACE, SHUFFLE_SPLIT_PASSES)

  def process(self, keyed):
    shard, pieces = keyed
    started = time.time()
    by_bucket: Dict[int, List[BucketPiece]] = {}
    for piece in sorted(pieces, key=lambda p: (p.bucket, p.path)):
      by_bucket.setdefault(piece.bucket, []).append(piece)
    n = 0
    max_pass_bytes = 0
    with fs.create(self._outputs.tmp_shard_path(shard)) as raw:
      out = tfrecord.gzip_writer(raw)
      for bucket in sorted(by_bucket):
        group = by_bucket[bucket]
        size = sum(p.nbytes for p in group)
        passes = sp.split_passes(size, self._plan.bucket_budget_bytes)
        if passes > 1:
          self._passes.inc(passes - 1)
          log.warning("shuffle: bucket %d holds %d bytes > budget %d: %d passes", bucket, size,
                      self._plan.bucket_budget_bytes, passes)
        for index in range(passes):
          keys, blobs = _load_bucket(group, self._plan, passes, index)
          max_pass_bytes = max(max_pass_bytes, sum(len(b) for b in blobs))
          for i in sp.permutation(keys, blobs):
            out.write(tfrecord.frame_record(zlib.decompress(blobs[i])))
          n += len(blobs)
          del keys, blobs
      out.close()
    seconds = time.time() - started
    fs.write_bytes(self._outputs.shard_info_path(shard), json.dumps(
        {"examples": n, "seconds": round(seconds, 3),
         "max_bucket_bytes": max_pass_bytes}).encode())
    self._written.inc(n)
    log.info("shuffle: wrote shard %d/%d: %d records in %.1f s", shard + 1,
             self._outputs.num_shards, n, seconds)
    yield shard


class _MergeSummaries(beam.CombineFn):
  def create_accumulator(self):
    return ScatterSummary()

  def add_input(self, acc, summary):
    return acc.merge(summary)

  def merge_accumulators(self, accs):
    accs = list(accs)
    total = accs[0]
    for other in accs[1:]:
      total.merge(other)
    return total

  def extract_output(self, acc):
    return acc


class _GroupAndWrite(beam.PTransform):
  """Bucket pieces + bundle summaries -> temp shards + the summary file; yields shard ids."""

  def __init__(self, outputs: ShuffleOutputs, plan: sp.ShufflePlan):
    super().__init__()
    self._outputs, self._plan = outputs, plan

  def expand(self, scattered):
    outputs, plan = self._outputs, self._plan
    _ = (scattered[_ScatterFn.SUMMARY]
         | "MergeSummaries" >> beam.CombineGlobally(_MergeSummaries())
         | "WriteSummary" >> beam.Map(lambda s: fs.write_bytes(
             outputs.summary_path(), json.dumps(s.to_json_dict(), sort_keys=True).encode())))
    return (scattered[None]
            | "KeyByShard" >> beam.Map(lambda p: (plan.shard_of_bucket(p.bucket), p))
            | "GroupPathsByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShardFn(outputs, plan)))


class ShuffleExampleFiles(beam.PTransform):
  """PCollection of TFRecord paths (gzip or plain) -> shuffled temp shards of ``outputs``.

  Args:
    plan: the seed, shard count and bucket sizing (``shuffle_plan.plan_shuffle``).
    outputs: where temp and final shards go; commit with ``ShuffleOutputs`` after the run.
    skip_corrupt: on a bad CRC / truncated file keep the records before it, skip the rest of
      that file and list it in the summary, instead of failing with ShuffleDataError.
    expected_shape, shape_source: from ``check_inputs``; a record of another shape fails
      naming both files.
  """

  def __init__(self, plan: sp.ShufflePlan, outputs: ShuffleOutputs, skip_corrupt: bool = False,
               expected_shape: Optional[Tuple[int, ...]] = None,
               shape_source: Optional[str] = None):
    super().__init__()
    self._plan, self._outputs = plan, outputs
    self._fn = _ScatterFilesFn(outputs, plan, skip_corrupt, expected_shape, shape_source)

  def expand(self, paths):
    scattered = (paths
                 | "SpreadFiles" >> beam.Reshuffle()
                 | "ScatterFiles" >> beam.ParDo(self._fn).with_outputs(_ScatterFn.SUMMARY,
                                                                        main="pieces"))
    return {None: scattered.pieces, _ScatterFn.SUMMARY: scattered[_ScatterFn.SUMMARY]} \
        | "GroupAndWrite" >> _GroupAndWrite(self._outputs, self._plan)


class ShuffleExamples(beam.PTransform):
  """PCollection of serialized tf.Examples -> shuffled temp shards of ``outputs``.

  For pipelines that make examples and shuffle them in one go (no unshuffled copy on disk).
  ``source`` names this collection in the manifest's per-input counts.
  """

  def __init__(self, plan: sp.ShufflePlan, outputs: ShuffleOutputs, source: str = "<records>"):
    super().__init__()
    self._plan, self._outputs = plan, outputs
    self._fn = _ScatterRecordsFn(outputs, plan, source)

  def expand(self, records):
    scattered = records | "ScatterRecords" >> beam.ParDo(self._fn).with_outputs(
        _ScatterFn.SUMMARY, main="pieces")
    return {None: scattered.pieces, _ScatterFn.SUMMARY: scattered[_ScatterFn.SUMMARY]} \
        | "GroupAndWrite" >> _GroupAndWrite(self._outputs, self._plan)


# ---- after the pipeline: checks, label QA, commit, config + manifest ---------------------------
class LabelQaFailure(flags.UsageError):
  """Label QA refused the dataset (exit code 2; the message lists the findings)."""


def check_summary_shapes(summary: ScatterSummary) -> Optional[Tuple[int, ...]]:
  """The one image shape of the scattered records; UsageError naming two sources if mixed."""
  shapes = sorted(summary.tally.shapes.items(), key=lambda kv: kv[1])
  if len(shapes) > 1:
    (s1, src1), (s2, src2) = shapes[0], shapes[1]
    raise flags.UsageError(f"inputs differ in image shape: {src1} has {list(s1)} but {src2} has "
                           f"{list(s2)}")
  return shapes[0][0] if shapes else None


def run_label_qa(summary: ScatterSummary, *, require_labels: bool,
                 allow_imbalance: bool) -> label_qa.LabelQaResult:
  """Label QA on the scattered counts; raises LabelQaFailure when it fails."""
  tally = summary.tally
  result = label_qa.check_labels(tally.labels, tally.unlabeled, require_labels=require_labels,
                                 allow_imbalance=allow_imbalance)
  for warning in result.warnings:
    log.warning("shuffle: LABEL QA WARNING: %s", warning)
  if not result.ok:
    raise LabelQaFailure("label QA failed: " + "; ".join(result.errors))
  return result


def check_existing_example_info(output_prefix: str, check: InputCheck) -> None:
  """Refuses inputs that contradict an example_info.json already beside the output.

  DeepVariant keeps an existing ``<dirname(prefix)>/example_info.json`` and never compares it,
  so a directory can end up describing other examples than it holds; we fail early instead.
  """
  dest = example_info.dataset_example_info_path(output_prefix)
  if not fs.exists(dest):
    return
  try:
    existing = example_info.parse_example_info(fs.read_bytes(dest).decode("utf-8"), dest)
  except ValueError as e:
    raise flags.UsageError(str(e)) from None
  if check.channels is not None and tuple(existing.channels) != check.channels:
    raise flags.UsageError(
        f"{dest} has channels {channel_rules.describe_channels(existing.channels)} but "
        f"{check.channels_source} has {channel_rules.describe_channels(check.channels)}")
  if existing.shape is not None and check.shape is not None and \
      tuple(existing.shape) != check.shape:
    raise flags.UsageError(f"{dest} has shape {list(existing.shape)} but {check.shape_source} "
                           f"has {list(check.shape)}")


def copy_example_info(first_pattern: str, output_prefix: str) -> Optional[str]:
  """Spec 8.2 step 0: copy the first ``<first pattern>*example_info.json`` beside the output.

  Only if ``<dirname(prefix)>/example_info.json`` does not exist yet (as DeepVariant does).
  One deviation (decision): DeepVariant copies the first match even when that task wrote no
  example (``"shape": null``); we copy the first match that has a shape, and fall back to the
  first match only when none has. Returns the path written, or None.
  """
  dest = example_info.dataset_example_info_path(output_prefix)
  matches = fs.glob(first_pattern + "*" + example_info.DATASET_EXAMPLE_INFO_NAME)
  if not matches or fs.exists(dest):
    return None
  chosen = fs.read_bytes(matches[0])
  for path in matches:
    data = fs.read_bytes(path)
    try:
      if example_info.parse_example_info(data.decode("utf-8"), path).shape is not None:
        chosen = data
        break
    except ValueError:
      continue
  fs.write_bytes(dest, chosen)
  return dest


def write_dataset_files(*, name: Optional[str], config_path: Optional[str],
                        manifest_path: str, input_pattern_list: str,
                        outputs: ShuffleOutputs, shards: Sequence[Mapping[str, Any]],
                        summary: ScatterSummary, image_shape: Optional[Sequence[int]],
                        channels: Optional[Sequence[int]], seed: int, command_line: str,
                        qa: Optional[label_qa.LabelQaResult] = None,
                        shuffle_info: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
  """Writes dataset_config.pbtxt (when ``config_path``) then the manifest; returns the manifest.

  The config is DeepVariant's exact layout (spec 8.3) with the class counts of ``summary``;
  the manifest (schemas/manifest.py) is written last, so its presence means the dataset is
  complete.
  """
  if config_path:
    # A local prefix is written absolute: readers resolve a relative tfrecord_path against
    # the config's own folder, which is not where a relative prefix was meant from.
    prefix = outputs.prefix if "://" in outputs.prefix else os.path.abspath(outputs.prefix)
    text = dataset_config.format_dataset_config(
        name, summary.tally.examples, dict(summary.tally.labels), input_pattern_list, prefix)
    _write_via_temp(outputs, config_path, text.encode("utf-8"))
  manifest = manifest_lib.build_manifest(
      name=name or fs.basename(outputs.prefix), shard_pattern=outputs.shard_pattern,
      shards=[{"path": s["path"], "examples": s["examples"], "bytes": s["bytes"]}
              for s in shards],
      tally=summary.tally, image_shape=image_shape, channels=channels, seed=seed,
      command_line=command_line, inputs=sorted(summary.inputs, key=lambda i: i["path"]),
      corrupt_inputs=sorted(summary.corrupt, key=lambda c: c["path"]),
      label_qa_warnings=list(qa.warnings) if qa else [], dataset_config=config_path,
      shuffle=shuffle_info)
  _write_via_temp(outputs, manifest_path, manifest_lib.manifest_json(manifest).encode("utf-8"))
  return manifest


def _write_via_temp(outputs: ShuffleOutputs, path: str, data: bytes) -> None:
  """Writes into the run's temp dir, then renames: the file appears complete or not at all.

  (A cross-filesystem target falls back to Beam's copy-and-delete rename.)
  """
  tmp = fs.join(outputs.tmp_dir, "final", fs.basename(path))
  fs.write_bytes(tmp, data)
  if "://" not in path:
    fs.makedirs(fs.dirname(path) or ".")
  fs.rename([tmp], [path])
