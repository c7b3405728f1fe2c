"""Call variants with a trained model: ``python -m beam_pipelines.call``.

Local (CPU or one GPU)::

  python -m beam_pipelines.make_examples --mode calling --ref ref.fa --reads sample.bam \\
      --regions chr20 --channels insert_size --examples out/calling.tfrecord@8.gz
  python -m beam_pipelines.call --examples out/calling.tfrecord@8.gz --model exp1 \\
      --ref ref.fa --outfile out/calls.vcf.gz

Cloud: the same command on a Vertex AI custom job or a GPU VM, with ``gs://`` example paths
(tf.io.gfile reads them); ``--ref`` and ``--outfile`` are local files.

What it does, in order:

1. **Checks before any work.** Resolves ``--examples`` (a path, a glob or a sharded spec
   ``name@N.gz``), reads their ``*.example_info.json`` and the model's, and refuses a shape or
   channel mismatch with one line naming both files and the channels that differ. It also
   checks the first example of each file against ``--ref`` (contig present, inside it, REF
   bases equal): examples made against another reference are refused up front.
2. **Loads the model** named by ``--model``: an experiment directory (its
   ``export/saved_model``), a SavedModel directory, one of our checkpoints
   (``<exp>/checkpoints/ckpt-N``, or the training state ``<exp>/state/ckpt-N``) or a
   DeepVariant-form tf.keras checkpoint prefix (``export/deepvariant/model.ckpt``, or a released
   DeepVariant model with ``--model_type``). For checkpoints the architecture comes from
   ``config.json`` of the experiment when one is found beside or above it, else from
   ``--model_type`` (default inception_v3).

   An experiment whose training has not finished (interrupted, or still running) has no
   ``export/`` yet: ``--model <exp>`` is then refused with one line naming the checkpoint to
   pass instead: the best checkpoint chosen so far (``<exp>/checkpoints/ckpt-N``, per
   ``best_checkpoint.json``) or, before any tune improved, the latest training state
   (``<exp>/state/ckpt-N``). Why not take it silently: a user naming the experiment expects its
   selected, finished model; calls from a half-trained one would look like real results. Naming
   the checkpoint makes the choice explicit and reproducible.
3. **Runs the model batched** over all examples (tf.data, ``--batch_size``), images scaled
   ``(x - 128) / 128`` as in training.
4. **Postprocesses** each candidate's images into one call with DeepVariant's rule
   (``beam_pipelines.core.postprocess``: multi-allelic images combined by the minimum over
   the images that inform each genotype, then normalised; GT/GQ/PL/QUAL; FILTER
   PASS/RefCall/LowQual/NoCall; DP, AD, VAF from the candidate).
5. **Writes** a VCFv4.2 (contigs from the reference ``.fai``, the sample name from the examples
   or ``--sample_name``), sorted in reference order, bgzipped with a tabix ``.tbi`` index by
   htslib (``beam_pipelines.io.vcf_output``). Both appear atomically. No examples -> a valid VCF with only the header.

``--outfile`` is checked before step 1 (``schemas.output_paths``): a folder that cannot be
written is refused at once, and an existing VCF (or its ``.tbi``) is replaced only with
``--overwrite``. A DeepVariant call_variants / postprocess_variants flag pileflow does not
implement is refused by name (``trainer.deepvariant_flags``).

Exit codes (schemas/errors.py), each one line on stderr: 0 done; 2 bad flags or input (a
damaged examples file, examples from another reference, an unusable model; nothing written);
1 a failure during the run (e.g. an I/O error); 130 interrupted (nothing written).
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('call')

import argparse
import dataclasses
import json
import os
import sys
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from schemas import channels as channels_lib
from schemas import contig_names
from schemas import errors
from schemas import example_format as ef
from schemas import example_info as example_info_lib
from schemas import output_paths
from schemas import sharding
from schemas.protos import variants_pb2
from trainer import cli
from beam_pipelines.core import call_outputs
from beam_pipelines.core import postprocess
from beam_pipelines.io import fasta as fasta_io
from beam_pipelines.io import vcf_output

PROG = "call"
DEFAULT_BATCH_SIZE = 256
SAVED_MODEL_FILE = "saved_model.pb"


class CallError(errors.InputError):
  """Bad calling input; one line naming the file and what is wrong."""


def open_reference(path: str) -> fasta_io.FastaReader:
  try:
    return fasta_io.FastaReader(path)
  except fasta_io.FastaError as e:
    raise CallError(f"--ref {e}") from None


@dataclasses.dataclass(frozen=True)
class CallConfig:
  """Validated flags of one calling run (``validate()`` names the flag that is wrong)."""
  examples: str
  model: str
  ref: str
  outfile: str
  model_type: str = ""
  sample_name: str = ""
  batch_size: int = DEFAULT_BATCH_SIZE
  qual_filter: float = postprocess.DEFAULT_QUAL_FILTER
  multi_allelic_qual_filter: float = postprocess.DEFAULT_MULTI_ALLELIC_QUAL_FILTER
  cnn_homref_call_min_gq: float = postprocess.DEFAULT_CNN_HOMREF_CALL_MIN_GQ
  overwrite: bool = False

  def validate(self) -> None:
    if not self.outfile.endswith(".vcf.gz"):
      raise ValueError(f"--outfile={self.outfile!r}: must end in .vcf.gz (bgzipped + tabix)")
    if output_paths.is_remote(self.outfile):
      raise ValueError(f"--outfile={self.outfile}: must be a local path (copy it to the bucket "
                       "afterwards)")
    if self.batch_size <= 0:
      raise ValueError(f"--batch_size={self.batch_size}: must be > 0")
    if self.qual_filter < 0 or self.multi_allelic_qual_filter < 0:
      raise ValueError("--qual_filter and --multi_allelic_qual_filter must be >= 0")


# ---- Inputs --------------------------------------------------------------------------------------
def resolve_examples(spec: str) -> List[str]:
  """Files of ``--examples``: comma-separated paths, globs or sharded specs (``x@N.gz``).

  A sharded spec must have every shard; a glob must match something.
  """
  import tensorflow as tf
  try:
    return sharding.resolve_files(spec, "--examples", tf.io.gfile.exists, tf.io.gfile.glob)
  except ValueError as e:
    raise CallError(str(e)) from None


def _read_info(path: str) -> example_info_lib.ExampleInfo:
  import tensorflow as tf
  with tf.io.gfile.GFile(path, "r") as f:
    try:
      return example_info_lib.parse_example_info(f.read(), source=path)
    except ValueError as e:
      raise CallError(str(e)) from None


def examples_info(files: Sequence[str]) -> Tuple[example_info_lib.ExampleInfo, str]:
  """The examples' combined example_info (all files must agree) and the file it came from.

  Each file's own ``<file>.example_info.json`` is used, else ``example_info.json`` in its
  directory. Shape is the first non-null one (a shard with no example has none).
  """
  import tensorflow as tf
  found: Optional[example_info_lib.ExampleInfo] = None
  source = ""
  for path in files:
    candidates = [path + example_info_lib.EXAMPLE_INFO_SUFFIX,
                  os.path.join(os.path.dirname(path), example_info_lib.DATASET_EXAMPLE_INFO_NAME)]
    info_path = next((c for c in candidates if tf.io.gfile.exists(c)), None)
    if info_path is None:
      raise CallError(f"{path}: no {candidates[0]} (or example_info.json beside it); cannot "
                      "check the examples against the model")
    info = _read_info(info_path)
    if found is None:
      found, source = info, info_path
      continue
    if tuple(info.channels) != tuple(found.channels):
      raise CallError(f"{info_path}: channels {channels_lib.describe_channels(info.channels)} "
                      f"but {source} has {channels_lib.describe_channels(found.channels)}")
    if info.shape is not None:
      if found.shape is not None and tuple(info.shape) != tuple(found.shape):
        raise CallError(f"{info_path}: shape {list(info.shape)} but {source} has "
                        f"{list(found.shape)}")
      if found.shape is None:
        found, source = info, info_path
  return found, source


# ---- Model ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ModelSource:
  """Where a model's weights and example_info are, and how to build it."""
  kind: str                 # 'saved_model' | 'checkpoint'
  path: str                 # SavedModel dir or checkpoint prefix
  info_path: str
  model_type: str = ""
  config: Optional[Dict] = None


