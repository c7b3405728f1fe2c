"""Per-example dataset statistics and label QA used by the dataset report."""
import dataclasses

import pytest

from beam_pipelines.core import dataset_stats as ds
from schemas import example_format as ef
from schemas import tfrecord
from tests import giab


@pytest.fixture(scope="module")
def golden_payloads():
  return list(tfrecord.read_records(giab.GOLDEN))


def _scan(payloads, **kw):
  scan = ds.SplitScan("train", **kw)
  for i, p in enumerate(payloads):
    scan.add(ef.decode_example(p), p, f"golden:{i}")
  return scan


def test_scan_counts_golden(golden_payloads):
  scan = _scan(golden_payloads)
  assert scan.scanned == 49
  assert dict(scan.labels) == {0: 1, 1: 12, 2: 36}  # README of the data folder
  assert dict(scan.variant_types) == {1: 45, 2: 4}
  assert dict(scan.contigs) == {"chr20": 49}
  assert dict(scan.fractions) == {"none": 49}  # DeepVariant writes no downsample_fraction
  assert sorted(scan.indel_lengths) == [-10, -4, -1, 5]  # 3 deletions, A->AAGGCT
  assert len(scan.read_rows) == 49 and max(scan.read_rows) <= 95
  assert scan.qa_warnings() == []  # DeepVariant's own labels agree with their genotypes


def test_label_genotype_mismatch_is_reported(golden_payloads):
  record = ef.decode_example(golden_payloads[0])  # het SNP, label 1, genotype 0/1
  bad = dataclasses.replace(record, label=2).encode()
  scan = _scan([bad] + golden_payloads[1:5])
  warnings = scan.qa_warnings()
  assert len(warnings) == 1
  assert "1 of 5 scanned examples have a label that disagrees" in warnings[0]
  assert "chr20:10001019-10001019 label 2, genotype 0/1 says 1" in warnings[0]


def test_variant_type_mismatch_is_reported(golden_payloads):
  record = ef.decode_example(golden_payloads[2])  # insertion, variant_type 2
  bad = dataclasses.replace(record, variant_type=1).encode()
  assert "variant_type 1, alleles say 2" in _scan([bad]).qa_warnings()[0]


def test_picks_are_deterministic_and_seed_dependent(golden_payloads):
  a = _scan(golden_payloads, seed=1, picks_per_class=3)
  b = _scan(list(golden_payloads), seed=1, picks_per_class=3)
  c = _scan(golden_payloads, seed=2, picks_per_class=3)
  ids = lambda s: [sid for sid, _ in s.picks(2)]  # noqa: E731
  assert ids(a) == ids(b)  # same seed, same choice
  assert ids(a) != ids(c)  # another seed, another choice (36 hom-alt examples to pick from)
  assert len(a.picks(0)) == 1 and len(a.picks(2)) == 3  # capped by what exists
  keys = [ds.pick_key(1, "train", sid) for sid in ids(a)]
  assert keys == sorted(keys)
  all_keys = sorted(ds.pick_key(1, "train", f"golden:{i}") for i in range(49)
                    if ef.decode_example(golden_payloads[i]).label == 2)
  assert keys == all_keys[:3]  # the three smallest keys of the class


@pytest.mark.parametrize("counts,expected", [
    ({"train": {0: 5, 1: 5, 2: 5}, "tune": {0: 1, 1: 1, 2: 1}}, []),  # all present
    ({"train": {0: 5, 1: 5, 2: 5}, "tune": {1: 3, 2: 1}},
     ["tune: class 0 (hom_ref) has no examples although other splits have some"]),
    ({"train": {1: 5, 2: 5}, "tune": {1: 3, 2: 1}}, []),  # absent everywhere: label QA's job
])
def test_cross_split_warnings(counts, expected):
  assert ds.cross_split_warnings(counts) == expected


@pytest.mark.parametrize("values,expected", [
    ([], None),  # nothing scanned
    ([3, 1, 2], {"min": 1.0, "median": 2.0, "mean": 2.0, "max": 3.0}),  # odd count
    ([1, 2, 3, 10], {"min": 1.0, "median": 2.5, "mean": 4.0, "max": 10.0}),  # even count
])
def test_summarize_rows(values, expected):
  assert ds.summarize_rows(values) == expected
