"""The global shuffle's plan: record keys, buckets sized from a memory budget, the permutation.

Why this shape (pure, no Beam): DeepVariant's shuffle keys every record by its SHA-1 and
groups *the records*, so a local runner holds the whole dataset in memory and the runner picks
the order and the shard count (spec 8.2; what-users-need item 1). Here the order is fixed by
arithmetic alone, so memory, runner and worker count cannot change it:

* every record gets a 64-bit key, a keyed hash of (seed, record bytes): ``record_key``;
* the output is all records **sorted by key** (ties, i.e. byte-identical records or a 2**-64
  collision, broken by the stored bytes), which is a uniformly random permutation for a
  given seed and independent of input order;
* shard ``s`` of ``N`` receives the keys in ``[s * 2**64 / N, (s + 1) * 2**64 / N)``, so shard
  sizes follow a multinomial (for 100,000 records in 16 shards, +-0.4% around the mean);
* each shard's key range is cut into ``buckets_per_shard`` equal sub-ranges (buckets). The
  scatter step writes records to bucket files; the shard writer loads one bucket at a time,
  sorts it and appends it. Because bucket ranges nest inside shard ranges and are visited in key
  order, the bytes written do not depend on the bucket count (hence not on the budget);
* a bucket that turns out larger than the budget (skew, or an estimate that was too low) is
  read in ``split_passes`` passes over equal key sub-ranges, so memory stays bounded anyway.

Worked example (N = 2 shards, 3 buckets per shard, 6 buckets; keys as fractions of 2**64)::

    key 0.10 -> bucket floor(0.10 * 6) = 0 -> shard 0 // 3 = 0
    key 0.55 -> bucket 3 -> shard 1;  key 0.95 -> bucket 5 -> shard 1

Memory accounting: the shard writer keeps a bucket's records zlib-compressed (level 1, as the
scatter step stored them), so a bucket costs about its *compressed* bytes in RAM; records are
inflated one at a time while writing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import struct
from typing import Sequence, Tuple

import numpy as np

KEY_BITS = 64
_KEY_SPACE = 1 << KEY_BITS

# Bytes of bucket data (stored zlib level 1) per compressed input byte, measured on real
# pileup examples: a gzip -6 TFRecord shard holds ~6.3 KB per example, level 1 ~9.9 KB (1.57x);
# rounded up for headroom. Plain (uncompressed) TFRecord inputs are counted byte for byte,
# which over-counts ~13x for pileups and only costs extra (cheap) buckets.
GZIP_INPUT_EXPANSION = 1.7
# Plan buckets to be filled to this fraction of the budget on average, leaving room for the
# multinomial spread of bucket sizes and for estimate error before a split pass is needed.
TARGET_FILL = 0.6

_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_memory(text: str) -> int:
  """Bytes from ``'512M'``, ``'2G'``, ``'1.5GiB'`` or a plain byte count (binary units).

  Raises:
    ValueError: not a size, or zero.
  """
  m = _MEMORY_RE.match(str(text))
  if not m:
    raise ValueError(f"expected a size like 512M, 2G or 1073741824, got {text!r}")
  value = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
  if value <= 0:
    raise ValueError(f"size must be positive, got {text!r}")
  return value


def record_key(seed: int, payload: bytes) -> int:
  """The record's 64-bit shuffle key: keyed BLAKE2b of its bytes, seed as the key.

  A pure function of (seed, bytes), so the same record gets the same place on every runner,
  worker and rerun; a different seed gives an independent permutation.
  """
  digest = hashlib.blake2b(payload, digest_size=8,
                           key=struct.pack("<Q", seed & 0xFFFFFFFFFFFFFFFF)).digest()
  return struct.unpack("<Q", digest)[0]


def bucket_of(key: int, num_buckets: int) -> int:
  """Bucket ``floor(key * num_buckets / 2**64)``: equal key ranges, in key order."""
  return (key * num_buckets) >> KEY_BITS


def split_index(key: int, bucket: int, num_buckets: int, passes: int) -> int:
  """Which of ``passes`` equal key sub-ranges of ``bucket`` holds ``key`` (0-based).

  ``floor(key * nb * P / 2**64) // P == floor(key * nb / 2**64)``, so the sub-range is the
  finer bucket index minus ``bucket * P``; sub-ranges are in key order.
  """
  return ((key * num_buckets * passes) >> KEY_BITS) - bucket * passes


def split_passes(bucket_bytes: int, budget_bytes: int) -> int:
  """How many passes a bucket of ``bucket_bytes`` needs so each pass fits ``budget_bytes``."""
  if budget_bytes <= 0:
    raise ValueError(f"budget must be positive, got {budget_bytes}")
  return max(1, math.ceil(bucket_bytes / budget_bytes))


def estimate_bucket_data_bytes(inputs: Sequence[Tuple[str, int]]) -> int:
  """Expected bytes of scattered (zlib-1) record data for input files ``(path, size)``.

  gzip inputs (``.gz`` in the base name, the TFRecord rule) expand by
  ``GZIP_INPUT_EXPANSION``; plain inputs are counted as they are (see the constant's note).
  """
  total = 0.0
  for path, size in inputs:
    gz = ".gz" in path.rsplit("/", 1)[-1]
    total += size * (GZIP_INPUT_EXPANSION if gz else 1.0)
  return int(math.ceil(total))


@dataclasses.dataclass(frozen=True)
class ShufflePlan:
  """Everything that decides where each record goes; identical on every worker.

  ``bucket_budget_bytes`` is the RAM one shard writer may spend on one bucket's records.
  """
  seed: int
  num_shards: int
  buckets_per_shard: int
  bucket_budget_bytes: int

  def __post_init__(self):
    if self.num_shards <= 0:
      raise ValueError(f"num_shards must be positive, got {self.num_shards}")
    if self.buckets_per_shard <= 0:
      raise ValueError(f"buckets_per_shard must be positive, got {self.buckets_per_shard}")
    if self.bucket_budget_bytes <= 0:
      raise ValueError(f"bucket budget must be positive, got {self.bucket_budget_bytes}")

  @property
  def num_buckets(self) -> int:
    return self.num_shards * self.buckets_per_shard

  def key(self, payload: bytes) -> int:
    return record_key(self.seed, payload)

  def bucket_of(self, key: int) -> int:
    return bucket_of(key, self.num_buckets)

  def shard_of_bucket(self, bucket: int) -> int:
    return bucket // self.buckets_per_shard

  def shard_of_key(self, key: int) -> int:
    return (key * self.num_shards) >> KEY_BITS

  def buckets_of_shard(self, shard: int) -> range:
    return range(shard * self.buckets_per_shard, (shard + 1) * self.buckets_per_shard)


def plan_shuffle(seed: int, num_shards: int, estimated_bytes: int,
                 bucket_budget_bytes: int) -> ShufflePlan:
  """Buckets per shard such that an average bucket fills ``TARGET_FILL`` of the budget.

  >>> plan_shuffle(1, 4, estimated_bytes=10 << 30, bucket_budget_bytes=1 << 30).num_buckets
  20
  """
  per_shard = estimated_bytes / num_shards if num_shards > 0 else 0
  buckets = max(1, math.ceil(per_shard / (bucket_budget_bytes * TARGET_FILL)))
  return ShufflePlan(seed=seed, num_shards=num_shards, buckets_per_shard=buckets,
                     bucket_budget_bytes=bucket_budget_bytes)


def permutation(keys: np.ndarray, tiebreak: Sequence[bytes]) -> np.ndarray:
  """Indices that sort ``keys`` ascending, equal keys ordered by ``tiebreak`` bytes.

  Equal keys mean byte-identical records (their order cannot change the output bytes) or a
  2**-64 hash collision; ordering those by bytes keeps the result independent of the order
  records arrived in, which differs between runners.

  >>> permutation(np.array([5, 1, 5], dtype=np.uint64), [b'b', b'x', b'a']).tolist()
  [1, 2, 0]
  """
  keys = np.asarray(keys, dtype=np.uint64)
  order = np.argsort(keys, kind="stable")
  if len(order) < 2:
    return order
  sorted_keys = keys[order]
  dup = sorted_keys[1:] == sorted_keys[:-1]
  if not dup.any():
    return order
  # Runs of equal keys: starts where a key differs from its predecessor.
  starts = np.flatnonzero(np.concatenate(([True], ~dup)))
  ends = np.concatenate((starts[1:], [len(order)]))
  for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
    run = order[s:e]
    order[s:e] = sorted(run.tolist(), key=lambda i: tiebreak[i])
  return order
