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
``small``, ``tiny``; ``<name>+test`` shrinks it); ``--config.<key>=<value>`` overrides one
field, typed by the preset's value. Re-running the same command resumes from the last
checkpoint in ``--experiment_dir``.

DeepVariant's small model (the cascade's fully connected network, trainer/small_model_loop.py)
trains from make_dataset's small-model splits and exports the folder make_examples takes as
``--trained_small_model_path``::

  python -m trainer.train --config=small_model \
      --config.train_dataset_pbtxt=/data/small_model/train/dataset_config.pbtxt \
      --config.tune_dataset_pbtxt=/data/small_model/tune/dataset_config.pbtxt \
      --experiment_dir=/tmp/small1          # -> /tmp/small1/small_model/ and report.html

``--experiment_dir`` is checked before any work (``schemas.output_paths``): a new or empty
directory is claimed for pileflow (``.pileflow-output.json`` inside); one pileflow made is
resumed; a non-empty directory pileflow did not make is refused, so training never writes into
a user's folder. An experiment directory of an earlier pileflow version (written before the
marker existed) is recognised by the trainer's own layout (a ``config.json`` of trainer
settings beside ``state/`` or ``checkpoints/``), marked, and resumed.

Errors and exit codes (schemas/errors.py), each one line on stderr:

* 2, bad flags or input (``train: error: <file or flag>: <what is wrong>``): a missing or
  damaged dataset, examples without labels, a damaged checkpoint to resume from, a directory
  that is not ours. Nothing is trained; a directory this run created is removed again.
* 1, a failure during the run (out of memory, an I/O error).
* 130, interrupted (SIGINT/SIGTERM). Training state saved so far is kept, since it is what the
  next run resumes from: ``train: interrupted at step N; re-run the same command to resume
  from step M (DIR/state/ckpt-M)``. With nothing resumable yet, what this run wrote is removed
  (``train: interrupted; outputs of this run were removed``). The exported model appears only
  when complete (``export/`` is renamed into place), so an interrupted run never leaves one.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('train')

import argparse
import json
import os
import shutil
import sys
from typing import List, Optional, Tuple

import ml_collections

from schemas import errors
from schemas import output_paths
from trainer import cli
from trainer import configs

PROG = "train"


def build_parser() -> argparse.ArgumentParser:
  p = cli.OneLineParser(prog=PROG, description=__doc__.split("\n")[0], tool="train",
                        unknown_hint=_config_key_hint)
  p.add_argument("--config", default="base",
                 help="preset name (base, wgs, exome, scratch, small, tiny, small_model; "
                      "'+test' to shrink)")
  p.add_argument("--experiment_dir", required=True,
                 help="checkpoints, summaries, best_checkpoint.json and exports go here: a new "
                      "or empty directory, or one of an earlier run to resume")
  p.add_argument("--strategy", default="default",
                 choices=("default", "mirrored", "multi_worker", "tpu"))
  p.add_argument("--leader", default="", help="TPU name or grpc://host:port for --strategy=tpu")
  p.add_argument("--cpu_devices", type=int, default=0,
                 help="split the CPU into N logical devices (runs --strategy=mirrored on CPU)")
  p.add_argument("--debug_block_after_step", type=int, default=0,
                 help="fault injection for resume tests: after saving the state at or after "
                      "this step, block until killed")
  return p


def _config_key_hint(flag: str) -> Optional[str]:
  """``--num_epochs`` is no flag but a config key: say how to set it."""
  key = flag.lstrip("-").split("=", 1)[0]
  if key in configs.get_config("base") or key in configs.get_config(configs.SMALL_MODEL):
    return f"{key} is a config key: set it with --config.{key}=VALUE"
  return None


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
      if configs.is_small_model(cfg) and key in configs.get_config("base"):
        raise ValueError(f"--config.{key}: a key of the pileup CNN presets; --config="
                         f"{preset} does not use it (its keys: trainer/configs.py _small_model)")
      raise ValueError(f"--config.{key}: unknown config key (see trainer/configs.py)")
    cfg[key] = _coerce(key, text, cfg[key])
  configs.validate(cfg)
  cfg.lock()
  return cfg


