"""The small model's contract: its example format, its feature vector and its saved model.

DeepVariant (1.8+) runs a small fully connected network inside make_examples, over one integer
feature vector per candidate, before any pileup image is drawn; candidates it calls with enough
confidence (GQ over a threshold) never reach the CNN. This module is the one owner of what
flows between make_examples (which writes the examples and applies the model) and the trainer
(which trains it), as ``example_format`` is for pileup examples:

* **Examples** (``tf.train.Example``, DeepVariant's keys): ``features/encoded`` int64 list (the
  vector below, in order), ``ids/encoded`` bytes list ``[contig, start, end, ref, alt]``,
  ``label/encoded`` int64 one-hot over (hom-ref, het, hom-alt), ``genotype/encoded`` int64 list
  (the truth genotype).
* **Features** (single sample, no haplotypes, DeepVariant's non-experimental set and order): 12
  read-support features, 7 variant features, then the variant allele frequency at each offset of
  the context window (``variant_allele_frequency_at_minus_25`` ... ``_at_plus_25``), 70 with the
  default window of 51. ``core/small_model_features.py`` computes them from the allele counts.
* **Saved model** (``--trained_small_model_path``, a folder): ``small_model.json`` (feature
  names, window, layer sizes, input scaling, temperature, provenance) and ``weights.npz``
  (kernel/bias per dense layer). make_examples applies it in numpy (no TensorFlow on the
  example workers); the trainer writes it.

Why numpy weights and not a Keras file: the forward pass of a 2-hidden-layer MLP is three matrix
products, and make_examples workers should not import TensorFlow (seconds of start-up, ~400 MB)
to do them. The trainer keeps its Keras checkpoints as usual; this is the exported form.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from schemas.protos import tfexample_pb2

FEATURES_ENCODED = "features/encoded"
IDS_ENCODED = "ids/encoded"
LABEL_ENCODED = "label/encoded"
GENOTYPE_ENCODED = "genotype/encoded"
ID_FIELDS = ("contig", "start", "end", "ref", "alt")

# DeepVariant's BaseFeature order, without its experimental members.
BASE_FEATURES = (
    "num_reads_supports_ref", "num_reads_supports_alt", "alt_indices_depth", "total_depth",
    "variant_allele_frequency", "alt_indices_variant_allele_frequency",
    "ref_mapping_quality", "alt_mapping_quality", "ref_base_quality", "alt_base_quality",
    "ref_reverse_strand_ratio", "alt_reverse_strand_ratio")
VARIANT_FEATURES = (
    "is_snp", "is_insertion", "is_deletion", "insertion_length", "deletion_length",
    "is_multiallelic", "is_multiple_alt_alleles")
DEFAULT_VAF_CONTEXT_WINDOW_SIZE = 51
# DeepVariant's defaults for --small_model_snp_gq_threshold / --small_model_indel_gq_threshold.
DEFAULT_SNP_GQ_THRESHOLD = 25
DEFAULT_INDEL_GQ_THRESHOLD = 30
GENOTYPE_BY_CLASS = ((0, 0), (0, 1), (1, 1))
MODEL_ID = "small_model"  # the FORMAT/MID value of calls the small model made

MODEL_JSON = "small_model.json"
WEIGHTS_NPZ = "weights.npz"
FORMAT_VERSION = 1


def context_offsets(window_size: int) -> Tuple[int, ...]:
  """Offsets of the VAF context window: -w//2 .. +w//2 (51 -> -25..25); none for 0."""
  if window_size < 0:
    raise ValueError(f"--small_model_vaf_context_window_size must be >= 0, got {window_size}")
  if not window_size:
    return ()
  half = window_size // 2
  return tuple(range(-half, half + 1))


def context_feature_name(offset: int) -> str:
  return f"variant_allele_frequency_at_{'minus' if offset < 0 else 'plus'}_{abs(offset)}"


def feature_names(window_size: int = DEFAULT_VAF_CONTEXT_WINDOW_SIZE) -> Tuple[str, ...]:
  """The feature vector's names, in order."""
  return (BASE_FEATURES + VARIANT_FEATURES
          + tuple(context_feature_name(o) for o in context_offsets(window_size)))


def one_hot(label: int) -> List[int]:
  if label not in (0, 1, 2):
    raise ValueError(f"small-model label must be 0, 1 or 2, got {label}")
  return [1 if i == label else 0 for i in range(3)]


