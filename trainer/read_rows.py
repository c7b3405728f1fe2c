"""The candidate's reads one by one: a full-resolution branch over the image's centre columns.

Why: a pileup is a stack of read rows, and a genotype is a question about *fractions* of those
rows (how many reads carry the alt among the reads that cover the site). A conv trunk that
downsamples rows 16x and averages over the whole image sees counts mixed with empty rows and
with the 5 reference rows, so at low coverage it reads "few alt rows" as "het". Measured on ART
2x150 reads at 7.5x (bench/RESULTS.md "Case study: the read-row branch"; 3 Mbp training
contig, 1 Mbp held out): the trunk-only ``small`` called 16 of 431 hom-alt sites het, most
with 3-5 alt reads and no ref read, an error a pileup viewer would never make; its labelled
7.5x confusion had 144 errors in 4,452.

This branch keeps the rows: the candidate's column and its two neighbours (an insertion is
drawn at its anchor base, a deletion starts one column right) at full row resolution, two
per-row convolutions (1x3 then 1x1, ReLU), and three poolings over rows:

* the mean (a count: depth matters for a genotype call),
* the max (is any read of this kind present: a ref read at a hom-alt-looking site),
* ``GatedRowMean``: the mean over the rows a learned gate calls occupied, i.e. the fraction of
  covering reads with each per-row feature, the same at 7.5x as at 30x.

With the branch, the same data, seed and steps gave 111 errors in 4,452 (hom-alt called het:
16 -> 7) and, on the held-out contig, 7.5x SNP F1 0.9162 -> 0.9395 and INDEL 0.9120 -> 0.9287
(bcftools call on the same reads: 0.9413, 0.9163); at 30x SNP 0.9990 -> 1.0000 and INDEL
1.0000 -> 0.9956 (one genotype error, as bcftools there). It costs ~1.8k
weights; on 2 cores (bench/backbones.py, same run) training went 723 -> 671 examples/s and
inference 1,969 -> 2,153 (noise).
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras

ROW_FEATURES = 32
CENTRE_COLUMNS = 3


@tf_keras.utils.register_keras_serializable(package="pileflow")
class GatedRowMean(tf_keras.layers.Layer):
  """``sum(features * gate) / (sum(gate) + 1)`` over height and width, per feature channel.

  Inputs ``[features [B, H, W, F], gate [B, H, W, 1]]`` (gate in [0, 1]); output ``[B, F]``.
  The ``+ 1`` is one empty pseudo-row: a column no read covers pools to ~0 instead of 0/0.
  No weights, so it does not change the positional checkpoint layout's numbering.
  """

  def call(self, inputs):
    features, gate = inputs
    total = tf.reduce_sum(features * gate, axis=[1, 2])
    return total / (tf.reduce_sum(gate, axis=[1, 2]) + 1.0)


def centre_crop(width: int):
  """(left, right) columns to crop so that ``CENTRE_COLUMNS`` around the candidate remain.

  The candidate is column ``(width - 1) // 2`` (DeepVariant's layout)."""
  centre = (int(width) - 1) // 2
  left = centre - CENTRE_COLUMNS // 2
  return left, int(width) - left - CENTRE_COLUMNS


def read_row_features(inputs, name: str):
  """The branch of the module docstring over ``inputs`` [B, H, W, C]; returns [B, 3 * F]."""
  layers = tf_keras.layers
  rows = layers.Cropping2D(((0, 0), centre_crop(inputs.shape[2])), name=f"{name}_crop")(inputs)
  x = layers.Conv2D(ROW_FEATURES, (1, CENTRE_COLUMNS), activation="relu",
                    name=f"{name}_conv_a")(rows)
  x = layers.Conv2D(ROW_FEATURES, 1, activation="relu", name=f"{name}_conv_b")(x)
  gate = layers.Conv2D(1, (1, CENTRE_COLUMNS), activation="sigmoid", name=f"{name}_gate")(rows)
  return layers.Concatenate(name=f"{name}_concat")([
      layers.GlobalAveragePooling2D(name=f"{name}_mean")(x),
      layers.GlobalMaxPooling2D(name=f"{name}_max")(x),
      GatedRowMean(name=f"{name}_gated_mean")([x, gate])])
