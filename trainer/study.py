"""Backbone comparison by cross-validation: ``python -m trainer.study``.

::

  python -m trainer.study --dataset_config_pbtxt=DATA/train/dataset_config.pbtxt \\
      --backbones=tiny,small,regnety_002 --baseline=small --folds=5 --steps_per_fold=2000 \\
      --experiment_dir=STUDY [--config=small] [--config.batch_size=64 ...]

What a user would otherwise script by hand, as one resumable run over the trainer:

1. **Folds by region** (``trainer.study_folds``): the dataset's examples are cut into blocks
   of the genome no read spans twice, and whole blocks go to K folds of about equal size; each
   fold keeps a tune part. Written once to ``STUDY/folds/`` (2K gzipped TFRecord parts, one
   dataset_config.pbtxt per fold and split, the plan in ``plan.json``).
2. **Same recipe, same budget**: every backbone is trained on every fold with the preset
   (``--config``, default ``small``, and any ``--config.<key>=<value>``), only ``model_type``
   changing, for exactly ``--steps_per_fold`` steps (``max_train_steps``), with the trainer's
   own checkpoint selection on the fold's tune part. Runs are ordinary experiments in
   ``STUDY/runs/<backbone>/fold-<k>/`` (reports, exports, resume).
3. **Scores on the held-out fold** (``trainer.study_stats``) with the exported model: weighted
   F1, per-class F1, one-vs-rest ROC-AUC per class. One row per backbone and fold in
   ``study.csv``, written after every run.
4. **Summary**: ``study_summary.csv`` (mean, sd, mean difference to ``--baseline`` and the
   paired Wilcoxon signed-rank and t-test p-values over folds), and ``study.png`` (weighted F1
   per fold, one line per backbone).

Resumable: a killed study, rerun with the same command, keeps ``study.csv``'s rows and the
fold files, resumes an interrupted training run from its state, and runs only what is missing.
A rerun with other folds, data or settings is refused (``study.json`` records them), since its
rows would not be comparable. Not here yet: genotype-aware calling F1 per fold (needs calling
examples of each fold's regions).

Exit codes (schemas/errors.py): 0 done; 2 bad flags or input; 1 a failure; 130 interrupted.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('study')

import argparse
import copy
import json
import math
import os
import shutil
import sys
from typing import Dict, List, Optional, Sequence

from schemas import _files
from schemas import dataset_config as dataset_config_lib
from schemas import errors
from trainer import cli
from trainer import experiment_runs
from trainer import study_folds
from trainer import study_stats

PROG = "study"
STUDY_JSON = "study.json"
STUDY_CSV = "study.csv"
SUMMARY_CSV = "study_summary.csv"
FIGURE = "study.png"
SPLITS = ("train", "tune", "test")


class StudyError(errors.InputError):
  """A study that cannot run as asked; one line naming the flag or file."""


def build_parser() -> argparse.ArgumentParser:
  p = cli.OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
  p.add_argument("--dataset_config_pbtxt", required=True,
                 help="the labeled examples to cross-validate (make_dataset's train split, or "
                      "any dataset_config.pbtxt)")
  p.add_argument("--backbones", required=True, help="registry names, comma-separated")
  p.add_argument("--baseline", default="", help="backbone the others are tested against "
                                                "(default: the first)")
  p.add_argument("--folds", type=int, default=5)
  p.add_argument("--steps_per_fold", type=int, required=True,
                 help="training steps of every run (the same budget for every backbone)")
  p.add_argument("--experiment_dir", required=True)
  p.add_argument("--config", default="small", help="trainer preset (trainer/configs.py)")
  p.add_argument("--region_size", type=int, default=100_000,
                 help="least size in bp of a block of the genome that goes to one fold")
  p.add_argument("--min_gap", type=int, default=1_000,
                 help="bp between two examples where a block may end (more than a read "
                      "reaches; raise it for long reads)")
  p.add_argument("--tune_fraction", type=float, default=0.1,
                 help="share of each fold kept for checkpoint selection")
  p.add_argument("--seed", type=int, default=1, help="fold assignment seed")
  return p


# ---- the fold files --------------------------------------------------------------------------
def _part(folder: str, k: int, tune: bool) -> str:
  return os.path.join(folder, f"part-{k}-{'tune' if tune else 'main'}.tfrecord.gz")


def _read_loci(info):
  """(contig, start) and label of every example, in file order (images are not decoded)."""
  import tensorflow as tf
  from schemas import example_format as ef
  spec = {ef.LOCUS: tf.io.FixedLenFeature([], tf.string),
          ef.LABEL: tf.io.FixedLenFeature([], tf.int64, default_value=-1)}
  ds = tf.data.TFRecordDataset(list(info.files), compression_type="GZIP" if info.gzip else "")
  loci, labels = [], []
  for batch in ds.batch(1024).map(lambda r: tf.io.parse_example(r, spec)):
    for locus, label in zip(batch[ef.LOCUS].numpy(), batch[ef.LABEL].numpy()):
      contig, _, span = locus.decode().rpartition(":")
      loci.append((contig, int(span.split("-")[0]) - 1))
      labels.append(int(label))
  return loci, labels


def write_folds(info, folder: str, args) -> Dict[str, object]:
  """Writes the fold parts and per-fold configs (module docstring); returns the plan record."""
  import tensorflow as tf
  loci, labels = _read_loci(info)
  if any(label < 0 for label in labels):
    raise StudyError(f"{args.dataset_config_pbtxt}: examples without labels; a study needs "
                     "training-mode examples")
  try:
    plan = study_folds.plan_folds(loci, args.folds, region_size=args.region_size,
                                  min_gap=args.min_gap, tune_fraction=args.tune_fraction,
                                  seed=args.seed)
  except ValueError as e:
    raise StudyError(str(e)) from None
  tmp = folder + ".tmp"
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  options = tf.io.TFRecordOptions(compression_type="GZIP")
  writers = {(k, t): tf.io.TFRecordWriter(_part(tmp, k, t), options)
             for k in range(args.folds) for t in (False, True)}
  counts = {key: [0, 0, 0] for key in writers}
  ds = tf.data.TFRecordDataset(list(info.files), compression_type="GZIP" if info.gzip else "")
  for i, record in enumerate(ds.as_numpy_iterator()):
    key = (plan.fold[i], plan.is_tune[i])
    writers[key].write(record)
    counts[key][labels[i]] += 1
  for w in writers.values():
    w.close()
  shutil.copy(info.example_info_path, os.path.join(tmp, "example_info.json"))
  for k in range(args.folds):
    members = {"train": [(j, False) for j in range(args.folds) if j != k],
               "tune": [(j, True) for j in range(args.folds) if j != k],
               "test": [(k, False), (k, True)]}
    for split, keys in members.items():
      keys = [key for key in keys if sum(counts[key])]
      n = sum(sum(counts[key]) for key in keys)
      if not n:
        raise StudyError(f"--folds={args.folds}: fold {k} has no {split} examples; use fewer "
                         "folds or a larger --tune_fraction")
      by_class = {c: sum(counts[key][c] for key in keys) for c in range(3)}
      paths = ",".join(os.path.basename(_part(tmp, *key)) for key in keys)
      dataset_config_lib.write_dataset_config(
          os.path.join(tmp, f"fold-{k}-{split}.pbtxt"), f"fold-{k}-{split}", n, by_class,
          paths, f"fold-{k}-{split}", tfrecord_path=paths)
  record = {"folds": args.folds, "blocks": plan.num_blocks, "examples": len(loci),
            "examples_per_fold": [sum(sum(counts[(k, t)]) for t in (False, True))
                                  for k in range(args.folds)]}
  _files.atomic_write_bytes(os.path.join(tmp, "plan.json"),
                            json.dumps(record, indent=1).encode())
  os.replace(tmp, folder)
  return record


# ---- one run ----------------------------------------------------------------------------------
def run_config(base, backbone: str, folder: str, k: int, steps: int, train_examples: int):
  cfg = copy.deepcopy(base)
  cfg.model_type = backbone
  cfg.train_dataset_pbtxt = os.path.join(folder, f"fold-{k}-train.pbtxt")
  cfg.tune_dataset_pbtxt = os.path.join(folder, f"fold-{k}-tune.pbtxt")
  steps_per_epoch = max(1, train_examples // cfg.batch_size)
  cfg.num_epochs = max(1, math.ceil(steps / steps_per_epoch))
  cfg.max_train_steps = steps
  return cfg


def score_fold(experiment_dir: str, test_config: str, batch_size: int) -> Dict[str, float]:
  """The exported model of ``experiment_dir`` on the held-out fold: study_stats.fold_scores."""
  import numpy as np
  import tensorflow as tf
  from trainer import input_pipeline as inp
  info = inp.inspect_dataset(test_config)
  model = tf.saved_model.load(os.path.join(experiment_dir, "export", "saved_model"))
  serve = list(model.signatures.values())[0]
  labels, probs = [], []
  for batch in inp.make_tune_dataset(info, batch_size, num_examples=0, read_threads=2,
                                     buffer_bytes=8_000_000):
    out = list(serve(batch[inp.IMAGE]).values())[0].numpy()
    keep = batch[inp.VALID].numpy() == 1
    labels.append(batch[inp.LABEL].numpy()[keep].reshape(-1))
    probs.append(out[keep])
  return study_stats.fold_scores(np.concatenate(labels), np.concatenate(probs))


# ---- figure -----------------------------------------------------------------------------------
def write_figure(path: str, rows: Sequence[Dict[str, str]], folds: int) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(6, 4))
  for backbone in dict.fromkeys(r["backbone"] for r in rows):
    mine = sorted((int(r["fold"]), float(r["f1_weighted"])) for r in rows
                  if r["backbone"] == backbone)
    ax.plot([f for f, _ in mine], [v for _, v in mine], marker="o", label=backbone)
  ax.set_xticks(range(folds))
  ax.set_xlabel("held-out fold")
  ax.set_ylabel("weighted F1")
  ax.set_title("backbones per fold (same recipe and step budget)")
  ax.legend()
  fig.tight_layout()
  tmp = path + ".tmp.png"
  fig.savefig(tmp, dpi=120)
  plt.close(fig)
  os.replace(tmp, path)


# ---- the whole study -------------------------------------------------------------------------
def run(args, base_cfg, log=print) -> Dict[str, object]:
  from trainer import input_pipeline as inp
  from trainer import loop
  from trainer import models
  backbones = [b for b in (x.strip() for x in args.backbones.split(",")) if b]
  baseline = args.baseline or (backbones[0] if backbones else "")
  unknown = [b for b in backbones if b not in models.registered()]
  if not backbones or unknown:
    raise StudyError(f"--backbones={args.backbones}: unknown {unknown or 'none given'}; known: "
                     f"{', '.join(models.registered())}")
  if len(set(backbones)) != len(backbones):
    raise StudyError(f"--backbones={args.backbones}: a backbone is named twice")
  if baseline not in backbones:
    raise StudyError(f"--baseline={baseline}: not one of --backbones={args.backbones}")
  if args.steps_per_fold < 1:
    raise StudyError(f"--steps_per_fold={args.steps_per_fold}: must be >= 1")
  out = args.experiment_dir
  os.makedirs(out, exist_ok=True)
  settings = {"dataset_config_pbtxt": os.path.abspath(args.dataset_config_pbtxt),
              "folds": args.folds, "steps_per_fold": args.steps_per_fold,
              "config": base_cfg.to_dict(), "region_size": args.region_size,
              "min_gap": args.min_gap, "tune_fraction": args.tune_fraction, "seed": args.seed}
  folder = os.path.join(out, "folds")
  plan_path = os.path.join(folder, "plan.json")
  info = None if os.path.exists(plan_path) else inp.inspect_dataset(args.dataset_config_pbtxt)
  experiment_runs.claim_settings(os.path.join(out, STUDY_JSON), settings, "study")
  if info is None:
    with open(plan_path) as f:
      plan = json.load(f)
  else:
    plan = write_folds(info, folder, args)
  log(f"{PROG}: {plan['examples']} examples in {plan['blocks']} regions -> {plan['folds']} "
      f"folds of {plan['examples_per_fold']}")
  csv_path = os.path.join(out, STUDY_CSV)
  rows = experiment_runs.read_rows(csv_path)
  done = {(r["backbone"], int(r["fold"])) for r in rows}
  columns = ["backbone", "fold", "weights", "best_step", *study_stats.METRICS, "num_examples"]
  weights: Dict[str, int] = {}
  for backbone in backbones:
    for k in range(args.folds):
      if (backbone, k) in done:
        continue
      train_n = dataset_config_lib.read_dataset_config(
          os.path.join(folder, f"fold-{k}-train.pbtxt")).num_examples
      cfg = run_config(base_cfg, backbone, folder, k, args.steps_per_fold, train_n)
      exp = os.path.join(out, "runs", backbone, f"fold-{k}")
      result = loop.Experiment(cfg, exp, log=lambda line: None).run()
      scores = score_fold(exp, os.path.join(folder, f"fold-{k}-test.pbtxt"), cfg.batch_size)
      if backbone not in weights:  # one build per backbone, only to count its weights
        weights[backbone] = models.build_model(
            backbone, inp.inspect_dataset(cfg.tune_dataset_pbtxt).shape).model.count_params()
      row = {"backbone": backbone, "fold": k, "weights": weights[backbone],
             "best_step": result.best_step, **scores}
      rows.append({key: str(v) if not isinstance(v, float) else f"{v:.6g}"
                   for key, v in row.items()})
      experiment_runs.write_rows(csv_path, rows, columns)
      log(f"{PROG}: {backbone} fold {k}: weighted F1 {scores['f1_weighted']:.4f} on "
          f"{int(scores['num_examples'])} held-out examples (best step {result.best_step} of "
          f"{result.final_step})")
  summary = study_stats.summarize(rows, baseline)
  experiment_runs.write_rows(os.path.join(out, SUMMARY_CSV), summary,
              ["backbone", "metric", "folds", "mean", "sd", "mean_diff_vs_baseline",
               "wilcoxon_p", "ttest_p"])
  write_figure(os.path.join(out, FIGURE), rows, args.folds)
  for r in summary:
    if r["metric"] == "f1_weighted":
      extra = ("" if r["backbone"] == baseline else
               f", vs {baseline} {r['mean_diff_vs_baseline']:+.4f} (Wilcoxon p "
               f"{r['wilcoxon_p']:.3g}, paired t p {r['ttest_p']:.3g})")
      log(f"{PROG}: {r['backbone']}: weighted F1 {r['mean']:.4f} +- {r['sd']:.4f}{extra}")
  log(f"{PROG}: wrote {csv_path}, {os.path.join(out, SUMMARY_CSV)}, {os.path.join(out, FIGURE)}")
  return {"rows": rows, "summary": summary, "plan": plan}


def main(argv: Optional[List[str]] = None) -> int:
  parser = build_parser()
  # The config's train/tune datasets are set per fold; validation wants them non-empty.
  args, base_cfg = experiment_runs.parse_flags_and_config(
      parser, argv, [("train_dataset_pbtxt", "(per fold)"), ("tune_dataset_pbtxt", "(per fold)")])
  cli.quiet_tensorflow()
  cli.run_main(PROG, lambda: run(args, base_cfg))
  return errors.EXIT_OK

if __name__ == "__main__":
  sys.exit(main())