def _find_config_json(prefix: str) -> Optional[str]:
  d = os.path.dirname(os.path.abspath(prefix))
  for _ in range(3):
    path = os.path.join(d, "config.json")
    if os.path.exists(path):
      return path
    d = os.path.dirname(d)
  return None


def unfinished_experiment_message(path: str) -> Optional[str]:
  """Why ``--model <experiment dir>`` cannot be used yet, or None (module docstring, step 2).

  An experiment directory without ``export/saved_model`` has not finished training; the line
  names the checkpoint to pass with ``--model`` instead.
  """
  import tensorflow as tf
  if not tf.io.gfile.isdir(path):
    return None
  has_layout = any(tf.io.gfile.isdir(os.path.join(path, d)) for d in ("state", "checkpoints"))
  if not (has_layout and tf.io.gfile.exists(os.path.join(path, "config.json"))):
    return None
  best = None
  best_json = os.path.join(path, "best_checkpoint.json")
  if tf.io.gfile.exists(best_json):
    try:
      with tf.io.gfile.GFile(best_json, "r") as f:
        best = json.load(f)
    except ValueError:
      best = None
  checkpoint = None
  try:
    checkpoint = tf.train.latest_checkpoint(os.path.join(path, "checkpoints"))
  except tf.errors.OpError:
    pass
  head = (f"--model {path}: training of this experiment has not finished (no "
          f"export/saved_model)")
  if checkpoint:
    chosen = (f" (step {best['step']}, {best['metric']} {best['value']:.5f})"
              if isinstance(best, dict) and {"step", "metric", "value"} <= set(best) and
              isinstance(best["value"], (int, float)) else "")
    return (f"{head}; the best checkpoint so far is {checkpoint}{chosen}: pass --model "
            f"{checkpoint} to call with it, or re-run the training command to finish")
  state = None
  try:
    state = tf.train.latest_checkpoint(os.path.join(path, "state"))
  except tf.errors.OpError:
    pass
  if state:
    return (f"{head} and no best checkpoint was chosen yet (no tune improved); the latest "
            f"training state is {state}: pass --model {state} to call with it, or re-run the "
            "training command to finish")
  return f"{head} and it holds no checkpoint yet; re-run the training command"


