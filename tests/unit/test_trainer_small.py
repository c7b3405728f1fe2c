"""The ``small`` CPU backbone and its preset: builds, trains, exports, restores, warm-starts in
every fine-tune mode; balanced class weights follow the training set's counts."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from trainer import calibration
from trainer import checkpoints as ckpt_lib
from trainer import configs
from trainer import loop
from trainer import models
from tests.unit import test_trainer_data as data

SHAPE = (40, 45, 7)  # small enough for seconds on 2 cores; the backbone's floor is 32x32


def _cfg(train, tune, **overrides):
  cfg = configs.get_config("small")
  cfg.train_dataset_pbtxt, cfg.tune_dataset_pbtxt = train, tune
  cfg.batch_size = 8
  cfg.num_epochs = 2
  cfg.warmup_steps = 0
  cfg.steps_per_iter = 2
  cfg.log_every_steps = 4
  cfg.checkpoint_every_steps = 4
  cfg.class_weights = configs.BALANCED  # the preset trains unweighted; this path is tested here
  cfg.update(overrides)
  return cfg


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
  d = str(tmp_path_factory.mktemp("small_sets"))
  labels = [0] * 8 + [1] * 20 + [2] * 12  # hom-ref rare, as in clean data
  return (data.write_dataset(d, "train", 40, shape=SHAPE, seed=1, labels=labels),
          data.write_dataset(d, "tune", 16, shape=SHAPE, seed=2))


@pytest.fixture(scope="module")
def base(sets, tmp_path_factory):
  exp = str(tmp_path_factory.mktemp("small_base"))
  lines = []
  result = loop.Experiment(_cfg(*sets), exp, log=lines.append).run()
  return exp, result, lines


def test_preset_is_the_cpu_recipe():
  cfg = configs.get_config("small")
  assert cfg.model_type == "small" and cfg.class_weights == ""
  assert cfg.use_ema and cfg.early_stopping_patience > 0 and cfg.label_smoothing == 0.0
  configs.validate(_cfg("a.pbtxt", "b.pbtxt"))


def test_backbone_is_a_residual_cnn_of_about_200k_weights():
  bundle = models.build_model("small", (100, 221, 7))
  weights = sum(int(np.prod(w.shape)) for w in bundle.model.trainable_weights)
  assert 150_000 < weights < 400_000, weights
  kinds = [type(l).__name__ for l in bundle.model.layers]
  assert kinds.count("Conv2D") == 8 and kinds.count("BatchNormalization") == 5  # 3 per-row
  assert "Add" in kinds  # the residual block
  assert bundle.model.get_layer("small_res_add").output_shape == (None, 7, 14, 96)
  # the candidate's column (110 of 221 -> 6 of 14) pooled beside the whole map
  assert bundle.model.get_layer("small_centre_crop").output_shape == (None, 7, 1, 96)
  # ... and the read-row branch: 3 centre columns at full row resolution, 3 poolings of 32
  assert bundle.model.get_layer("small_rows_crop").output_shape == (None, 100, 3, 7)
  assert bundle.model.get_layer("small_rows_concat").output_shape == (None, 96)
  assert bundle.model.get_layer("small_pool_concat").output_shape == (None, 192 + 96)
  first = [w for w in models.weighted_layers(bundle.model)[0].weights if w.shape.rank == 4][0]
  assert first.shape[2] == 7
  with pytest.raises(ValueError, match="at least 32x32"):
    models.build_model("small", (20, 221, 7))


def test_balanced_weights_follow_the_counts():
  assert configs.balanced_class_weights({0: 8, 1: 20, 2: 12}) == pytest.approx(
      (40 / 24, 40 / 60, 40 / 36))
  # the weight averaged over examples is 1; an empty class gets 1; a tiny one is capped
  w = configs.balanced_class_weights({0: 8, 1: 20, 2: 12})
  assert (8 * w[0] + 20 * w[1] + 12 * w[2]) / 40 == pytest.approx(1.0)
  assert configs.balanced_class_weights({0: 0, 1: 5, 2: 5}) == (1.0, 1.0, 1.0)
  assert configs.balanced_class_weights({0: 1, 1: 500, 2: 499})[0] == 10.0
  assert configs.resolve_class_weights("1,2,3", {}) == (1.0, 2.0, 3.0)
  assert configs.resolve_class_weights("", {0: 1}) is None
  with pytest.raises(ValueError, match="balanced"):
    configs.parse_class_weights("balance")


def test_trains_selects_exports_and_restores(base, sets):
  exp, result, lines = base
  assert result.final_step == 10 and result.best_step > 0
  assert any("class weights (balanced" in l and "0=1.667" in l for l in lines), lines
  with open(os.path.join(exp, loop.BEST_CHECKPOINT_JSON)) as f:
    best = json.load(f)
  # The exported SavedModel and the DeepVariant-layout checkpoint give the best checkpoint's
  # (EMA) predictions.
  images = np.random.default_rng(0).uniform(-1, 1, (3, *SHAPE)).astype(np.float32)
  restored = models.build_model("small", SHAPE).model
  tf.train.Checkpoint(model=restored).restore(best["checkpoint"]).expect_partial()
  # The exports carry the tune-set temperature folded into the head (calibration.json).
  with open(os.path.join(exp, loop.CALIBRATION_JSON)) as f:
    record = json.load(f)
  assert 0.125 <= record["temperature"] <= 8 and record["nll_after"] <= record["nll_before"]
  assert any("calibration on 16 tune examples" in l for l in lines)
  expected = calibration.scale(restored(images, training=False).numpy(),
                               record["temperature"])
  saved = tf.saved_model.load(os.path.join(exp, "export", "saved_model"))
  got = list(saved.signatures.values())[0](tf.constant(images))
  np.testing.assert_allclose(list(got.values())[0].numpy(), expected, atol=1e-4)
  dv = models.build_model("small", SHAPE).model
  dv.load_weights(os.path.join(exp, "export", "deepvariant", ckpt_lib.DV_CHECKPOINT_NAME))
  np.testing.assert_allclose(dv(images, training=False).numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("mode", configs.FINE_TUNE_MODES)
def test_warm_starts_in_every_fine_tune_mode(base, sets, tmp_path, mode):
  exp, _, _ = base
  with open(os.path.join(exp, loop.BEST_CHECKPOINT_JSON)) as f:
    init = json.load(f)["checkpoint"]
  lines = []
  result = loop.Experiment(_cfg(*sets, init_checkpoint=init, fine_tune_mode=mode,
                                num_epochs=1), str(tmp_path), log=lines.append).run()
  assert result.final_step == 5
  assert result.tunes[0]["step"] == 0  # the warm-start baseline is tuned first
  assert os.path.exists(os.path.join(str(tmp_path), "export", "saved_model", "saved_model.pb"))
