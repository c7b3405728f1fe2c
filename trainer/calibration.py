"""Genotype-probability calibration: temperature scaling fitted on the tune set, and the
reliability table that shows whether GQ means what it says.

Why: QUAL and GQ are phred-scaled from the model's genotype probabilities. A net trained to
convergence on a few thousand examples is usually over-confident (a claimed GQ 40, one error
in 10,000, that is wrong one time in 100), which makes GQ filters and GLnexus-style joint
calling unreliable. Temperature scaling (Guo et al. 2017) divides the logits by one scalar T
fitted to minimise the tune set's negative log-likelihood: it never changes which genotype is
called (the arg-max is unchanged), only how sure the model says it is. Our head is
``Dense(3, softmax)``, so logits / T is the same Dense layer with kernel and bias divided by
T: the calibrated model is an ordinary model of the same layout (both exports hold it, and
DeepVariant's call_variants loading our checkpoint gets calibrated probabilities too).

Pure numpy; the loop (trainer/loop.py) collects the tune predictions and folds T into the
head before export.
"""
from __future__ import annotations

import math
from typing import Dict, List, Sequence

import numpy as np

# T is searched in [1/8, 8]: beyond that the model is broken, not miscalibrated.
LOG_T_RANGE = (-math.log(8.0), math.log(8.0))
# GQ bins of the reliability table (phred of the claimed genotype error).
GQ_BINS = (0, 10, 20, 30, 40, 50, 1000)
_EPS = 1e-12


def _log_probs(probs: np.ndarray) -> np.ndarray:
  return np.log(np.clip(np.asarray(probs, np.float64), _EPS, 1.0))


def scale(probs: np.ndarray, temperature: float) -> np.ndarray:
  """softmax(log(probs) / T): the probabilities the model gives with its logits divided by T
  (log-probabilities are the logits up to a per-row constant, which softmax ignores)."""
  z = _log_probs(probs) / temperature
  z -= z.max(axis=1, keepdims=True)
  e = np.exp(z)
  return e / e.sum(axis=1, keepdims=True)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
  """Mean negative log-likelihood of the true labels."""
  labels = np.asarray(labels, np.int64)
  return float(-_log_probs(probs)[np.arange(len(labels)), labels].mean())


def fit_temperature(probs: np.ndarray, labels: np.ndarray, iterations: int = 60) -> float:
  """The T minimising the NLL of ``scale(probs, T)`` (golden-section search over log T; the
  NLL is convex in 1/T, so the search finds the optimum)."""
  if len(labels) == 0:
    return 1.0
  lo, hi = LOG_T_RANGE
  golden = (math.sqrt(5) - 1) / 2

  def f(log_t):
    return nll(scale(probs, math.exp(log_t)), labels)
  a, b = lo + (1 - golden) * (hi - lo), lo + golden * (hi - lo)
  fa, fb = f(a), f(b)
  for _ in range(iterations):
    if fa < fb:
      hi, b, fb = b, a, fa
      a = lo + (1 - golden) * (hi - lo)
      fa = f(a)
    else:
      lo, a, fa = a, b, fb
      b = lo + golden * (hi - lo)
      fb = f(b)
  return float(math.exp((lo + hi) / 2))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
  """ECE of the called genotype: |confidence - accuracy| averaged over equal-width confidence
  bins, weighted by the bin's share of examples."""
  probs = np.asarray(probs, np.float64)
  labels = np.asarray(labels, np.int64)
  if len(labels) == 0:
    return 0.0
  conf = probs.max(axis=1)
  correct = probs.argmax(axis=1) == labels
  edges = np.linspace(0.0, 1.0, bins + 1)
  total = 0.0
  for k in range(bins):
    inside = (conf > edges[k]) & (conf <= edges[k + 1]) if k else (conf <= edges[1])
    if inside.any():
      total += inside.mean() * abs(conf[inside].mean() - correct[inside].mean())
  return float(total)


def phred(p_error: float, cap: float = 99.0) -> float:
  return min(cap, -10.0 * math.log10(max(p_error, 10 ** (-cap / 10))))


def reliability_table(probs: np.ndarray, labels: np.ndarray) -> List[Dict[str, float]]:
  """Claimed GQ (phred of 1 - max probability) against observed genotype errors, per GQ bin.

  Each row: ``gq_from``, ``gq_to``, ``n``, ``errors``, ``claimed_gq`` (phred of the bin's mean
  claimed error) and ``observed_gq`` (phred of its error rate; with no error, the phred of
  1/(n+1), a lower bound). Calibrated: the two agree in every bin with enough examples.
  """
  probs = np.asarray(probs, np.float64)
  labels = np.asarray(labels, np.int64)
  claimed_error = np.clip(1.0 - probs.max(axis=1), 0.0, 1.0)
  gq = np.array([round(phred(e), 6) for e in claimed_error])  # 1 - 0.99 is not 0.01 exactly
  wrong = probs.argmax(axis=1) != labels
  rows = []
  for lo, hi in zip(GQ_BINS[:-1], GQ_BINS[1:]):
    inside = (gq >= lo) & (gq < hi)
    n = int(inside.sum())
    if not n:
      continue
    errors = int(wrong[inside].sum())
    rows.append({"gq_from": lo, "gq_to": hi, "n": n, "errors": errors,
                 "claimed_gq": round(phred(float(claimed_error[inside].mean())), 1),
                 "observed_gq": round(phred(errors / n if errors else 1.0 / (n + 1)), 1)})
  return rows


def summary(probs: np.ndarray, labels: np.ndarray, temperature: float) -> Dict[str, object]:
  """What calibration.json records: T, NLL and ECE before and after, both reliability tables."""
  after = scale(probs, temperature)
  return {"temperature": round(float(temperature), 5), "tune_examples": int(len(labels)),
          "nll_before": round(nll(probs, labels), 5), "nll_after": round(nll(after, labels), 5),
          "ece_before": round(expected_calibration_error(probs, labels), 5),
          "ece_after": round(expected_calibration_error(after, labels), 5),
          "reliability_before": reliability_table(probs, labels),
          "reliability_after": reliability_table(after, labels)}


def format_reliability(rows: Sequence[Dict[str, float]]) -> str:
  """One line: ``GQ 0-10: n=12 claimed 6.1 observed 5.2; ...``."""
  return "; ".join(f"GQ {r['gq_from']}-{r['gq_to'] if r['gq_to'] < 1000 else '+'}: n={r['n']} "
                   f"claimed {r['claimed_gq']} observed {r['observed_gq']}" for r in rows)
