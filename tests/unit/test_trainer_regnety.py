"""RegNetY in the registry: the CPU-size one (split grouped convs) trains, selects, exports to
DeepVariant's checkpoint layout, restores and warm-starts like every backbone; the GPU-size one
builds with keras' own grouped convolutions."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from trainer import calibration
from trainer import checkpoints as ckpt_lib
from trainer import configs
from trainer import grouped_conv
from trainer import loop
from trainer import models
from tests.unit import test_trainer_small as small

SHAPE = small.SHAPE


def _cfg(train, tune, **overrides):
  return small._cfg(train, tune, model_type="regnety_002", **overrides)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
  d = str(tmp_path_factory.mktemp("regnety_sets"))
  labels = [0] * 8 + [1] * 20 + [2] * 12
  sets = (small.data.write_dataset(d, "train", 40, shape=SHAPE, seed=1, labels=labels),
          small.data.write_dataset(d, "tune", 16, shape=SHAPE, seed=2))
  exp = str(tmp_path_factory.mktemp("regnety_base"))
  result = loop.Experiment(_cfg(*sets), exp, log=lambda line: None).run()
  return sets, exp, result


def test_cpu_regnety_uses_split_group_convs():
  bundle = models.build_model("regnety_002", (100, 221, 7))
  split = [l for l in bundle.model.layers if isinstance(l, grouped_conv.SplitGroupConv2D)]
  assert len(split) == 13 and all(l.groups > 1 for l in split)
  assert not any(type(l) is tf_keras.layers.Conv2D and l.groups > 1
                 for l in bundle.model.layers)
  decayed = {id(k) for k in bundle.decay_kernels}
  assert all(id(l.kernel) in decayed for l in split)  # weight decay reaches them
  weights = sum(int(np.prod(w.shape)) for w in bundle.model.trainable_weights)
  assert 2_700_000 < weights < 2_900_000, weights


def test_gpu_regnety_keeps_keras_grouped_convs():
  bundle = models.build_model("regnety_032", (32, 32, 7))
  assert any(type(l) is tf_keras.layers.Conv2D and l.groups > 1 for l in bundle.model.layers)
  assert not any(isinstance(l, grouped_conv.SplitGroupConv2D) for l in bundle.model.layers)


def test_trains_exports_to_deepvariant_layout_and_restores(base):
  _, exp, result = base
  assert result.final_step == 10 and result.best_step > 0
  with open(os.path.join(exp, loop.BEST_CHECKPOINT_JSON)) as f:
    best = json.load(f)
  with open(os.path.join(exp, loop.CALIBRATION_JSON)) as f:
    temperature = json.load(f)["temperature"]
  images = np.random.default_rng(0).uniform(-1, 1, (3, *SHAPE)).astype(np.float32)
  restored = models.build_model("regnety_002", SHAPE).model
  tf.train.Checkpoint(model=restored).restore(best["checkpoint"]).expect_partial()
  expected = calibration.scale(restored(images, training=False).numpy(), temperature)
  dv = models.build_model("regnety_002", SHAPE).model
  dv.load_weights(os.path.join(exp, "export", "deepvariant", ckpt_lib.DV_CHECKPOINT_NAME))
  np.testing.assert_allclose(dv(images, training=False).numpy(), expected, atol=1e-4)
  saved = tf.saved_model.load(os.path.join(exp, "export", "saved_model"))
  got = list(saved.signatures.values())[0](tf.constant(images))
  np.testing.assert_allclose(list(got.values())[0].numpy(), expected, atol=1e-4)


@pytest.mark.parametrize("mode", configs.FINE_TUNE_MODES)
def test_warm_starts_in_every_fine_tune_mode(base, tmp_path, mode):
  sets, exp, _ = base
  with open(os.path.join(exp, loop.BEST_CHECKPOINT_JSON)) as f:
    init = json.load(f)["checkpoint"]
  result = loop.Experiment(_cfg(*sets, init_checkpoint=init, fine_tune_mode=mode, num_epochs=1),
                           str(tmp_path), log=lambda line: None).run()
  assert result.final_step == 5 and result.tunes[0]["step"] == 0
  assert os.path.exists(os.path.join(str(tmp_path), "export", "saved_model", "saved_model.pb"))
