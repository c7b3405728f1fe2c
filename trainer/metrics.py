"""Tune metrics from labels, probabilities and variant types (numpy, no TensorFlow).

Why numpy over a whole tune pass: per-class precision/recall/F1, their weighted and macro means
and the SNP/indel split all derive from one 3x3 confusion matrix per subset, so the tune loop
only gathers (label, probabilities, variant_type) and this module computes everything at once,
exactly and testably. Names follow DeepVariant's Keras trainer (spec 9B) where it has one::

    loss                      mean training loss (label smoothing and class weights included)
    categorical_crossentropy  plain mean cross-entropy
    categorical_accuracy      argmax == label
    precision_homref|het|homalt, recall_*, f1_*   one-vs-rest per class (label 0, 1, 2)
    f1_weighted               per-class F1 averaged with the class's support as weight
    f1_macro                  unweighted mean of the per-class F1 (classes with no label and
                              no prediction are left out of the mean)
    f1_micro                  = accuracy for single-label data
    precision, recall         variant (label > 0) vs hom-ref, as DeepVariant's "All" metrics
    num_examples

Each is also given per variant type as ``snp/<name>`` and ``indel/<name>`` (from the
``variant_type`` feature: 1 SNP, 2 indel), so ``tune/indel/f1_weighted`` can select checkpoints.
A class with no predictions has precision 0; with no labels, recall 0 (sklearn's zero_division=0).
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from schemas import labels as labels_lib

CLASS_SUFFIXES = ("homref", "het", "homalt")  # DeepVariant's names for labels 0, 1, 2
VARIANT_TYPE_NAMES = {1: "snp", 2: "indel"}
_EPS = 1e-7


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray,
                     num_classes: int = labels_lib.NUM_CLASSES) -> np.ndarray:
  """counts[true, predicted] (int64)."""
  idx = labels.astype(np.int64) * num_classes + predicted.astype(np.int64)
  return np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  a = np.asarray(a, np.float64)
  b = np.asarray(b, np.float64)
  return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def scores_from_confusion(cm: np.ndarray) -> Dict[str, float]:
  """Accuracy, per-class and averaged precision/recall/F1 of one confusion matrix."""
  tp = np.diag(cm).astype(np.float64)
  predicted = cm.sum(axis=0)
  support = cm.sum(axis=1)
  total = cm.sum()
  precision = _safe_div(tp, predicted)
  recall = _safe_div(tp, support)
  f1 = _safe_div(2 * precision * recall, precision + recall)
  out: Dict[str, float] = {"num_examples": float(total)}
  out["categorical_accuracy"] = float(tp.sum() / total) if total else 0.0
  for k, name in enumerate(CLASS_SUFFIXES):
    out[f"precision_{name}"] = float(precision[k])
    out[f"recall_{name}"] = float(recall[k])
    out[f"f1_{name}"] = float(f1[k])
  out["f1_weighted"] = float((f1 * support).sum() / total) if total else 0.0
  present = (support + predicted) > 0
  out["f1_macro"] = float(f1[present].mean()) if present.any() else 0.0
  out["f1_micro"] = out["categorical_accuracy"]
  # Variant (any non-zero class) vs hom-ref, as DeepVariant's v1.5 "All" precision/recall.
  var_tp = cm[1:, 1:].sum()
  out["precision"] = float(_safe_div(var_tp, cm[:, 1:].sum()))
  out["recall"] = float(_safe_div(var_tp, cm[1:, :].sum()))
  return out


def cross_entropy(labels: np.ndarray, probs: np.ndarray, label_smoothing: float = 0.0,
                  weights: Optional[np.ndarray] = None) -> float:
  """Mean categorical cross-entropy on probabilities (Keras' clipping at 1e-7)."""
  n = len(labels)
  if n == 0:
    return 0.0
  k = probs.shape[1]
  target = np.full((n, k), label_smoothing / k)
  target[np.arange(n), labels.astype(np.int64)] += 1.0 - label_smoothing
  p = np.clip(probs.astype(np.float64), _EPS, 1.0 - _EPS)
  per_example = -(target * np.log(p)).sum(axis=1)
  if weights is None:
    return float(per_example.mean())
  return float((per_example * weights).sum() / n)


def compute_metrics(labels: np.ndarray, probs: np.ndarray, variant_types: np.ndarray, *,
                    label_smoothing: float = 0.0,
                    class_weights: Optional[np.ndarray] = None) -> Dict[str, float]:
  """Every tune metric (module docstring) without the ``tune/`` prefix.

  Args:
    labels: int [N] in 0..2.
    probs: float [N, 3] softmax outputs.
    variant_types: int [N] (0 unknown, 1 SNP, 2 indel).
    label_smoothing, class_weights: as in training, for ``loss``.
  """
  labels = np.asarray(labels).astype(np.int64).reshape(-1)
  probs = np.asarray(probs, np.float64).reshape(len(labels), -1)
  variant_types = np.asarray(variant_types).astype(np.int64).reshape(-1)
  predicted = probs.argmax(axis=1) if len(labels) else np.zeros(0, np.int64)
  out = scores_from_confusion(confusion_matrix(labels, predicted))
  weights = None if class_weights is None else np.asarray(class_weights)[labels]
  out["loss"] = cross_entropy(labels, probs, label_smoothing, weights)
  out["categorical_crossentropy"] = cross_entropy(labels, probs)
  for vt, name in VARIANT_TYPE_NAMES.items():
    mask = variant_types == vt
    sub = scores_from_confusion(confusion_matrix(labels[mask], predicted[mask]))
    sub["categorical_crossentropy"] = cross_entropy(labels[mask], probs[mask])
    for key, value in sub.items():
      out[f"{name}/{key}"] = value
  return out


def higher_is_better(metric: str) -> bool:
  """Losses and cross-entropies are minimised; everything else here is maximised."""
  leaf = metric.rsplit("/", 1)[-1]
  return not (leaf.endswith("loss") or leaf.endswith("crossentropy"))
