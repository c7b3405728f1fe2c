"""Small argparse helpers shared by the entry points.

Why argparse and not absl: Beam's own options must pass through untouched
(``parse_known_args``), and DeepVariant-style boolean flags (``--keep_duplicates``,
``--keep_duplicates=false``, ``--nokeep_duplicates``) are easy to support here.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, NoReturn, Sequence, Tuple

EXIT_USAGE = 2


class UsageError(ValueError):
  """Bad flags or inputs: reported as one line and exit code 2."""


class OneLineArgumentParser(argparse.ArgumentParser):
  """An ArgumentParser whose errors are a single line on stderr, exit code 2."""

  def error(self, message: str) -> NoReturn:
    sys.stderr.write(f"{self.prog}: error: {message}\n")
    sys.exit(EXIT_USAGE)


def str2bool(text: str) -> bool:
  low = str(text).strip().lower()
  if low in ("1", "true", "t", "yes", "y"):
    return True
  if low in ("0", "false", "f", "no", "n"):
    return False
  raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_bool(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
  """Adds ``--name``, ``--name=false`` and ``--noname`` (DeepVariant/absl spelling)."""
  dest = name
  parser.add_argument(f"--{name}", dest=dest, nargs="?", const=True, default=default,
                      type=str2bool, help=help + f" (default {str(default).lower()})")
  parser.add_argument(f"--no{name}", dest=dest, action="store_false", help=argparse.SUPPRESS)


def parse_known(parser: argparse.ArgumentParser,
                argv: Sequence[str] | None) -> Tuple[argparse.Namespace, List[str]]:
  """Our flags and the rest (Beam pipeline options), as Beam's own examples do."""
  return parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))


def pipeline_options(beam_args: Sequence[str]):
  """Beam options from the pass-through flags, DirectRunner unless --runner says otherwise.

  Beam 2.77's default is the Prism runner, which downloads a binary on first use; pileflow
  machines may be offline, and DirectRunner is what the README documents for local runs.
  """
  from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
  options = PipelineOptions(list(beam_args))
  if not options.view_as(StandardOptions).runner:
    options.view_as(StandardOptions).runner = "DirectRunner"
  return options


def setup_logging() -> None:
  """pileflow's progress lines at INFO; Beam's own logger only at CRITICAL.

  Beam logs every worker failure with its traceback (and the multi-process DirectRunner relays
  worker start-up notices as warnings). A failure still surfaces as the exception the pipeline
  raises: the entry points print bad input as one line and re-raise anything else with its
  full traceback, so nothing is lost by silencing the duplicate log.
  """
  import logging
  logging.basicConfig(level=logging.INFO, format="%(message)s")
  logging.getLogger("apache_beam").setLevel(logging.CRITICAL)


def root_cause(exc: BaseException, wanted) -> BaseException:
  """The innermost exception of a type in ``wanted`` along ``exc``'s cause/context chain, or
  ``exc`` itself. Beam wraps a worker's error; the input error inside is the one to show."""
  seen = exc
  while True:
    if isinstance(seen, wanted):
      return seen
    nxt = seen.__cause__ or seen.__context__
    if nxt is None:
      return exc
    seen = nxt


def strip_beam_context(message: str) -> str:
  """Drops the " [while running 'Step/Name']" Beam appends to a worker's error message."""
  import re
  return re.sub(r"\s*\[while running '[^']*'\]", "", message).strip()


def run_or_fail(prog: str, body, input_errors=()):
  """Runs ``body()``; bad flags or bad input become one line on stderr and exit code 2.

  ``input_errors`` are the exception types that mean "bad input" (a missing index, a malformed
  BED, ...). When Beam wraps one raised in a worker, the wrapped one is reported. Anything else
  is a bug and propagates with its traceback.
  """
  try:
    return body()
  except UsageError as e:
    fail(prog, strip_beam_context(str(e)))
  except Exception as e:  # noqa: BLE001 - classified below, re-raised when not bad input
    cause = root_cause(e, tuple(input_errors)) if input_errors else e
    if input_errors and isinstance(cause, tuple(input_errors)):
      fail(prog, strip_beam_context(str(cause)))
    raise


def fail(prog: str, message: str) -> NoReturn:
  sys.stderr.write(f"{prog}: error: {message}\n")
  sys.exit(EXIT_USAGE)
