"""Label sanity checks run on a dataset's class counts before it is declared training-ready.

Why: labels fail silently (what-users-need item 3). One user trained on 727,188 examples that
were all class 0 (a gVCF-style truth with ``<NON_REF>`` alleles) and saw accuracy 1.0; calling
examples fed to a trainer carry no label at all. These checks look only at counts, so they cost
nothing and run before the shuffled shards are committed:

* no example at all                                    -> failure;
* some examples carry no ``label`` while labels are required (a dataset config was asked for,
  i.e. training inputs) or while other examples do (a mix of calling and training examples)
                                                       -> failure, always;
* a label outside 0..num_classes-1                     -> failure, always;
* one class holds more than ``max_fraction`` (95%) of the examples, or a class is empty
                                                       -> a loud warning, and a failure unless
                                                          ``allow_imbalance`` (--allow_label_imbalance).

Worked example: counts {0: 727188} -> class 0 holds 100.0% (> 95%) and classes 1 and 2 are
empty: three findings, and the run fails unless imbalance is allowed.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Tuple

DEFAULT_MAX_FRACTION = 0.95
_CLASS_NAMES = ("hom_ref", "het", "hom_alt")


@dataclasses.dataclass(frozen=True)
class LabelQaResult:
  """``warnings`` are printed loudly; ``errors`` stop the run. An error is also a warning."""
  warnings: Tuple[str, ...]
  errors: Tuple[str, ...]

  @property
  def ok(self) -> bool:
    return not self.errors


def _class_name(label: int) -> str:
  name = _CLASS_NAMES[label] if 0 <= label < len(_CLASS_NAMES) else "unknown"
  return f"class {label} ({name})"


def check_labels(class_counts: Mapping[int, int], unlabeled: int = 0, *,
                 require_labels: bool = True, allow_imbalance: bool = False,
                 max_fraction: float = DEFAULT_MAX_FRACTION,
                 num_classes: int = 3) -> LabelQaResult:
  """Checks one dataset's label counts; see the module docstring for the rules.

  Args:
    class_counts: label -> number of examples carrying it.
    unlabeled: examples without a ``label`` feature (calling-mode examples).
    require_labels: the dataset is meant for training (a dataset config was requested).
    allow_imbalance: turn the imbalance/empty-class findings into warnings only.
    max_fraction: the share above which one class counts as dominating.
    num_classes: labels are expected in 0..num_classes-1 (DeepVariant: 3).
  """
  if not 0.0 < max_fraction <= 1.0:
    raise ValueError(f"max_fraction must be in (0, 1], got {max_fraction}")
  warnings, errors = [], []
  labeled = sum(int(c) for c in class_counts.values())
  total = labeled + int(unlabeled)
  if total == 0:
    errors.append("no examples: the inputs hold no records")
    return LabelQaResult(tuple(errors), tuple(errors))
  if unlabeled:
    if labeled:
      errors.append(f"{unlabeled} of {total} examples carry no label while {labeled} do: "
                    "calling and training examples are mixed")
    elif require_labels:
      errors.append(f"none of the {total} examples carries a label: training inputs must "
                    "come from make_examples --mode training")
    if errors or not labeled:
      return LabelQaResult(tuple(errors), tuple(errors))
  bad = sorted(label for label, c in class_counts.items()
               if c and not 0 <= int(label) < num_classes)
  if bad:
    errors.append(f"labels {bad} are outside 0..{num_classes - 1}")
  imbalance = []
  for label in range(num_classes):
    count = int(class_counts.get(label, 0))
    if count == 0:
      imbalance.append(f"{_class_name(label)} is empty (0 of {labeled} examples)")
    elif count / labeled > max_fraction:
      imbalance.append(f"{_class_name(label)} holds {100.0 * count / labeled:.1f}% of "
                       f"{labeled} examples (> {100.0 * max_fraction:g}%)")
  warnings.extend(errors)
  warnings.extend(imbalance)
  if not allow_imbalance:
    errors.extend(f"{msg} (pass --allow_label_imbalance to accept)" for msg in imbalance)
  return LabelQaResult(tuple(warnings), tuple(errors))
