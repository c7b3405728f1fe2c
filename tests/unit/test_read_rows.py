"""The read-row branch of the ``small`` backbone: which columns it sees and what its gated
mean computes (a fraction of covering reads, whatever the coverage)."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from trainer import read_rows


def test_crop_keeps_the_candidate_column_and_its_neighbours():
  assert read_rows.centre_crop(221) == (109, 109)  # columns 109, 110 (the candidate), 111
  assert read_rows.centre_crop(45) == (21, 21)
  image = np.zeros((1, 4, 221, 1), np.float32)
  image[0, :, 109:112, 0] = [1.0, 2.0, 3.0]
  crop = tf_keras.layers.Cropping2D(((0, 0), read_rows.centre_crop(221)))(image).numpy()
  assert crop[0, :, :, 0].tolist() == [[1.0, 2.0, 3.0]] * 4


def test_gated_mean_is_the_fraction_of_gated_rows():
  features = np.array([1.0, 3.0, 0.0, 7.0], np.float32).reshape(1, 4, 1, 1)
  gate = np.array([1.0, 1.0, 0.0, 0.0], np.float32).reshape(1, 4, 1, 1)
  out = read_rows.GatedRowMean()([features, gate]).numpy()
  assert out.shape == (1, 1) and float(out[0, 0]) == pytest.approx(4.0 / 3.0)  # ungated rows drop


def test_gated_mean_tracks_the_alt_fraction_at_any_depth():
  # half the covering reads carry the feature; the rest of the 100 rows are empty
  def pooled(depth):
    f = np.zeros((1, 100, 1, 1), np.float32)
    g = np.zeros((1, 100, 1, 1), np.float32)
    g[0, :depth] = 1.0
    f[0, :depth:2] = 1.0
    return float(read_rows.GatedRowMean()([f, g]).numpy()[0, 0])
  assert pooled(8) == pytest.approx(4 / 9)
  assert pooled(60) == pytest.approx(30 / 61)
  # the plain mean over rows would differ 7.5x between these depths
  assert abs(pooled(8) - pooled(60)) < 0.06


def test_branch_output_and_serialization(tmp_path):
  inputs = tf_keras.Input((40, 45, 7))
  model = tf_keras.Model(inputs, read_rows.read_row_features(inputs, "rows"))
  assert model.output_shape == (None, 3 * read_rows.ROW_FEATURES)
  x = np.random.default_rng(1).uniform(-1, 1, (2, 40, 45, 7)).astype(np.float32)
  path = str(tmp_path / "m.keras")
  model.save(path)
  restored = tf_keras.models.load_model(path)
  np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), rtol=1e-6)
