"""One error path for every entry point: one line on stderr, a documented exit code.

Why here: both halves (the Beam pipelines and the trainer) and the launchers must answer a user
the same way, and schemas/ is the one package all of them import. The rule:

  exit 0    the run finished and its outputs are complete
  exit 2    bad input: a flag, a file or a record the user can fix; nothing was started, or what
            was started was rolled back (``prog: error: <file or flag>: <what is wrong>``)
  exit 1    the run failed part-way for a reason that is not the input (disk full, a worker died,
            an I/O error on a file that was fine at preflight); outputs were rolled back
  exit 130  interrupted (SIGINT / Ctrl-C, or SIGTERM); outputs were rolled back

Every one of them is a single stderr line. A programming error (a bug) is the only thing that
still shows a traceback: hiding it would make it unreportable.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable, Iterable, NoReturn, Optional, Tuple, Type, TypeVar

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130

T = TypeVar("T")


class InputError(ValueError):
  """Bad input the user can fix (a flag, a file, a record): one line and exit code 2."""


class RunFailure(RuntimeError):
  """The run failed part-way for a reason that is not the input: one line and exit code 1."""


class Interrupted(BaseException):
  """Raised by the signal handler :func:`run_main` installs (SIGINT/SIGTERM)."""


def one_line(message: str) -> str:
  """``message`` folded onto one line (tracebacks and multi-line tool output collapse)."""
  return " ".join(str(message).split())


def chain(exc: BaseException) -> Iterable[BaseException]:
  """``exc`` and everything along its cause/context chain, outermost first.

  ``raise X from None`` ends the chain: the code that wrote it replaced the inner error with a
  better message on purpose."""
  seen = set()
  while exc is not None and id(exc) not in seen:
    seen.add(id(exc))
    yield exc
    if exc.__cause__ is not None:
      exc = exc.__cause__
    elif exc.__suppress_context__:
      break
    else:
      exc = exc.__context__


def find_in_chain(exc: BaseException,
                  wanted: Tuple[Type[BaseException], ...]) -> Optional[BaseException]:
  """The innermost exception of a type in ``wanted`` along ``exc``'s chain, or None.

  Beam (and TensorFlow) wrap the error a worker raised; the innermost one of the wanted kind
  is the one that names the file."""
  found = None
  for e in chain(exc):
    if isinstance(e, wanted):
      found = e
  return found


_interrupted = threading.Event()


def was_interrupted() -> bool:
  return _interrupted.is_set()


def _on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
  _interrupted.set()
  # Restore the default so that a second Ctrl-C always ends the process, even if cleanup hangs.
  signal.signal(signum, signal.SIG_DFL)
  raise Interrupted(signal.Signals(signum).name)


def _write(prog: str, message: str) -> None:
  sys.stderr.write(f"{prog}: {message}\n")
  sys.stderr.flush()


def fail(prog: str, message: str, code: int = EXIT_INPUT) -> NoReturn:
  _write(prog, f"error: {one_line(message)}")
  sys.exit(code)


def run_main(prog: str, body: Callable[[], T],
             input_errors: Tuple[Type[BaseException], ...] = (),
             failure_errors: Tuple[Type[BaseException], ...] = (),
             message_of: Callable[[BaseException], str] = str,
             relayed: Optional[Callable[[BaseException], Optional[Tuple[str, str]]]] = None
             ) -> T:
  """Runs ``body()`` under the error rule above; returns its result.

  Args:
    input_errors: exception types meaning bad input (exit 2), beside :class:`InputError`. When
      wrapped by Beam or TensorFlow, the innermost such exception is reported.
    failure_errors: exception types meaning a failure during the run (exit 1), beside
      :class:`RunFailure` and ``OSError``.
    message_of: turns the exception into the text shown (e.g. to strip Beam's step names).
    relayed: reads (exception type name, message) out of an error that a worker process relayed
      as text only (Beam's multi-process runner); the type name decides the exit code.

  Interrupts (SIGINT, SIGTERM) print ``prog: interrupted`` and exit 130. The body's own
  ``except BaseException`` clean-up (rolling back outputs) runs before that, as the
  :class:`Interrupted` exception unwinds it.
  """
  previous = {}
  _interrupted.clear()  # a new run: an earlier run's interrupt in this process is not ours
  in_main = threading.current_thread() is threading.main_thread()
  if in_main:
    for sig in (signal.SIGINT, signal.SIGTERM):
      previous[sig] = signal.signal(sig, _on_signal)
  inputs = (InputError,) + tuple(input_errors)
  failures = (RunFailure,) + tuple(failure_errors)
  try:
    return body()
  except SystemExit:
    raise
  except BaseException as e:  # noqa: BLE001 - classified below; bugs are re-raised
    if was_interrupted() or find_in_chain(e, (Interrupted, KeyboardInterrupt)) is not None:
      _write(prog, "interrupted; outputs of this run were removed")
      exit_now(EXIT_INTERRUPTED)
    cause = find_in_chain(e, inputs)
    if cause is not None:
      fail(prog, message_of(cause), EXIT_INPUT)
    cause = find_in_chain(e, failures)
    if cause is not None:
      fail(prog, message_of(cause), EXIT_FAILURE)
    cause = find_in_chain(e, (OSError,))
    if cause is not None:
      fail(prog, _os_error_text(cause), EXIT_FAILURE)
    found = relayed(e) if relayed is not None else None
    if found is not None:
      type_name, message = found
      if type_name in _names(inputs):
        fail(prog, message, EXIT_INPUT)
      if type_name in _names(failures + (OSError,)):
        fail(prog, message, EXIT_FAILURE)
    raise
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)


def interrupt_exits_quietly(prog: str) -> None:
  """Until :func:`run_main` takes over, SIGINT ends the process with ``prog: interrupted`` and
  exit 130.

  Why: an entry point spends its first seconds importing Beam, numba or TensorFlow; a Ctrl-C
  then would print Python's KeyboardInterrupt traceback through those imports. Each entry
  module calls this first thing, before its heavy imports; nothing has been written yet, so
  there is nothing to roll back. Only in the main thread of a ``python -m`` run (a test that
  imports the module keeps its own handler).
  """
  if threading.current_thread() is not threading.main_thread():
    return
  main = sys.modules.get("__main__")
  if getattr(main, "__spec__", None) is None or not str(main.__spec__.name).endswith(
      prog.split(".")[-1]):
    return

  def handler(signum, frame):  # noqa: ARG001 - signal handler signature
    _write(prog, "interrupted")
    exit_now(EXIT_INTERRUPTED)
  signal.signal(signal.SIGINT, handler)


def exit_now(code: int) -> NoReturn:
  """Ends the process at once, after the clean-up that unwinding already did.

  Why not sys.exit: runner threads (Beam's worker handlers, tf.data prefetchers) are still
  failing as their workers die, and would print their tracebacks while the interpreter waits
  for them. The outputs were rolled back by the ``finally``/``except`` blocks the interrupt
  unwound; nothing is left to flush but stdio. Tests that run a ``main`` in their own process
  replace this with ``sys.exit`` (tests/conftest.py), since os._exit would end the test runner.
  """
  from schemas import tempdirs
  tempdirs.remove_open()
  for stream in (sys.stdout, sys.stderr):
    try:
      stream.flush()
    except (OSError, ValueError):
      pass
  os._exit(code)


def _names(types: Tuple[Type[BaseException], ...]) -> set:
  """Names of ``types`` and of all their loaded subclasses."""
  out, todo = set(), list(types)
  while todo:
    t = todo.pop()
    if t.__name__ not in out:
      out.add(t.__name__)
      todo.extend(t.__subclasses__())
  return out


def _os_error_text(e: BaseException) -> str:
  if isinstance(e, OSError) and e.filename and e.strerror:
    return f"{e.filename}: {e.strerror}"
  return str(e) or type(e).__name__
