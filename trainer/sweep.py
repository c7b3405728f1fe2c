"""Fine-tuning sweep with an overfitting guard: ``python -m trainer.sweep``.

::

  python -m trainer.sweep --experiment_dir=SWEEP --config=small \\
      --config.init_checkpoint=BASE/checkpoints/ckpt-N \\
      --config.train_dataset_pbtxt=NEW/train/dataset_config.pbtxt \\
      --config.tune_dataset_pbtxt=NEW/tune/dataset_config.pbtxt \\
      [--config.calling_tune_examples=... --config.calling_tune_truth=... \\
       --config.calling_tune_confident_regions=... --config.calling_tune_ref=... \\
       --config.calling_tune_regions=... --config.best_checkpoint_metric=tune/calling_f1] \\
      --learning_rates=1e-3,1e-4 --epochs=2,6 --fine_tune_modes=whole,frozen_backbone_new_head \\
      [--max_recall_drop=0.02] [--allow_recall_drop]

Every combination of ``--learning_rates`` x ``--epochs`` x ``--fine_tune_modes`` is one trial:
an ordinary fine-tuning run of the trainer (``SWEEP/trials/<name>/``, its report and exports)
from ``init_checkpoint`` with the preset and ``--config.*`` given, selected on the config's
``best_checkpoint_metric`` (``tune/calling_f1`` selects on calling F1 when a calling tune is
configured). Each trial's first tune scores the base model on the same tune data (the warm-start
baseline), so the guard of ``trainer.sweep_rules`` compares like with like: a trial whose SNP
or INDEL recall at its selected checkpoint is more than ``--max_recall_drop`` below the base
model's is flagged, and is not chosen unless ``--allow_recall_drop``.

Outputs: ``sweep.csv`` (one row per trial: settings, selected step, the selection metric for
the base model and the trial, recall per type before and after, the drops, the flag), written
after every trial, and ``sweep_choice.json`` (the chosen trial and its exported model), both
atomically. Resumable: a rerun keeps the rows of finished trials and resumes an interrupted one;
other settings in the same directory are refused. Not here: freezing part of the backbone (the
trainer freezes all or none of it), and Vertex AI's hyperparameter tuning.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('sweep')

import argparse
import copy
import json
import os
import sys
from typing import Dict, List, Optional

from schemas import _files
from schemas import errors
from trainer import cli
from trainer import configs
from trainer import experiment_runs
from trainer import sweep_rules

PROG = "sweep"
SWEEP_CSV = "sweep.csv"
CHOICE_JSON = "sweep_choice.json"
SETTINGS_JSON = "sweep.json"
COLUMNS = ["trial", "learning_rate", "num_epochs", "fine_tune_mode", "best_step", "final_step",
           "metric", "base_value", "value", "base_recall_snp", "recall_snp", "base_recall_indel",
           "recall_indel", "drop_snp", "drop_indel", "flagged"]


class SweepError(errors.InputError):
  """A sweep that cannot run as asked; one line naming the flag."""


def _floats(text: str, flag: str) -> List[float]:
  try:
    values = [float(v) for v in text.split(",") if v.strip()]
  except ValueError:
    raise SweepError(f"{flag}={text}: expected comma-separated numbers") from None
  if not values or any(v <= 0 for v in values):
    raise SweepError(f"{flag}={text}: expected one or more numbers > 0")
  return values


def build_parser() -> argparse.ArgumentParser:
  p = cli.OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
  p.add_argument("--experiment_dir", required=True)
  p.add_argument("--config", default="small", help="trainer preset (trainer/configs.py)")
  p.add_argument("--learning_rates", required=True, help="comma-separated, e.g. 1e-3,1e-4")
  p.add_argument("--epochs", required=True, help="comma-separated epoch counts, e.g. 2,6")
  p.add_argument("--fine_tune_modes", default=configs.FINE_TUNE_WHOLE,
                 help="comma-separated: " + ", ".join(configs.FINE_TUNE_MODES))
  p.add_argument("--max_recall_drop", type=float, default=0.02,
                 help="flag a trial whose SNP or INDEL recall falls more than this below the "
                      "base model's")
  p.add_argument("--allow_recall_drop", action="store_true",
                 help="let a flagged trial be chosen (it stays flagged in sweep.csv)")
  return p


def trial_row(trial: sweep_rules.Trial, result, metric: str) -> Dict[str, object]:
  """The sweep.csv row of one finished trial."""
  base = result.tunes[0] if result.tunes else {}
  best = next((t for t in result.tunes if t["step"] == result.best_step), base)
  drops = sweep_rules.recall_drops(base, best)
  keys = sweep_rules.recall_keys(base)
  row = {"trial": trial.name, "learning_rate": trial.learning_rate,
         "num_epochs": trial.num_epochs, "fine_tune_mode": trial.fine_tune_mode,
         "best_step": result.best_step, "final_step": result.final_step, "metric": metric,
         "base_value": base.get(metric), "value": best.get(metric)}
  for t in sweep_rules.TYPES:
    row[f"base_recall_{t}"] = base.get(keys[t])
    row[f"recall_{t}"] = best.get(keys[t])
    row[f"drop_{t}"] = drops.get(t)
  return row


def _f(value) -> str:
  return "n/a" if value is None else f"{float(value):.4f}"


def _read_csv(path: str) -> List[Dict[str, object]]:
  """sweep.csv's rows with the flag and the metric values typed back."""
  rows = experiment_runs.read_rows(path)
  for r in rows:
    r["flagged"] = r["flagged"] == "True"
    for k in ("value", "base_value"):
      r[k] = float(r[k]) if r[k] not in ("", "None") else None
  return rows