def locate_model(path: str, model_type: str = "") -> ModelSource:
  """Resolves ``--model`` (module docstring, step 2) without loading any weights.

  Raises:
    CallError: nothing loadable there, or no example_info.json for it.
  """
  import tensorflow as tf
  from trainer import checkpoints as ckpt_lib
  if tf.io.gfile.isdir(path) and tf.io.gfile.exists(os.path.join(path, "export", "saved_model",
                                                                   SAVED_MODEL_FILE)):
    path = os.path.join(path, "export", "saved_model")
  if tf.io.gfile.isdir(path) and tf.io.gfile.exists(os.path.join(path, SAVED_MODEL_FILE)):
    info = os.path.join(path, example_info_lib.DATASET_EXAMPLE_INFO_NAME)
    if not tf.io.gfile.exists(info):
      raise CallError(f"{path}: SavedModel has no example_info.json; cannot check the examples "
                      "against it")
    return ModelSource("saved_model", path, info)
  unfinished = unfinished_experiment_message(path)
  if unfinished:
    raise CallError(unfinished)
  try:
    prefix = ckpt_lib.resolve_checkpoint(path)
  except ckpt_lib.CheckpointError as e:
    raise CallError(f"--model {path}: not an experiment directory, SavedModel or checkpoint "
                    f"({e})") from None
  info = ckpt_lib.checkpoint_example_info_path(prefix)
  config_path = _find_config_json(prefix)
  if info is None and config_path:  # a training-state checkpoint: the experiment's own
    beside = os.path.join(os.path.dirname(config_path), example_info_lib.DATASET_EXAMPLE_INFO_NAME)
    info = beside if tf.io.gfile.exists(beside) else None
  if info is None:
    raise CallError(f"{prefix}: checkpoint has no example_info.json "
                    f"({prefix}{example_info_lib.EXAMPLE_INFO_SUFFIX}); cannot check the "
                    "examples against it")
  config = None
  if config_path:
    with open(config_path, "r", encoding="utf-8") as f:
      config = json.load(f)
  chosen = model_type or (config or {}).get("model_type") or "inception_v3"
  return ModelSource("checkpoint", prefix, info, chosen, config)


