"""Grouped 2-D convolution that trains at full speed on CPU: split, one conv per group, concat.

Why: RegNet (and ResNeXt) are built of grouped convolutions. tf_keras's ``Conv2D(groups>1)``
runs them through an XLA-jit-compiled op (a workaround in keras' base_conv.py for CPU support,
b/213173659), and on CPU that op, forward and backward, is 60-300x slower than the same
arithmetic as ordinary convolutions. Measured on this project's 2-core machine, batch 64,
RegNetY002's 3x3 grouped convs on [100, 221, 7] pileups, one training step of one layer:
keras 0.74-2.1 s, split form 4-12 ms (bench/RESULTS.md "Backbones"). So a tf_keras RegNetY002
trains at ~2 examples/s on CPU and this one does not.

``SplitGroupConv2D`` is a ``Conv2D`` in everything but the op: same config, same kernel
variable of shape ``[kh, kw, in / groups, filters]`` and bias, so checkpoints, weight decay
(it is a Conv2D to the trainer), warm start and the DeepVariant-layout export treat it as the
keras layer; group ``i`` reads input channels ``[i * in/g, (i+1) * in/g)`` and writes output
channels ``[i * f/g, (i+1) * f/g)``, which is keras' own grouping (held equal in
tests/unit/test_grouped_conv.py, outputs and gradients). On a GPU, cuDNN's grouped kernels are
fast, so the GPU-size RegNetY keeps keras' layer.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras


@tf_keras.utils.register_keras_serializable(package="pileflow")
class SplitGroupConv2D(tf_keras.layers.Conv2D):
  """``Conv2D`` whose grouped convolution is computed group by group (module docstring)."""

  def _jit_compiled_convolution_op(self, inputs, kernel):  # keras calls this when groups > 1
    if self.groups == 1:
      return self.convolution_op(inputs, kernel)
    padding = self.padding.upper()
    parts = zip(tf.split(inputs, self.groups, axis=-1), tf.split(kernel, self.groups, axis=-1))
    return tf.concat([tf.nn.conv2d(x, k, strides=list(self.strides), padding=padding,
                                   dilations=list(self.dilation_rate), data_format="NHWC")
                      for x, k in parts], axis=-1)

  def build(self, input_shape):
    if self.data_format != "channels_last":
      raise ValueError(f"{self.name}: SplitGroupConv2D supports channels_last only")
    super().build(input_shape)


def with_split_group_convs(model: tf_keras.Model) -> tf_keras.Model:
  """A copy of functional ``model`` with every grouped ``Conv2D`` as ``SplitGroupConv2D``
  (same names and configs; fresh weights, as ``weights=None`` backbones have)."""
  def clone(layer):
    if type(layer) is tf_keras.layers.Conv2D and layer.groups > 1:
      return SplitGroupConv2D.from_config(layer.get_config())
    return layer.__class__.from_config(layer.get_config())
  return tf_keras.models.clone_model(model, clone_function=clone)
