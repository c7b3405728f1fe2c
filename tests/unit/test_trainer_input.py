"""tf.data input: preprocessing values, sharded configs, resume position and bad-input lines."""
import gzip
import os

import numpy as np
import pytest
import tensorflow as tf

from schemas import dataset_config
from schemas import example_format as ef
from trainer import input_pipeline as inp
from tests.unit import test_trainer_data as data


def test_inspect_sharded_dataset(tmp_path):
  config = data.write_dataset(str(tmp_path), "d", 10, shards=3, channels=[1, 2, 3, 4, 5, 19],
                              shape=(20, 21, 6))
  info = inp.inspect_dataset(config)
  assert [os.path.basename(f) for f in info.files] == [
      f"d.tfrecord-0000{k}-of-00003.gz" for k in range(3)]  # @3 spec relative to the config
  assert info.shape == (20, 21, 6) and info.channels == (1, 2, 3, 4, 5, 19) and info.gzip


def test_preprocessing_is_x_minus_128_over_128():
  image = np.array([0, 128, 254, 255], np.uint8).reshape(1, 2, 2, 1)
  variant = ef.variant_to_proto("c", 5, "A", ["C"], sample_name="s", dp=1, ad=[0, 1])
  record = ef.encode_example(image[0], variant, [0], 1, label=2)
  batch = inp.make_parse_fn((2, 2, 1))(tf.constant([record]))
  np.testing.assert_allclose(batch[inp.IMAGE].numpy().ravel(),
                             [-1.0, 0.0, 126 / 128, 127 / 128])  # uint8 -> (x - 128) / 128
  assert (int(batch[inp.LABEL][0]), int(batch[inp.VARIANT_TYPE][0])) == (2, 1)


def test_golden_examples_parse(tmp_path):
  config = data.write_golden_config(str(tmp_path))
  info = inp.inspect_dataset(config)
  assert info.shape == (100, 221, 6) and info.channels == (1, 2, 3, 4, 5, 6)
  batch = next(iter(inp.make_tune_dataset(info, 49, num_examples=0, read_threads=1,
                                          buffer_bytes=1 << 20)))
  labels = batch[inp.LABEL].numpy()
  assert batch[inp.IMAGE].shape == (49, 100, 221, 6)
  assert np.bincount(labels, minlength=3).tolist() == [1, 12, 36]  # spec 10 class counts
  assert np.bincount(batch[inp.VARIANT_TYPE].numpy()).tolist() == [0, 45, 4]  # 45 SNP, 4 indel


def _labels_of(ds, n):
  return np.concatenate([b[inp.LABEL].numpy() for b in ds.take(n)]).tolist()


def test_same_seed_same_order_and_skip_resumes_exactly(tmp_path):
  info = inp.inspect_dataset(data.write_dataset(str(tmp_path), "d", 40, shards=3))
  kw = dict(seed=7, shuffle_buffer=16, read_threads=3, buffer_bytes=1 << 16)
  full = inp.make_train_dataset(info, 4, epoch=2, **kw)
  images = [b[inp.IMAGE].numpy() for b in full.take(6)]
  again = [b[inp.IMAGE].numpy() for b in inp.make_train_dataset(info, 4, epoch=2, **kw).take(6)]
  resumed = [b[inp.IMAGE].numpy() for b in
             inp.make_train_dataset(info, 4, epoch=2, skip_examples=3 * 4, **kw).take(3)]
  other_epoch = [b[inp.IMAGE].numpy() for b in inp.make_train_dataset(info, 4, epoch=3,
                                                                      **kw).take(6)]
  assert all(np.array_equal(a, b) for a, b in zip(images, again))  # deterministic per epoch
  assert all(np.array_equal(a, b) for a, b in zip(images[3:], resumed))  # skip = resume
  assert not all(np.array_equal(a, b) for a, b in zip(images, other_epoch))  # reshuffled


def test_tune_takes_num_validation_examples(tmp_path):
  info = inp.inspect_dataset(data.write_dataset(str(tmp_path), "d", 11, shards=2))
  ds = inp.make_tune_dataset(info, 4, num_examples=7, read_threads=2, buffer_bytes=1 << 16)
  assert [int(b[inp.LABEL].shape[0]) for b in ds] == [4, 3]  # partial last batch kept
  everything = inp.make_tune_dataset(info, 4, num_examples=0, read_threads=2,
                                     buffer_bytes=1 << 16)
  assert sum(int(b[inp.LABEL].shape[0]) for b in everything) == 11