def load_model(source: ModelSource, shape: Sequence[int]):
  """The Keras model of ``source`` for images of ``shape`` (weights loaded)."""
  import tf_keras
  from trainer import checkpoints as ckpt_lib
  from trainer import models
  if source.kind == "saved_model":
    return tf_keras.models.load_model(source.path, compile=False)
  cfg = source.config or {}
  kwargs = {}
  if cfg.get("fine_tune_mode"):
    kwargs["fine_tune_mode"] = cfg["fine_tune_mode"]
  if cfg.get("head_hidden_units"):
    kwargs["head_hidden_units"] = int(cfg["head_hidden_units"])
  try:
    bundle = models.build_model(source.model_type, shape, **kwargs)
    ckpt_lib.warm_start(bundle, source.path, load_head=True, adapt_channels=False)
  except (ValueError, ckpt_lib.CheckpointError) as e:
    raise CallError(f"{source.path}: cannot load as model_type {source.model_type} ({e})") from None
  return bundle.model


def check_model_against_examples(model_info: example_info_lib.ExampleInfo, model_info_path: str,
                                 data_info: example_info_lib.ExampleInfo,
                                 data_info_path: str) -> None:
  """The examples must have the model's channels and shape (example_info of both)."""
  if tuple(model_info.channels) != tuple(data_info.channels):
    raise CallError(f"{data_info_path} vs model {model_info_path}: model "
                    + channels_lib.channel_mismatch_message(model_info.channels,
                                                            data_info.channels))
  if (model_info.shape is not None and data_info.shape is not None and
      tuple(model_info.shape) != tuple(data_info.shape)):
    raise CallError(f"{data_info_path} vs model {model_info_path}: model expects shape "
                    f"{list(model_info.shape)} found {list(data_info.shape)}")


def check_variant_against_reference(variant: variants_pb2.Variant, reference: fasta_io.FastaReader,
                                    source: str) -> None:
  """Refuses a candidate that cannot come from ``reference`` (contig, bounds, REF bases)."""
  length = reference.length(variant.reference_name)
  where = f"{source}: candidate {variant.reference_name}:{variant.start + 1}"
  if length is None:
    contigs = reference.contig_lengths()
    if contig_names.naming_hint([variant.reference_name], contigs):  # same genome, other names
      contig_names.check_contig_names([variant.reference_name], contigs, f"--examples {source}",
                                      f"--ref {reference.path}")
    raise CallError(f"{where} is on contig {variant.reference_name!r}, which {reference.path} "
                    "lacks; examples and --ref come from different references")
  if variant.end > length:
    raise CallError(f"{where} ends at {variant.end} past the contig length {length} in "
                    f"{reference.path}; examples and --ref come from different references")
  bases = reference.window(variant.reference_name, variant.start, variant.end).seq
  if bases != variant.reference_bases.upper():
    raise CallError(f"{where} has REF {variant.reference_bases} but {reference.path} has "
                    f"{bases}; examples and --ref come from different references")


