"""trainer.study: region-grouped folds, fold scores, the paired summary, and a resumable CLI run."""
import csv
import json
import os
import re

import numpy as np
import pytest

from trainer import study
from trainer import study_folds
from trainer import study_stats
from tests.unit import test_trainer_data as data


def test_blocks_start_only_at_gaps_and_folds_are_balanced_and_deterministic():
  loci = [("c1", p) for p in (0, 50, 100, 5000, 5050, 12000, 20000, 20100)] + [("c2", 10)]
  blocks = study_folds.blocks_of(loci, region_size=100, min_gap=1000)
  # 0/50/100 share reads (gaps < 1000) so stay together although they span the region size.
  assert blocks == [0, 0, 0, 1, 1, 2, 3, 3, 4]
  plan = study_folds.plan_folds(loci, 2, region_size=100, min_gap=1000, tune_fraction=0.3)
  assert plan.num_blocks == 5 and plan == study_folds.plan_folds(
      loci, 2, region_size=100, min_gap=1000, tune_fraction=0.3)
  for b in set(blocks):  # a block is never split between folds or between tune and main
    members = [i for i, x in enumerate(blocks) if x == b]
    assert len({plan.fold[i] for i in members}) == 1
    assert len({plan.is_tune[i] for i in members}) == 1
  sizes = np.bincount(plan.fold)
  assert abs(int(sizes[0]) - int(sizes[1])) <= 3
  for k in range(2):  # every fold keeps a non-tune part
    assert any(f == k and not t for f, t in zip(plan.fold, plan.is_tune))
  with pytest.raises(ValueError, match="only 5 separate regions"):
    study_folds.plan_folds(loci, 6, region_size=100, min_gap=1000)


def test_auc_and_fold_scores_by_hand():
  # positives score 0.9 and 0.3, negatives 0.8 and 0.1: 3 of the 4 pairs are ordered right.
  assert study_stats.auc_one_vs_rest([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]) == 0.75
  assert study_stats.auc_one_vs_rest([1, 0], [0.5, 0.5]) == 0.5  # a tie counts half
  assert np.isnan(study_stats.auc_one_vs_rest([1, 1], [0.2, 0.3]))
  probs = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .2, .7], [.6, .3, .1]])
  scores = study_stats.fold_scores(np.array([0, 1, 2, 1]), probs)
  assert scores["f1_homref"] == pytest.approx(2 / 3)  # precision 1/2, recall 1
  assert scores["auc_het"] == 1.0 and scores["num_examples"] == 4


def test_summary_pairs_folds_against_the_baseline():
  base = [0.80, 0.70, 0.75, 0.90, 0.85]
  better = [b + d for b, d in zip(base, (0.10, 0.20, 0.05, 0.15, 0.12))]
  rows = [{"backbone": name, "fold": k, **{m: v[k] for m in study_stats.METRICS}}
          for name, v in (("a", base), ("b", better)) for k in range(5)]
  summary = {(r["backbone"], r["metric"]): r for r in study_stats.summarize(rows, "a")}
  b = summary[("b", "f1_weighted")]
  assert b["mean_diff_vs_baseline"] == pytest.approx(0.124)
  assert b["wilcoxon_p"] == pytest.approx(0.0625)  # 5 folds all better: 2 / 2**5
  assert b["ttest_p"] < 0.01
  assert summary[("a", "f1_weighted")]["wilcoxon_p"] == ""
  assert summary[("a", "f1_weighted")]["sd"] == pytest.approx(np.std(base, ddof=1))


def _argv(config, out, folds=2):
  return [f"--dataset_config_pbtxt={config}", "--backbones=tiny,small", "--baseline=tiny",
          f"--folds={folds}", "--steps_per_fold=4", f"--experiment_dir={out}", "--config=small",
          "--region_size=100", "--min_gap=10", "--tune_fraction=0.2",
          "--config.batch_size=8", "--config.warmup_steps=0", "--config.steps_per_iter=2",
          "--config.log_every_steps=4", "--config.checkpoint_every_steps=4"]


def test_cli_smoke_two_folds_resumes_and_refuses_other_settings(tmp_path, capsys):
  config = data.write_dataset(str(tmp_path / "d"), "all", 60, shape=(40, 45, 7), seed=3)
  out = str(tmp_path / "study")
  assert study.main(_argv(config, out)) == 0
  with open(os.path.join(out, study.STUDY_CSV)) as f:
    rows = list(csv.DictReader(f))
  assert [(r["backbone"], r["fold"]) for r in rows] == [
      ("tiny", "0"), ("tiny", "1"), ("small", "0"), ("small", "1")]
  plan = json.load(open(os.path.join(out, "folds", "plan.json")))
  assert sum(plan["examples_per_fold"]) == 60 and plan["folds"] == 2
  # every example held out exactly once, scored by each backbone
  for name in ("tiny", "small"):
    assert sum(float(r["num_examples"]) for r in rows if r["backbone"] == name) == 60
  assert all(0.0 <= float(r["f1_weighted"]) <= 1.0 for r in rows)
  with open(os.path.join(out, study.SUMMARY_CSV)) as f:
    summary = list(csv.DictReader(f))
  assert {(r["backbone"], r["metric"]) for r in summary} >= {("small", "f1_weighted"),
                                                              ("tiny", "auc_het")}
  assert os.path.getsize(os.path.join(out, study.FIGURE)) > 1000
  capsys.readouterr()
  # A rerun finds every row done: nothing trains again, same table.
  before = open(os.path.join(out, study.STUDY_CSV)).read()
  assert study.main(_argv(config, out)) == 0
  assert open(os.path.join(out, study.STUDY_CSV)).read() == before
  assert "fold 0: weighted F1" not in capsys.readouterr().out
  # Other settings in the same directory would mix rows that do not compare.
  with pytest.raises(SystemExit) as e:
    study.main(_argv(config, out, folds=3))
  assert e.value.code == 2
  assert "holds a study with other folds" in capsys.readouterr().err


@pytest.mark.parametrize("change,message", [
    ({"--backbones": "tiny,resnet9000"}, r"--backbones=tiny,resnet9000: unknown \['resnet9000'\]"),
    ({"--baseline": "inception_v3"}, r"--baseline=inception_v3: not one of --backbones"),
    ({"--folds": "9"}, r"--folds=9: the examples form only \d+ separate regions"),
])
def test_bad_study_flags_are_one_line_and_exit_2(tmp_path, capsys, change, message):
  config = data.write_dataset(str(tmp_path / "d"), "all", 12, shape=(40, 45, 7), seed=3)
  argv = [a for a in _argv(config, str(tmp_path / "s")) if a.split("=")[0] not in change]
  argv += [f"{k}={v}" for k, v in change.items()]
  with pytest.raises(SystemExit) as e:
    study.main(argv)
  assert e.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and re.search(message, err[0]), err