# ---- bad input: one line naming the file ------------------------------------------------------
def test_missing_config(tmp_path):
  with pytest.raises(inp.InputError, match=r"nope\.pbtxt: dataset config does not exist"):
    inp.inspect_dataset(str(tmp_path / "nope.pbtxt"))


def test_pattern_matching_no_files(tmp_path):
  config = str(tmp_path / "c.pbtxt")
  dataset_config.write_dataset_config(config, "c", 5, {}, "x", "x",
                                      tfrecord_path="missing.tfrecord@4.gz")
  with pytest.raises(inp.InputError,
                     match=r"c\.pbtxt: tfrecord_path pattern .*missing\.tfrecord-\?\?\?\?\?"
                           r"-of-00004\.gz matches no files"):
    inp.inspect_dataset(config)


def test_example_info_channels_disagree_with_data(tmp_path):
  config = data.write_dataset(str(tmp_path), "d", 4, shards=1,
                              example_info_channels=[1, 2, 3, 4, 5, 6, 19])
  with pytest.raises(inp.InputError) as e:
    inp.inspect_dataset(config)
  assert "lists channels [1..6, 19 insert_size] (7)" in str(e.value)
  assert "has 6 channels" in str(e.value) and "\n" not in str(e.value)


def test_model_expects_other_channels():
  with pytest.raises(inp.InputError,
                     match=r"^x: expected channels \[1\.\.6, 19 insert_size\] found \[1\.\.6\]$"):
    inp.check_channels([1, 2, 3, 4, 5, 6, 19], [1, 2, 3, 4, 5, 6], "x")


def test_corrupt_record_names_the_file(tmp_path):
  info = inp.inspect_dataset(data.write_dataset(str(tmp_path), "d", 6, shards=2))
  bad = info.files[1]
  with gzip.open(bad, "rb") as f:
    raw = bytearray(f.read())
  raw[len(raw) // 2] ^= 0xFF  # flip a byte inside the second record's payload
  with gzip.open(bad, "wb") as f:
    f.write(bytes(raw))
  ds = inp.make_tune_dataset(info, 2, num_examples=0, read_threads=1, buffer_bytes=1 << 16)
  with pytest.raises(tf.errors.DataLossError) as tf_error:
    list(ds)
  error = inp.corrupt_input_error([info], tf_error.value)
  assert str(error).startswith(f"{bad}: corrupt record after 1 good records")


def _write_manifest(config, n, records_channels, shape=(20, 21, 6)):
  from schemas import manifest  # pylint: disable=g-import-not-at-top
  tally = manifest.Tally()
  m = manifest.build_manifest(name="d", shard_pattern="d.tfrecord@2.gz", shards=[],
                              tally=tally, image_shape=shape, channels=records_channels,
                              seed=1, command_line="shuffle")
  manifest.write_manifest(inp.manifest_path_for(config), m)


@pytest.mark.parametrize("manifest_channels,message", [
    ([1, 2, 3, 4, 5, 6, 19], r"manifest lists channels \[1\.\.6, 19 insert_size\] \(7\) but "),
    ([1, 2, 3, 4, 5, 19], r"\(manifest\) vs example_info\.json: expected channels "
                          r"\[1\.\.5, 19 insert_size\] found \[1\.\.6\]"),
])
def test_manifest_channels_disagreeing_are_refused(tmp_path, manifest_channels, message):
  config = data.write_dataset(str(tmp_path), "d", 4)
  _write_manifest(config, 4, manifest_channels)
  with pytest.raises(inp.InputError, match=message):
    inp.inspect_dataset(config)


def test_manifest_agreeing_is_used(tmp_path):
  config = data.write_dataset(str(tmp_path), "d", 4)
  _write_manifest(config, 4, [1, 2, 3, 4, 5, 6])
  info = inp.inspect_dataset(config)
  assert info.manifest_path.endswith("d.manifest.json") and info.channels == (1, 2, 3, 4, 5, 6)