def first_variant(path: str) -> Optional[variants_pb2.Variant]:
  """The candidate of the first example in ``path`` (None for an empty file)."""
  import tensorflow as tf
  gzip = ".gz" in os.path.basename(path)
  ds = tf.data.TFRecordDataset(path, compression_type="GZIP" if gzip else "").take(1)
  try:
    for record in ds:
      return ef.decode_example(record.numpy()).variant
  except tf.errors.OpError as e:
    raise CallError(f"{path}: corrupt or truncated examples file: unreadable first record "
                    f"({_first_line(e)})") from None
  except Exception as e:  # noqa: BLE001 - protobuf DecodeError or a missing feature: say which file
    raise CallError(f"{path}: first record is not a pileup example "
                    f"({_first_line(e)})") from None
  return None


def _first_line(error: BaseException) -> str:
  text = (getattr(error, "message", None) or str(error)).strip()
  return text.splitlines()[0] if text else type(error).__name__


# ---- Inference -----------------------------------------------------------------------------------
@dataclasses.dataclass
class Prediction:
  """Model output of one image: the candidate (serialized Variant), alt indices, probs."""
  variant: bytes
  alt_indices: Tuple[int, ...]
  probs: np.ndarray


def predict_examples(model, files: Sequence[str], shape: Sequence[int],
                     batch_size: int = DEFAULT_BATCH_SIZE) -> Iterable[Prediction]:
  """Runs ``model`` over every example of ``files`` in batches; yields one item per image."""
  import tensorflow as tf
  from trainer import input_pipeline as inp
  spec = {key: tf.io.FixedLenFeature(s, {"string": tf.string, "int64": tf.int64}[d])
          for key, (d, s) in ef.parse_spec(training=False).items()}
  shape = tuple(int(v) for v in shape)
  gzip = any(".gz" in os.path.basename(f) for f in files)

  def parse(serialized):
    features = tf.io.parse_example(serialized, spec)
    return (inp.preprocess_images(features[ef.IMAGE_ENCODED], shape),
            features[ef.VARIANT_ENCODED], features[ef.ALT_ALLELE_INDICES_ENCODED])

  ds = tf.data.TFRecordDataset(list(files), compression_type="GZIP" if gzip else "")
  ds = ds.batch(batch_size).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
  ds = ds.prefetch(tf.data.AUTOTUNE)

  @tf.function(reduce_retracing=True)
  def run(images):
    return model(images, training=False)

  batches = iter(ds)
  while True:
    try:
      images, variants, indices = next(batches)
    except StopIteration:
      break
    except tf.errors.OpError as e:
      raise examples_error(files, gzip, shape, spec, e) from None
    probs = run(images).numpy().astype(np.float64)
    for v, i, p in zip(variants.numpy(), indices.numpy(), probs):
      yield Prediction(v, ef.parse_alt_allele_indices(i), p)


def examples_error(files: Sequence[str], gzip: bool, shape: Sequence[int], spec,
                   error: Exception) -> Exception:
  """The one-line error for a TensorFlow error raised while reading ``files``.

  tf.data does not say which file is damaged (a truncated gzip, garbage bytes) or holds a
  record that does not parse; every file is read again to name it. Returns ``error`` itself
  when no file is found bad (not an input problem).
  """
  import tensorflow as tf
  from trainer import input_pipeline as inp

  def parse(serialized):
    features = tf.io.parse_example(serialized, spec)
    return inp.preprocess_images(features[ef.IMAGE_ENCODED], shape)
  found = inp.locate_bad_file(files, gzip, parse=parse)
  if found is None:
    return error
  path, good, line, cause = found
  if isinstance(cause, tf.errors.DataLossError):
    return CallError(f"{path}: corrupt or truncated examples file: unreadable after {good} good "
                     f"records ({line})")
  if isinstance(cause, tf.errors.NotFoundError):
    return CallError(f"{path}: no longer readable ({line})")
  return CallError(f"{path}: record {good + 1} is not a calling example of shape "
                   f"{list(shape)} ({line})")


