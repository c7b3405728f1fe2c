"""CallExamples: calling examples in, DeepVariant ``CallVariantsOutput`` shards out.

    files -> ReadExamples (uint8 image batches) -> RunInference (pileflow/DeepVariant model)
          -> KeyByShard (one record per image) -> GroupByKey -> WriteShard (sorted, temp name; the driver commits)

Inference is Beam's ``RunInference`` with a model handler that loads the model the way
``beam_pipelines.call`` does (experiment dir, SavedModel, pileflow or DeepVariant checkpoint), once
per worker. Batches (``--batch_size`` consecutive images of one file) stay uint8 until the
model call, a quarter of the float bytes.

**Deterministic output.** A candidate's images go to the shard ``crc32(candidate) % N`` and
every shard is sorted by (contig name, start, end, REF, alts, alt indices), so the same examples
give byte-identical shards on any runner and worker count, and DeepVariant's
postprocess_variants (which merges shards by position and groups consecutive records of a
candidate) can read them.
"""
from __future__ import annotations

import os
import zlib
from typing import Iterable, Sequence, Tuple

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, RunInference

from beam_pipelines.core import call_outputs
from schemas import errors
from schemas import example_format as ef
from schemas import tfrecord
from schemas.protos import variants_pb2


class CallExamplesInputError(errors.InputError):
  """An examples file that cannot be called; the message names the file and record."""


def shard_of(key: call_outputs.CandidateKey, num_shards: int) -> int:
  contig, start, end, ref, alts = key
  text = f"{contig}\t{start}\t{end}\t{ref}\t{','.join(alts)}".encode()
  return zlib.crc32(text) % num_shards


def _read_examples(path: str, shape: Tuple[int, ...], batch_size: int
                   ) -> Iterable[Tuple[Tuple, np.ndarray]]:
  """Batches of ``path``'s calling examples: (keys, uint8 images [n, H, W, C]).

  Why batches are made here and not by RunInference: its BatchElements sizes batches by
  timing, and a model's float results can differ in the last bits with the batch's size and
  company. Consecutive records of one file, ``batch_size`` at a time, make the same batches on
  every runner, hence the same bytes out.
  """
  keys, images = [], []
  try:
    for i, blob in enumerate(tfrecord.read_records(path)):
      try:
        record = ef.decode_example(blob)
      except ValueError as e:
        raise CallExamplesInputError(f"{path}: record {i + 1} is not a pileflow/DeepVariant "
                                     f"example ({e})") from None
      if tuple(record.shape) != tuple(shape):
        raise CallExamplesInputError(f"{path}: record {i + 1} has shape {list(record.shape)} "
                                     f"but the examples' example_info says {list(shape)}")
      keys.append((record.variant.SerializeToString(), tuple(record.alt_indices)))
      images.append(record.image)
      if len(keys) == batch_size:
        yield tuple(keys), np.stack(images)
        keys, images = [], []
  except tfrecord.TFRecordError as e:
    raise CallExamplesInputError(f"{e} (not a complete examples file)") from None
  if keys:
    yield tuple(keys), np.stack(images)


class PileflowModelHandler(ModelHandler):
  """RunInference handler: a batch of uint8 images -> class probabilities [n, 3].

  ``load_model`` runs once per worker (Beam shares it between the worker's threads); the
  model is built by ``beam_pipelines.call.load_model``, so every model form ``beam_pipelines.call``
  accepts works here. Each element is already a batch (``_read_examples``), so Beam passes
  one element per call.
  """

  def __init__(self, model: str, model_type: str, shape: Sequence[int]):
    super().__init__(min_batch_size=1, max_batch_size=1)
    self._model, self._model_type = model, model_type
    self._shape = tuple(int(v) for v in shape)

  def load_model(self):
    from beam_pipelines import call as call_lib
    import tensorflow as tf
    model = call_lib.load_model(call_lib.locate_model(self._model, self._model_type),
                                self._shape)
    run = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return run

  def run_inference(self, batch: Sequence[np.ndarray], model, inference_args=None):
    return [model((images.astype(np.float32) - 128.0) / 128.0).numpy().astype(np.float64)
            for images in batch]

  def get_metrics_namespace(self) -> str:
    return "pileflow_call_variants"


def _to_outputs(element, num_shards: int):
  """(shard, (sort key, serialized CallVariantsOutput)) for every image of a batch."""
  keys, batch_probs = element
  for (variant_blob, alt_indices), probs in zip(keys, batch_probs):
    variant = variants_pb2.Variant.FromString(variant_blob)
    key = call_outputs.candidate_key(variant)
    yield shard_of(key, num_shards), ((key, alt_indices),
                                      call_outputs.encode_output(variant, alt_indices, probs))


class _WriteShardFn(beam.DoFn):
  """Sorts one shard's records and writes them under the shard's temporary name."""

  def __init__(self, temp_names: Sequence[str]):
    self._temp_names = list(temp_names)

  def process(self, element):
    shard, rows = element
    rows = sorted(rows, key=lambda row: row[0])
    path = self._temp_names[shard]
    with tfrecord.RecordWriter(path) as writer:
      for _, blob in rows:
        writer.write(blob)
    yield shard, len(rows)


class CallExamples(beam.PTransform):
  """Examples files -> CallVariantsOutput records in ``temp_names`` (one per shard)."""

  def __init__(self, files: Sequence[str], shape: Sequence[int], model: str, model_type: str,
               batch_size: int, temp_names: Sequence[str]):
    super().__init__()
    self._files, self._shape = list(files), tuple(int(v) for v in shape)
    self._model, self._model_type, self._batch_size = model, model_type, batch_size
    self._temp_names = list(temp_names)

  def expand(self, pbegin):
    n = len(self._temp_names)
    handler = KeyedModelHandler(PileflowModelHandler(self._model, self._model_type,
                                                     self._shape))
    return (pbegin
            | "Files" >> beam.Create(self._files)
            | "ReadExamples" >> beam.FlatMap(_read_examples, self._shape, self._batch_size)
            | "RunInference" >> RunInference(handler)
            | "KeyByShard" >> beam.FlatMap(_to_outputs, n)
            | "ByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShardFn(self._temp_names)))


def temp_name(final: str, run_id: str) -> str:
  folder, base = os.path.split(final)
  return os.path.join(folder, f".{base}.tmp-{run_id}")