def run(args, base_cfg, log=print) -> Dict[str, object]:
  from trainer import loop
  from trainer import metrics as metrics_lib
  if not base_cfg.init_checkpoint:
    raise SweepError("--config.init_checkpoint: a fine-tuning sweep starts from a base model")
  modes = [m.strip() for m in args.fine_tune_modes.split(",") if m.strip()]
  bad = [m for m in modes if m not in configs.FINE_TUNE_MODES]
  if not modes or bad:
    raise SweepError(f"--fine_tune_modes={args.fine_tune_modes}: unknown {bad or 'none'}; "
                     f"known: {', '.join(configs.FINE_TUNE_MODES)}")
  epochs = _floats(args.epochs, "--epochs")
  if any(e != int(e) for e in epochs):
    raise SweepError(f"--epochs={args.epochs}: whole epochs only")
  trials = sweep_rules.grid(_floats(args.learning_rates, "--learning_rates"),
                            [int(e) for e in epochs], modes)
  out = args.experiment_dir
  os.makedirs(out, exist_ok=True)
  settings = {"config": base_cfg.to_dict(), "trials": [t.name for t in trials],
              "max_recall_drop": args.max_recall_drop}
  experiment_runs.claim_settings(os.path.join(out, SETTINGS_JSON), settings, "sweep")
  metric = base_cfg.best_checkpoint_metric
  csv_path = os.path.join(out, SWEEP_CSV)
  rows = _read_csv(csv_path)
  done = {r["trial"] for r in rows}
  for trial in trials:
    if trial.name in done:
      continue
    cfg = copy.deepcopy(base_cfg)
    cfg.learning_rate = trial.learning_rate
    cfg.num_epochs = trial.num_epochs
    cfg.fine_tune_mode = trial.fine_tune_mode
    result = loop.Experiment(cfg, os.path.join(out, "trials", trial.name),
                             log=lambda line: None).run()
    row = trial_row(trial, result, metric)
    row["flagged"] = bool(sweep_rules.flagged(
        {t: row[f"drop_{t}"] for t in sweep_rules.TYPES if row[f"drop_{t}"] is not None},
        args.max_recall_drop))
    rows.append(row)
    experiment_runs.write_rows(csv_path, rows, COLUMNS)
    drops = ", ".join(f"{t.upper()} recall {_f(row[f'base_recall_{t}'])} -> "
                      f"{_f(row[f'recall_{t}'])}" for t in sweep_rules.TYPES)
    log(f"{PROG}: {trial.name}: {metric} {_f(row['base_value'])} (base) -> {_f(row['value'])} "
        f"at step {row['best_step']}; {drops}" + ("  FLAGGED: recall fell by more than "
                                                 f"{args.max_recall_drop}" if row["flagged"]
                                                 else ""))
  chosen = sweep_rules.choose(rows, "value", metrics_lib.higher_is_better(metric),
                              require_no_drop=not args.allow_recall_drop)
  record = {"metric": metric, "max_recall_drop": args.max_recall_drop,
            "flagged": [r["trial"] for r in rows if r["flagged"]],
            "chosen": None if chosen is None else chosen["trial"],
            "value": None if chosen is None else chosen["value"],
            "model": None if chosen is None else os.path.join(out, "trials", chosen["trial"],
                                                             "export", "saved_model")}
  _files.atomic_write_bytes(os.path.join(out, CHOICE_JSON),
                            (json.dumps(record, indent=1) + "\n").encode())
  if chosen is None:
    log(f"{PROG}: no trial chosen: every trial lost more than {args.max_recall_drop} recall "
        "on a variant type (see sweep.csv; --allow_recall_drop to choose among them anyway)")
  else:
    log(f"{PROG}: chosen {chosen['trial']} ({metric} {_f(chosen['value'])}); "
        f"{len(record['flagged'])} of {len(rows)} trials flagged; wrote {csv_path}")
  return record


def main(argv: Optional[List[str]] = None) -> int:
  args, base_cfg = experiment_runs.parse_flags_and_config(build_parser(), argv)
  cli.quiet_tensorflow()
  cli.run_main(PROG, lambda: run(args, base_cfg))
  return errors.EXIT_OK

if __name__ == "__main__":
  sys.exit(main())
