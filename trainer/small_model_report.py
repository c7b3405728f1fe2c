"""The small model's training report: ``report.html`` + ``report.json`` + ``reliability.png``.

Written by trainer/small_model_loop.py at the end of ``trainer.train --config=small_model``, in
the experiment directory, in the CNN report's look (trainer/report.py, schemas/report_html.py)
and with its pieces where they fit (curves from the event files, the best-checkpoint
explanation, confusion matrices). What only the small model has:

* **Calibration.** The cascade in make_examples accepts a small-model call when its GQ (phred
  of 1 - max probability, ``schemas.small_model.gq_of``) reaches a threshold, so GQ has to mean
  what it says. The page shows the fitted temperature, NLL and ECE before and after, the
  reliability table (trainer/calibration.py: per GQ bin, claimed GQ vs the GQ of the observed
  genotype error rate) before and after, and the same as a plot (``reliability.png``, also
  embedded): points on the diagonal are calibrated, points below it over-confident.
* **The cascade at make_examples' default thresholds** (SNPs GQ >= 25, other candidates GQ >=
  30): the share of tune candidates the small model would call itself, and how many of those
  calls are wrong. Worked example: 1,000 tune SNPs, 900 with GQ >= 25, 2 of them wrong -> the
  CNN sees 100 SNPs, and the cascade adds 2 genotype errors (0.22% of its calls; GQ 25 claims
  at most 0.32%).

``python -m trainer.report --experiment_dir DIR`` re-renders the page from ``report.json`` and
the event files (the page is drawn from them alone).
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from schemas import _files
from schemas import report_html
from schemas import small_model as contract
from trainer import calibration
from trainer import report as cnn_report

REPORT_HTML = cnn_report.REPORT_HTML
REPORT_JSON = cnn_report.REPORT_JSON
RELIABILITY_PNG = "reliability.png"
KIND = "small_model"  # report.json's "kind": tells trainer.report which page to re-render


def _write(path: str, data: bytes) -> None:
  if "://" in path:
    import tensorflow as tf
    with tf.io.gfile.GFile(path, "wb") as f:
      f.write(data)
  else:
    _files.atomic_write_bytes(path, data)


# ---- numbers --------------------------------------------------------------------------------------
def cascade_rows(probs: np.ndarray, labels: np.ndarray, variant_types: np.ndarray,
                 snp_threshold: float = contract.DEFAULT_SNP_GQ_THRESHOLD,
                 other_threshold: float = contract.DEFAULT_INDEL_GQ_THRESHOLD) -> List[Dict]:
  """What the cascade would do with the tune candidates: per kind (SNP: variant type 1; other:
  the rest, which make_examples compares with the indel threshold), the candidates, those with
  GQ >= the threshold (called by the small model), and the wrong genotypes among them."""
  probs = np.asarray(probs, np.float64)
  labels = np.asarray(labels, np.int64)
  variant_types = np.asarray(variant_types, np.int64)
  gq = contract.gq_of(probs) if len(labels) else np.zeros(0)
  wrong = probs.argmax(axis=1) != labels if len(labels) else np.zeros(0, bool)
  rows = []
  for kind, mask, threshold in (("SNP", variant_types == 1, snp_threshold),
                                ("indel and other", variant_types != 1, other_threshold)):
    n = int(mask.sum())
    accepted = mask & (gq >= threshold)
    k = int(accepted.sum())
    errors = int((accepted & wrong).sum())
    rows.append({"kind": kind, "gq_threshold": float(threshold), "candidates": n,
                 "accepted": k, "accepted_share": k / n if n else 0.0, "errors": errors,
                 "error_rate": errors / k if k else 0.0,
                 "claimed_error_bound": 10 ** (-threshold / 10)})
  return rows


SWEEP_GQ_THRESHOLDS = (15, 20, 25, 30, 35, 40, 50)


def cascade_sweep(probs: np.ndarray, labels: np.ndarray, variant_types: np.ndarray,
                  thresholds: Sequence[float] = SWEEP_GQ_THRESHOLDS) -> List[Dict]:
  """``cascade_rows`` at each GQ threshold, for both kinds alike: what a user can read to pick
  make_examples' --small_model_*_gq_threshold from their own tune split (share called vs
  errors among the calls) instead of taking DeepVariant's defaults on trust."""
  out = []
  for t in thresholds:
    out.extend(cascade_rows(probs, labels, variant_types, snp_threshold=t, other_threshold=t))
  return out


