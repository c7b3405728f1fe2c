"""The training report: one self-contained HTML page written at the end of every training run.

  <experiment_dir>/report.html   train and tune curves, confusion matrices per variant type
                                 on the tune set, the best checkpoint and why it won
  <experiment_dir>/report.json   the numbers behind it (curves, confusion matrices, best)

``trainer.loop.Experiment.run`` calls ``write_report_for_experiment`` after the export, so the
confusion matrices are those of the exported (best) weights on the tune set. Re-render from the
files alone (e.g. after editing this module, or for a run killed before its end) with

  python -m trainer.report --experiment_dir pileflow-out/train

which reads the TensorBoard event files (every scalar the loop wrote, across resumes: the last
value written for a (tag, step) wins), ``config.json``, ``best_checkpoint.json`` and the
confusion matrices of a previous ``report.json`` (none if the run never finished).

Why the curves come from the event files and not from ``Experiment.tunes``: a resumed run only
holds the tunes since its restart in memory, while the event files hold the whole history.
The page uses the same look as the dataset report (``schemas.report_html``); plots are drawn
with matplotlib's object API (no pyplot state), so it is safe inside a long-lived process.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from schemas import _files
from schemas import labels as labels_lib
from schemas import report_html
from trainer import metrics as metrics_lib

REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
BEST_CHECKPOINT_JSON = "best_checkpoint.json"  # written by trainer.loop
CONFIG_JSON = "config.json"
EVENTS_GLOB = "events.out.tfevents.*"
SUBSETS = ("all", "snp", "indel")  # confusion matrices: every example, then per variant_type
CLASS_TITLES = tuple(f"{k} {n}" for k, n in enumerate(labels_lib.CLASS_NAMES))

Curves = Dict[str, List[Tuple[int, float]]]


# ---- data ---------------------------------------------------------------------------------------
def read_scalars(experiment_dir: str) -> Curves:
  """tag -> [(step, value)] sorted by step, from every event file of the experiment.

  Files are read in name order (their names start with the creation time), so after a resume
  the value written last for a (tag, step) wins. Non-scalar summaries are skipped.
  """
  import tensorflow as tf
  values: Dict[str, Dict[int, float]] = {}
  for path in sorted(glob.glob(os.path.join(experiment_dir, EVENTS_GLOB))):
    for raw in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(raw.numpy())
      for value in event.summary.value:
        if value.HasField("tensor"):
          array = tf.make_ndarray(value.tensor)
          if array.ndim != 0 or array.dtype.kind not in "fiu":
            continue
          number = float(array)
        elif value.WhichOneof("value") == "simple_value":
          number = float(value.simple_value)
        else:
          continue
        values.setdefault(value.tag, {})[int(event.step)] = number
  return {tag: sorted(by_step.items()) for tag, by_step in sorted(values.items())}


def confusion_by_type(labels: np.ndarray, predicted: np.ndarray,
                      variant_types: np.ndarray) -> Dict[str, np.ndarray]:
  """3x3 counts[true, predicted] for all examples, SNPs (variant_type 1) and indels (2)."""
  labels = np.asarray(labels).astype(np.int64).reshape(-1)
  predicted = np.asarray(predicted).astype(np.int64).reshape(-1)
  variant_types = np.asarray(variant_types).astype(np.int64).reshape(-1)
  out = {"all": metrics_lib.confusion_matrix(labels, predicted)}
  for vt, name in metrics_lib.VARIANT_TYPE_NAMES.items():
    mask = variant_types == vt
    out[name] = metrics_lib.confusion_matrix(labels[mask], predicted[mask])
  return out


def predict_tune_set(experiment) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(labels, probabilities, variant types) of ``experiment.eval_model`` on the tune set.

  Uses the same tune examples as the loop's tunes (``input_pipeline.make_tune_dataset``, first
  ``num_validation_examples``, file order), one device, padding rows dropped.
  """
  from trainer import input_pipeline as inp
  cfg = experiment.cfg
  ds = inp.make_tune_dataset(experiment.tune_info, cfg.batch_size,
                             num_examples=cfg.num_validation_examples,
                             read_threads=cfg.input_read_threads,
                             buffer_bytes=cfg.prefetch_buffer_bytes)
  labels, probs, vtypes = [], [], []
  for batch in ds:
    keep = batch[inp.VALID].numpy() > 0
    p = experiment.eval_model(batch[inp.IMAGE], training=False)
    probs.append(np.asarray(p, np.float64)[keep])
    labels.append(batch[inp.LABEL].numpy()[keep])
    vtypes.append(batch[inp.VARIANT_TYPE].numpy()[keep])
  if not labels:
    return np.zeros(0, np.int64), np.zeros((0, labels_lib.NUM_CLASSES)), np.zeros(0, np.int64)
  return np.concatenate(labels), np.concatenate(probs), np.concatenate(vtypes)