def encode_example(features: Sequence[int], ids: Sequence[str], label: Optional[int],
                   genotype: Sequence[int] = ()) -> bytes:
  """One serialized small-model tf.Example (DeepVariant's keys; the label only in training)."""
  ex = tfexample_pb2.Example()
  feat = ex.features.feature
  feat[FEATURES_ENCODED].int64_list.value.extend(int(v) for v in features)
  feat[IDS_ENCODED].bytes_list.value.extend(str(v).encode() for v in ids)
  if label is not None:
    feat[LABEL_ENCODED].int64_list.value.extend(one_hot(label))
    feat[GENOTYPE_ENCODED].int64_list.value.extend(int(g) for g in genotype)
  return ex.SerializeToString(deterministic=True)  # map order fixed: same bytes anywhere


@dataclasses.dataclass(frozen=True)
class SmallModelExample:
  features: Tuple[int, ...]
  ids: Tuple[str, ...]
  label: Optional[int]
  genotype: Tuple[int, ...]


def decode_example(data: bytes, source: str = "<record>") -> SmallModelExample:
  """Parses one small-model example; ValueError naming ``source`` when it is not one."""
  ex = tfexample_pb2.Example()
  try:
    ex.ParseFromString(data)
  except Exception as e:  # protobuf raises DecodeError, a private subclass
    raise ValueError(f"{source}: not a tf.Example ({e})") from None
  feat = ex.features.feature
  if FEATURES_ENCODED not in feat:
    raise ValueError(f"{source}: no {FEATURES_ENCODED!r} feature: not a small-model example "
                     f"(pileup examples go to the CNN trainer)")
  label = None
  if LABEL_ENCODED in feat:
    hot = list(feat[LABEL_ENCODED].int64_list.value)
    if len(hot) != 3 or sorted(hot) != [0, 0, 1]:
      raise ValueError(f"{source}: {LABEL_ENCODED} {hot} is not a one-hot of 3 classes")
    label = hot.index(1)
  return SmallModelExample(
      features=tuple(feat[FEATURES_ENCODED].int64_list.value),
      ids=tuple(v.decode() for v in feat[IDS_ENCODED].bytes_list.value),
      label=label, genotype=tuple(feat[GENOTYPE_ENCODED].int64_list.value))


def gq_of(probs: np.ndarray) -> np.ndarray:
  """DeepVariant's ptrue_to_bounded_phred(max p): -10 log10(1 - max p), capped at 99 (the
  confidence of the called genotype, which is what the thresholds compare)."""
  p = np.asarray(probs, np.float64).max(axis=-1)
  err = np.clip(1.0 - p, 10 ** -9.9, 1.0)
  return np.minimum(-10.0 * np.log10(err), 99.0)


@dataclasses.dataclass(frozen=True, eq=False)
class SmallModel:
  """A trained small model, applied in numpy: scale inputs, ReLU hidden layers, softmax head
  with the calibration temperature folded in."""
  feature_names: Tuple[str, ...]
  vaf_context_window_size: int
  kernels: Tuple[np.ndarray, ...]
  biases: Tuple[np.ndarray, ...]
  input_mean: np.ndarray
  input_scale: np.ndarray
  temperature: float = 1.0
  info: Dict = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    n = len(self.feature_names)
    if len(self.kernels) != len(self.biases) or not self.kernels:
      raise ValueError("small model: kernels and biases must pair up, at least one layer")
    width = n
    for k, b in zip(self.kernels, self.biases):
      if k.ndim != 2 or k.shape[0] != width or b.shape != (k.shape[1],):
        raise ValueError(f"small model: layer shapes {k.shape}/{b.shape} do not chain from "
                         f"{width} inputs")
      width = k.shape[1]
    if width != 3:
      raise ValueError(f"small model: the head has {width} outputs, not 3 genotype classes")
    if self.input_mean.shape != (n,) or self.input_scale.shape != (n,):
      raise ValueError(f"small model: input scaling must have {n} values")
    if not (self.temperature > 0 and math.isfinite(self.temperature)):
      raise ValueError(f"small model: temperature must be > 0, got {self.temperature}")

  def logits(self, features: np.ndarray) -> np.ndarray:
    """Pre-softmax outputs, temperature applied.

    ``einsum`` rather than ``@``: make_examples calls this once per partition with a handful
    of rows, where OpenBLAS's thread hand-off costs more than the products and, with every core
    busy with other workers, makes its threads wait on each other (measured: 8 ms a call
    instead of 0.4 ms, and make_examples' CPU time doubled).
    """
    x = (np.asarray(features, np.float32) - self.input_mean) / self.input_scale
    last = len(self.kernels) - 1
    for i, (k, b) in enumerate(zip(self.kernels, self.biases)):
      x = np.einsum("ij,jk->ik", x, k) + b
      if i < last:
        x = np.maximum(x, 0.0)
    return x / np.float32(self.temperature)

  def predict_proba(self, features: np.ndarray) -> np.ndarray:
    """(n, 3) genotype probabilities for an (n, len(feature_names)) feature matrix."""
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] != len(self.feature_names):
      raise ValueError(f"small model wants {len(self.feature_names)} features per row, got "
                       f"shape {features.shape}")
    z = self.logits(features).astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class SmallModelError(ValueError):
  """A --trained_small_model_path that is missing, unreadable or not a small model."""


