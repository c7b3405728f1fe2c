"""What every pipeline entry point wraps its run in: a private temp folder, filtered worker
stderr.

Why: Beam's runners leave ``/tmp/beam-temp*`` folders behind (one per run, success or not),
and the multi-process DirectRunner's worker processes inherit our stderr and print every
failure's traceback there, ten times over with retries, before the driver reports the same
error as one line. Users asked for one line and no litter:

* :func:`private_tempdir` points ``tempfile`` and ``TMPDIR`` (inherited by worker processes)
  at a folder of this run's own and removes it afterwards, whatever happened;
* :func:`filtered_stderr` relays what other processes write to our stderr line by line, minus
  traceback blocks. Nothing is lost: the driver either reports the error as its one line or,
  for a bug, re-raises it with the worker's whole traceback in its message.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import traceback
from typing import Iterator

from schemas import errors
from schemas.tempdirs import private_tempdir  # noqa: F401  (re-exported for the entry points)

_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure|Interrupt|Exit)\b.*")
_TRACEBACK_TEXT = ("Traceback (most recent call last)", "The above exception was the direct",
                   "During handling of the above exception", "Exception in thread ")
# What a shell or libc prints when a worker process crashes; the driver reports the failure.
_CRASH_LINE = re.compile(r"^(Segmentation fault|Aborted|Killed|Bus error)( \(core dumped\))?$"
                         r"|^(malloc|free|realloc)\(\): |^double free")


def is_traceback_line(line: str) -> bool:
  """A line of a Python traceback block (header, frames, chained-exception notes, the error),
  or a Beam worker harness's one-line log record that carries one (``Worker: severity:
  CRITICAL ... Traceback ...``, printed when a worker dies, e.g. on Ctrl-C)."""
  stripped = line.rstrip("\n")
  if stripped.startswith("Worker: severity:") and "Traceback" in stripped:
    return True
  return (not stripped.strip() or stripped[:1] in (" ", "\t")
          or stripped.startswith(_TRACEBACK_TEXT) or bool(_EXCEPTION_LINE.match(stripped))
          or bool(_CRASH_LINE.match(stripped)))


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
  """File descriptor 2 (what child processes inherit) goes through a traceback filter.

  This process's own ``sys.stderr`` keeps writing to the terminal directly (a duplicate of
  the original descriptor), so its lines are neither delayed nor filtered.
  """
  try:
    sys.stderr.flush()
    original = os.dup(2)
  except (OSError, ValueError):  # no real stderr (e.g. captured by a test harness)
    yield
    return
  read_fd, write_fd = os.pipe()
  saved_stderr = sys.stderr
  sys.stderr = os.fdopen(os.dup(original), "w", buffering=1, encoding="utf-8",
                         errors="replace")

  def relay():
    # Inside a traceback block (its header seen, its final exception line not yet) every line
    # is dropped, also source lines a worker printed without their indentation. Our own
    # lines never pass through here (sys.stderr writes to the original descriptor).
    in_block = False
    with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as pipe:
      for line in pipe:
        if errors.was_interrupted():
          continue  # Ctrl-C reached the workers too: what they print while dying is noise
        text = line.rstrip("\n")
        if text.startswith(_TRACEBACK_TEXT):
          in_block = True
          continue
        if in_block:
          in_block = not _EXCEPTION_LINE.match(text)
          continue
        if not is_traceback_line(line):
          os.write(original, line.encode("utf-8", "replace"))

  thread = threading.Thread(target=relay, name="pileflow-stderr-relay", daemon=True)
  thread.start()
  os.dup2(write_fd, 2)
  os.close(write_fd)
  saved_hook = threading.excepthook

  def thread_hook(hook_args):
    # Beam's runner threads die with the worker they watch; the main thread reports why.
    text = "".join(traceback.format_exception(hook_args.exc_type, hook_args.exc_value,
                                              hook_args.exc_traceback))
    os.write(2, f"Exception in thread {getattr(hook_args.thread, 'name', '?')}:\n{text}"
             .encode("utf-8", "replace"))

  threading.excepthook = thread_hook
  try:
    yield
  finally:
    threading.excepthook = saved_hook
    try:
      sys.stderr.flush()
    finally:
      os.dup2(original, 2)  # closes our last copy of the pipe's write end
      thread.join(timeout=5)  # a worker still holding the pipe must not block the exit
      replaced, sys.stderr = sys.stderr, saved_stderr
      replaced.close()
      os.close(original)
