"""The output-path policy every entry point applies before any work starts.

Why: an output flag is a promise to write *these* files and touch nothing else. A user who
types ``--examples .`` or ``--output_dir ~/data`` must get one line back, never an empty
working directory. The rules, the same for every tool:

* a **file output** that is an existing directory, or a name ending in ``/``, is refused;
* a **directory output** that exists, is not empty and was not made by pileflow (no
  :data:`MARKER` file inside) is refused, whatever the flags;
* an output that already exists needs ``--overwrite``, and then only the files this run writes
  are replaced: nothing else in the directory is ever removed;
* the folder an output goes into must be writable: a probe file is created and removed there
  before the run, so a bad path fails in a second, not after the whole run.

Remote paths (``gs://...``) are checked for form only here (the trainer and the launchers must
not touch the network to validate a flag); :func:`remote_unchecked` says what was left out.
"""
from __future__ import annotations

import json
import os
import re
import uuid
from typing import Iterable, List, Optional, Sequence

from schemas.errors import InputError

MARKER = ".pileflow-output.json"
# Bucket names: 3-63 chars of lowercase letters, digits, dashes, underscores and dots, starting
# and ending with a letter or digit (Cloud Storage's naming rules, simplified to the common case).
_GCS_RE = re.compile(r"^gs://(?P<bucket>[a-z0-9][a-z0-9._-]{1,61}[a-z0-9])(?P<rest>/.*)?$")


class OutputPathError(InputError):
  """An output path that would destroy data, cannot be written or already exists."""


def is_remote(path: str) -> bool:
  return "://" in path


def check_remote_form(path: str, flag: str) -> None:
  """A remote path must be ``gs://bucket/object``; other schemes are refused by name."""
  if path.startswith("gs://"):
    m = _GCS_RE.match(path)
    if not m:
      raise OutputPathError(f"{flag}={path}: not a valid gs:// path (gs://BUCKET/PATH, bucket of "
                            "3-63 lowercase letters, digits, '-', '_' or '.')")
    return
  scheme = path.split("://", 1)[0]
  raise OutputPathError(f"{flag}={path}: unsupported scheme {scheme}:// (local paths or gs://)")


def remote_unchecked(paths: Iterable[str]) -> List[str]:
  """Lines saying which remote outputs were checked for form only (for dry runs)."""
  return [f"{p}: checked for form only (existence and write access need the network)"
          for p in paths if is_remote(p)]


def _probe(directory: str, flag: str, shown: str) -> None:
  """Creates the directory (and parents) if needed and writes and removes a probe file."""
  try:
    os.makedirs(directory, exist_ok=True)
    probe = os.path.join(directory, f".pileflow-probe-{uuid.uuid4().hex[:8]}")
    with open(probe, "wb") as f:
      f.write(b"probe")
    os.remove(probe)
  except OSError as e:
    reason = e.strerror or str(e)
    raise OutputPathError(f"{flag}={shown}: cannot write in {directory} ({reason})") from None


def _missing_parents(directory: str) -> List[str]:
  """Folders that a probe would create, deepest last (so they can be removed again)."""
  out = []
  d = os.path.abspath(directory)
  while not os.path.exists(d):
    out.append(d)
    parent = os.path.dirname(d)
    if parent == d:
      break
    d = parent
  return list(reversed(out))


def check_file_outputs(paths: Sequence[str], flag: str, overwrite: bool,
                       shown: Optional[str] = None) -> None:
  """Refuses file outputs that are directories or exist without ``--overwrite``; probes.

  ``paths`` are every file the run will write for ``flag`` (all shards, their sidecars).
  Folders the probe had to create are removed again, so a refused run leaves nothing.
  """
  shown = shown or (paths[0] if paths else "")
  if shown.endswith("/") or shown in (".", ".."):
    raise OutputPathError(f"{flag}={shown}: names a directory; give a file name "
                          "(e.g. DIR/name.tfrecord.gz)")
  if is_remote(shown):
    check_remote_form(shown, flag)
    return
  existing = []
  for p in paths:
    if os.path.isdir(p):
      raise OutputPathError(f"{flag}={shown}: {p} is an existing directory; give a file name "
                            "(nothing was changed)")
    if os.path.lexists(p):
      existing.append(p)
  if existing and not overwrite:
    more = f" (+{len(existing) - 1} more)" if len(existing) > 1 else ""
    raise OutputPathError(f"{flag}={shown}: {existing[0]}{more} already exists; pass "
                          "--overwrite to replace the files this run writes")
  folders = sorted({os.path.dirname(os.path.abspath(p)) for p in paths})
  for folder in folders:
    created = _missing_parents(folder)
    try:
      _probe(folder, flag, shown)
    finally:
      for d in reversed(created):
        try:
          os.rmdir(d)
        except OSError:
          pass


def check_dir_output(path: str, flag: str, overwrite: bool, resume: bool = False) -> bool:
  """Refuses a non-empty directory pileflow did not make; probes. Returns True if it exists.

  ``resume``: a directory made by pileflow may be reused without ``--overwrite`` (the
  trainer's experiment directory resumes from its checkpoints).
  """
  if is_remote(path):
    check_remote_form(path, flag)
    return False
  if os.path.lexists(path) and not os.path.isdir(path):
    raise OutputPathError(f"{flag}={path}: is an existing file, not a directory")
  if os.path.isdir(path) and os.listdir(path):
    if not os.path.exists(os.path.join(path, MARKER)):
      raise OutputPathError(f"{flag}={path}: directory is not empty and was not made by "
                            f"pileflow (no {MARKER}); choose a new or empty directory")
    if not (overwrite or resume):
      raise OutputPathError(f"{flag}={path}: holds the output of an earlier run; pass "
                            "--overwrite to replace the files this run writes")
    _probe(path, flag, path)
    return True
  created = _missing_parents(path)
  try:
    _probe(path, flag, path)
  finally:
    for d in reversed(created):
      try:
        os.rmdir(d)
      except OSError:
        pass
  return False


def claim_dir(path: str, tool: str) -> None:
  """Creates ``path`` and marks it as pileflow's, so later runs may reuse or overwrite it."""
  if is_remote(path):
    return
  os.makedirs(path, exist_ok=True)
  marker = os.path.join(path, MARKER)
  if not os.path.exists(marker):
    with open(marker, "w") as f:
      json.dump({"made_by": "pileflow", "tool": tool}, f)
      f.write("\n")
