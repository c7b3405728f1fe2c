"""Tune metrics computed from a known confusion matrix."""
import numpy as np
import pytest

from trainer import metrics

# 10 examples: labels and predictions chosen so every number below can be checked by hand.
LABELS = np.array([0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
PRED = np.array([0, 1, 1, 1, 1, 2, 2, 2, 2, 0])
VTYPES = np.array([1, 1, 1, 1, 2, 2, 1, 1, 2, 2])


def _probs(pred, p=0.8):
  out = np.full((len(pred), 3), (1 - p) / 2)
  out[np.arange(len(pred)), pred] = p
  return out


@pytest.fixture(scope="module")
def m():
  return metrics.compute_metrics(LABELS, _probs(PRED), VTYPES)


@pytest.mark.parametrize("key,expected", [
    ("categorical_accuracy", 0.7),        # 7 of 10 on the diagonal
    ("precision_homref", 0.5),            # predicted 0 twice, once right
    ("recall_homref", 0.5),               # 2 hom-ref labels, 1 found
    ("precision_het", 0.75),              # predicted 1 four times, 3 right
    ("recall_het", 0.75),                 # 4 het labels, 3 found
    ("f1_homalt", 0.75),                  # P = R = 3/4
    ("f1_weighted", (0.5 * 2 + 0.75 * 4 + 0.75 * 4) / 10),  # support-weighted F1
    ("f1_macro", (0.5 + 0.75 + 0.75) / 3),  # plain mean of per-class F1
    ("f1_micro", 0.7),                    # single-label: micro F1 = accuracy
    ("precision", 7 / 8),                 # variant vs hom-ref: 8 predicted variant, 7 are
    ("recall", 7 / 8),                    # 8 variant labels, 7 predicted variant
    ("categorical_crossentropy", -np.log(0.8) * 0.7 - np.log(0.1) * 0.3),  # mean CE
    ("snp/categorical_accuracy", 5 / 6),  # SNP subset: 6 examples, 5 right
    ("indel/categorical_accuracy", 2 / 4),  # indel subset: 4 examples, 2 right
    ("indel/recall_homalt", 0.5),         # indel hom-alt labels 8, 9: one found
    ("snp/num_examples", 6),
])
def test_values(m, key, expected):
  assert m[key] == pytest.approx(expected)


def test_class_weights_and_smoothing_change_loss_only():
  plain = metrics.compute_metrics(LABELS, _probs(PRED), VTYPES)
  weighted = metrics.compute_metrics(LABELS, _probs(PRED), VTYPES, label_smoothing=0.1,
                                     class_weights=np.array([2.0, 1.0, 1.0]))
  assert weighted["loss"] != pytest.approx(plain["loss"])
  assert weighted["f1_weighted"] == plain["f1_weighted"]


def test_empty_class_gives_zero_not_nan():
  m = metrics.compute_metrics(np.array([1, 1]), _probs(np.array([1, 1])), np.array([1, 1]))
  assert (m["f1_homref"], m["f1_het"], m["f1_macro"]) == (0.0, 1.0, 1.0)  # absent classes skipped


@pytest.mark.parametrize("name,higher", [
    ("tune/f1_weighted", True), ("tune/loss", False),
    ("tune/categorical_crossentropy", False), ("tune/indel/categorical_accuracy", True)])
def test_direction(name, higher):
  assert metrics.higher_is_better(name) is higher
