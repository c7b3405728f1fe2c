"""A private temp folder per run, removed at the end whatever happened (interrupts included).

Why: Beam's runners leave ``/tmp/beam-temp*`` folders behind, and TensorFlow's autograph
writes a ``__autograph_generated_file*.py`` per converted function that only an ``atexit``
hook removes, which an interrupted run (ended with ``os._exit``, schemas.errors.exit_now)
never runs. Both halves' entry points run inside :func:`private_tempdir`; its folder is
removed on the way out and, for an immediate exit, by :func:`schemas.errors.exit_now`.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator, List

# Folders of the private_tempdir contexts open now (exit_now removes them before exiting).
OPEN: List[str] = []


@contextlib.contextmanager
def private_tempdir(prog: str) -> Iterator[str]:
  """``tempfile``'s folder (and child processes' ``TMPDIR``) is a fresh one, removed after."""
  path = tempfile.mkdtemp(prefix=f"pileflow-{prog}-")
  saved_env, saved_dir = os.environ.get("TMPDIR"), tempfile.tempdir
  os.environ["TMPDIR"] = path
  tempfile.tempdir = path
  OPEN.append(path)
  try:
    yield path
  finally:
    tempfile.tempdir = saved_dir
    if saved_env is None:
      os.environ.pop("TMPDIR", None)
    else:
      os.environ["TMPDIR"] = saved_env
    shutil.rmtree(path, ignore_errors=True)
    if path in OPEN:
      OPEN.remove(path)


def remove_open() -> None:
  """Removes the folders of every open :func:`private_tempdir` (before an immediate exit)."""
  while OPEN:
    shutil.rmtree(OPEN.pop(), ignore_errors=True)
