"""The fine-tuning sweep's rules (pure): the trial grid, the overfitting guard, the choice.

Why a guard: in a published PacBio RNA fine-tune of DeepVariant, settings picked by hand
overfit twice: precision rose while indel recall fell from 0.731 to 0.585, and nothing said so.
Each trial's selected checkpoint is compared with the base model as the trial's own
warm-start tune scored it (step 0, the same tune data): a trial whose recall of any variant
type falls more than ``max_recall_drop`` below the base model's is flagged, and with
``require_no_drop`` (the default) a flagged trial is never chosen, however good its F1.

Recall per type comes from the calling tune when one is configured
(``tune/calling_recall_snp``, ``tune/calling_recall_indel``: called variants against the truth)
and otherwise from the example-level tune (``tune/snp/recall``, ``tune/indel/recall``: variant
vs hom-ref on the tune examples).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

TYPES = ("snp", "indel")


@dataclasses.dataclass(frozen=True)
class Trial:
  name: str
  learning_rate: float
  num_epochs: int
  fine_tune_mode: str


def grid(learning_rates: Sequence[float], epochs: Sequence[int],
         modes: Sequence[str]) -> List[Trial]:
  """Every combination, named ``lr<lr>-ep<epochs>-<mode>`` (a folder name)."""
  return [Trial(f"lr{lr:g}-ep{ep}-{mode}", float(lr), int(ep), mode)
          for lr, ep, mode in itertools.product(learning_rates, epochs, modes)]


def recall_keys(metrics: Mapping[str, float]) -> Dict[str, str]:
  """Type -> the tune metric holding its recall (calling tune first)."""
  if all(f"tune/calling_recall_{t}" in metrics for t in TYPES):
    return {t: f"tune/calling_recall_{t}" for t in TYPES}
  return {t: f"tune/{t}/recall" for t in TYPES}


def recall_drops(base: Mapping[str, float], best: Mapping[str, float]) -> Dict[str, float]:
  """Per type, base recall minus the selected checkpoint's (positive: a loss)."""
  keys = recall_keys(base)
  out = {}
  for t, key in keys.items():
    b, s = base.get(key), best.get(key)
    if b is None or s is None or math.isnan(b) or math.isnan(s):
      continue
    out[t] = float(b) - float(s)
  return out


def flagged(drops: Mapping[str, float], max_recall_drop: float) -> List[str]:
  """Types whose recall fell by more than the guard allows."""
  return [t for t, d in sorted(drops.items()) if d > max_recall_drop + 1e-12]


def choose(rows: Sequence[Mapping[str, object]], metric: str, higher_is_better: bool,
           require_no_drop: bool) -> Optional[Mapping[str, object]]:
  """The row with the best ``metric`` column (the selected value); flagged rows only when
  allowed."""
  pool = [r for r in rows if not (require_no_drop and r["flagged"])]
  pool = [r for r in pool if r.get(metric) is not None and not math.isnan(float(r[metric]))]
  if not pool:
    return None
  sign = 1.0 if higher_is_better else -1.0
  return max(pool, key=lambda r: (sign * float(r[metric]), -rows.index(r)))