def calls_from_predictions(predictions: Iterable[Prediction], *,
                           reference: Optional[fasta_io.FastaReader] = None,
                           source: str = "examples",
                           qual_filter: float = postprocess.DEFAULT_QUAL_FILTER,
                           multi_allelic_qual_filter: float =
                           postprocess.DEFAULT_MULTI_ALLELIC_QUAL_FILTER,
                           min_homref_gq: float = postprocess.DEFAULT_CNN_HOMREF_CALL_MIN_GQ
                           ) -> Tuple[List[postprocess.Call], Optional[str]]:
  """Groups images by candidate, applies ``postprocess.call_candidate``; (calls, sample name).

  Calls are sorted in reference order when ``reference`` is given (each candidate is also
  checked against it), else by (contig, start). Reference-site candidates (alt '.') are
  skipped: they have no alt to call.
  """
  options = call_outputs.PostprocessOptions(
      qual_filter=qual_filter, multi_allelic_qual_filter=multi_allelic_qual_filter,
      cnn_homref_call_min_gq=min_homref_gq)
  groups: Dict[bytes, List[Prediction]] = {}
  for p in predictions:
    groups.setdefault(p.variant, []).append(p)
  calls = []
  sample = None
  for blob, items in groups.items():
    variant = variants_pb2.Variant.FromString(blob)
    alts = list(variant.alternate_bases)
    if not alts or alts == [ef.REFERENCE_SITE_ALT]:
      continue
    if reference is not None:
      check_variant_against_reference(variant, reference, source)
    sample = sample or call_outputs.sample_name(variant) or None
    images = [postprocess.ImagePrediction(tuple(p.alt_indices), tuple(float(x) for x in p.probs))
              for p in items]
    try:
      calls.append(call_outputs.call_variant(variant, images, options, source))
    except ValueError as e:
      raise CallError(str(e)) from None
  order = ({name: i for i, name in enumerate(reference.contig_lengths())} if reference is not None
           else {})
  calls.sort(key=lambda c: (order.get(c.contig, len(order)), c.contig, c.start, c.end, c.alts))
  return calls, sample


def write_calls(path: str, calls: Sequence[postprocess.Call], contigs: Sequence[Tuple[str, int]],
                sample_name: str, extra_header: Sequence[str] = ()) -> None:
  """Writes the sorted calls as bgzipped VCF + .tbi (atomically)."""
  header = postprocess.vcf_header(contigs, sample_name, extra_header)
  lines = (postprocess.vcf_line(c) for c in calls)
  folder = os.path.dirname(os.path.abspath(path))
  created = []  # folders made here, outermost first, removed again if the write fails
  d = folder
  while not os.path.exists(d):
    created.insert(0, d)
    d = os.path.dirname(d)
  os.makedirs(folder, exist_ok=True)
  try:
    vcf_output.write_vcf(path, header, [lines])
  except BaseException:
    for d in reversed(created):
      try:
        os.rmdir(d)
      except OSError:
        pass
    raise


