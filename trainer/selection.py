"""Best-checkpoint selection and early stopping on a tune metric (pure Python).

Why separate from the loop: the rule decides which model a run hands over, so it must be tested
on scripted metric sequences without training anything. It is DeepVariant's (spec 9B): after
each tune, if the metric beats the best so far, the checkpoint is saved as the new best and the
patience counter resets; otherwise, if the counter already reached ``patience``, training stops,
else the counter grows. So with patience 2 the third consecutive non-improving tune stops the
run. Two pileflow decisions:

* ``patience <= 0`` never stops (DeepVariant would stop at the first non-improving tune).
* "Beats" is strict, and NaN never beats anything, so a tie keeps the earlier (cheaper, usually
  less over-fitted) checkpoint and a diverged run cannot become best.

With a warm start the loop tunes the starting model at step 0 first; that value is the
baseline, and ``SelectionState.best_is_baseline`` tells the loop whether any fine-tuning step
ever beat it.

Worked example, metric tune/f1_weighted, patience 1, tunes at steps 0 (baseline), 10, 20, 30:
values 0.80, 0.85, 0.84, 0.83 -> improved at 0 and 10, counter 1 after 20, stop at 30;
best step 10.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Optional

from trainer import metrics as metrics_lib


@dataclasses.dataclass
class SelectionState:
  """What survives a resume (stored in the training checkpoint)."""
  best_value: Optional[float] = None
  best_step: int = -1
  tunes_without_improvement: int = 0
  baseline_step: int = -1   # step of the warm-start baseline tune, -1 without one

  @property
  def best_is_baseline(self) -> bool:
    return self.baseline_step >= 0 and self.best_step == self.baseline_step


@dataclasses.dataclass(frozen=True)
class Decision:
  value: float
  improved: bool
  stop: bool


class CheckpointSelector:
  """Applies the rule of the module docstring to successive tune results."""

  def __init__(self, metric: str, patience: int,
               state: Optional[SelectionState] = None):
    self.metric = metric
    self.patience = int(patience)
    self.higher_is_better = metrics_lib.higher_is_better(metric)
    self.state = state or SelectionState()

  def _beats(self, value: float) -> bool:
    if math.isnan(value):
      return False
    best = self.state.best_value
    if best is None:
      return True
    return value > best if self.higher_is_better else value < best

  def update(self, step: int, metrics: Mapping[str, float], baseline: bool = False) -> Decision:
    """Feeds one tune result (keys with their ``tune/`` prefix).

    Raises:
      KeyError: the selection metric is not among ``metrics`` (the message lists them).
    """
    if self.metric not in metrics:
      raise KeyError(f"best_checkpoint_metric {self.metric!r} is not a tune metric; available: "
                     f"{', '.join(sorted(metrics))}")
    value = float(metrics[self.metric])
    if baseline:
      self.state.baseline_step = int(step)
    if self._beats(value):
      self.state.best_value = value
      self.state.best_step = int(step)
      self.state.tunes_without_improvement = 0
      return Decision(value=value, improved=True, stop=False)
    if self.patience > 0 and self.state.tunes_without_improvement >= self.patience:
      return Decision(value=value, improved=False, stop=True)
    self.state.tunes_without_improvement += 1
    return Decision(value=value, improved=False, stop=False)


class SelectionVariables:
  """The selector's state kept in an experiment's checkpointed tf.Variables, so that a resumed
  run selects as an uninterrupted one. Mixed into the CNN and small-model experiments, which
  own ``cfg`` and the ``sel_best_value`` (NaN for none), ``sel_best_step``, ``sel_counter``
  and ``sel_baseline`` variables."""

  def _selector(self) -> CheckpointSelector:
    best = float(self.sel_best_value.numpy())
    state = SelectionState(
        best_value=None if math.isnan(best) else best,
        best_step=int(self.sel_best_step.numpy()),
        tunes_without_improvement=int(self.sel_counter.numpy()),
        baseline_step=int(self.sel_baseline.numpy()))
    return CheckpointSelector(self.cfg.best_checkpoint_metric,
                              self.cfg.early_stopping_patience, state)

  def _store_selector(self, selector: CheckpointSelector) -> None:
    s = selector.state
    self.sel_best_value.assign(float("nan") if s.best_value is None else s.best_value)
    self.sel_best_step.assign(s.best_step)
    self.sel_counter.assign(s.tunes_without_improvement)
    self.sel_baseline.assign(s.baseline_step)
