"""--alt_aligned_pileup on real GIAB reads against DeepVariant's alt-aligned golden examples.

The golden (../shared/data/dv-goldens, test_make_examples_training_end2end_with_alt_aligned_
pileup) is the basic training golden's run with ``--alt_aligned_pileup diff_channels``: shape
[100, 221, 8], channels 1..6, 9, 10. Its SNPs carry all-zero alt channels; its 4 indels carry
channel 6 of the reads aligned to the alt haplotype. ``rows`` and ``base_channels`` have no
golden; they are held to the same alt views as diff_channels.
"""
import collections
import json

import numpy as np
import pytest

from beam_pipelines import make_examples
from schemas import example_format, tfrecord
from tests import giab

GOLDEN = giab.DIR.replace("giab-chr20", "dv-goldens") + \
    "/golden.alt_aligned_pileup_diff_channels_examples.tfrecord.gz"


def _run(tmp_path, representation):
  out = str(tmp_path / representation / "ex.tfrecord.gz")
  assert make_examples.main(giab.training_args(
      out, giab.GOLDEN_REGION, "--alt_aligned_pileup", representation)) == 0
  return {_key(e): e for e in map(example_format.decode_example, tfrecord.read_records(out))}, out


def _key(e):
  return e.locus, tuple(e.alt_indices)


def _rows(channel):
  return collections.Counter(bytes(r) for r in channel[5:] if r.any())


@pytest.fixture(scope="module")
def golden():
  return {_key(e): e for e in map(example_format.decode_example, tfrecord.read_records(GOLDEN))}


@pytest.fixture(scope="module")
def diff(tmp_path_factory):
  return _run(tmp_path_factory.mktemp("alt"), "diff_channels")


def test_same_examples_labels_and_shape(golden, diff):
  ours, out = diff
  assert len(golden) == 49 and set(golden) <= set(ours)
  assert all(ours[k].label == g.label for k, g in golden.items())
  info = json.load(open(out + ".example_info.json"))
  assert info["shape"] == [100, 221, 8] and info["channels"] == [1, 2, 3, 4, 5, 6, 9, 10]
  assert all(ours[k].image.shape == (100, 221, 8) for k in golden)


def test_alt_channels_identical_on_every_example(golden, diff):
  ours, _ = diff
  indels = [k for k, g in golden.items() if g.image[:, :, 6].any()]
  assert len(indels) == 4
  for k, g in golden.items():
    assert np.array_equal(ours[k].image[:, :, 6:], g.image[:, :, 6:]), k


def test_read_rows_identical_on_47_of_49(golden, diff):
  ours, _ = diff
  same = [k for k, g in golden.items() if np.array_equal(ours[k].image, g.image)]
  # The 2 others are the realigner's known windows (test_make_examples_golden.py), whose
  # reference-aligned channels differ in a few rows; their alt channels are identical.
  assert len(same) >= 47


def test_rows_and_base_channels_carry_the_same_alt_views(tmp_path, diff):
  ours, _ = diff
  rows, _ = _run(tmp_path, "rows")
  base, _ = _run(tmp_path, "base_channels")
  assert set(rows) == set(ours) == set(base)
  for k, e in ours.items():
    stacked = rows[k].image
    assert stacked.shape == (300, 221, 6)
    assert np.array_equal(stacked[:100], e.image[:, :, :6])
    # diff_channels keeps channel 6 (base differs from ref) of each alt view; one alt: twice.
    assert np.array_equal(stacked[100:200, :, 5], e.image[:, :, 6])
    assert np.array_equal(stacked[200:, :, 5], e.image[:, :, 7])
    assert np.array_equal(base[k].image[:, :, 6], stacked[100:200, :, 0])
    assert np.array_equal(base[k].image[:, :, :6], e.image[:, :, :6])
