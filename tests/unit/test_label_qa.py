"""Unit tests for core/label_qa.py: which label counts pass, warn or fail."""
import pytest

from beam_pipelines.core import label_qa


@pytest.mark.parametrize("counts,unlabeled,require,allow,ok,n_warnings,fragment", [
    ({0: 44516, 1: 173673, 2: 124569}, 0, True, False, True, 0, None),   # the docs' dataset
    ({0: 1, 1: 12, 2: 36}, 0, True, False, True, 0, None),               # golden: 73% max
    ({0: 727188}, 0, True, False, False, 3, "class 0 (hom_ref) holds 100.0%"),  # all hom-ref
    ({0: 727188}, 0, True, True, True, 3, None),          # allowed: warned, not failed
    ({0: 96, 1: 2, 2: 2}, 0, True, False, False, 1, "holds 96.0%"),       # just over 95%
    ({0: 95, 1: 3, 2: 2}, 0, True, False, True, 0, None),                 # exactly 95% passes
    ({0: 10, 1: 10}, 0, True, False, False, 1, "class 2 (hom_alt) is empty"),  # empty class
    ({}, 40, True, True, False, 1, "none of the 40 examples carries a label"),  # calling inputs
    ({}, 40, False, False, True, 0, None),                # calling inputs, no config asked
    ({0: 5, 1: 5, 2: 5}, 3, False, True, False, 1, "3 of 18 examples carry no label"),  # mixed
    ({}, 0, True, True, False, 1, "no examples"),         # nothing at all
    ({0: 5, 1: 5, 2: 5, 3: 1}, 0, True, True, False, 1, "labels [3] are outside 0..2"),  # bad label
])
def test_check_labels(counts, unlabeled, require, allow, ok, n_warnings, fragment):
  result = label_qa.check_labels(counts, unlabeled, require_labels=require,
                                 allow_imbalance=allow)
  assert result.ok == ok
  assert len(result.warnings) == n_warnings
  if fragment:
    assert any(fragment in m for m in result.warnings + result.errors)


def test_imbalance_error_says_how_to_accept():
  result = label_qa.check_labels({0: 99, 1: 1, 2: 0})
  assert len(result.errors) == 2
  assert all("--allow_label_imbalance" in e for e in result.errors)


def test_max_fraction_is_validated():
  with pytest.raises(ValueError):
    label_qa.check_labels({0: 1}, max_fraction=0.0)
