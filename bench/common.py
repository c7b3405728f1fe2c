"""Shared helpers for the benchmarks: timing child commands and printing figure tables.

Why measure children with getrusage: a pipeline's cost is the CPU of its whole process tree
(DirectRunner may fork workers), and peak RSS must cover every process, not only the parent.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from typing import Dict, List, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def run_measured(cmd: Sequence[str], **kw) -> Dict[str, float]:
  """Runs ``cmd`` to completion; returns wall s and CPU s (user+sys) of its process tree.

  No memory figure: getrusage's children maximum covers every child ever waited for, not
  this command; use ``run_sampled`` when peak RSS matters.
  """
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  start = time.perf_counter()
  proc = subprocess.run(list(cmd), cwd=kw.pop("cwd", ROOT), capture_output=True, text=True,
                        **kw)
  wall = time.perf_counter() - start
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  if proc.returncode != 0:
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
  return {"wall_s": wall,
          "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
          "stdout": proc.stdout,
          "stderr": proc.stderr}


def run_sampled(cmd: Sequence[str], interval: float = 0.2) -> Dict[str, float]:
  """Like run_measured, plus the peak of the SUMMED RSS of the whole process tree (psutil)."""
  import psutil
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  start = time.perf_counter()
  proc = psutil.Popen(list(cmd), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  peak_tree = 0
  while proc.poll() is None:
    try:
      procs = [proc] + proc.children(recursive=True)
      peak_tree = max(peak_tree, sum(p.memory_info().rss for p in procs if p.is_running()))
    except psutil.Error:
      pass
    time.sleep(interval)
  out, err = proc.communicate()
  wall = time.perf_counter() - start
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  if proc.returncode != 0:
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.decode()[-3000:]}")
  # ru_maxrss of RUSAGE_CHILDREN is the largest child ever waited for (earlier commands
  # included), so only the sampled tree peak describes this command.
  return {"wall_s": wall,
          "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
          "peak_tree_rss_mib": peak_tree / 2**20,
          "stdout": out.decode(), "stderr": err.decode()}


def table(rows: List[Dict], columns: Sequence[str]) -> str:
  widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
  lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
           "  ".join("-" * w for w in widths)]
  for r in rows:
    lines.append("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))
  return "\n".join(lines)
