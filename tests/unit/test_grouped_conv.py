"""SplitGroupConv2D computes what tf_keras' grouped Conv2D computes, gradients included."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from trainer import grouped_conv


@pytest.mark.parametrize("filters,groups,strides,use_bias", [
    (24, 3, 1, False), (56, 7, 2, False), (12, 4, 2, True)])
def test_equals_the_keras_grouped_conv(filters, groups, strides, use_bias):
  rng = np.random.default_rng(0)
  x = tf.constant(rng.normal(size=(2, 11, 17, 2 * groups * 4)).astype(np.float32))
  keras_layer = tf_keras.layers.Conv2D(filters, 3, strides, padding="same", groups=groups,
                                       use_bias=use_bias)
  ours = grouped_conv.SplitGroupConv2D.from_config(keras_layer.get_config())
  keras_layer.build(x.shape)
  ours.build(x.shape)
  assert [w.shape for w in ours.weights] == [w.shape for w in keras_layer.weights]
  ours.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in keras_layer.weights])
  keras_layer.set_weights(ours.get_weights())
  grads = []
  for layer in (keras_layer, ours):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x)
      loss = tf.reduce_sum(y * tf.cos(y))
    grads.append((y.numpy(), *[g.numpy() for g in tape.gradient(loss, [x, *layer.weights])]))
  for a, b in zip(*grads):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
  assert grads[0][0].shape == (2, -(-11 // strides), -(-17 // strides), filters)


def test_regnet_gets_split_convs_with_the_same_names_and_weights_shapes():
  model = tf_keras.applications.RegNetY002(include_top=False, weights=None,
                                           input_shape=(64, 64, 7), pooling="avg",
                                           include_preprocessing=False)
  split = grouped_conv.with_split_group_convs(model)
  grouped = [l.name for l in model.layers
             if isinstance(l, tf_keras.layers.Conv2D) and l.groups > 1]
  assert len(grouped) == 13
  assert [l.name for l in split.layers if isinstance(l, grouped_conv.SplitGroupConv2D)] == grouped
  assert [w.shape for w in split.weights] == [w.shape for w in model.weights]
  split.set_weights(model.get_weights())
  x = np.random.default_rng(1).normal(size=(2, 64, 64, 7)).astype(np.float32)
  np.testing.assert_allclose(split(x, training=False).numpy(), model(x, training=False).numpy(),
                             rtol=1e-4, atol=1e-4)
