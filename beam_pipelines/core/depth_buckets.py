"""Read-depth buckets for benchmark stratification (pure: bucket parsing and naming).

Why: a caller tuned for low coverage is judged by how it does where coverage is low, and one
overall F1 hides that. The PacBio RNA fine-tuning study reports recall and precision per
read-depth bucket 1-7, 8-20 and >20; ``beam_pipelines.evaluate --depth_bam`` adds one row per
bucket and variant type, counted like the BED strata (an allele belongs to a bucket when the
depth at its first base is inside it). The depth itself comes from the reads
(``beam_pipelines.io.read_depth``), not from the calls' DP: a missed variant has no DP.
"""
from __future__ import annotations

import dataclasses
import re
from typing import List, Optional

# The PacBio RNA study's buckets.
DEFAULT_BUCKETS = "1-7,8-20,21-"
_ITEM = re.compile(r"^(\d+)(?:-(\d*))?$")


class DepthBucketError(ValueError):
  """A bucket list that cannot be used; the message names the item."""


@dataclasses.dataclass(frozen=True)
class DepthBucket:
  """Depths ``lo`` to ``hi`` inclusive (``hi`` None: no upper bound)."""
  lo: int
  hi: Optional[int]

  @property
  def name(self) -> str:
    if self.hi is None:
      return f"depth:{self.lo}+"
    return f"depth:{self.lo}" if self.hi == self.lo else f"depth:{self.lo}-{self.hi}"

  def holds(self, depth: int) -> bool:
    return depth >= self.lo and (self.hi is None or depth <= self.hi)


def parse_buckets(text: str, flag: str = "--depth_buckets") -> List[DepthBucket]:
  """``"1-7,8-20,21-"`` -> buckets: ``a-b`` inclusive, ``a-`` open-ended, ``a`` one depth.

  Buckets must be in increasing order and must not overlap (a depth in two buckets would be
  counted twice in the per-bucket rows); gaps are allowed.
  """
  out: List[DepthBucket] = []
  for item in (i.strip() for i in text.split(",")):
    m = _ITEM.match(item)
    if not m:
      raise DepthBucketError(f"{flag} {text!r}: {item!r} is not a bucket (a-b, a- or a)")
    lo = int(m.group(1))
    hi = None if m.group(2) == "" else int(m.group(2) if m.group(2) is not None else lo)
    if hi is not None and hi < lo:
      raise DepthBucketError(f"{flag} {text!r}: {item!r} ends before it starts")
    if out and (out[-1].hi is None or lo <= out[-1].hi):
      raise DepthBucketError(f"{flag} {text!r}: {item!r} overlaps or precedes the bucket "
                             "before it; give buckets in increasing order without overlap")
    out.append(DepthBucket(lo, hi))
  return out
