"""Region literals, interval set operations and partitioning (spec 0 and 2.2)."""
import pytest

from beam_pipelines.core import regions
from beam_pipelines.core.regions import Range

LENGTHS = {"chr20": 63025520, "chr1": 1000}


@pytest.mark.parametrize("text,expected", [
    ("chr20:10,000,000-10,010,000", Range("chr20", 9999999, 10010000)),  # 1-based incl, commas
    ("chr20", Range("chr20", 0, 63025520)),  # bare contig = whole contig
    ("chr1:5", Range("chr1", 4, 5)),  # single position
    ("chr1:1-1000", Range("chr1", 0, 1000)),  # whole contig spelled out
])
def test_parse_literal(text, expected):
  assert regions.parse_literal(text, LENGTHS) == expected


@pytest.mark.parametrize("text,message", [
    ("chrX:1-10", "not in the reference"),  # unknown contig
    ("chr1:0-10", "start must be >= 1"),  # 1-based literal
    ("chr1:20-10", "end >= start"),  # reversed
    ("chr1:1-1001", "past the end"),  # outside the reference
    ("chr1:a-b", "not of the form"),  # garbage
])
def test_parse_literal_errors_name_the_region(text, message):
  with pytest.raises(regions.RegionError, match=message) as err:
    regions.parse_literal(text, LENGTHS)
  assert text in str(err.value)


def test_merge_sorts_by_given_contig_order_and_joins_adjacent():
  got = regions.merge([Range("b", 5, 10), Range("a", 0, 5), Range("b", 10, 12),
                       Range("b", 0, 3)], contig_order=["b", "a"])
  assert got == [Range("b", 0, 3), Range("b", 5, 12), Range("a", 0, 5)]


def test_intersect_and_subtract():
  a = [Range("c", 0, 100)]
  b = [Range("c", 10, 20), Range("c", 50, 150)]
  assert regions.intersect(a, b) == [Range("c", 10, 20), Range("c", 50, 100)]
  assert regions.subtract(a, b) == [Range("c", 0, 10), Range("c", 20, 50)]


def test_partition_matches_deepvariant_example():
  # spec 2.2.6: chr20:10,000,000-10,010,000 (10,001 bp) -> 10 x 1000 bp + one 1-bp piece.
  parts = regions.partition([regions.parse_literal("chr20:10,000,000-10,010,000", LENGTHS)],
                            1000)
  assert len(parts) == 11
  assert parts[0] == Range("chr20", 9999999, 10000999)
  assert parts[-1] == Range("chr20", 10009999, 10010000)


def test_interval_index_contains_is_half_open():
  idx = regions.IntervalIndex([Range("c", 10, 20), Range("c", 15, 30), Range("d", 0, 5)])
  assert [idx.contains("c", p) for p in (9, 10, 29, 30)] == [False, True, True, False]
  assert not idx.contains("e", 1)
  assert idx.ranges("c") == [Range("c", 10, 30)]


def test_interval_index_spans_covers_overlaps_and_size():
  index = regions.IntervalIndex([Range("c", 10, 20), Range("c", 20, 30), Range("c", 40, 50)])
  assert index.covers("c", 10, 30)          # adjacent intervals merge
  assert not index.covers("c", 25, 41)      # spans a gap
  assert index.covers("c", 29, 29)          # an empty span (insertion) is its anchor base
  assert not index.covers("c", 30, 30)
  assert index.overlaps("c", 28, 45) and index.overlaps("c", 49, 60)
  assert not index.overlaps("c", 30, 40) and not index.overlaps("d", 0, 100)
  assert index.total_bp == 30


def test_work_units_group_consecutive_partitions_per_contig():
  from beam_pipelines.core import work_units
  parts = regions.partition([Range("a", 0, 2500), Range("b", 0, 1000)], 1000)
  units = work_units.plan(parts, 2)
  assert [len(u.partitions) for u in units] == [2, 1, 1]  # a:0-2000, a:2000-2500, b:0-1000
  assert [u.index for u in units] == [0, 1, 2]
  assert units[0].label == "a:1-2000"
  assert [work_units.shard_of(u.index, 2) for u in units] == [0, 1, 0]
