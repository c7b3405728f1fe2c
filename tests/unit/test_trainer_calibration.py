"""Temperature scaling and the GQ reliability table (trainer/calibration.py), on numbers."""
import numpy as np
import pytest

from trainer import calibration as cal


def _overconfident(n=4000, seed=0, true_t=2.5):
  """Labels drawn from softmax(z); the model reports softmax(z * true_t): over-confident."""
  rng = np.random.default_rng(seed)
  z = rng.normal(0, 1.5, (n, 3))
  p_true = np.exp(z) / np.exp(z).sum(1, keepdims=True)
  labels = np.array([rng.choice(3, p=p) for p in p_true])
  return cal.scale(p_true, 1 / true_t), labels


def test_scale_keeps_the_called_genotype_and_sums_to_one():
  probs = np.array([[0.7, 0.2, 0.1], [0.05, 0.15, 0.8]])
  for t in (0.5, 1.0, 3.0):
    s = cal.scale(probs, t)
    np.testing.assert_allclose(s.sum(1), 1.0)
    assert (s.argmax(1) == probs.argmax(1)).all()
  np.testing.assert_allclose(cal.scale(probs, 1.0), probs)
  assert cal.scale(probs, 3.0)[0, 0] < 0.7 < cal.scale(probs, 0.5)[0, 0]


def test_fit_recovers_the_temperature_and_lowers_nll_and_ece():
  probs, labels = _overconfident()
  t = cal.fit_temperature(probs, labels)
  assert t == pytest.approx(2.5, rel=0.1)
  after = cal.scale(probs, t)
  assert cal.nll(after, labels) < cal.nll(probs, labels)
  assert cal.expected_calibration_error(after, labels) < 0.03 < \
      cal.expected_calibration_error(probs, labels)


def test_reliability_table_claims_vs_observed():
  # 100 calls claiming 0.99 (GQ 20) of which 10 wrong: observed GQ 10.
  probs = np.tile([0.99, 0.005, 0.005], (100, 1))
  labels = np.array([0] * 90 + [1] * 10)
  (row,) = cal.reliability_table(probs, labels)
  assert (row["gq_from"], row["n"], row["errors"]) == (20, 100, 10)
  assert row["claimed_gq"] == pytest.approx(20.0, abs=0.1)
  assert row["observed_gq"] == pytest.approx(10.0, abs=0.1)
  record = cal.summary(probs, labels, cal.fit_temperature(probs, labels))
  assert record["temperature"] > 1 and record["ece_after"] < record["ece_before"]
  assert "GQ 20-30: n=100 claimed 20.0 observed 10.0" in cal.format_reliability(
      record["reliability_before"])
