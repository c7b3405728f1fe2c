"""Genomic intervals: parsing region literals, merging, set operations and partitioning.

Everything here is 0-based half-open ``[start, end)``. Region literals on the command line are
1-based inclusive (``chr20:10,000,000-10,010,000`` is ``Range('chr20', 9999999, 10010000)``);
a bare ``chr20`` means the whole contig. The conversion happens only in ``parse_literal``.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Mapping, NamedTuple, Sequence


class RegionError(ValueError):
  """A region literal or interval that cannot be used; the message names it."""


class Range(NamedTuple):
  contig: str
  start: int
  end: int

  def __len__(self):  # noqa: D105 - length in bp, not tuple arity
    return self.end - self.start

  @property
  def length(self) -> int:
    return self.end - self.start

  def to_literal(self) -> str:
    """1-based inclusive literal, the inverse of parse_literal."""
    return f"{self.contig}:{self.start + 1}-{self.end}"


_LITERAL = re.compile(r"^(?P<contig>[^:\s]+)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?)?$")


def parse_literal(text: str, contig_lengths: Mapping[str, int]) -> Range:
  """Parses 'chr20', 'chr20:1,000' or 'chr20:1,000-2,000' (1-based inclusive).

  >>> parse_literal('chr20:10,000,000-10,010,000', {'chr20': 63025520})
  Range(contig='chr20', start=9999999, end=10010000)
  """
  m = _LITERAL.match(text.strip())
  if not m:
    raise RegionError(f"region {text!r} is not of the form contig[:start[-end]]")
  contig = m.group("contig")
  if contig not in contig_lengths:
    raise RegionError(f"region {text!r}: contig {contig!r} is not in the reference")
  length = contig_lengths[contig]
  if m.group("start") is None:
    return Range(contig, 0, length)
  start = int(m.group("start").replace(",", ""))
  end = int(m.group("end").replace(",", "")) if m.group("end") else start
  if start < 1 or end < start:
    raise RegionError(f"region {text!r}: start must be >= 1 and end >= start")
  if end > length:
    raise RegionError(f"region {text!r}: end {end} is past the end of {contig} (length {length})")
  return Range(contig, start - 1, end)


def merge(ranges: Iterable[Range], contig_order: Sequence[str] | None = None) -> List[Range]:
  """Sorts and merges overlapping or adjacent intervals.

  Sorted by ``contig_order`` (e.g. reference FASTA order) when given, else by name.
  """
  order: Dict[str, int] = {c: i for i, c in enumerate(contig_order or [])}
  items = sorted((r for r in ranges if r.end > r.start),
                 key=lambda r: (order.get(r.contig, len(order)), r.contig, r.start, r.end))
  out: List[Range] = []
  for r in items:
    if out and out[-1].contig == r.contig and r.start <= out[-1].end:
      if r.end > out[-1].end:
        out[-1] = Range(r.contig, out[-1].start, r.end)
    else:
      out.append(r)
  return out


def intersect(a: Iterable[Range], b: Iterable[Range], contig_order=None) -> List[Range]:
  """Intersection of two interval sets (each merged first)."""
  a = merge(a, contig_order)
  by_contig: Dict[str, List[Range]] = {}
  for r in merge(b, contig_order):
    by_contig.setdefault(r.contig, []).append(r)
  out = []
  for r in a:
    for s in by_contig.get(r.contig, ()):
      lo, hi = max(r.start, s.start), min(r.end, s.end)
      if lo < hi:
        out.append(Range(r.contig, lo, hi))
  return merge(out, contig_order)


def subtract(a: Iterable[Range], b: Iterable[Range], contig_order=None) -> List[Range]:
  """Intervals of ``a`` not covered by ``b``."""
  by_contig: Dict[str, List[Range]] = {}
  for r in merge(b, contig_order):
    by_contig.setdefault(r.contig, []).append(r)
  out = []
  for r in merge(a, contig_order):
    cur = r.start
    for s in by_contig.get(r.contig, ()):
      if s.end <= cur or s.start >= r.end:
        continue
      if s.start > cur:
        out.append(Range(r.contig, cur, s.start))
      cur = max(cur, s.end)
    if cur < r.end:
      out.append(Range(r.contig, cur, r.end))
  return out


def partition(ranges: Iterable[Range], size: int) -> List[Range]:
  """Cuts each interval into consecutive pieces of ``size`` bp from its start (spec 2.2.6).

  >>> partition([Range('c', 0, 2500)], 1000)
  [Range(contig='c', start=0, end=1000), Range(contig='c', start=1000, end=2000), Range(contig='c', start=2000, end=2500)]
  """
  if size <= 0:
    raise RegionError(f"partition size must be positive, got {size}")
  out = []
  for r in ranges:
    for s in range(r.start, r.end, size):
      out.append(Range(r.contig, s, min(s + size, r.end)))
  return out


def contains(merged: Sequence[Range], contig: str, pos: int) -> bool:
  """True when 0-based ``pos`` lies inside one of the merged, sorted intervals."""
  import bisect
  starts = [r.start for r in merged if r.contig == contig]
  ends = [r.end for r in merged if r.contig == contig]
  i = bisect.bisect_right(starts, pos) - 1
  return i >= 0 and pos < ends[i]


class IntervalIndex:
  """Fast point-in-interval queries over merged intervals (confident regions)."""

  def __init__(self, ranges: Iterable[Range]):
    import numpy as np
    self._by_contig = {}
    for r in merge(ranges):
      self._by_contig.setdefault(r.contig, []).append((r.start, r.end))
    self._arrays = {c: (np.array([s for s, _ in v], dtype=np.int64),
                        np.array([e for _, e in v], dtype=np.int64))
                    for c, v in self._by_contig.items()}

  def contains(self, contig: str, pos: int) -> bool:
    import numpy as np
    arrs = self._arrays.get(contig)
    if arrs is None:
      return False
    starts, ends = arrs
    i = int(np.searchsorted(starts, pos, side="right")) - 1
    return i >= 0 and pos < int(ends[i])

  def covers(self, contig: str, start: int, end: int) -> bool:
    """``[start, end)`` lies inside one interval; an empty span (an insertion) counts as the
    base at ``start``, so an insertion is confident where its anchor base is."""
    import numpy as np
    arrs = self._arrays.get(contig)
    if arrs is None:
      return False
    starts, ends = arrs
    end = max(end, start + 1)
    i = int(np.searchsorted(starts, start, side="right")) - 1
    return i >= 0 and int(ends[i]) >= end

  def overlaps(self, contig: str, start: int, end: int) -> bool:
    """Some base of ``[start, end)`` (an empty span: the base at ``start``) is inside."""
    import numpy as np
    arrs = self._arrays.get(contig)
    if arrs is None:
      return False
    starts, ends = arrs
    end = max(end, start + 1)
    i = int(np.searchsorted(starts, end - 1, side="right")) - 1
    return i >= 0 and int(ends[i]) > start

  @property
  def total_bp(self) -> int:
    return sum(e - s for v in self._by_contig.values() for s, e in v)

  def ranges(self, contig: str | None = None) -> List[Range]:
    return [Range(c, s, e) for c, v in self._by_contig.items() if contig in (None, c)
            for s, e in v]
