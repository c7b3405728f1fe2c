"""Small argparse helpers shared by the entry points.

Why argparse and not absl: Beam's own options must pass through untouched
(``parse_known_args``), and DeepVariant-style boolean flags (``--keep_duplicates``,
``--keep_duplicates=false``, ``--nokeep_duplicates``) are easy to support here.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, NoReturn, Sequence, Tuple

from schemas import errors

EXIT_USAGE = errors.EXIT_INPUT


class UsageError(errors.InputError):
  """Bad flags or inputs: reported as one line and exit code 2."""


class OneLineArgumentParser(argparse.ArgumentParser):
  """An ArgumentParser whose errors are a single line on stderr, exit code 2."""

  def error(self, message: str) -> NoReturn:
    errors.fail(self.prog, message, EXIT_USAGE)


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
                argv: Sequence[str] | None, tool: str = "") -> Tuple[argparse.Namespace, List[str]]:
  """Our flags and Beam's pipeline options; any other flag is refused by name.

  Why refuse: a misspelt ``--regoins`` handed to Beam is dropped with a log line, and the run
  then covers the whole BAM. A DeepVariant flag pileflow does not implement is named as such
  (``tool`` picks DeepVariant's flag list, :mod:`beam_pipelines.deepvariant_flags`).
  """
  args, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
  unknown = unknown_beam_args(rest)
  if unknown:
    parser.error(unknown_flag_message(unknown[0], tool))
  return args, rest


def unknown_beam_args(rest: Sequence[str]) -> List[str]:
  """The flags in ``rest`` that no Beam PipelineOptions class defines, as typed."""
  import logging
  from apache_beam.options.pipeline_options import PipelineOptions
  beam_log = logging.getLogger("apache_beam.options.pipeline_options")
  level = beam_log.level
  beam_log.setLevel(logging.ERROR)  # Beam warns "Discarding unparseable args" for these
  if any(t.startswith("--dask") for t in rest):
    # DaskOptions registers itself only when the Dask runner's module is imported (and dask
    # is an optional extra): without it --dask_client_address would look unknown.
    try:
      from apache_beam.runners.dask import dask_runner  # noqa: F401  pylint: disable=unused-import
    except ImportError:
      pass
  try:
    options = PipelineOptions(list(rest))
    extra = (set(options.get_all_options(retain_unknown_options=True))
             - set(options.get_all_options(retain_unknown_options=False)))
  finally:
    beam_log.setLevel(level)
  out = []
  for i, token in enumerate(rest):
    if token.startswith("-"):
      if token.lstrip("-").split("=", 1)[0].replace("-", "_") in extra:
        out.append(token.split("=", 1)[0])
    elif not (i > 0 and rest[i - 1].startswith("-") and "=" not in rest[i - 1]):
      out.append(token)  # a stray word: no flag of ours takes positional arguments
  return out


def unknown_flag_message(flag: str, tool: str = "") -> str:
  from beam_pipelines import deepvariant_flags
  name = flag.lstrip("-").split("=", 1)[0]
  if not flag.startswith("-"):
    return f"unexpected argument {flag!r} (flags are --name value or --name=value)"
  if tool and deepvariant_flags.is_deepvariant_flag(tool, name):
    return (f"{flag}: a DeepVariant {tool} flag that pileflow does not implement "
            "(see --help for the flags it does)")
  return f"{flag}: unknown flag (not a pileflow {tool or 'pipeline'} flag nor a Beam pipeline " \
         "option; see --help)"


def pipeline_options(beam_args: Sequence[str]):
  """Beam options from the pass-through flags, DirectRunner unless --runner says otherwise.

  Beam 2.77's default is the Prism runner, which downloads a binary on first use; pileflow
  machines may be offline, and DirectRunner is what the README documents for local runs.
  """
  from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
  options = PipelineOptions(list(beam_args))
  runner = options.view_as(StandardOptions).runner
  if not runner:
    options.view_as(StandardOptions).runner = "DirectRunner"
  elif isinstance(runner, str):
    check_runner(runner)
  return options


def check_runner(name: str) -> None:
  """Refuses a ``--runner`` Beam cannot create (a typo such as DirectRuner) before any work.

  Beam would raise a ValueError out of ``beam.Pipeline(...)`` with a traceback.
  """
  from apache_beam.runners import runner as beam_runner
  try:
    beam_runner.create_runner(name)
  except (ValueError, ImportError) as e:
    raise UsageError(f"--runner {name}: {' '.join(str(e).split())}") from None


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
  # Some Beam modules log through the root logger (``logging.info(...)``, e.g. "Runner
  # defaulting to pickling library"), which the level above cannot reach: drop those below
  # CRITICAL by where they come from.
  for handler in logging.getLogger().handlers:
    if _not_beam not in handler.filters:
      handler.addFilter(_not_beam)


def _not_beam(record) -> bool:
  """False for a record below CRITICAL logged from Beam's own package (any logger)."""
  import logging
  import os
  import apache_beam
  beam_dir = os.path.dirname(apache_beam.__file__) + os.sep
  return record.levelno >= logging.CRITICAL or not record.pathname.startswith(beam_dir)


def strip_beam_context(message: str) -> str:
  """Drops the " [while running 'Step/Name']" Beam appends to a worker's error message."""
  import re
  return re.sub(r"\s*\[while running '[^']*'\]", "", message).strip()


def run_or_fail(prog: str, body, input_errors=()):
  """Runs ``body()`` under the one error rule (schemas.errors.run_main): bad input is one line
  and exit 2, a failure during the run one line and exit 1, an interrupt one line and 130.

  ``input_errors`` are the exception types beside InputError that mean "bad input" (a missing
  index, a malformed BED, ...). When Beam wraps one raised in a worker, that one is reported;
  multi-process workers relay only their traceback's text, which :func:`worker_message` reads.
  """
  from beam_pipelines import cli_runtime

  def wrapped():
    with cli_runtime.private_tempdir(prog), cli_runtime.filtered_stderr():
      return body()

  return errors.run_main(prog, wrapped, input_errors=tuple(input_errors),
                         message_of=lambda e: strip_beam_context(str(e)),
                         relayed=worker_message)


def worker_message(exc: BaseException):
  """The last line of a traceback relayed by a multi-process DirectRunner worker, if any.

  The multi-process runner re-raises a worker's error as text (the worker's whole traceback,
  repeated per retry); its last ``Type: message`` line is the error the user must see.
  Returns (type name, message) or None.
  """
  import re
  text = str(exc)
  if "Traceback (most recent call last)" not in text:
    return None
  found = None
  for m in re.finditer(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Failure)): (.+)$", text,
                       re.MULTILINE):
    found = (m.group(1), strip_beam_context(m.group(2)))
  return found


def fail(prog: str, message: str) -> NoReturn:
  errors.fail(prog, message, errors.EXIT_INPUT)
