"""Dataset splits by region (train / tune / test), parsed and checked for overlap.

Why splits by region: examples from one locus must never be in two splits, or the tune and
test metrics measure memorisation. DeepVariant users hold out whole chromosomes (train on
chr1-chr19, tune on chr21, test on chr20); pileflow takes exactly that spelling and refuses
overlapping definitions before any work starts.

Spelling of one ``--split NAME=ITEMS`` value; ITEMS are separated by whitespace or ``+``:
  * ``chr1-chr19``  every reference contig from chr1 to chr19, in reference order;
  * ``chr21``       a whole contig;
  * ``chr20:1,000,000-2,000,000``  a region literal (1-based inclusive);
  * ``path.bed``    the intervals of a BED file (read by the caller, see ``resolve``).

Coordinates are 0-based half-open inside.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

from beam_pipelines.core import regions
from beam_pipelines.core.regions import Range

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class SplitError(ValueError):
  """A split definition that cannot be used; the message names the split."""


@dataclasses.dataclass(frozen=True)
class Split:
  name: str
  spec: str
  ranges: Tuple[Range, ...]

  @property
  def total_bp(self) -> int:
    return sum(r.length for r in self.ranges)

  def literals(self) -> Tuple[str, ...]:
    return tuple(r.to_literal() for r in self.ranges)


def parse_flag(text: str) -> Tuple[str, str]:
  """``train=chr1-chr19`` -> ('train', 'chr1-chr19')."""
  name, sep, spec = text.partition("=")
  name = name.strip()
  if not sep or not spec.strip():
    raise SplitError(f"--split {text!r}: expected NAME=REGIONS, e.g. train=chr1-chr19")
  if not _NAME.match(name):
    raise SplitError(f"--split {text!r}: split name {name!r} may use letters, digits, _ . -")
  return name, spec.strip()


def _is_bed(item: str) -> bool:
  low = item.lower()
  return low.endswith(".bed") or low.endswith(".bed.gz")


def resolve(name: str, spec: str, contig_lengths: Mapping[str, int],
            read_bed: Callable[[str], List[Range]]) -> Split:
  """The split's intervals, merged, in reference order."""
  order = list(contig_lengths)
  out: List[Range] = []
  for item in re.split(r"[\s+]+", spec.strip()):
    if not item:
      continue
    if _is_bed(item):
      out.extend(read_bed(item))
    elif ":" not in item and item not in contig_lengths and item.count("-") >= 1 and \
        _contig_range(item, order) is not None:
      out.extend(Range(c, 0, contig_lengths[c]) for c in _contig_range(item, order))
    else:
      try:
        out.append(regions.parse_literal(item, contig_lengths))
      except regions.RegionError as e:
        raise SplitError(f"--split {name}: {e}") from None
  merged = regions.merge(out, order)
  if not merged:
    raise SplitError(f"--split {name}={spec}: no regions")
  return Split(name, spec, tuple(merged))


def _contig_range(item: str, order: Sequence[str]):
  """'chr1-chr19' -> the contigs from chr1 to chr19 in reference order, or None."""
  for cut in range(len(item)):
    if item[cut] != "-":
      continue
    first, last = item[:cut], item[cut + 1:]
    if first in order and last in order:
      i, j = order.index(first), order.index(last)
      if i > j:
        raise SplitError(f"contig range {item!r}: {first} comes after {last} in the reference")
      return list(order[i:j + 1])
  return None


def check_disjoint(splits: Sequence[Split]) -> None:
  """Raises SplitError naming two splits and a shared region when any two overlap."""
  names = [s.name for s in splits]
  dupes = sorted({n for n in names if names.count(n) > 1})
  if dupes:
    raise SplitError(f"--split {dupes[0]} is given twice")
  for i, a in enumerate(splits):
    for b in splits[i + 1:]:
      shared = regions.intersect(a.ranges, b.ranges)
      if shared:
        total = sum(r.length for r in shared)
        raise SplitError(f"splits {a.name!r} and {b.name!r} overlap on {total:,} bp "
                         f"(first: {shared[0].to_literal()}); a locus may be in one split only")


def parse_all(flags: Sequence[str], contig_lengths: Mapping[str, int],
              read_bed: Callable[[str], List[Range]]) -> List[Split]:
  splits = [resolve(*parse_flag(f), contig_lengths, read_bed) for f in flags]
  if not splits:
    raise SplitError("at least one --split NAME=REGIONS is required")
  check_disjoint(splits)
  return splits
