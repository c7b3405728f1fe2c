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
from typing import Dict, List, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def _run(cmd: Sequence[str], sample_rss: bool, interval: float = 0.2,
         cap_bytes: Optional[int] = None, **popen_kw) -> Dict[str, float]:
  """Runs ``cmd`` to completion: wall s, CPU s (user+sys) of its tree, and when asked the peak
  of the SUMMED RSS of the whole process tree, sampled every ``interval`` s with psutil.
  With ``cap_bytes`` the tree is killed once that peak passes it (``killed`` says so).

  ru_maxrss of RUSAGE_CHILDREN is the largest child ever waited for (earlier commands
  included), so only the sampled tree peak describes this command.
  """
  import psutil
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  start = time.perf_counter()
  proc = psutil.Popen(list(cmd), cwd=popen_kw.pop("cwd", ROOT), stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, **popen_kw)
  peak_tree, killed = 0, False
  while sample_rss and proc.poll() is None:
    try:
      procs = [proc] + proc.children(recursive=True)
      peak_tree = max(peak_tree, sum(p.memory_info().rss for p in procs if p.is_running()))
    except psutil.Error:
      pass
    if cap_bytes is not None and peak_tree > cap_bytes:
      for p in reversed([proc] + proc.children(recursive=True)):
        try:
          p.kill()
        except psutil.Error:
          pass
      killed = True
      break
    time.sleep(interval)
  out, err = proc.communicate()
  wall = time.perf_counter() - start
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  if proc.returncode != 0 and not killed:
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.decode()[-3000:]}")
  result = {"wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "stdout": out.decode(), "stderr": err.decode()}
  if sample_rss:
    result["peak_tree_rss_mib"] = peak_tree / 2**20
    result["killed"] = killed
  return result


def run_measured(cmd: Sequence[str], **popen_kw) -> Dict[str, float]:
  """Wall and CPU seconds of ``cmd``'s process tree (no memory figure)."""
  return _run(cmd, sample_rss=False, **popen_kw)


def run_sampled(cmd: Sequence[str], interval: float = 0.2,
                cap_bytes: Optional[int] = None) -> Dict[str, float]:
  """run_measured plus the sampled peak RSS of the whole process tree; with ``cap_bytes`` the
  tree is killed when it passes the cap (a contender that would exhaust the machine)."""
  return _run(cmd, sample_rss=True, interval=interval, cap_bytes=cap_bytes)


def table(rows: List[Dict], columns: Sequence[str]) -> str:
  widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
  lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
           "  ".join("-" * w for w in widths)]
  for r in rows:
    lines.append("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))
  return "\n".join(lines)
