"""Command-line plumbing shared by the launchers.

Launcher flags come before ``--``; what follows is handed untouched to the job (the pipeline's
or the trainer's own flags), so the two flag sets can never collide. Both launchers answer a
user by the one error rule (schemas.errors): bad input is one stderr line and exit 2, a failure
one line and exit 1, an interrupt one line and exit 130.
"""
from __future__ import annotations

import re
from typing import List, Sequence, Tuple

from schemas import errors

# Google Cloud project IDs: 6-30 lower-case letters, digits and hyphens, starting with a letter
# and not ending with a hyphen; old projects may carry a domain scope ("example.com:my-project").
_PROJECT_RE = re.compile(r"^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)+:)?"
                         r"[a-z][-a-z0-9]{4,28}[a-z0-9]$")
# Regions: continent-area plus a number (us-central1, europe-west4, northamerica-northeast2).
_REGION_RE = re.compile(r"^[a-z]+(?:-[a-z]+)+[0-9]+$")


class LaunchError(errors.InputError):
  """A bad launcher flag or an unusable combination: one line, exit code 2."""


def split_passthrough(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
  """``[a, --, b, c]`` -> (``[a]``, ``[b, c]``); no ``--`` -> (argv, [])."""
  argv = list(argv)
  if "--" not in argv:
    return argv, []
  cut = argv.index("--")
  return argv[:cut], argv[cut + 1:]


def check_project(project: str) -> None:
  """Refuses a project that is not an ID (a name, a number, a typo) before any API call.

  Why here: Beam only finds out when the pipeline is constructed (a ValueError traceback) and
  the Vertex client only when the request is sent.
  """
  if not project:
    raise LaunchError("--project is required (the Google Cloud project ID that runs the job)")
  if not _PROJECT_RE.match(project):
    raise LaunchError(f"--project {project!r}: not a Google Cloud project ID (6-30 lower-case "
                      "letters, digits and '-', starting with a letter and not ending with "
                      "'-', or the legacy domain.com:project-id); give the ID, not the "
                      "project's name or number")


def check_region(region: str) -> None:
  if not region:
    raise LaunchError("--region is required (e.g. us-central1)")
  if not _REGION_RE.match(region):
    raise LaunchError(f"--region {region!r}: not a Google Cloud region (e.g. us-central1, "
                      "europe-west4)")


def cloud_errors() -> Tuple[tuple, tuple]:
  """(bad input, failure) exception types of the Google Cloud client libraries.

  A job or resource that is not there, or a request the service calls invalid, is something
  the user fixes in a flag (exit 2); anything else from the service, credentials included, is
  a failure of the run (exit 1). Empty when the libraries are not installed.
  """
  inputs: tuple = ()
  failures: tuple = ()
  try:
    from google.api_core import exceptions as api
    inputs += (api.NotFound, api.InvalidArgument)
    failures += (api.GoogleAPIError,)
  except ImportError:
    pass
  try:
    from google.auth import exceptions as auth
    failures += (auth.GoogleAuthError,)
  except ImportError:
    pass
  try:
    from apitools.base.py import exceptions as apitools
    failures += (apitools.Error,)
  except ImportError:
    pass
  return inputs, failures
