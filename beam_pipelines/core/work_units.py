"""Work units: the elements make_examples distributes, and which output shard each feeds.

Why units of several partitions rather than one element per partition or per shard: one element
per 1-kb partition makes per-element overhead dominate on a whole genome (3 M elements), while
one element per shard recreates DeepVariant's stragglers (a slow region pins its whole shard).
A unit is ``partitions_per_unit`` consecutive partitions; its cost is bounded because every
partition is capped at ``max_reads_per_partition`` reads, and a Reshuffle before processing lets
Dataflow rebalance units across workers.

Units are a pure function of the region list, so every runner and worker count sees the same
units and the same unit -> shard mapping (round-robin, as DeepVariant assigns partitions to
tasks), and each shard is assembled in unit order, i.e. genome order.
"""
from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

from beam_pipelines.core.regions import Range


@dataclasses.dataclass(frozen=True)
class WorkUnit:
  index: int
  partitions: Tuple[Range, ...]

  @property
  def label(self) -> str:
    first, last = self.partitions[0], self.partitions[-1]
    if first.contig == last.contig:
      return f"{first.contig}:{first.start + 1}-{last.end}"
    return f"{first.to_literal()}..{last.to_literal()}"


def plan(partitions: Sequence[Range], partitions_per_unit: int) -> List[WorkUnit]:
  """Groups consecutive partitions (never across contigs) into units, in genome order."""
  if partitions_per_unit <= 0:
    raise ValueError(f"partitions_per_unit must be positive, got {partitions_per_unit}")
  units: List[WorkUnit] = []
  current: List[Range] = []
  for part in partitions:
    if current and (len(current) == partitions_per_unit or current[-1].contig != part.contig):
      units.append(WorkUnit(len(units), tuple(current)))
      current = []
    current.append(part)
  if current:
    units.append(WorkUnit(len(units), tuple(current)))
  return units


def shard_of(unit_index: int, num_shards: int) -> int:
  return unit_index % num_shards