# ---- plots ----------------------------------------------------------------------------------------
def reliability_plot(before: Sequence[Mapping], after: Sequence[Mapping],
                     temperature: float) -> bytes:
  """Claimed GQ (x) against observed GQ (y) per GQ bin, before and after calibration; the marker
  area grows with the bin's examples; hollow markers: no error in the bin (observed GQ is then
  a lower bound, the phred of 1/(n+1))."""
  fig = report_html.new_figure(5.6, 4.6)
  ax = fig.add_subplot()
  top = contract.DEFAULT_INDEL_GQ_THRESHOLD + 5.0  # the cascade's thresholds always in view
  for rows, label, color in ((before, "before calibration", "#e07b00"),
                             (after, f"after (temperature {temperature:.3g})", "#1f5fbf")):
    if not rows:
      continue
    x = np.array([r["claimed_gq"] for r in rows], float)
    y = np.array([r["observed_gq"] for r in rows], float)
    n = np.array([r["n"] for r in rows], float)
    bound = np.array([r["errors"] == 0 for r in rows])
    size = 20 + 180 * np.sqrt(n / max(n.max(), 1))
    ax.plot(x, y, color=color, linewidth=1, alpha=0.6)
    ax.scatter(x[~bound], y[~bound], s=size[~bound], color=color, label=label, zorder=3)
    ax.scatter(x[bound], y[bound], s=size[bound], facecolors="none", edgecolors=color,
               zorder=3, label=f"{label}: no error in bin (lower bound)" if bound.any() else None)
    top = max(top, float(np.max(np.concatenate([x, y]))) + 3)
  ax.plot([0, top], [0, top], color="black", linestyle="--", linewidth=1, label="calibrated")
  for threshold, name in ((contract.DEFAULT_SNP_GQ_THRESHOLD, "SNP threshold"),
                          (contract.DEFAULT_INDEL_GQ_THRESHOLD, "indel threshold")):
    ax.axvline(threshold, color="grey", linestyle=":", linewidth=1)
    ax.text(threshold, top * 0.02, f" {name} {threshold}", rotation=90, fontsize=7,
            color="grey", va="bottom", clip_on=True)
  ax.set_xlim(0, top)
  ax.set_ylim(0, top)
  ax.set_xlabel("claimed GQ (phred of 1 - max probability, bin mean)")
  ax.set_ylabel("observed GQ (phred of the genotype error rate)")
  ax.set_title("Small model: claimed GQ vs observed genotype error (tune set)", fontsize=10)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, loc="upper left")
  return report_html.figure_png(fig)


# ---- the page -------------------------------------------------------------------------------------
def _warnings(facts: Mapping, best: Optional[Mapping]) -> List[str]:
  out = cnn_report.report_warnings(
      None if facts.get("confusion") is None else
      {k: np.asarray(v) for k, v in facts["confusion"].items()}, best)
  for row in facts.get("cascade") or ():
    if row["accepted"] >= 20 and row["error_rate"] > 3 * row["claimed_error_bound"]:
      out.append(f"{row['kind']}: {row['errors']} of the {row['accepted']} tune calls with GQ >= "
                 f"{row['gq_threshold']:g} are wrong ({100 * row['error_rate']:.2f}%; that GQ "
                 f"claims at most {100 * row['claimed_error_bound']:.2f}%): the cascade would "
                 "add genotype errors; raise make_examples' --small_model_*_gq_threshold or "
                 "train on more data")
  calib = facts.get("calibration") or {}
  t = calib.get("temperature")
  if calib.get("fitted") and t is not None and not (1 / 7.9 < t < 7.9):
    out.append(f"calibration temperature {t} is at the edge of its search range (1/8..8): the "
               "model's probabilities are far off, not just miscalibrated")
  return out


def _reliability_rows(rows: Sequence[Mapping]) -> List[List]:
  return [[f"{r['gq_from']}-{r['gq_to'] if r['gq_to'] < 1000 else '+'}", r["n"], r["errors"],
           float(r["claimed_gq"]), float(r["observed_gq"])] for r in rows]