def save(path: str, model: SmallModel) -> None:
  """Writes the model folder: weights first, the json last (its presence marks it complete).

  Over an earlier export the old json goes first, so a reader in between finds an incomplete
  folder (refused by ``load``), never new weights under an old description."""
  os.makedirs(path, exist_ok=True)
  try:
    os.remove(os.path.join(path, MODEL_JSON))
  except FileNotFoundError:
    pass
  arrays = {"input_mean": model.input_mean, "input_scale": model.input_scale}
  for i, (k, b) in enumerate(zip(model.kernels, model.biases)):
    arrays[f"kernel_{i}"] = np.asarray(k, np.float32)
    arrays[f"bias_{i}"] = np.asarray(b, np.float32)
  tmp = os.path.join(path, WEIGHTS_NPZ + ".tmp.npz")
  np.savez(tmp, **arrays)
  os.replace(tmp, os.path.join(path, WEIGHTS_NPZ))
  meta = {"format_version": FORMAT_VERSION, "feature_names": list(model.feature_names),
          "vaf_context_window_size": model.vaf_context_window_size,
          "layers": [int(k.shape[1]) for k in model.kernels],
          "temperature": float(model.temperature), "info": model.info}
  tmp = os.path.join(path, MODEL_JSON + ".tmp")
  with open(tmp, "w") as f:
    json.dump(meta, f, indent=1)
    f.write("\n")
  os.replace(tmp, os.path.join(path, MODEL_JSON))


def load(path: str) -> SmallModel:
  """Reads a model folder written by ``save``; SmallModelError naming the path otherwise."""
  meta_path = os.path.join(path, MODEL_JSON)
  if not os.path.isdir(path):
    raise SmallModelError(f"--trained_small_model_path {path}: no such folder")
  if not os.path.isfile(meta_path):
    raise SmallModelError(f"--trained_small_model_path {path}: no {MODEL_JSON} in it (not a "
                          f"small model exported by python -m trainer.train "
                          f"--config=small_model)")
  try:
    with open(meta_path) as f:
      meta = json.load(f)
    with np.load(os.path.join(path, WEIGHTS_NPZ)) as npz:
      arrays = {k: npz[k] for k in npz.files}
  except (OSError, ValueError) as e:
    raise SmallModelError(f"--trained_small_model_path {path}: unreadable ({e})") from None
  if meta.get("format_version") != FORMAT_VERSION:
    raise SmallModelError(f"--trained_small_model_path {path}: format_version "
                          f"{meta.get('format_version')!r}, this pileflow reads "
                          f"{FORMAT_VERSION}")
  try:
    n = len(meta["layers"])
    window = int(meta["vaf_context_window_size"])
    names = tuple(meta["feature_names"])
    if names != feature_names(window):
      raise ValueError(f"its feature names are not pileflow's for window {window}")
    return SmallModel(
        feature_names=names, vaf_context_window_size=window,
        kernels=tuple(arrays[f"kernel_{i}"] for i in range(n)),
        biases=tuple(arrays[f"bias_{i}"] for i in range(n)),
        input_mean=arrays["input_mean"].astype(np.float32),
        input_scale=arrays["input_scale"].astype(np.float32),
        temperature=float(meta.get("temperature", 1.0)), info=meta.get("info", {}))
  except (KeyError, ValueError, TypeError) as e:
    raise SmallModelError(f"--trained_small_model_path {path}: not a valid small model "
                          f"({e})") from None