class ExperimentDir:
  """The ``--experiment_dir`` policy of the module docstring: check, claim, roll back.

  ``check()`` runs before TensorFlow is imported (a refused directory costs a second);
  ``rollback()`` after a failed or interrupted run removes what this run created when nothing
  resumable was saved, and never touches a directory that held anything before.
  """

  def __init__(self, path: str):
    self.path = path
    self.remote = output_paths.is_remote(path)
    self.created_root: Optional[str] = None  # first folder of the path this run creates
    self.was_empty = False
    self.legacy = False

  def check(self) -> None:
    path = self.path
    if not self.remote and os.path.isdir(path) and os.listdir(path) and not os.path.exists(
        os.path.join(path, output_paths.MARKER)) and looks_like_experiment(path):
      self.legacy = True
    if not self.legacy:
      output_paths.check_dir_output(path, "--experiment_dir", overwrite=False, resume=True)
    if not self.remote:
      missing = _first_missing(path)
      self.created_root = missing
      self.was_empty = missing is None and not os.listdir(path)

  def claim(self, log=print) -> None:
    output_paths.claim_dir(self.path, "trainer.train")
    if self.legacy:
      log(f"{PROG}: {self.path}: experiment directory of an earlier pileflow version (no "
          f"{output_paths.MARKER}); marked it as pileflow's and resuming it")

  def state_checkpoint(self) -> Optional[str]:
    """The training state a re-run would resume from, or None."""
    import tensorflow as tf
    try:
      return tf.train.latest_checkpoint(os.path.join(self.path, STATE_DIR))
    except Exception:  # noqa: BLE001 - an unreadable pointer: nothing to resume from
      return None

  def has_progress(self) -> bool:
    """Whether a re-run would gain from what is saved: training state past step 0, or a best
    checkpoint (a warm-start baseline tune is one)."""
    import tensorflow as tf
    state = self.state_checkpoint()
    if state is not None and not state.endswith("-0"):
      return True
    try:
      return tf.train.latest_checkpoint(os.path.join(self.path, "checkpoints")) is not None
    except Exception:  # noqa: BLE001 - unreadable pointer: nothing usable
      return False

  def rollback(self) -> bool:
    """Removes what this run wrote when it left no progress; True if it did."""
    if self.remote or self.has_progress():
      return False
    if self.created_root is not None:
      shutil.rmtree(self.created_root, ignore_errors=True)
      return True
    if self.was_empty:
      for name in os.listdir(self.path):
        full = os.path.join(self.path, name)
        if os.path.isdir(full) and not os.path.islink(full):
          shutil.rmtree(full, ignore_errors=True)
        else:
          os.remove(full)
      return True
    return False


STATE_DIR = "state"
_LAYOUT_DIRS = ("state", "checkpoints")


def looks_like_experiment(path: str) -> bool:
  """An experiment directory the trainer wrote before the pileflow marker existed.

  Recognised by its own layout: a ``config.json`` holding trainer settings (the keys every
  preset has) beside ``state/`` or ``checkpoints/``.
  """
  config_path = os.path.join(path, "config.json")
  if not os.path.isfile(config_path):
    return False
  try:
    with open(config_path, "r", encoding="utf-8") as f:
      config = json.load(f)
  except (OSError, ValueError):
    return False
  keys = ("train_dataset_pbtxt", "tune_dataset_pbtxt", "model_type", "batch_size")
  return (isinstance(config, dict) and all(k in config for k in keys) and
          any(os.path.isdir(os.path.join(path, d)) for d in _LAYOUT_DIRS))


def _first_missing(path: str) -> Optional[str]:
  """The outermost folder of ``path`` that does not exist yet (what claiming it creates)."""
  path = os.path.abspath(path)
  missing = None
  while not os.path.exists(path):
    missing = path
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  return missing


def _exit_now(experiment) -> None:
  """Ends an interrupted run at once, as schemas.errors.run_main does for its own line.

  Why not sys.exit: tf.data's prefetch threads are still failing as the process winds down and
  would print their tracebacks under our one line. The event file is flushed first.
  """
  try:
    if experiment is not None and hasattr(experiment, "writer"):
      experiment.writer.flush()
  except Exception:  # noqa: BLE001 - best effort; the state checkpoints are what matters
    pass
  errors.exit_now(errors.EXIT_INTERRUPTED)


