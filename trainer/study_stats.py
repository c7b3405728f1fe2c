"""Scores of one fold and the study's summary (pure numpy/scipy, no TensorFlow).

Per fold: weighted F1 and per-class F1 (``trainer.metrics``, the tune metrics' definitions)
and one-vs-rest ROC-AUC per class (the Mann-Whitney form: the chance a random example of the
class scores higher for it than a random other one; ties count half). Summary: mean and sample
sd over folds per backbone and metric, and a paired test of each backbone against the
baseline over the same folds: Wilcoxon signed-rank and paired t (scipy). With K folds the
smallest two-sided Wilcoxon p-value is 2 / 2**K (0.25 at 3 folds, 0.0625 at 5, 0.031 at 6;
the published RegNetY comparison's p = 0.031), so a study meant to show a difference at 0.05
needs 6+ folds.
"""
from __future__ import annotations

import math
from typing import Dict, List, Mapping, Sequence

import numpy as np
from scipy import stats

from trainer import metrics as metrics_lib

CLASSES = metrics_lib.CLASS_SUFFIXES
METRICS = (("f1_weighted",) + tuple(f"f1_{c}" for c in CLASSES)
           + tuple(f"auc_{c}" for c in CLASSES))


def auc_one_vs_rest(labels: np.ndarray, scores: np.ndarray) -> float:
  """ROC-AUC of ``scores`` for ``labels`` (bool); NaN when one side is empty."""
  labels = np.asarray(labels, bool)
  n_pos, n_neg = int(labels.sum()), int((~labels).sum())
  if not n_pos or not n_neg:
    return float("nan")
  ranks = stats.rankdata(scores)  # average ranks for ties
  return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fold_scores(labels: np.ndarray, probs: np.ndarray) -> Dict[str, float]:
  labels = np.asarray(labels, np.int64)
  probs = np.asarray(probs, np.float64)
  scores = metrics_lib.scores_from_confusion(
      metrics_lib.confusion_matrix(labels, probs.argmax(axis=1)))
  out = {key: scores[key] for key in METRICS if key in scores}
  for k, name in enumerate(CLASSES):
    out[f"auc_{name}"] = auc_one_vs_rest(labels == k, probs[:, k])
  out["num_examples"] = float(len(labels))
  return out


def _paired_p(x: Sequence[float], y: Sequence[float]) -> Dict[str, float]:
  x, y = np.asarray(x, float), np.asarray(y, float)
  keep = ~(np.isnan(x) | np.isnan(y))
  x, y = x[keep], y[keep]
  d = x - y
  if len(d) < 2 or np.allclose(d, 0):
    return {"wilcoxon_p": 1.0, "ttest_p": 1.0}
  wilcoxon = float(stats.wilcoxon(x, y).pvalue)
  t = stats.ttest_rel(x, y).pvalue
  return {"wilcoxon_p": wilcoxon, "ttest_p": float(t) if not math.isnan(t) else 1.0}


def summarize(rows: Sequence[Mapping[str, object]], baseline: str) -> List[Dict[str, object]]:
  """One row per (backbone, metric) from ``study.csv`` rows (backbone, fold, metrics...)."""
  by = {}
  for r in rows:
    by.setdefault(str(r["backbone"]), {})[int(r["fold"])] = r
  base = by.get(baseline, {})
  out = []
  for backbone in sorted(by, key=lambda b: (b != baseline, b)):
    folds = sorted(by[backbone])
    for metric in METRICS:
      values = np.array([float(by[backbone][f][metric]) for f in folds])
      finite = values[~np.isnan(values)]
      row = {"backbone": backbone, "metric": metric, "folds": len(folds),
             "mean": float(finite.mean()) if len(finite) else float("nan"),
             "sd": float(finite.std(ddof=1)) if len(finite) > 1 else float("nan")}
      shared = [f for f in folds if f in base]
      if backbone != baseline and shared:
        x = [float(by[backbone][f][metric]) for f in shared]
        y = [float(base[f][metric]) for f in shared]
        row["mean_diff_vs_baseline"] = float(np.nanmean(np.subtract(x, y)))
        row.update(_paired_p(x, y))
      else:
        row.update({"mean_diff_vs_baseline": "", "wilcoxon_p": "", "ttest_p": ""})
      out.append(row)
  return out
