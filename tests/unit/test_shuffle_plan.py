"""Unit tests for core/shuffle_plan.py: keys, buckets, split passes, sizing and the permutation."""
import numpy as np
import pytest

from beam_pipelines.core import shuffle_plan as sp

_2_64 = 1 << 64


@pytest.mark.parametrize("text,expected", [
    ("512M", 512 << 20),        # binary megabytes
    ("2G", 2 << 30),            # binary gigabytes
    ("1.5GiB", 3 << 29),        # fractional value with an IEC suffix
    ("100k", 100 << 10),        # units are case-insensitive
    ("1073741824", 1 << 30),    # a plain byte count
])
def test_parse_memory(text, expected):
  assert sp.parse_memory(text) == expected


@pytest.mark.parametrize("text", [
    "lots",   # not a size
    "0M",     # zero bytes cannot hold a bucket
    "-1G",    # negative
    "5X",     # unknown unit
])
def test_parse_memory_rejects(text):
  with pytest.raises(ValueError):
    sp.parse_memory(text)


def test_record_key_is_pure_and_seeded():
  assert sp.record_key(7, b"abc") == sp.record_key(7, b"abc")
  assert sp.record_key(7, b"abc") != sp.record_key(8, b"abc")
  assert sp.record_key(7, b"abc") != sp.record_key(7, b"abd")
  assert 0 <= sp.record_key(7, b"abc") < _2_64


@pytest.mark.parametrize("key,num_buckets,expected", [
    (0, 6, 0),                       # smallest key: first bucket
    (_2_64 - 1, 6, 5),               # largest key: last bucket
    (int(0.55 * _2_64), 6, 3),       # docstring example: 0.55 -> bucket 3
    (_2_64 // 2, 2, 1),              # exactly half goes to the upper bucket
    (_2_64 // 2 - 1, 2, 0),          # just below half stays in the lower one
])
def test_bucket_of(key, num_buckets, expected):
  assert sp.bucket_of(key, num_buckets) == expected


def test_buckets_nest_inside_shards_for_any_bucket_count():
  # The shard of a key must not depend on buckets_per_shard, or the budget would change bytes.
  rng = np.random.default_rng(3)
  keys = [int(k) for k in rng.integers(0, 2**63, size=2000, dtype=np.int64) * 2 + 1]
  for per_shard in (1, 3, 7, 64):
    plan = sp.ShufflePlan(seed=1, num_shards=5, buckets_per_shard=per_shard,
                          bucket_budget_bytes=1)
    assert all(plan.shard_of_bucket(plan.bucket_of(k)) == plan.shard_of_key(k) for k in keys)
    assert all(plan.bucket_of(k) in plan.buckets_of_shard(plan.shard_of_key(k)) for k in keys)


def test_split_index_is_in_range_and_in_key_order():
  num_buckets, passes = 4, 3
  keys = sorted(int(k) for k in np.linspace(0, _2_64 - 1, 500, dtype=np.float64))
  keys = [min(k, _2_64 - 1) for k in keys]
  seen = {}
  for k in keys:
    b = sp.bucket_of(k, num_buckets)
    j = sp.split_index(k, b, num_buckets, passes)
    assert 0 <= j < passes
    seen.setdefault(b, []).append(j)
  for b, js in seen.items():
    assert js == sorted(js), f"bucket {b}: sub-ranges must follow key order"
    assert set(js) == {0, 1, 2}


@pytest.mark.parametrize("size,budget,expected", [
    (0, 100, 1),      # an empty bucket still takes one pass
    (100, 100, 1),    # exactly the budget fits
    (101, 100, 2),    # one byte over needs a second pass
    (950, 100, 10),   # ceil(9.5)
])
def test_split_passes(size, budget, expected):
  assert sp.split_passes(size, budget) == expected


@pytest.mark.parametrize("inputs,expected", [
    ([("a.tfrecord.gz", 1000)], 1700),                 # gzip inputs expand 1.7x
    ([("a.tfrecord", 1000)], 1000),                    # plain inputs counted as is
    ([("x.gz-00000-of-00002", 10), ("b.tfrecord", 5)], 22),  # '.gz' anywhere in the base name
    ([("gs://b/dir.gz/a.tfrecord", 10)], 10),          # '.gz' in a directory does not count
])
def test_estimate_bucket_data_bytes(inputs, expected):
  assert sp.estimate_bucket_data_bytes(inputs) == expected


@pytest.mark.parametrize("shards,estimated,budget,per_shard", [
    (4, 10 << 30, 1 << 30, 5),      # 2.5 GiB per shard / 0.6 GiB per bucket -> 5
    (1, 100, 1 << 30, 1),           # tiny data: one bucket
    (16, 0, 1 << 20, 1),            # empty inputs still plan one bucket per shard
    (2, 12 << 20, 1 << 20, 10),     # 6 MiB per shard / 0.6 MiB -> 10
])
def test_plan_shuffle(shards, estimated, budget, per_shard):
  plan = sp.plan_shuffle(9, shards, estimated, budget)
  assert plan.buckets_per_shard == per_shard
  assert plan.num_buckets == shards * per_shard
  assert plan.seed == 9 and plan.bucket_budget_bytes == budget


def test_plan_rejects_bad_values():
  with pytest.raises(ValueError):
    sp.ShufflePlan(seed=1, num_shards=0, buckets_per_shard=1, bucket_budget_bytes=1)
  with pytest.raises(ValueError):
    sp.split_passes(10, 0)


@pytest.mark.parametrize("keys,tiebreak,expected", [
    ([3, 1, 2], [b"", b"", b""], [1, 2, 0]),                 # plain key sort
    ([5, 1, 5], [b"b", b"x", b"a"], [1, 2, 0]),              # equal keys ordered by bytes
    ([7, 7, 7], [b"c", b"a", b"b"], [1, 2, 0]),              # all equal: bytes decide all
    ([2**64 - 1, 0], [b"", b""], [1, 0]),                    # full uint64 range
    ([], [], []),                                            # empty bucket
])
def test_permutation(keys, tiebreak, expected):
  assert sp.permutation(np.array(keys, dtype=np.uint64), tiebreak).tolist() == expected


def test_permutation_ignores_arrival_order():
  rng = np.random.default_rng(0)
  keys = rng.integers(0, 50, size=300).astype(np.uint64)  # many ties
  blobs = [bytes([int(k), i % 7]) for i, k in enumerate(keys)]
  first = [blobs[i] for i in sp.permutation(keys, blobs)]
  shuffled = rng.permutation(len(keys))
  second = [blobs[shuffled[i]] for i in sp.permutation(keys[shuffled],
                                                       [blobs[j] for j in shuffled])]
  assert first == second
