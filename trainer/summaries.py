"""TensorBoard scalars and images written with core TensorFlow only.

Why: ``tf.summary.scalar`` / ``tf.summary.image`` live in the ``tensorboard`` package, which
tensorflow 2.21 no longer installs and the trainer extra does not need for anything else. The
event format is simple: ``tf.summary.write`` with the plugin metadata TensorBoard's scalars and
images plugins look for produces the same records, readable by any TensorBoard.
"""
from __future__ import annotations

import tensorflow as tf

_SCALARS = "scalars"
_IMAGES = "images"


def _metadata(plugin: str) -> bytes:
  meta = tf.compat.v1.SummaryMetadata()
  meta.plugin_data.plugin_name = plugin
  return meta.SerializeToString()


def scalar(name: str, value, step: int) -> None:
  """One scalar in the scalars plugin's format (float32 rank-0 tensor)."""
  tf.summary.write(name, tf.cast(value, tf.float32), step=step, metadata=_metadata(_SCALARS))


def image(name: str, images: tf.Tensor, step: int, max_outputs: int = 3) -> None:
  """Images [N, H, W, 1|3] with values in [0, 1], as the images plugin stores them.

  The tensor is ``[width, height, png_0, png_1, ...]`` (strings), TensorBoard's layout.
  """
  images = images[:max_outputs]
  pixels = tf.cast(tf.clip_by_value(images, 0.0, 1.0) * 255.0 + 0.5, tf.uint8)
  pngs = tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.string)
  shape = tf.shape(images)
  dims = tf.stack([tf.strings.as_string(shape[2]), tf.strings.as_string(shape[1])])
  tf.summary.write(name, tf.concat([dims, pngs], axis=0), step=step,
                   metadata=_metadata(_IMAGES))
