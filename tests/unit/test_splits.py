"""Split definitions: contig ranges, literals, BED files, and the no-overlap rule."""
import pytest

from beam_pipelines.core import splits
from beam_pipelines.core.regions import Range

LENGTHS = {f"chr{i}": 1000 * i for i in range(1, 23)}


def _bed(path):
  return {"hold.bed": [Range("chr2", 0, 100), Range("chr2", 50, 300)]}[path]


@pytest.mark.parametrize("spec,expected", [
    ("chr1-chr3", [Range("chr1", 0, 1000), Range("chr2", 0, 2000), Range("chr3", 0, 3000)]),
    ("chr21", [Range("chr21", 0, 21000)]),  # a whole contig
    ("chr20:101-200 chr20:201-300", [Range("chr20", 100, 300)]),  # literals, merged
    ("hold.bed+chr1:1-10", [Range("chr2", 0, 300), Range("chr1", 0, 10)]),  # '+' separator
])
def test_resolve(spec, expected):
  got = splits.resolve("s", spec, LENGTHS, _bed)
  assert sorted(got.ranges) == sorted(expected)


@pytest.mark.parametrize("flag,message", [
    ("train", "expected NAME=REGIONS"),
    ("tr ain=chr1", "may use letters"),
    ("train=chrX", "'chrX' is not in the reference"),
    ("train=chr3-chr1", "chr3 comes after chr1"),
])
def test_bad_split_flags(flag, message):
  with pytest.raises(splits.SplitError, match=message):
    splits.parse_all([flag], LENGTHS, _bed)


def test_overlapping_splits_are_refused_naming_both():
  with pytest.raises(splits.SplitError, match="'train' and 'test' overlap on 1,000 bp"):
    splits.parse_all(["train=chr1-chr19", "test=chr19:1-1000"], LENGTHS, _bed)


def test_the_deepvariant_holdout_scheme():
  got = splits.parse_all(["train=chr1-chr19", "tune=chr21", "test=chr20"], LENGTHS, _bed)
  assert [s.name for s in got] == ["train", "tune", "test"]
  assert len(got[0].ranges) == 19 and got[1].literals() == ("chr21:1-21000",)


def test_same_name_twice_refused():
  with pytest.raises(splits.SplitError, match="given twice"):
    splits.parse_all(["a=chr1", "a=chr2"], LENGTHS, _bed)
