"""The train/tune loop on small synthetic data: selection, early stopping, warm start, modes."""
import json
import os

import numpy as np
import pytest
import tf_keras

from trainer import configs
from trainer import input_pipeline as inp
from trainer import loop
from trainer import models
from tests.unit import test_trainer_data as data


def _cfg(train, tune, **overrides):
  cfg = configs.get_config("tiny")
  cfg.train_dataset_pbtxt, cfg.tune_dataset_pbtxt = train, tune
  cfg.tune_every_steps = 6
  cfg.log_every_steps = 6
  cfg.checkpoint_every_steps = 6
  cfg.update(overrides)
  return cfg


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
  d = str(tmp_path_factory.mktemp("sets"))
  return (data.write_dataset(d, "train", 96, seed=1, shards=3),
          data.write_dataset(d, "tune", 48, seed=2, shards=2))


@pytest.fixture(scope="module")
def trained(sets, tmp_path_factory):
  exp = str(tmp_path_factory.mktemp("exp"))
  lines = []
  result = loop.Experiment(_cfg(*sets, num_epochs=3), exp, log=lines.append).run()
  return exp, result, lines


def test_selects_the_best_tune_and_exports(trained):
  exp, result, _ = trained
  assert result.final_step == 36 and [t["step"] for t in result.tunes] == [6, 12, 18, 24, 30, 36]
  values = [t["tune/f1_weighted"] for t in result.tunes]
  assert result.best_step == result.tunes[int(np.argmax(values))]["step"]  # first maximum
  with open(os.path.join(exp, loop.BEST_CHECKPOINT_JSON)) as f:
    best = json.load(f)
  assert best["step"] == result.best_step and best["value"] == pytest.approx(max(values))
  assert best["checkpoint"].endswith(f"checkpoints/ckpt-{result.best_step}")
  for key in ("tune/f1_macro", "tune/recall_het", "tune/snp/f1_weighted",
              "tune/indel/categorical_accuracy", "tune/loss"):
    assert key in best["metrics"]
  assert os.path.exists(os.path.join(exp, "export", "saved_model", "saved_model.pb"))
  assert os.path.exists(os.path.join(exp, "export", "deepvariant", "model.ckpt.index"))
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(exp))
  with open(os.path.join(exp, "config.json")) as f:
    assert json.load(f)["num_epochs"] == 3  # resolved config saved


def test_learns_the_synthetic_signal(trained):
  _, result, lines = trained
  first, best = result.tunes[0], max(result.tunes, key=lambda t: t["tune/f1_weighted"])
  assert best["tune/categorical_accuracy"] > 0.6  # 3 balanced classes: chance is ~0.33
  assert best["tune/loss"] < first["tune/loss"]
  assert any("examples/s" in line for line in lines)  # progress line


def test_early_stopping_stops(sets, tmp_path):
  # A learning rate of 1e-12 freezes the metric: tunes 2 and 3 do not improve (ties) -> stop.
  cfg = _cfg(*sets, num_epochs=5, learning_rate=1e-12, early_stopping_patience=1)
  result = loop.Experiment(cfg, str(tmp_path)).run()
  assert result.stopped_early and result.final_step == 18 and result.best_step == 6


def test_warm_start_baseline_kept_when_never_beaten(trained, sets, tmp_path):
  exp, first, _ = trained
  init = os.path.join(exp, "export", "deepvariant", "model.ckpt")
  lines = []
  cfg = _cfg(*sets, num_epochs=1, learning_rate=1e-12, init_checkpoint=init)
  result = loop.Experiment(cfg, str(tmp_path), log=lines.append).run()
  assert result.tunes[0]["step"] == 0  # the starting model is tuned first
  assert result.tunes[0]["tune/f1_weighted"] == pytest.approx(first.best_value)  # same model
  assert result.best_is_baseline and result.best_step == 0
  with open(os.path.join(str(tmp_path), loop.BEST_CHECKPOINT_JSON)) as f:
    assert json.load(f)["baseline"] is True
  assert any("never beat the warm-start baseline" in line for line in lines)


def test_frozen_backbone_trains_the_head_only(trained, sets, tmp_path):
  exp, _, _ = trained
  init = os.path.join(exp, "export", "deepvariant", "model.ckpt")
  cfg = _cfg(*sets, num_epochs=1, init_checkpoint=init,
             fine_tune_mode=configs.FINE_TUNE_FROZEN_NEW_HEAD)
  experiment = loop.Experiment(cfg, str(tmp_path))
  experiment.run()
  source = models.build_model("tiny", (20, 21, 6))
  source.model.load_weights(init)
  layers = models.weighted_layers(experiment.model)
  np.testing.assert_array_equal(layers[0].kernel.numpy(),
                                models.weighted_layers(source.model)[0].kernel.numpy())
  assert not np.array_equal(layers[-1].kernel.numpy(),
                            models.weighted_layers(source.model)[-1].kernel.numpy())


def test_checkpoint_of_other_channels_refused_before_step_0(trained, tmp_path):
  exp, _, _ = trained
  d = str(tmp_path)
  train = data.write_dataset(d, "tr", 16, channels=[1, 2, 3, 4, 5, 19])
  tune = data.write_dataset(d, "tu", 8, channels=[1, 2, 3, 4, 5, 19])
  cfg = _cfg(train, tune, init_checkpoint=os.path.join(exp, "export", "deepvariant",
                                                       "model.ckpt"))
  with pytest.raises(inp.InputError, match=r"expected channels \[1\.\.6\] found "
                                           r"\[1\.\.5, 19 insert_size\]"):
    loop.Experiment(cfg, os.path.join(d, "exp")).run()


def test_train_and_tune_layouts_must_agree(tmp_path):
  d = str(tmp_path)
  train = data.write_dataset(d, "tr", 16)
  tune = data.write_dataset(d, "tu", 8, shape=(20, 21, 7))
  with pytest.raises(inp.InputError, match=r"tune examples have shape \[20, 21, 7\]"):
    loop.Experiment(_cfg(train, tune), os.path.join(d, "exp")).run()


@pytest.mark.parametrize("overrides", [
    dict(use_ema=True, ema_momentum=0.9, optimizer="sgd", learning_rate=0.05, warmup_steps=4),
    dict(mixed_precision="mixed_float16", weight_decay=1e-4, class_weights="1,2,1",
         optimizer="rmsprop", label_smoothing=0.1),   # loss scaling + L2 + weights
    dict(optimizer="adamw", optimizer_weight_decay=0.01, use_ema=True,
         fine_tune_mode=configs.FINE_TUNE_WHOLE),
])
def test_optimizer_options_train(sets, tmp_path, overrides):
  experiment = loop.Experiment(_cfg(*sets, num_epochs=1, **overrides), str(tmp_path))
  try:
    result = experiment.run()
  finally:
    tf_keras.mixed_precision.set_global_policy("float32")  # the policy is process-global
  assert result.final_step == 12 and np.isfinite(result.tunes[-1]["tune/loss"])
  if overrides.get("use_ema"):
    # Tuned and exported weights are the moving averages, not the raw weights.
    raw = models.weighted_layers(experiment.model)[0].kernel.numpy()
    ema = models.weighted_layers(experiment.eval_model)[0].kernel.numpy()
    assert not np.allclose(raw, ema)