def _stop_if_interrupted(e: BaseException, exp_dir, experiment_dir: str, experiment) -> None:
  """After a failed run: returns when ``e`` should propagate (a directory this run made is
  rolled back first); when it was an interrupt the state is kept, and the run ends at once
  with one line saying where the next run resumes."""
  interrupted = errors.was_interrupted() or errors.find_in_chain(
      e, (errors.Interrupted, KeyboardInterrupt)) is not None
  if exp_dir.rollback() or not interrupted:
    return
  state = exp_dir.state_checkpoint()
  at = f" at step {int(experiment.step.numpy())}" if experiment is not None and hasattr(
      experiment, "step") else ""
  then = (f"re-run the same command to resume from {state}" if state else
          f"no training state was saved yet in {experiment_dir}")
  sys.stderr.write(f"{PROG}: interrupted{at}; {then}\n")
  _exit_now(experiment)


def _check_small_model_flags(args) -> None:
  """The small model trains on one device in one process: refuse what only the CNN uses."""
  for flag, value, default in (("--strategy", args.strategy, "default"),
                               ("--leader", args.leader, ""),
                               ("--cpu_devices", args.cpu_devices, 0),
                               ("--debug_block_after_step", args.debug_block_after_step, 0)):
    if value != default:
      raise errors.InputError(f"{flag}={value}: not used by --config=small_model (it trains on "
                              "one device; the flag is for the pileup CNN)")


def _train_small_model(args, cfg) -> int:
  _check_small_model_flags(args)
  exp_dir = ExperimentDir(args.experiment_dir)
  exp_dir.check()
  cli.quiet_tensorflow()
  from trainer import small_model_loop
  experiment = None
  try:
    exp_dir.claim()
    experiment = small_model_loop.SmallModelExperiment(cfg, args.experiment_dir)
    result = experiment.run()
  except BaseException as e:
    _stop_if_interrupted(e, exp_dir, args.experiment_dir, experiment)
    raise
  print(f"{PROG}: done at step {result.final_step}/{result.num_train_steps}"
        f"{' (early stop)' if result.stopped_early else ''}; best step {result.best_step}"
        f"{' (warm-start baseline)' if result.best_is_baseline else ''}; temperature "
        f"{result.temperature:.4g}", flush=True)
  print(f"{PROG}: small model: {result.export_dir} (make_examples "
        f"--trained_small_model_path={result.export_dir})", flush=True)
  print(f"{PROG}: report: {result.report_path}", flush=True)
  return errors.EXIT_OK


def _train(args, cfg) -> int:
  if configs.is_small_model(cfg):
    return _train_small_model(args, cfg)
  exp_dir = ExperimentDir(args.experiment_dir)
  exp_dir.check()
  cli.quiet_tensorflow()
  # TensorFlow is imported only after the flags and the directory are known good.
  from trainer import loop
  from trainer import strategies
  try:
    strategy, is_chief = strategies.make_strategy(args.strategy, leader=args.leader,
                                                  cpu_devices=args.cpu_devices)
  except ValueError as e:
    raise errors.InputError(str(e)) from None
  experiment = None
  try:
    exp_dir.claim()
    experiment = loop.Experiment(cfg, args.experiment_dir, strategy, is_chief,
                                 block_after_step=args.debug_block_after_step)
    result = experiment.run()
  except BaseException as e:
    if is_chief:
      _stop_if_interrupted(e, exp_dir, args.experiment_dir, experiment)
    raise
  print(f"{PROG}: done at step {result.final_step}/{result.num_train_steps}"
        f"{' (early stop)' if result.stopped_early else ''}; best step {result.best_step}"
        f"{' (warm-start baseline)' if result.best_is_baseline else ''}", flush=True)
  return errors.EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
  """Returns 0 when done; bad flags or input, failures and interrupts exit (module docstring)."""
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
  return cli.run_main(PROG, lambda: _train(args, cfg))


if __name__ == "__main__":
  sys.exit(main())
