"""The training report written at the end of Experiment.run: curves from the event files,
confusion matrices of the best model, why the best checkpoint won, and rendering in Chromium."""
import json
import os

import numpy as np
import pytest

from trainer import configs
from trainer import loop
from trainer import report
from tests import browser
from tests.unit import test_trainer_data as data

PLOTS = ["loss_curves", "accuracy_curves", "f1_curves", "learning_rate", "confusion_matrices"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
  d = str(tmp_path_factory.mktemp("sets"))
  train = data.write_dataset(d, "train", 64, seed=1, shards=2)
  tune = data.write_dataset(d, "tune", 48, seed=2, shards=2)
  cfg = configs.get_config("tiny")
  cfg.train_dataset_pbtxt, cfg.tune_dataset_pbtxt = train, tune
  cfg.tune_every_steps = cfg.log_every_steps = cfg.checkpoint_every_steps = 6
  cfg.num_epochs = 1
  exp = str(tmp_path_factory.mktemp("exp"))
  lines = []
  result = loop.Experiment(cfg, exp, log=lines.append).run()
  return exp, result, lines


def test_run_writes_report_with_confusion_of_best_model(experiment):
  exp, result, lines = experiment
  assert any(l.startswith("train: training report: ") for l in lines)
  record = json.load(open(os.path.join(exp, report.REPORT_JSON)))
  best = json.load(open(os.path.join(exp, "best_checkpoint.json")))
  cm = np.array(record["confusion"]["all"])
  assert cm.sum() == 48  # every tune example, once
  assert cm.shape == (3, 3)
  # The matrix is the kept model's: its accuracy is the best tune's accuracy.
  assert np.trace(cm) / cm.sum() == pytest.approx(best["metrics"]["tune/categorical_accuracy"])
  snp, indel = np.array(record["confusion"]["snp"]), np.array(record["confusion"]["indel"])
  np.testing.assert_array_equal(snp + indel, cm)  # synthetic data: SNPs and indels only
  assert indel.sum() == 16  # every third synthetic example is an indel
  assert record["run"]["final_step"] == result.final_step
  steps = [s for s, _ in record["curves"]["train/loss"]]
  assert steps == sorted(steps) and steps[-1] == result.final_step
  tune_steps = [s for s, _ in record["curves"][record["metric"]]]
  assert best["step"] in tune_steps


def test_report_explains_the_best_checkpoint(experiment):
  exp, result, _ = experiment
  text = open(os.path.join(exp, report.REPORT_HTML), encoding="utf-8").read()
  assert f"Kept the checkpoint of step {result.best_step}" in text
  assert f"Training ran all {result.num_train_steps} steps." in text
  for name in PLOTS:
    assert f'data-plot="{name}"' in text


def test_rerender_from_files_keeps_confusion(experiment, tmp_path):
  exp, _, _ = experiment
  before = json.load(open(os.path.join(exp, report.REPORT_JSON)))
  assert report.main(["--experiment_dir", exp]) == 0
  after = json.load(open(os.path.join(exp, report.REPORT_JSON)))
  assert after["confusion"] == before["confusion"]
  assert after["curves"] == before["curves"]


@pytest.mark.parametrize("tunes,best,kw,expected", [
    # Highest value wins; the runner-up and the margin are named.
    ([(10, 0.5), (20, 0.9), (30, 0.8)], {"step": 20, "value": 0.9}, {},
     ["Kept the checkpoint of step 20: it has the highest tune/f1_weighted (higher is better) "
      "of the 3 tune(s), 0.90000.", "Runner-up: 0.80000 at step 30 (0.10000 lower)."]),
    # A later equal value does not replace the earlier best.
    ([(10, 0.9), (20, 0.9)], {"step": 10, "value": 0.9}, {},
     ["Steps 20 tied with it; a tie keeps the earlier checkpoint (selection is strict)."]),
    # Early stopping is explained with the patience.
    ([(10, 0.9), (20, 0.8), (30, 0.7)], {"step": 10, "value": 0.9},
     {"final_step": 30, "num_train_steps": 100, "patience": 1},
     ["Training stopped early at step 30 of 100: tune/f1_weighted did not improve in 2 "
      "consecutive tunes (early_stopping_patience 1)."]),
    # A never-beaten warm start keeps the baseline.
    ([(0, 0.9), (10, 0.8)], {"step": 0, "value": 0.9, "baseline": True}, {},
     ["This is the warm-start baseline (step 0): no fine-tuning step beat the starting "
      "checkpoint, so the exported model is the starting one."]),
    # No tune at all.
    ([], None, {}, ["No tune ran, so no checkpoint was selected and nothing was exported."]),
])
def test_explain_best(tunes, best, kw, expected):
  lines = report.explain_best(best, tunes, "tune/f1_weighted", kw.get("patience"),
                              kw.get("final_step"), kw.get("num_train_steps"))
  for line in expected:
    assert line in lines


def test_loss_metric_prefers_lower():
  lines = report.explain_best({"step": 2, "value": 0.3}, [(1, 0.5), (2, 0.3)], "tune/loss",
                              None, None, None)
  assert lines[0].startswith("Kept the checkpoint of step 2: it has the lowest tune/loss "
                             "(lower is better)")


@pytest.mark.parametrize("cm,expected", [
    ([[5, 0, 0], [5, 0, 0], [5, 0, 0]],
     "the best model predicts only class 0 hom_ref on all 15 tune examples"),  # collapsed model
    ([[0, 0, 0], [0, 5, 1], [0, 1, 5]],
     "the tune set has no examples of class 0 hom_ref: its precision, recall and F1 are "
     "meaningless"),  # class missing from tune
    ([[3, 1, 0], [0, 5, 1], [0, 1, 5]], None),  # healthy: no warning
])
def test_report_warnings(cm, expected):
  warnings = report.report_warnings({"all": np.array(cm)}, {"step": 1, "value": 0.5})
  if expected is None:
    assert warnings == []
  else:
    assert expected in warnings


def test_confusion_by_type_splits_snps_and_indels():
  out = report.confusion_by_type([0, 1, 2, 2], [0, 2, 2, 1], [1, 1, 2, 2])
  np.testing.assert_array_equal(out["all"], [[1, 0, 0], [0, 0, 1], [0, 1, 1]])
  np.testing.assert_array_equal(out["snp"], [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
  np.testing.assert_array_equal(out["indel"], [[0, 0, 0], [0, 0, 0], [0, 1, 1]])


@pytest.mark.skipif(browser.CHROMIUM is None,
                    reason="Debian chromium not installed (bash scripts/setup.sh installs it)")
def test_training_report_renders_in_headless_chromium(experiment, tmp_path):
  exp, _, _ = experiment
  loaded, crops, _ = browser.render_plots(os.path.join(exp, report.REPORT_HTML),
                                          str(tmp_path / "shot.png"))
  assert loaded == f"{len(PLOTS)}/{len(PLOTS)}"
  assert sorted(crops) == sorted(PLOTS)
  for name, crop in crops.items():
    assert browser.blank_report(crop) == "", name
  # The loss plot draws train (tab:blue) and tune (tab:orange) lines.
  pixels = crops["loss_curves"].reshape(-1, 3).astype(int)
  for colour in ((31, 119, 180), (255, 127, 14)):
    assert (np.abs(pixels - colour).sum(axis=1) < 30).sum() > 50, colour
