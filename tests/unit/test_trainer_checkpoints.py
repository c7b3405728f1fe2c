"""Warm start from DeepVariant-style tf.keras checkpoints and ours; export in DeepVariant's form.

The DeepVariant model is built here independently of trainer.models, the way DeepVariant's
keras_modeling.inceptionv3 builds it (spec 9B), and saved with tf_keras (Keras 2).
"""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from trainer import checkpoints as ckpt
from trainer import configs
from trainer import models

SHAPE = (100, 221, 6)


def deepvariant_inceptionv3(shape):
  backbone = tf_keras.applications.InceptionV3(include_top=False, weights=None,
                                               input_shape=shape, pooling="avg")
  hidden = tf_keras.layers.Dropout(0.2)(backbone.output)
  outputs = tf_keras.layers.Dense(3, activation="softmax", dtype=tf.float32,
                                  name="classification")(hidden)
  return tf_keras.Model(backbone.input, outputs, name="inceptionv3")


def _randomise(model, seed):
  """Non-trivial weights everywhere, including batch-norm statistics (variances positive)."""
  rng = np.random.default_rng(seed)
  for w in model.weights:
    value = rng.normal(0, 0.05, w.shape).astype(np.float32)
    if "moving_variance" in w.name:
      value = np.abs(value) + 0.5
    w.assign(value)


@pytest.fixture(scope="module")
def dv(tmp_path_factory):
  d = tmp_path_factory.mktemp("dv")
  model = deepvariant_inceptionv3(SHAPE)
  _randomise(model, 1)
  keras_prefix = str(d / "model.ckpt")
  model.save_weights(keras_prefix)                       # call_variants' load_weights form
  tf_ckpt = tf.train.Checkpoint(model=model).write(str(d / "train_ckpt"))  # train.py's form
  x = np.random.default_rng(2).uniform(-1, 1, (2, *SHAPE)).astype(np.float32)
  return {"model": model, "keras": keras_prefix, "tf": tf_ckpt, "x": x,
          "probs": model(x, training=False).numpy()}


@pytest.mark.parametrize("form", [
    "keras",  # model.save_weights: keys layer_with_weights-<i>/... (released DeepVariant models)
    "tf",     # tf.train.Checkpoint(model=...): the same keys under model/
])
def test_deepvariant_checkpoint_imports_exactly(dv, form):
  bundle = models.build_model("inception_v3", SHAPE)
  layout = ckpt.warm_start(bundle, dv[form])
  assert layout.num_channels == 6 and layout.scope == ("model/" if form == "tf" else "")
  np.testing.assert_allclose(bundle.model(dv["x"], training=False).numpy(), dv["probs"],
                             atol=1e-5)


def test_channel_adaptation_copies_the_shared_slices(dv):
  bundle = models.build_model("inception_v3", (*SHAPE[:2], 7), seed=5)
  fresh = bundle.model.layers[1].kernel.numpy()  # first conv, glorot-uniform init
  ckpt.warm_start(bundle, dv["keras"], adapt_channels=True)
  kernel = bundle.model.layers[1].kernel.numpy()
  np.testing.assert_array_equal(kernel[:, :, :6], dv["model"].layers[1].kernel.numpy())
  np.testing.assert_array_equal(kernel[:, :, 6], fresh[:, :, 6])  # the new slice stays random
  for ours, theirs in zip(bundle.model.weights[1:], dv["model"].weights[1:]):
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_channel_count_mismatch_needs_adaptation(dv):
  bundle = models.build_model("inception_v3", (*SHAPE[:2], 7))
  with pytest.raises(ckpt.CheckpointError,
                     match=r"first conv has 6 input channels but the data has 7; set "
                           r"--config.adapt_channels=True"):
    ckpt.warm_start(bundle, dv["keras"])


def test_other_architecture_is_refused(dv, tmp_path):
  tiny = models.build_model("tiny", SHAPE)
  tiny.model.save_weights(str(tmp_path / "tiny.ckpt"))
  inception = models.build_model("inception_v3", SHAPE)
  with pytest.raises(ckpt.CheckpointError, match="has 3 weighted layers but model inception_v3"):
    ckpt.warm_start(inception, str(tmp_path / "tiny.ckpt"))
  with pytest.raises(ckpt.CheckpointError, match="layer_with_weights-0 kernel is"):
    ckpt.warm_start(tiny, dv["keras"], load_head=False)


def test_export_loads_into_deepvariant_model(dv, tmp_path):
  bundle = models.build_model("inception_v3", SHAPE)
  ckpt.warm_start(bundle, dv["keras"])
  prefix = ckpt.export_deepvariant_checkpoint(bundle.model, str(tmp_path / "export"), SHAPE,
                                              [1, 2, 3, 4, 5, 6])
  reloaded = deepvariant_inceptionv3(SHAPE)
  reloaded.load_weights(prefix).assert_existing_objects_matched()  # call_variants' call
  np.testing.assert_allclose(reloaded(dv["x"], training=False).numpy(), dv["probs"], atol=1e-5)
  with open(os.path.join(str(tmp_path / "export"), "example_info.json")) as f:
    assert json.load(f) == {"version": "1.5.0", "shape": [100, 221, 6],
                            "channels": [1, 2, 3, 4, 5, 6]}
  assert os.path.exists(prefix + ".example_info.json")  # v1.5's model.ckpt.example_info.json


def test_saved_model_round_trip(tmp_path):
  bundle = models.build_model("tiny", (20, 21, 6))
  _randomise(bundle.model, 3)
  x = np.random.default_rng(4).uniform(-1, 1, (2, 20, 21, 6)).astype(np.float32)
  out = ckpt.export_saved_model(bundle.model, str(tmp_path / "sm"), (20, 21, 6), range(1, 7))
  loaded = tf_keras.models.load_model(out)
  np.testing.assert_allclose(loaded(x, training=False).numpy(),
                             bundle.model(x, training=False).numpy(), atol=1e-6)
  assert os.path.exists(os.path.join(out, "example_info.json"))


def test_new_head_mode_copies_backbone_only(tmp_path):
  source = models.build_model("tiny", (20, 21, 6), seed=1)
  _randomise(source.model, 6)
  source.model.save_weights(str(tmp_path / "s.ckpt"))
  target = models.build_model("tiny", (20, 21, 6), seed=2, head_hidden_units=8,
                              fine_tune_mode=configs.FINE_TUNE_FROZEN_HIDDEN_HEAD)
  ckpt.warm_start(target, str(tmp_path / "s.ckpt"), load_head=False)
  src, tgt = models.weighted_layers(source.model), models.weighted_layers(target.model)
  for a, b in zip(src[:2], tgt[:2]):
    np.testing.assert_array_equal(a.kernel.numpy(), b.kernel.numpy())  # backbone copied
  assert tgt[2].name == "head_hidden" and tgt[3].kernel.shape == (8, 3)  # new head kept