def _read_json(path: str) -> Optional[dict]:
  if not os.path.isfile(path):
    return None
  with open(path, "r", encoding="utf-8") as f:
    return json.load(f)


# ---- why the best checkpoint won ----------------------------------------------------------------
def explain_best(best: Optional[Mapping], tunes: Sequence[Tuple[int, float]], metric: str,
                 patience: Optional[int], final_step: Optional[int],
                 num_train_steps: Optional[int],
                 baseline_step: Optional[int] = None) -> List[str]:
  """Plain sentences saying which checkpoint was kept and why (trainer/selection.py rule).

  ``tunes`` are (step, value of ``metric``) for every tune. Worked example: metric
  tune/f1_weighted, tunes (20, 0.34), (140, 0.93), (160, 0.89), best step 140 -> "step 140 has
  the highest tune/f1_weighted of 3 tunes: 0.93; runner-up 0.89 at step 160 (0.04 lower)".
  """
  if not best:
    return ["No tune ran, so no checkpoint was selected and nothing was exported."]
  higher = metrics_lib.higher_is_better(metric)
  word, other = ("highest", "lower") if higher else ("lowest", "higher")
  value = float(best["value"])
  step = int(best["step"])
  finite = [(s, v) for s, v in tunes if v is not None and math.isfinite(v)]
  lines = [f"Kept the checkpoint of step {step}: it has the {word} {metric} "
           f"({'higher' if higher else 'lower'} is better) of the {len(tunes)} tune(s), "
           f"{value:.5f}."]
  others = [(s, v) for s, v in finite if s != step]
  if others:
    s2, v2 = (max if higher else min)(others, key=lambda t: t[1])
    lines.append(f"Runner-up: {v2:.5f} at step {s2} ({abs(value - v2):.5f} {other}).")
  ties = [s for s, v in others if v == value]
  if ties:
    lines.append(f"Steps {', '.join(map(str, ties))} tied with it; a tie keeps the earlier "
                 "checkpoint (selection is strict).")
  nan = len(tunes) - len(finite)
  if nan:
    lines.append(f"{nan} tune(s) gave a non-finite value and could not win.")
  if best.get("baseline"):
    lines.append("This is the warm-start baseline (step 0): no fine-tuning step beat the "
                 "starting checkpoint, so the exported model is the starting one.")
  elif baseline_step is not None and baseline_step >= 0:
    base = [v for s, v in finite if s == baseline_step]
    if base:
      lines.append(f"It beat the warm-start baseline ({base[0]:.5f} at step {baseline_step}).")
  if final_step is not None and num_train_steps is not None:
    if final_step < num_train_steps:
      lines.append(f"Training stopped early at step {final_step} of {num_train_steps}: "
                   f"{metric} did not improve in {(patience or 0) + 1} consecutive tunes "
                   f"(early_stopping_patience {patience}).")
    else:
      lines.append(f"Training ran all {num_train_steps} steps.")
  return lines


def report_warnings(confusion: Optional[Mapping[str, np.ndarray]],
                    best: Optional[Mapping]) -> List[str]:
  """Red-box findings: a model that predicts one class only, classes absent from tune."""
  out = []
  if not best:
    out.append("no tune ran: nothing was selected or exported")
  elif best.get("baseline"):
    out.append("fine-tuning never beat the warm-start baseline; the exported model is the "
               "starting checkpoint")
  if confusion is not None:
    cm = np.asarray(confusion["all"])
    total = int(cm.sum())
    if total:
      predicted = cm.sum(axis=0)
      if np.count_nonzero(predicted) == 1:
        only = int(np.argmax(predicted))
        out.append(f"the best model predicts only class {CLASS_TITLES[only]} on all {total} "
                   "tune examples")
      for k in range(labels_lib.NUM_CLASSES):
        if cm[k].sum() == 0:
          out.append(f"the tune set has no examples of class {CLASS_TITLES[k]}: its "
                     "precision, recall and F1 are meaningless")
    else:
      out.append("the tune set gave no examples for the confusion matrix")
  return out