def build_page(experiment_dir: str, facts: Mapping,
               reliability_png: Optional[bytes] = None) -> report_html.Page:
  """The page from ``facts`` (what report.json records) and the event files."""
  cfg = cnn_report._read_json(os.path.join(experiment_dir, cnn_report.CONFIG_JSON)) or {}
  best = cnn_report._read_json(os.path.join(experiment_dir, cnn_report.BEST_CHECKPOINT_JSON))
  curves = cnn_report.read_scalars(experiment_dir)
  run = facts.get("run") or {}
  metric = (best or {}).get("metric") or cfg.get("best_checkpoint_metric", "tune/f1_weighted")
  best_step = int(best["step"]) if best else None
  tunes = curves.get(metric, [])
  model = facts.get("model") or {}
  page = report_html.Page(
      "pileflow small-model training report",
      f"{experiment_dir}: {model.get('features', '?')} features -> hidden "
      f"{model.get('hidden', '?')} -> 3 ({model.get('weights', 0):,} weights), batch "
      f"{cfg.get('batch_size', '?')}, {len(tunes)} tune(s), last step {run.get('final_step')}"
      f" of {run.get('num_train_steps')}" +
      (f", resumed from step {run['resumed_from']}" if run.get("resumed_from") else ""))
  page.warn(_warnings(facts, best))

  page.section("Exported model")
  page.note(f"{facts.get('export_dir')}: pass it to make_examples --trained_small_model_path "
            "(with --call_small_model_examples).")
  page.section("Best checkpoint")
  for line in cnn_report.explain_best(best, tunes, metric, cfg.get("early_stopping_patience"),
                                      run.get("final_step"), run.get("num_train_steps"),
                                      run.get("baseline_step")):
    page.note(line)
  if best:
    m = best.get("metrics", {})
    rows = [[subset] + [cnn_report._fmt(m.get(prefix + k)) for k in (
        "num_examples", "categorical_accuracy", "f1_weighted", "f1_homref", "f1_het",
        "f1_homalt", "loss")]
        for subset, prefix in (("all", "tune/"), ("snp", "tune/snp/"), ("indel", "tune/indel/"))]
    page.table(["subset", "examples", "accuracy", "f1_weighted", "f1 hom_ref", "f1 het",
                "f1 hom_alt", "loss"], rows)

  calib = facts.get("calibration")
  if calib:
    page.section("Calibration: claimed GQ vs observed genotype error (tune set)")
    t = calib["temperature"]
    page.note((f"Temperature {t} fitted on {calib['tune_examples']} tune examples (logits / T; "
               "the called genotype never changes). " if calib.get("fitted") else
               "No temperature fitted (--config.calibrate_temperature=false): T = 1. ") +
              f"NLL {calib['nll_before']} -> {calib['nll_after']}, expected calibration error "
              f"{calib['ece_before']} -> {calib['ece_after']}.")
    page.figure("reliability", reliability_png or reliability_plot(
        calib["reliability_before"], calib["reliability_after"], t),
                "Each point is a GQ bin; on the dashed line, GQ means what it says; below it, the "
                "model is over-confident.")
    headers = ["GQ bin", "examples", "errors", "claimed GQ", "observed GQ"]
    page.note("Before calibration: " + calibration.format_reliability(
        calib["reliability_before"]))
    page.table(headers, _reliability_rows(calib["reliability_before"]))
    page.note("After calibration (the exported model): " + calibration.format_reliability(
        calib["reliability_after"]))
    page.table(headers, _reliability_rows(calib["reliability_after"]))

  cascade = facts.get("cascade")
  if cascade:
    page.section("The cascade at make_examples' default GQ thresholds (tune set)")
    page.table(["candidates", "GQ threshold", "tune candidates", "called by the small model",
                "share", "wrong genotypes", "error rate", "error the threshold claims (max)"],
               [[r["kind"], r["gq_threshold"], r["candidates"], r["accepted"],
                 r["accepted_share"], r["errors"], r["error_rate"], r["claimed_error_bound"]]
                for r in cascade])
    page.note("Candidates not called here go on to the pileup CNN.")
  sweep = facts.get("cascade_sweep")
  if sweep:
    page.section("Other GQ thresholds (tune set)")
    page.table(["candidates", "GQ threshold", "called by the small model", "share",
                "wrong genotypes", "error rate", "error the threshold claims (max)"],
               [[r["kind"], r["gq_threshold"], r["accepted"], r["accepted_share"], r["errors"],
                 r["error_rate"], r["claimed_error_bound"]] for r in sweep])
    page.note("A tune split holds few calls above GQ 30: zero errors there bound the error "
              "rate only loosely (3 / calls, at 95%).")

  page.section("Training and tune curves")
  page.figure("loss_curves", cnn_report.curves_plot(
      "Loss", curves, [("train/loss", "train loss"), ("tune/loss", "tune loss")], best_step,
      "loss"), "Train loss is the mean over the steps since the previous log line.")
  series = [("train/categorical_accuracy", "train accuracy"),
            ("tune/categorical_accuracy", "tune accuracy")]
  if metric not in {t for t, _ in series}:
    series.append((metric, metric + " (selection)"))
  page.figure("accuracy_curves", cnn_report.curves_plot(
      "Accuracy and selection metric", curves, series, best_step, "value"),
      "The dashed line marks the kept checkpoint.")
  if facts.get("confusion") is not None:
    page.section("Confusion matrices on the tune set (best checkpoint)")
    page.figure("confusion_matrices", cnn_report.confusion_plot(
        {k: np.asarray(v) for k, v in facts["confusion"].items()}),
        "Rows: true label; columns: predicted label; colour: share of the row.")
  return page


