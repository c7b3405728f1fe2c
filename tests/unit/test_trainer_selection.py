"""Best-checkpoint selection and early stopping on scripted metric sequences."""
import math

import pytest

from trainer import selection


def _run(metric, patience, values, baseline=False):
  sel = selection.CheckpointSelector(metric, patience)
  decisions = []
  for i, v in enumerate(values):
    d = sel.update(i * 10, {metric: v, "tune/other": 0.0}, baseline=baseline and i == 0)
    decisions.append(d)
    if d.stop:
      break
  return sel, decisions


@pytest.mark.parametrize("metric,patience,values,best_step,stopped_at", [
    ("tune/f1_weighted", 10, [0.5, 0.7, 0.6, 0.9, 0.8], 30, None),   # max picked
    ("tune/loss", 10, [1.0, 0.4, 0.5, 0.3, 0.35], 30, None),          # loss minimised
    ("tune/f1_weighted", 1, [0.80, 0.85, 0.84, 0.83, 0.99], 10, 30),  # docstring example
    ("tune/f1_weighted", 2, [0.5, 0.5, 0.5, 0.5], 0, 30),             # ties never improve
    ("tune/f1_weighted", 0, [0.9] + [0.1] * 20, 0, None),             # patience 0: never stop
    ("tune/f1_weighted", 5, [0.2, math.nan, 0.3], 20, None),          # NaN never best
])
def test_scripted(metric, patience, values, best_step, stopped_at):
  sel, decisions = _run(metric, patience, values)
  assert sel.state.best_step == best_step
  stops = [i * 10 for i, d in enumerate(decisions) if d.stop]
  assert stops == ([] if stopped_at is None else [stopped_at])


def test_baseline_never_beaten_is_reported():
  sel, _ = _run("tune/f1_weighted", 10, [0.9, 0.8, 0.85], baseline=True)
  assert sel.state.best_is_baseline and sel.state.best_step == 0


def test_baseline_beaten():
  sel, _ = _run("tune/f1_weighted", 10, [0.9, 0.95], baseline=True)
  assert not sel.state.best_is_baseline and sel.state.best_step == 10


def test_unknown_metric_lists_available():
  sel = selection.CheckpointSelector("tune/f2", 1)
  with pytest.raises(KeyError, match="available: tune/f1_weighted"):
    sel.update(0, {"tune/f1_weighted": 1.0})


def test_state_survives_resume():
  sel, _ = _run("tune/f1_weighted", 2, [0.5, 0.6, 0.55])
  resumed = selection.CheckpointSelector("tune/f1_weighted", 2,
                                         selection.SelectionState(**vars(sel.state)))
  assert resumed.update(30, {"tune/f1_weighted": 0.55}).stop is False  # counter 1 -> 2
  assert resumed.update(40, {"tune/f1_weighted": 0.55}).stop is True   # counter at patience
