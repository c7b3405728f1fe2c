"""What the multi-run experiments (``trainer.study``, ``trainer.sweep``) share: flags with a
``--config`` preset, the settings record that makes a rerun safe, and their CSV tables.

Why one place: both are experiment runners over the trainer, resumable in their own
directory. A rerun must resume only the same experiment (other settings would mix rows that do
not compare), and their tables must be written the same way (atomically, floats to 6
significant digits) so a killed run never leaves half a CSV.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from schemas import _files
from schemas import errors


def parse_flags_and_config(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]],
                           placeholders: Sequence[Tuple[str, str]] = ()):
  """(args, locked config) from ``argv``: the parser's flags, ``--config`` (a preset) and
  ``--config.<key>=<value>`` overrides, as ``trainer.train`` reads them. ``placeholders`` are
  overrides applied first (keys the runner sets per run but validation needs). A bad flag or
  config value is ``parser.error``: one line, exit 2."""
  import sys
  from trainer import train as train_lib
  argv = list(sys.argv[1:] if argv is None else argv)
  try:
    rest, overrides = train_lib.split_config_overrides(argv)
  except ValueError as e:
    parser.error(str(e))
  args = parser.parse_args(rest)
  try:
    cfg = train_lib.resolve_config(args.config, list(placeholders) + overrides)
  except (ValueError, KeyError) as e:
    parser.error(str(e).strip("'\""))
  return args, cfg


def claim_settings(path: str, settings: Mapping[str, object], what: str) -> bool:
  """Records ``settings`` at ``path``, or checks them against the record there.

  Returns True when the record is new. Raises ``errors.InputError`` naming the settings that
  differ when the directory holds another ``what`` (e.g. "study").
  """
  if not os.path.exists(path):
    _files.atomic_write_bytes(path, json.dumps(settings, indent=1).encode())
    return True
  with open(path) as f:
    before = json.load(f)
  changed = sorted(k for k in settings if before.get(k) != settings[k])
  if changed:
    raise errors.InputError(
        f"--experiment_dir={os.path.dirname(path)}: holds a {what} with other "
        f"{', '.join(changed)}; its rows would not compare with this one's (use a new "
        "directory)")
  return False


def read_rows(path: str) -> List[Dict[str, str]]:
  """The rows of a table written by ``write_rows`` (strings), [] when there is none yet."""
  if not os.path.exists(path):
    return []
  with open(path, newline="") as f:
    return list(csv.DictReader(f))


def write_rows(path: str, rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> None:
  """Writes ``rows`` as CSV atomically; floats to 6 significant digits, other columns as is."""
  text = io.StringIO()
  writer = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore",
                          lineterminator="\n")
  writer.writeheader()
  for row in rows:
    writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
  _files.atomic_write_bytes(path, text.getvalue().encode())
