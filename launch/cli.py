"""Command-line plumbing shared by the launchers.

Launcher flags come before ``--``; what follows is handed untouched to the job (the pipeline's
or the trainer's own flags), so the two flag sets can never collide.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple


def split_passthrough(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
  """``[a, --, b, c]`` -> (``[a]``, ``[b, c]``); no ``--`` -> (argv, [])."""
  argv = list(argv)
  if "--" not in argv:
    return argv, []
  cut = argv.index("--")
  return argv[:cut], argv[cut + 1:]
