"""Command-line plumbing shared by the trainer's entry points (train, call, evaluate).

Why not beam_pipelines.flags: the trainer never imports the Beam half. The rule is the same:
a bad flag is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import sys


class OneLineParser(argparse.ArgumentParser):
  """argparse whose errors are one line on stderr and exit code 2."""

  def error(self, message):
    sys.stderr.write(f"{self.prog}: error: {' '.join(message.split())}\n")
    sys.exit(2)
