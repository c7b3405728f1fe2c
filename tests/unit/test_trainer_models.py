"""Model registry: every backbone builds for any channel count; head and fine-tune modes."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from trainer import configs
from trainer import models


@pytest.mark.parametrize("name,shape", [
    ("inception_v3", (100, 221, 7)),      # DeepVariant's backbone, 7 channels (insert_size)
    ("resnet50_v2", (75, 75, 7)),         # the others at a small size: CI has 2 cores
    ("efficientnet_v2_b0", (75, 75, 7)),
    ("convnext_tiny", (75, 75, 7)),
    ("tiny", (20, 21, 9)),                # the test backbone, any channel count
])
def test_backbones_build_and_predict_on_a_batch_of_two(name, shape):
  bundle = models.build_model(name, shape, dropout_rate=0.2)
  probs = bundle.model(np.zeros((2, *shape), np.float32), training=False).numpy()
  assert probs.shape == (2, 3)
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)  # softmax head
  first = [w for w in models.weighted_layers(bundle.model)[0].weights if w.shape.rank == 4][0]
  assert first.shape[2] == shape[2]  # first conv takes every input channel
  assert models.weighted_layers(bundle.model)[-1].name == models.HEAD_NAME
  assert bundle.num_backbone_weighted == len(models.weighted_layers(bundle.model)) - 1


def test_registry_is_one_function(monkeypatch):
  monkeypatch.setattr(models, "_REGISTRY", dict(models._REGISTRY))

  @models.register("flat")
  def flat(input_shape):
    inputs = tf_keras.Input(input_shape)
    return tf_keras.Model(inputs, tf_keras.layers.GlobalAveragePooling2D()(
        tf_keras.layers.Conv2D(4, 3)(inputs)))
  assert "flat" in models.registered()
  assert models.build_model("flat", (10, 11, 6)).model.output_shape == (None, 3)


@pytest.mark.parametrize("mode,trainable_layers", [
    (configs.FINE_TUNE_WHOLE, ["tiny_conv0", "tiny_conv1", "classification"]),
    (configs.FINE_TUNE_FROZEN_NEW_HEAD, ["classification"]),          # backbone frozen
    (configs.FINE_TUNE_FROZEN_HIDDEN_HEAD, ["head_hidden", "classification"]),  # + hidden layer
])
def test_fine_tune_modes(mode, trainable_layers):
  bundle = models.build_model("tiny", (20, 21, 6), fine_tune_mode=mode, head_hidden_units=8)
  assert [l.name for l in models.weighted_layers(bundle.model) if l.trainable] == trainable_layers
  assert len(bundle.decay_kernels) == len(trainable_layers)  # L2 only on trained kernels


@pytest.mark.parametrize("name,shape,message", [
    ("vgg99", (100, 221, 6), "not registered; known: convnext_tiny"),
    ("inception_v3", (50, 221, 6), "at least 75x75"),
])
def test_refusals(name, shape, message):
  with pytest.raises(ValueError, match=message):
    models.build_model(name, shape)
