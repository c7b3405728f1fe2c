"""trainer.sweep: the grid, the overfitting guard by hand, and a resumable CLI run on tiny data."""
import csv
import json
import os

import pytest

from trainer import loop
from trainer import sweep
from trainer import sweep_rules
from tests.unit import test_trainer_data as data
from tests.unit import test_trainer_small as small


def test_grid_and_guard_by_hand():
  trials = sweep_rules.grid([1e-3, 1e-4], [2], ["whole", "frozen_backbone_new_head"])
  assert [t.name for t in trials] == ["lr0.001-ep2-whole", "lr0.001-ep2-frozen_backbone_new_head",
                                      "lr0.0001-ep2-whole",
                                      "lr0.0001-ep2-frozen_backbone_new_head"]
  # The calling tune's recall wins over the example-level one when both are there.
  base = {"tune/calling_recall_snp": 0.95, "tune/calling_recall_indel": 0.731,
          "tune/snp/recall": 0.5, "tune/indel/recall": 0.5}
  best = {"tune/calling_recall_snp": 0.96, "tune/calling_recall_indel": 0.585,
          "tune/snp/recall": 0.1, "tune/indel/recall": 0.1}
  drops = sweep_rules.recall_drops(base, best)  # the PacBio RNA study's indel recall drop
  assert drops == pytest.approx({"snp": -0.01, "indel": 0.146})
  assert sweep_rules.flagged(drops, 0.02) == ["indel"]
  assert sweep_rules.flagged(drops, 0.2) == []
  assert sweep_rules.recall_keys({"tune/snp/recall": 1}) == {"snp": "tune/snp/recall",
                                                             "indel": "tune/indel/recall"}
  rows = [{"trial": "a", "flagged": True, "m": 0.99}, {"trial": "b", "flagged": False, "m": 0.9},
          {"trial": "c", "flagged": False, "m": 0.95}]
  assert sweep_rules.choose(rows, "m", True, require_no_drop=True)["trial"] == "c"
  assert sweep_rules.choose(rows, "m", True, require_no_drop=False)["trial"] == "a"
  assert sweep_rules.choose(rows, "m", False, require_no_drop=True)["trial"] == "b"  # a loss
  assert sweep_rules.choose(rows[:1], "m", True, require_no_drop=True) is None


@pytest.fixture(scope="module")
def base(tmp_path_factory):
  d = str(tmp_path_factory.mktemp("sweep_sets"))
  sets = (data.write_dataset(d, "train", 40, shape=small.SHAPE, seed=1),
          data.write_dataset(d, "tune", 16, shape=small.SHAPE, seed=2))
  exp = str(tmp_path_factory.mktemp("sweep_base"))
  loop.Experiment(small._cfg(*sets, class_weights=""), exp,
                  log=lambda line: None).run()
  with open(os.path.join(exp, loop.BEST_CHECKPOINT_JSON)) as f:
    return sets, json.load(f)["checkpoint"]


def _argv(sets, init, out, *extra):
  return [f"--experiment_dir={out}", "--config=small",
          f"--config.train_dataset_pbtxt={sets[0]}", f"--config.tune_dataset_pbtxt={sets[1]}",
          f"--config.init_checkpoint={init}", "--config.batch_size=8",
          "--config.warmup_steps=0", "--config.steps_per_iter=2", "--config.log_every_steps=4",
          "--config.checkpoint_every_steps=4", "--learning_rates=0.01,0.001", "--epochs=2",
          "--fine_tune_modes=whole", *extra]


def test_cli_writes_rows_chooses_resumes_and_flags(base, tmp_path, capsys):
  sets, init = base
  out = str(tmp_path / "sweep")
  assert sweep.main(_argv(sets, init, out)) == 0
  with open(os.path.join(out, sweep.SWEEP_CSV)) as f:
    rows = list(csv.DictReader(f))
  assert [r["trial"] for r in rows] == ["lr0.01-ep2-whole", "lr0.001-ep2-whole"]
  assert all(r["metric"] == "tune/f1_weighted" and r["base_value"] for r in rows)
  for r in rows:  # the guard's figures: the drop is base minus selected recall
    for t in ("snp", "indel"):
      assert float(r[f"drop_{t}"]) == pytest.approx(
          float(r[f"base_recall_{t}"]) - float(r[f"recall_{t}"]), abs=1e-5)
  choice = json.load(open(os.path.join(out, sweep.CHOICE_JSON)))
  unflagged = [r for r in rows if r["flagged"] == "False"]
  assert choice["chosen"] == max(unflagged, key=lambda r: float(r["value"]))["trial"]
  assert os.path.exists(os.path.join(choice["model"], "saved_model.pb"))
  capsys.readouterr()
  assert sweep.main(_argv(sets, init, out)) == 0  # resumed: nothing trains again
  assert "(base) ->" not in capsys.readouterr().out
  # A guard no trial can pass (recall must rise by 1.0): every trial flagged, none chosen.
  strict = str(tmp_path / "strict")
  assert sweep.main(_argv(sets, init, strict, "--max_recall_drop=-1")) == 0
  choice = json.load(open(os.path.join(strict, sweep.CHOICE_JSON)))
  assert choice["chosen"] is None and len(choice["flagged"]) == 2
  assert "no trial chosen" in capsys.readouterr().out


def test_a_sweep_needs_a_base_model_and_known_modes(base, tmp_path, capsys):
  sets, init = base
  argv = [a for a in _argv(sets, init, str(tmp_path / "s")) if "init_checkpoint" not in a]
  with pytest.raises(SystemExit) as e:
    sweep.main(argv)
  assert e.value.code == 2
  assert "--config.init_checkpoint: a fine-tuning sweep starts from a base model" in \
      capsys.readouterr().err
  with pytest.raises(SystemExit) as e:
    sweep.main(_argv(sets, init, str(tmp_path / "t"), "--fine_tune_modes=whole,frozen"))
  assert e.value.code == 2
  assert "--fine_tune_modes=whole,frozen: unknown ['frozen']" in capsys.readouterr().err