# ---- plots --------------------------------------------------------------------------------------
def curves_plot(title: str, curves: Curves, series: Sequence[Tuple[str, str]],
                best_step: Optional[int], ylabel: str, log_y: bool = False) -> bytes:
  """Lines for each (tag, legend label) present; a dashed line marks the best step."""
  fig = report_html.new_figure(6.4, 3.4)
  ax = fig.add_subplot()
  drawn = 0
  for tag, label in series:
    points = curves.get(tag)
    if not points:
      continue
    steps, values = zip(*points)
    marker = "o" if tag.startswith("tune/") else None
    ax.plot(steps, values, label=label, marker=marker, markersize=3, linewidth=1.6)
    drawn += 1
  if not drawn:
    ax.text(0.5, 0.5, "no values logged", ha="center", va="center", transform=ax.transAxes)
  if best_step is not None and best_step >= 0:
    ax.axvline(best_step, color="black", linestyle="--", linewidth=1,
               label=f"best checkpoint (step {best_step})")
  if log_y and drawn:
    ax.set_yscale("log")
  ax.set_xlabel("step")
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  return report_html.figure_png(fig)


def confusion_plot(confusion: Mapping[str, np.ndarray]) -> bytes:
  """One heat map per subset (all, snp, indel): colour = share of the true class, text = count."""
  subsets = [s for s in SUBSETS if s in confusion]
  fig = report_html.new_figure(4.0 * len(subsets), 3.8)
  for i, name in enumerate(subsets):
    cm = np.asarray(confusion[name], np.int64)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, float), where=rows > 0)
    ax = fig.add_subplot(1, len(subsets), i + 1)
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for t in range(cm.shape[0]):
      for p in range(cm.shape[1]):
        ax.text(p, t, f"{cm[t, p]}\n{100 * share[t, p]:.0f}%", ha="center", va="center",
                fontsize=9, color="white" if share[t, p] > 0.6 else "black")
    names = [n.split(" ", 1)[1] for n in CLASS_TITLES]
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true label")
    total = int(cm.sum())
    acc = np.trace(cm) / total if total else float("nan")
    ax.set_title(f"{name}: {total} examples, accuracy {acc:.3f}", fontsize=10)
  return report_html.figure_png(fig)


# ---- the page -----------------------------------------------------------------------------------
def build_report(experiment_dir: str, confusion: Optional[Mapping[str, np.ndarray]] = None,
                 run: Optional[Mapping] = None) -> Tuple[report_html.Page, dict]:
  """The page and the JSON record for ``experiment_dir``.

  Args:
    confusion: subset -> 3x3 counts of the best model on the tune set (None: not shown).
    run: facts only the live run knows (final_step, num_train_steps, stopped_early,
      resumed_from, baseline_step); read from nothing when re-rendering.
  """
  run = dict(run or {})
  cfg = _read_json(os.path.join(experiment_dir, CONFIG_JSON)) or {}
  best = _read_json(os.path.join(experiment_dir, BEST_CHECKPOINT_JSON))
  curves = read_scalars(experiment_dir)
  metric = (best or {}).get("metric") or cfg.get("best_checkpoint_metric", "tune/f1_weighted")
  best_step = int(best["step"]) if best else None
  tunes = curves.get(metric, [])
  last_step = max((s for points in curves.values() for s, _ in points), default=None)
  final_step = run.get("final_step", last_step)
  num_train_steps = run.get("num_train_steps")
  if num_train_steps is None and cfg.get("num_epochs") and curves.get("epoch"):
    s, e = curves["epoch"][-1]
    num_train_steps = int(round(s / e * cfg["num_epochs"])) if e else None

  page = report_html.Page(
      "pileflow training report",
      f"{experiment_dir}: model {cfg.get('model_type', '?')}, batch {cfg.get('batch_size', '?')}"
      f", {len(tunes)} tune(s), last step {final_step}" +
      (f" of {num_train_steps}" if num_train_steps else "") +
      (f", resumed from step {run['resumed_from']}" if run.get("resumed_from") else ""))
  page.warn(report_warnings(confusion, best))

  page.section("Best checkpoint")
  for line in explain_best(best, tunes, metric, cfg.get("early_stopping_patience"),
                           final_step, num_train_steps, run.get("baseline_step")):
    page.note(line)
  if best:
    m = best.get("metrics", {})
    rows = []
    for subset, prefix in (("all", "tune/"), ("snp", "tune/snp/"), ("indel", "tune/indel/")):
      rows.append([subset] + [_fmt(m.get(prefix + k)) for k in (
          "num_examples", "categorical_accuracy", "f1_weighted", "f1_homref", "f1_het",
          "f1_homalt", "precision", "recall")])
    page.table(["subset", "examples", "accuracy", "f1_weighted", "f1 hom_ref", "f1 het",
                "f1 hom_alt", "precision (variant)", "recall (variant)"], rows)
    page.note(f"checkpoint: {best.get('checkpoint')}; exported to {experiment_dir}/export/")

  page.section("Training and tune curves")
  page.figure("loss_curves", curves_plot(
      "Loss", curves, [("train/loss", "train loss"), ("tune/loss", "tune loss")], best_step,
      "loss"), "Train loss is the mean over the steps since the previous log line.")
  acc_series = [("train/categorical_accuracy", "train accuracy"),
                ("tune/categorical_accuracy", "tune accuracy")]
  if metric not in {t for t, _ in acc_series}:
    acc_series.append((metric, metric + " (selection)"))
  page.figure("accuracy_curves", curves_plot("Accuracy and selection metric", curves,
                                             acc_series, best_step, "value"),
              "The dashed line marks the kept checkpoint.")
  page.figure("f1_curves", curves_plot(
      "Tune F1 per class and variant type", curves,
      [("tune/f1_homref", "F1 hom_ref"), ("tune/f1_het", "F1 het"),
       ("tune/f1_homalt", "F1 hom_alt"), ("tune/snp/f1_weighted", "SNP F1 weighted"),
       ("tune/indel/f1_weighted", "indel F1 weighted")], best_step, "F1"), "")
  page.figure("learning_rate", curves_plot(
      "Learning rate", curves, [("train/learning_rate", "learning rate")], best_step,
      "learning rate"), "")

  if confusion is not None:
    page.section("Confusion matrices on the tune set (best checkpoint)")
    page.figure("confusion_matrices", confusion_plot(confusion),
                "Rows: true label; columns: predicted label; colour: share of the row.")
  record = {
      "experiment_dir": experiment_dir,
      "metric": metric,
      "best": best,
      "run": run,
      "confusion": None if confusion is None else
                   {k: np.asarray(v).astype(int).tolist() for k, v in confusion.items()},
      "curves": {tag: [[s, v] for s, v in points] for tag, points in curves.items()},
      "warnings": page.warnings,
  }
  return page, record