# ---- Entry point ---------------------------------------------------------------------------------
def run(cfg: CallConfig, log=print) -> Dict[str, object]:
  """The whole calling run (module docstring); returns a summary dict."""
  cfg.validate()
  output_paths.check_file_outputs([cfg.outfile, cfg.outfile + ".tbi"], "--outfile",
                                  cfg.overwrite, shown=cfg.outfile)
  t0 = time.time()
  files = resolve_examples(cfg.examples)
  data_info, data_info_path = examples_info(files)
  source = locate_model(cfg.model, cfg.model_type)
  model_info = _read_info(source.info_path)
  check_model_against_examples(model_info, source.info_path, data_info, data_info_path)
  reference = open_reference(cfg.ref)
  for path in files:
    variant = first_variant(path)
    if variant is not None:
      check_variant_against_reference(variant, reference, path)
  shape = data_info.shape or model_info.shape
  calls: List[postprocess.Call] = []
  sample = None
  n_images = 0
  if data_info.shape is not None:
    model = load_model(source, shape)
    model_shape = tuple(int(v) for v in model.input_shape[1:])
    if model_shape != tuple(shape):
      raise CallError(f"{source.path}: model input shape {list(model_shape)} but the examples "
                      f"({data_info_path}) have shape {list(shape)}")
    counted = []

    def counting(preds):
      for p in preds:
        counted.append(1)
        yield p
    calls, sample = calls_from_predictions(
        counting(predict_examples(model, files, shape, cfg.batch_size)), reference=reference,
        source=cfg.examples, qual_filter=cfg.qual_filter,
        multi_allelic_qual_filter=cfg.multi_allelic_qual_filter,
        min_homref_gq=cfg.cnn_homref_call_min_gq)
    n_images = len(counted)
  sample_name = cfg.sample_name or sample or "default"
  write_calls(cfg.outfile, calls, list(reference.contig_lengths().items()), sample_name,
              [f"##source=pileflow.call", f"##pileflow_model={source.path}",
               f"##pileflow_examples={cfg.examples}"])
  by_filter: Dict[str, int] = {}
  for c in calls:
    by_filter[c.filter] = by_filter.get(c.filter, 0) + 1
  seconds = time.time() - t0
  summary = {"outfile": cfg.outfile, "examples": n_images, "files": len(files),
             "calls": len(calls), "by_filter": dict(sorted(by_filter.items())),
             "sample": sample_name, "seconds": round(seconds, 2)}
  log(f"{PROG}: {n_images} examples in {len(files)} file(s) -> {len(calls)} records "
      f"({', '.join(f'{k} {v}' for k, v in sorted(by_filter.items())) or 'none'}) in "
      f"{seconds:.1f} s; wrote {cfg.outfile} (+.tbi), sample {sample_name}")
  return summary


def build_parser() -> argparse.ArgumentParser:
  p = cli.OneLineParser(prog=PROG, description=__doc__.split("\n")[0], tool="call")
  p.add_argument("--examples", required=True,
                 help="calling-mode examples: path, glob or sharded spec (x.tfrecord@8.gz)")
  p.add_argument("--model", "--checkpoint", dest="model", required=True,
                 help="experiment dir, SavedModel dir, or checkpoint prefix (ours or "
                      "DeepVariant's tf.keras model.ckpt)")
  p.add_argument("--ref", required=True, help="reference FASTA with .fai (contigs, checks)")
  p.add_argument("--outfile", required=True, help="output VCF, must end in .vcf.gz")
  p.add_argument("--overwrite", action="store_true",
                 help="replace an existing --outfile (and its .tbi); nothing else is touched")
  p.add_argument("--model_type", default="",
                 help="architecture of a checkpoint without config.json (default inception_v3)")
  p.add_argument("--sample_name", default="", help="default: the examples' sample name")
  p.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE)
  p.add_argument("--qual_filter", type=float, default=postprocess.DEFAULT_QUAL_FILTER,
                 help="variants with QUAL below this get FILTER LowQual")
  p.add_argument("--multi_allelic_qual_filter", type=float,
                 default=postprocess.DEFAULT_MULTI_ALLELIC_QUAL_FILTER,
                 help="alts of multi-allelic sites whose image QUAL is below this are dropped")
  p.add_argument("--cnn_homref_call_min_gq", type=float,
                 default=postprocess.DEFAULT_CNN_HOMREF_CALL_MIN_GQ,
                 help="RefCalls with GQ below this get GT ./.")
  return p


def main(argv: Optional[List[str]] = None) -> int:
  """Returns 0 when done; bad flags or input, failures and interrupts exit (module docstring)."""
  parser = build_parser()
  args = parser.parse_args(argv)
  cfg = CallConfig(examples=args.examples, model=args.model, ref=args.ref, outfile=args.outfile,
                   model_type=args.model_type, sample_name=args.sample_name,
                   batch_size=args.batch_size, qual_filter=args.qual_filter,
                   multi_allelic_qual_filter=args.multi_allelic_qual_filter,
                   cnn_homref_call_min_gq=args.cnn_homref_call_min_gq,
                   overwrite=args.overwrite)
  try:
    cfg.validate()
  except ValueError as e:
    parser.error(str(e))
  cli.quiet_tensorflow()
  cli.run_main(PROG, lambda: run(cfg))
  return errors.EXIT_OK


if __name__ == "__main__":
  sys.exit(main())
