"""Synthetic training sets for the trainer tests (helpers), and checks of the helpers themselves.

Why synthetic: the trainer tests must run in seconds on 2 cores, so they use small images
(default 20 x 21 x 6) whose label is learnable: the read-supports-variant channel (index 4) is
lit on a fraction of rows that grows with the label (0 -> 10%, 1 -> 50%, 2 -> 90%), plus noise.
Files are written exactly as the pipeline writes them: gzipped TFRecord shards named by a
sharded spec, an example_info.json per shard and a dataset_config.pbtxt whose tfrecord_path is
the ``@N`` spec relative to the config.
"""
import os

import numpy as np

from schemas import dataset_config
from schemas import example_format as ef
from schemas import example_info
from schemas import sharding
from schemas import tfrecord

GIAB = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
GOLDEN = os.path.abspath(os.path.join(GIAB, "golden.training_examples.tfrecord.gz"))
SUPPORT_CHANNEL = 4
_FRACTION = {0: 0.1, 1: 0.5, 2: 0.9}


def synthetic_image(label: int, shape, rng) -> np.ndarray:
  h, w, c = shape
  image = rng.integers(0, 60, size=shape, dtype=np.uint8)
  lit = rng.random(h) < _FRACTION[label]
  image[lit, :, SUPPORT_CHANNEL] = 254
  return image


def synthetic_records(n: int, shape=(20, 21, 6), seed: int = 0, labels=None):
  """(serialized examples, labels, variant types)."""
  rng = np.random.default_rng(seed)
  labels = list(labels) if labels is not None else [int(v) for v in rng.integers(0, 3, n)]
  records, vtypes = [], []
  for i, label in enumerate(labels):
    vtype = 1 if i % 3 else 2
    alt = "G" if vtype == 1 else "AT"
    variant = ef.variant_to_proto("chr1", 1000 + 10 * i, "A", [alt], sample_name="S", dp=10,
                                  ad=[5, 5], genotype=(0, 1))
    records.append(ef.encode_example(synthetic_image(label, shape, rng), variant, [0], vtype,
                                     label=label))
    vtypes.append(vtype)
  return records, labels, vtypes


def write_dataset(directory: str, name: str, n: int, shape=(20, 21, 6), seed: int = 0,
                  shards: int = 2, channels=None, labels=None, num_examples=None,
                  example_info_channels=None) -> str:
  """Writes shards + example_info.json files + ``<name>.pbtxt``; returns the config path.

  ``example_info_channels`` overrides what example_info.json claims (to test disagreement).
  """
  os.makedirs(directory, exist_ok=True)
  records, labels, _ = synthetic_records(n, shape, seed, labels)
  spec = f"{name}.tfrecord@{shards}.gz"
  channels = channels or list(range(1, shape[2] + 1))
  for k in range(shards):
    path = os.path.join(directory, sharding.sharded_filename(spec, k))
    tfrecord.write_records(path, records[k::shards])
    example_info.write_example_info(path + example_info.EXAMPLE_INFO_SUFFIX, shape,
                                    example_info_channels or channels)
  counts = {c: labels.count(c) for c in range(3)}
  config = os.path.join(directory, f"{name}.pbtxt")
  dataset_config.write_dataset_config(config, name, num_examples or n, counts, spec,
                                      name, tfrecord_path=spec)
  return config


def write_golden_config(directory: str) -> str:
  """A dataset config for DeepVariant's 49 golden training examples (counts from spec 10)."""
  config = os.path.join(directory, "golden.pbtxt")
  dataset_config.write_dataset_config(config, "golden", 49, {0: 1, 1: 12, 2: 36}, GOLDEN,
                                      "golden", tfrecord_path=GOLDEN)
  return config


def test_write_dataset_round_trips(tmp_path):
  config = write_dataset(str(tmp_path), "d", 9, shards=2)
  parsed = dataset_config.read_dataset_config(config)
  assert (parsed.num_examples, parsed.tfrecord_path) == (9, "d.tfrecord@2.gz")
  first = list(tfrecord.read_records(str(tmp_path / "d.tfrecord-00000-of-00002.gz")))
  assert len(first) == 5  # records 0, 2, 4, 6, 8
  assert ef.decode_example(first[0]).shape == (20, 21, 6)


def test_synthetic_signal_grows_with_label():
  rng = np.random.default_rng(1)
  lit = [np.mean(synthetic_image(label, (200, 5, 6), rng)[:, 0, SUPPORT_CHANNEL] == 254)
         for label in (0, 1, 2)]
  assert lit[0] < 0.2 < lit[1] < 0.7 < lit[2]  # 10% / 50% / 90% of rows lit
