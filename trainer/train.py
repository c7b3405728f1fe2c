"""Train a pileup classifier: ``python -m trainer.train``.

Local (CPU or one GPU), DeepVariant-style flags::

  python -m trainer.train --config=wgs \\
      --config.train_dataset_pbtxt=/data/train/dataset_config.pbtxt \\
      --config.tune_dataset_pbtxt=/data/tune/dataset_config.pbtxt \\
      --config.init_checkpoint=/models/deepvariant.wgs.ckpt --config.batch_size=512 \\
      --experiment_dir=/tmp/exp1

Cloud (Vertex AI custom job; each replica gets TF_CONFIG from Vertex)::

  python -m trainer.train --config=wgs --config.train_dataset_pbtxt=gs://B/train.pbtxt \\
      --config.tune_dataset_pbtxt=gs://B/tune.pbtxt --experiment_dir=gs://B/exp1 \\
      --strategy=multi_worker          # or --strategy=tpu --leader=local on a TPU VM

``--config`` names a preset of trainer/configs.py (``base``, ``wgs``, ``exome``, ``scratch``,
``tiny``; ``<name>+test`` shrinks it); ``--config.<key>=<value>`` overrides one field, typed by
the preset's value. Re-running the same command resumes from the last checkpoint in
``--experiment_dir``. Bad flags or input print one line (``train: error: ...``) and exit 2
(flags) or 1 (input files).
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Tuple

import ml_collections

from trainer import cli
from trainer import configs

PROG = "train"


def build_parser() -> argparse.ArgumentParser:
  p = cli.OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
  p.add_argument("--config", default="base",
                 help="preset name (base, wgs, exome, scratch, tiny; '+test' to shrink)")
  p.add_argument("--experiment_dir", required=True,
                 help="checkpoints, summaries, best_checkpoint.json and exports go here")
  p.add_argument("--strategy", default="default",
                 choices=("default", "mirrored", "multi_worker", "tpu"))
  p.add_argument("--leader", default="", help="TPU name or grpc://host:port for --strategy=tpu")
  p.add_argument("--cpu_devices", type=int, default=0,
                 help="split the CPU into N logical devices (runs --strategy=mirrored on CPU)")
  p.add_argument("--debug_block_after_step", type=int, default=0,
                 help="fault injection for resume tests: after saving the state at or after "
                      "this step, block until killed")
  return p


def _coerce(key: str, text: str, current):
  """Parses ``text`` as the type of the preset's current value."""
  if isinstance(current, bool):
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
      return True
    if low in ("0", "false", "no", "off"):
      return False
    raise ValueError(f"--config.{key}={text!r}: expected true or false")
  if isinstance(current, int):
    try:
      return int(text.replace(",", "").replace("_", ""))
    except ValueError:
      raise ValueError(f"--config.{key}={text!r}: expected an integer") from None
  if isinstance(current, float):
    try:
      return float(text)
    except ValueError:
      raise ValueError(f"--config.{key}={text!r}: expected a number") from None
  return text


def split_config_overrides(argv: List[str]) -> Tuple[List[str], List[Tuple[str, str]]]:
  """Separates ``--config.<key>=<value>`` (or ``--config.<key> <value>``) from other flags."""
  rest, overrides = [], []
  i = 0
  while i < len(argv):
    arg = argv[i]
    if arg.startswith("--config."):
      body = arg[len("--config."):]
      if "=" in body:
        key, value = body.split("=", 1)
      else:
        if i + 1 >= len(argv):
          raise ValueError(f"{arg}: missing value")
        key, value = body, argv[i + 1]
        i += 1
      overrides.append((key, value))
    else:
      rest.append(arg)
    i += 1
  return rest, overrides


def resolve_config(preset: str, overrides: List[Tuple[str, str]]) -> ml_collections.ConfigDict:
  """The preset with the overrides applied, validated, then locked (no new keys)."""
  cfg = configs.get_config(preset)
  for key, text in overrides:
    if key not in cfg:
      raise ValueError(f"--config.{key}: unknown config key (see trainer/configs.py)")
    cfg[key] = _coerce(key, text, cfg[key])
  configs.validate(cfg)
  cfg.lock()
  return cfg


def main(argv: Optional[List[str]] = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  parser = build_parser()
  try:
    rest, overrides = split_config_overrides(argv)
  except ValueError as e:
    parser.error(str(e))
  args = parser.parse_args(rest)
  try:
    cfg = resolve_config(args.config, overrides)
  except ValueError as e:
    parser.error(str(e))
  # TensorFlow is imported only after the flags are known good: errors stay fast.
  from trainer import checkpoints as ckpt_lib
  from trainer import input_pipeline as inp
  from trainer import loop
  from trainer import strategies
  try:
    strategy, is_chief = strategies.make_strategy(args.strategy, leader=args.leader,
                                                  cpu_devices=args.cpu_devices)
  except ValueError as e:
    parser.error(str(e))
  try:
    result = loop.Experiment(cfg, args.experiment_dir, strategy, is_chief,
                             block_after_step=args.debug_block_after_step).run()
  except (inp.InputError, ckpt_lib.CheckpointError) as e:
    sys.stderr.write(f"{PROG}: error: {' '.join(str(e).split())}\n")
    return 1
  print(f"{PROG}: done at step {result.final_step}/{result.num_train_steps}"
        f"{' (early stop)' if result.stopped_early else ''}; best step {result.best_step}"
        f"{' (warm-start baseline)' if result.best_is_baseline else ''}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
