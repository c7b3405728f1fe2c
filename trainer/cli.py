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
import re
import sys
import tempfile
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


# TensorFlow's native start-up notices, written to file descriptor 2 before (or outside) its
# logging: absl's pre-init banner, INFO/WARNING lines of the C++ runtime, the CPU-features note
# and the failed CUDA probe of a machine without a GPU. None of them is about the user's run.
_NATIVE_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "
    r"|E\d{4} [\d:.]+\s+\d+ cuda_\w+\.cc:\d+\] failed call to cuInit"
    r"|To enable the following instructions: .* rebuild TensorFlow)")


def quiet_tensorflow() -> None:
  """Imports TensorFlow with its start-up chatter kept off stderr, where our one error line goes.

  Call before anything imports TensorFlow. ``TF_CPP_MIN_LOG_LEVEL`` (a value the user set is
  kept) hushes the runtime's later INFO/WARNING lines, but the lines TensorFlow's native code
  prints while it loads and probes for a GPU come before its logging starts; they are written
  to a temporary file instead of stderr and replayed minus the known notices
  (``_NATIVE_NOISE``), so anything else (a real native error) still shows.
  """
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  logging.getLogger("tensorflow").setLevel(logging.ERROR)
  if "tensorflow" in sys.modules:
    return
  try:
    sys.stderr.flush()
    saved = os.dup(2)
  except (OSError, ValueError):  # no real stderr (a test harness captures it)
    import tensorflow as tf
    tf.config.list_physical_devices()
    return
  with tempfile.TemporaryFile() as capture:
    os.dup2(capture.fileno(), 2)
    try:
      import tensorflow as tf
      tf.config.list_physical_devices()  # the GPU probe prints here, not at the first op
      logging.getLogger("tensorflow").setLevel(logging.ERROR)
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      kept = [line for line in capture.read().decode("utf-8", "replace").splitlines(True)
              if not _NATIVE_NOISE.match(line)]
      if kept:
        sys.stderr.write("".join(kept))
        sys.stderr.flush()


def run_main(prog: str, body: Callable[[], T]) -> T:
  """``body()`` under the one error rule (schemas.errors.run_main).

  Every trainer error meant for the user is a :class:`schemas.errors.InputError` (exit 2) or a
  :class:`schemas.errors.RunFailure` (exit 1); OSError is a failure during the run (exit 1);
  SIGINT/SIGTERM exit 130. Anything else is a bug and keeps its traceback.
  """
  from schemas import tempdirs

  def in_private_tempdir():
    with tempdirs.private_tempdir(prog):  # TF's autograph files and other temp files go here
      return body()
  return errors.run_main(prog, in_private_tempdir)
