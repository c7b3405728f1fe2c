"""Per-fragment downsampling that keeps mates together, for several fractions in one pass.

Why not DeepVariant's way (one mt19937 draw per record, spec 3.2): its result depends on the
order partitions are visited and on shard count, mates are dropped independently, and each
fraction needs another full run. Here a read is kept at fraction ``f`` iff
``u(seed, fragment name) < f`` with ``u`` a uniform value from a keyed hash. So:

* both mates (and secondary/supplementary records) of a fragment get the same decision;
* the decision is the same in every partition, worker and runner (a pure function);
* fractions nest: the reads kept at 0.25 are a subset of those kept at 0.5, so one fetch of a
  region serves every fraction and lower coverages are true subsamples of higher ones.

>>> u = fragment_uniform(7, 'read1')
>>> keep(u, 1.0), 0.0 <= u < 1.0
(True, True)
"""
from __future__ import annotations

import hashlib
import struct
from typing import Sequence

_SCALE = 1.0 / 2.0**64


def fragment_uniform(seed: int, fragment_name: str) -> float:
  """Uniform [0, 1) value that is a pure function of (seed, fragment name)."""
  digest = hashlib.blake2b(fragment_name.encode(), digest_size=8,
                           key=struct.pack("<Q", seed & 0xFFFFFFFFFFFFFFFF)).digest()
  return struct.unpack("<Q", digest)[0] * _SCALE


def keep(u: float, fraction: float) -> bool:
  """A fraction of 1.0 keeps everything; otherwise keep iff u < fraction."""
  return fraction >= 1.0 or u < fraction


def validate_fractions(fractions: Sequence[float]) -> None:
  for f in fractions:
    if not 0.0 < f <= 1.0:
      raise ValueError(f"--downsample_fraction values must be in (0, 1], got {f}")
  if len(set(fractions)) != len(fractions):
    raise ValueError(f"--downsample_fraction lists a fraction twice: {list(fractions)}")
