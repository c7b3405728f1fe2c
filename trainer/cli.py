"""Command-line plumbing shared by the trainer's entry points (train, call, evaluate).

Why not beam_pipelines.flags: the trainer never imports the Beam half. The rule is the same
(schemas/errors.py): a bad flag is one line on stderr and exit code 2; a flag nobody defines is
refused by name, and a DeepVariant flag pileflow does not implement is named as such
(:mod:`trainer.deepvariant_flags`), so that nobody believes it took effect.
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import Callable, Optional, TypeVar

from schemas import errors
from trainer import deepvariant_flags

T = TypeVar("T")


class OneLineParser(argparse.ArgumentParser):
  """argparse whose errors are one line on stderr and exit code 2.

  ``tool`` picks DeepVariant's flag list for the refusal of a flag we do not implement;
  ``unknown_hint`` may add a hint for an unknown flag (train: ``--num_epochs`` is the config key
  ``--config.num_epochs``). Abbreviated flags are refused (``--out`` is not ``--outfile``): a
  prefix that happens to match would silently mean something else once flags are added.
  """

  def __init__(self, *args, tool: str = "",
               unknown_hint: Optional[Callable[[str], Optional[str]]] = None, **kwargs):
    kwargs.setdefault("allow_abbrev", False)
    super().__init__(*args, **kwargs)
    self.tool = tool
    self.unknown_hint = unknown_hint

  def error(self, message):
    errors.fail(self.prog, message, errors.EXIT_INPUT)

  def parse_args(self, args=None, namespace=None):
    # Unknown flags are named before missing required ones: a DeepVariant command line with
    # one of its own flags must hear about that flag first.
    required = [a for a in self._actions if a.required]
    for a in required:
      a.required = False
    try:
      _, extras = self.parse_known_args(args, None)
    finally:
      for a in required:
        a.required = True
    if extras:
      self.error(self.unknown_message(extras[0]))
    return super().parse_args(args, namespace)

  def unknown_message(self, token: str) -> str:
    if not token.startswith("-"):
      return f"unexpected argument {token!r} (flags are --name value or --name=value)"
    flag = token.split("=", 1)[0]
    refused = deepvariant_flags.refusal(self.tool, flag)
    if refused:
      return refused
    hint = self.unknown_hint(flag) if self.unknown_hint else None
    return f"{flag}: unknown flag ({hint or 'see --help'})"


def quiet_tensorflow() -> None:
  """Keeps TensorFlow's INFO/WARNING chatter off stderr, where our one error line goes.

  Call before importing TensorFlow; a TF_CPP_MIN_LOG_LEVEL the user set is kept. (Lines TF's C++
  runtime prints before its logging starts, e.g. about missing CUDA drivers, cannot be hushed.)
  """
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  logging.getLogger("tensorflow").setLevel(logging.ERROR)


def run_main(prog: str, body: Callable[[], T]) -> T:
  """``body()`` under the one error rule (schemas.errors.run_main).

  Every trainer error meant for the user is a :class:`schemas.errors.InputError` (exit 2) or a
  :class:`schemas.errors.RunFailure` (exit 1); OSError is a failure during the run (exit 1);
  SIGINT/SIGTERM exit 130. Anything else is a bug and keeps its traceback.
  """
  return errors.run_main(prog, body)