def write_report(experiment_dir: str, facts: Dict) -> str:
  """Writes reliability.png, report.json and report.html; returns the HTML path."""
  calib = facts.get("calibration")
  png = None
  if calib:
    png = reliability_plot(calib["reliability_before"], calib["reliability_after"],
                           calib["temperature"])
    _write(os.path.join(experiment_dir, RELIABILITY_PNG), png)
  page = build_page(experiment_dir, facts, png)
  record = {**facts, "kind": KIND, "experiment_dir": experiment_dir,
            "best": cnn_report._read_json(os.path.join(experiment_dir,
                                                       cnn_report.BEST_CHECKPOINT_JSON)),
            "warnings": page.warnings}
  _write(os.path.join(experiment_dir, REPORT_JSON),
         (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
  path = os.path.join(experiment_dir, REPORT_HTML)
  _write(path, page.render().encode("utf-8"))
  return path


def write_report_for_experiment(experiment, result, probs: np.ndarray,
                                calib: Mapping) -> str:
  """End-of-run hook of SmallModelExperiment: ``probs`` are the exported model's (calibrated)
  tune probabilities."""
  tune = experiment.tune_data
  predicted = probs.argmax(axis=1)
  confusion = cnn_report.confusion_by_type(tune.labels, predicted, tune.variant_types)
  from trainer import small_model_loop as loop_lib
  facts = {
      "run": {"final_step": int(result.final_step),
              "num_train_steps": int(result.num_train_steps),
              "stopped_early": bool(result.stopped_early), "resumed_from": result.resumed_from,
              "baseline_step": int(experiment.sel_baseline.numpy())},
      "model": {"features": len(experiment.feature_names),
                "hidden": ",".join(map(str, experiment.hidden)),
                "weights": loop_lib.num_weights(experiment.model)},
      "export_dir": result.export_dir,
      "confusion": {k: np.asarray(v).astype(int).tolist() for k, v in confusion.items()},
      "calibration": dict(calib),
      "cascade": cascade_rows(probs, tune.labels, tune.variant_types),
      "cascade_sweep": cascade_sweep(probs, tune.labels, tune.variant_types),
  }
  return write_report(experiment.dir, facts)


def rerender(experiment_dir: str) -> str:
  """``python -m trainer.report`` for a small-model experiment: the page from report.json."""
  record = cnn_report._read_json(os.path.join(experiment_dir, REPORT_JSON)) or {}
  facts = {k: v for k, v in record.items() if k not in ("kind", "experiment_dir", "best",
                                                         "warnings")}
  return write_report(experiment_dir, facts)