def _fmt(value):
  if value is None:
    return "-"
  return int(value) if float(value).is_integer() and value > 1 else float(value)


def write_report(experiment_dir: str, confusion: Optional[Mapping[str, np.ndarray]] = None,
                 run: Optional[Mapping] = None) -> str:
  """Writes report.html and report.json into ``experiment_dir``; returns the HTML path."""
  page, record = build_report(experiment_dir, confusion, run)
  _files.atomic_write_bytes(os.path.join(experiment_dir, REPORT_JSON),
                            (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
  path = os.path.join(experiment_dir, REPORT_HTML)
  page.write(path)
  return path


def write_report_for_experiment(experiment, result) -> str:
  """End-of-run hook of ``trainer.loop.Experiment.run`` (chief only).

  ``result`` is the loop's ``RunResult``. After ``_finish`` the eval model holds the best
  weights, so the confusion matrices describe the exported model; without a best checkpoint
  there is nothing to score and the page says so.
  """
  confusion = None
  if result.best_step is not None and result.best_step >= 0:
    labels, probs, vtypes = predict_tune_set(experiment)
    predicted = probs.argmax(axis=1) if len(labels) else np.zeros(0, np.int64)
    confusion = confusion_by_type(labels, predicted, vtypes)
  baseline = getattr(experiment, "sel_baseline", None)
  run = {"final_step": int(result.final_step), "num_train_steps": int(result.num_train_steps),
         "stopped_early": bool(result.stopped_early), "resumed_from": result.resumed_from,
         "baseline_step": int(baseline.numpy()) if baseline is not None else -1}
  path = write_report(experiment.dir, confusion, run)
  experiment.log(f"training report: {path}")
  return path


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(prog="trainer.report", description=__doc__.split("\n\n")[0])
  parser.add_argument("--experiment_dir", required=True)
  args = parser.parse_args(argv)
  if not os.path.isdir(args.experiment_dir):
    sys.stderr.write(f"trainer.report: error: {args.experiment_dir} is not a directory\n")
    return 2
  previous = _read_json(os.path.join(args.experiment_dir, REPORT_JSON)) or {}
  if previous.get("kind") == "small_model":  # trainer.train --config=small_model's page
    from trainer import small_model_report
    print(f"trainer.report: wrote {small_model_report.rerender(args.experiment_dir)}")
    return 0
  confusion = previous.get("confusion")
  confusion = None if confusion is None else {k: np.asarray(v) for k, v in confusion.items()}
  path = write_report(args.experiment_dir, confusion, previous.get("run"))
  print(f"trainer.report: wrote {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
