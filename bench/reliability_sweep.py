"""The reliability sweep (issue 14): every entry point fed bad input, judged by the one error rule.

Usage::

    .venv/bin/python bench/reliability_sweep.py OUT [--jobs 2] [--only PREFIX ...] [--keep]

Each case of bench/reliability_cases.py runs as a new user would run it (``python -m MODULE``
in its own working folder, a private TMPDIR), and is checked for six faults, counted in the
last line::

    reliability sweep: N cases, T tracebacks, W exit-0 wrong answers, D deleted user files,
    L leftover outputs, M multi-line errors, X wrong exit codes

* traceback: "Traceback (most recent call last)" anywhere in stderr;
* exit-0 wrong answer: exit 0 where the rule wants an error, or a control (exit 0 wanted) that
  did not produce its outputs;
* deleted user file: a file the case planted, or for a failing case any file that was in the
  working folder before, missing or changed afterwards;
* leftover output: a failing case that left a new file in its working folder or its TMPDIR
  (an interrupted training keeps the state its message says it resumes from: documented);
* multi-line error: a non-zero exit whose stderr is not the tool's own lines (progress lines
  ``PROG: ...`` may come first) ending in exactly one ``PROG: error: ...`` or
  ``PROG: interrupted...`` line;
* wrong exit code: any other exit code than the case expects.

Why a bench script and not a test: ~200 runs of real tools take ~15 min on 2 cores, and the
sweep is the evidence for an issue, not a gate; tests/e2e hold the cases that guard each rule.
The sweep exits 1 when any case fails, so it can also be run as a check.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import reliability_cases as rc  # noqa: E402

FAULTS = ("tracebacks", "exit-0 wrong answers", "deleted user files", "leftover outputs",
          "multi-line errors", "wrong exit codes")


def _snapshot(root: str) -> Dict[str, str]:
  """Relative path -> sha256 of every file under ``root`` (symlinks by their target)."""
  out = {}
  for dirpath, _, files in os.walk(root):
    for name in files:
      full = os.path.join(dirpath, name)
      rel = os.path.relpath(full, root)
      try:
        if os.path.islink(full):
          out[rel] = "link:" + os.readlink(full)
        else:
          with open(full, "rb") as f:
            out[rel] = hashlib.sha256(f.read()).hexdigest()
      except OSError:
        out[rel] = "unreadable"
  return out


def _env(tmp: str) -> Dict[str, str]:
  env = dict(os.environ)
  env["TMPDIR"] = tmp
  env.setdefault("PYTHONHASHSEED", "0")
  return env


def build_fixtures(out: str, names: List[str], jobs: int) -> Dict[str, str]:
  """Builds the named fixtures (and what they need) once, in dependency order."""
  root = os.path.join(out, "fixtures")
  fx = {f.name: os.path.join(root, f.name) for f in rc.FIXTURES}
  by_name = {f.name: f for f in rc.FIXTURES}
  wanted: List[str] = []

  def want(name):
    for dep in by_name[name].needs:
      want(dep)
    if name not in wanted:
      wanted.append(name)
  for n in names:
    want(n)
  for name in wanted:
    f = by_name[name]
    done = os.path.join(fx[name], ".sweep-fixture-done")
    if os.path.exists(done):
      continue
    shutil.rmtree(fx[name], ignore_errors=True)
    work = os.path.join(root, "_work", name)
    os.makedirs(work, exist_ok=True)
    tmp = os.path.join(root, "_tmp", name)
    os.makedirs(tmp, exist_ok=True)
    ctx = rc.Ctx(work=work, tmp=tmp, fx=fx, env=_env(tmp))
    args = rc.expand(f.args, ctx)
    start = time.time()
    r = subprocess.run([sys.executable, "-m", f.module, *args], cwd=work, env=ctx.env,
                       capture_output=True, text=True, timeout=f.timeout)
    missing = [p for p in f.produces if not glob.glob(os.path.join(fx[name], p))]
    if r.returncode != 0 or missing:
      sys.exit(f"reliability sweep: fixture {name} ({f.module}) failed: exit {r.returncode}, "
               f"missing {missing}: {(r.stderr.strip().splitlines() or [''])[-1][:400]}")
    open(done, "w").close()
    print(f"fixture {name}: {time.time() - start:.0f} s", flush=True)
  return fx


def _run_case(case: rc.Case, ctx: rc.Ctx) -> Tuple[int, str, str, float]:
  """Runs the case; (exit code, stdout, stderr, seconds). SIGINT per ``case.interrupt``."""
  args = rc.expand(case.args, ctx)
  start = time.time()
  proc = subprocess.Popen([sys.executable, "-m", case.module, *args], cwd=ctx.work,
                          env=ctx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True)
  chunks = {"out": [], "err": []}
  first_line = threading.Event()

  def pump(stream, key):
    for line in stream:
      chunks[key].append(line)
      first_line.set()
  threads = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
             threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
  for t in threads:
    t.start()
  if case.interrupt:
    if case.interrupt == "running":
      first_line.wait(timeout=case.timeout / 2)
    time.sleep(2.0)
    if proc.poll() is None:
      os.killpg(proc.pid, signal.SIGINT)  # the whole process group, as Ctrl-C in a terminal
  try:
    proc.wait(timeout=case.timeout)
  except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    chunks["err"].append(f"<sweep: killed after {case.timeout:.0f} s>\n")
  for t in threads:
    t.join(timeout=10)
  return proc.returncode, "".join(chunks["out"]), "".join(chunks["err"]), time.time() - start


def judge(case: rc.Case, code: int, err: str, before: Dict[str, str], after: Dict[str, str],
          tmp_after: Dict[str, str], work: str) -> List[str]:
  """The faults of one finished case (names from FAULTS, each with a short detail)."""
  faults = []
  prog = rc.PROG[case.module]
  lines = [l for l in err.splitlines() if l.strip()]
  if "Traceback (most recent call last)" in err:
    faults.append("tracebacks")
  if case.expect != 0 and code == 0:
    faults.append("exit-0 wrong answers: exit 0")
  if case.expect == 0 and code == 0:
    missing = [p for p in case.produces if not glob.glob(os.path.join(work, p))]
    if missing:
      faults.append(f"exit-0 wrong answers: missing {missing}")
  for rel in case.plant:
    if before.get(rel) != after.get(rel):
      faults.append(f"deleted user files: {rel}")
  if code != 0:
    gone = [p for p in before if p not in case.plant and before[p] != after.get(p)]
    if gone:
      faults.append(f"deleted user files: {gone[:3]}")
    new = [p for p in after if p not in before]
    resumable = code == 130 and case.entry == "train" and "resume" in err
    if resumable:
      new = [p for p in new if not p.startswith("exp" + os.sep)]
    if new or tmp_after:
      faults.append(f"leftover outputs: {(new + ['TMPDIR/' + t for t in tmp_after])[:3]}")
    # The tool's own progress lines may precede the error; the error is one line, the last,
    # and no line is from anything but the tool (a log line of a library, a traceback).
    # "PROG: ", "PROG[split]: " or "PROG SUBCOMMAND: " (argparse's prog of a subcommand).
    head = rf"^{re.escape(prog)}( [a-z_]+)?(\[[^\]]*\])?: "
    own = [l for l in lines if re.match(head, l)]
    final = [l for l in own if re.match(head + "(error:|interrupted)", l)]
    if len(own) != len(lines) or len(final) != 1 or final[0] != lines[-1]:
      faults.append(f"multi-line errors: {len(lines) - len(own)} foreign lines, "
                    f"{len(final)} error lines")
  if code != case.expect and not (case.expect != 0 and code == 0):
    faults.append(f"wrong exit codes: {code}")
  return faults


def run_one(case: rc.Case, out: str, fx: Dict[str, str], keep: bool) -> dict:
  base = os.path.join(out, "cases", case.id)
  shutil.rmtree(base, ignore_errors=True)
  work, tmp = os.path.join(base, "work"), os.path.join(base, "tmp")
  os.makedirs(work)
  os.makedirs(tmp)
  ctx = rc.Ctx(work=work, tmp=tmp, fx=fx, env=_env(tmp))
  # Every working folder holds a user's file: a tool that writes "." or wipes its cwd shows.
  with open(os.path.join(work, "notes.txt"), "w") as f:
    f.write("a user's notes\n")
  try:
    for step in case.setup:  # earlier runs first: a user's file may then sit in their output
      step(ctx)
    for rel in case.plant:
      os.makedirs(os.path.dirname(os.path.join(work, rel)) or work, exist_ok=True)
      with open(os.path.join(work, rel), "w") as f:
        f.write(f"user file {rel}\n")
  except (rc.SetupError, OSError, subprocess.SubprocessError) as e:
    return {"id": case.id, "status": "SETUP", "detail": str(e)[:300], "faults": []}
  plant = tuple(case.plant) + ("notes.txt",)
  case_view = dataclasses.replace(case, plant=plant)
  before = _snapshot(work)
  code, _, err, secs = _run_case(case, ctx)
  after = _snapshot(work)
  tmp_after = _snapshot(tmp)
  tmp_dirs = [d for d in os.listdir(tmp)]
  if tmp_dirs and not tmp_after:
    tmp_after = {d + "/": "" for d in tmp_dirs}
  faults = judge(case_view, code, err, before, after, tmp_after, work)
  lines = [l for l in err.splitlines() if l.strip()]
  if not keep and not faults:
    shutil.rmtree(base, ignore_errors=True)
  else:
    with open(os.path.join(base, "stderr.txt"), "w") as f:
      f.write(err)
  return {"id": case.id, "status": "FAIL" if faults else "PASS", "exit": code,
          "expect": case.expect, "seconds": round(secs, 1), "faults": faults,
          "why": case.why, "stderr_first": lines[0][:240] if lines else "",
          "stderr_lines": len(lines)}


def main(argv: Optional[List[str]] = None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("out", help="working folder of the sweep (fixtures are kept for reruns)")
  p.add_argument("--jobs", type=int, default=2)
  p.add_argument("--only", nargs="*", default=[], help="case id prefixes to run")
  p.add_argument("--keep", action="store_true", help="keep every case's folder")
  args = p.parse_args(argv)
  out = os.path.abspath(args.out)
  os.makedirs(out, exist_ok=True)
  cases = [c for c in rc.CASES if not args.only or any(c.id.startswith(o) for o in args.only)]
  if not cases:
    sys.exit(f"reliability sweep: no case id starts with {args.only}")
  start = time.time()
  fx = build_fixtures(out, sorted({n for c in cases for n in c.needs}), args.jobs)
  results = []
  with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
    futures = [pool.submit(run_one, c, out, fx, args.keep) for c in cases]
    for fut in futures:
      r = fut.result()
      results.append(r)
      extra = "; ".join(r["faults"]) if r["faults"] else ""
      print(f"{r['status']:5} {r['id']:48} exit {r.get('exit', '-')!s:>3} "
            f"(want {r.get('expect', '-')}) {r.get('seconds', 0):5.1f}s  "
            f"{extra or r.get('stderr_first', r.get('detail', ''))}"[:400], flush=True)
  with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(results, f, indent=1)
  counts = {name: sum(any(x.startswith(name) for x in r["faults"]) for r in results)
            for name in FAULTS}
  setup_failed = sum(r["status"] == "SETUP" for r in results)
  print(f"(sweep took {time.time() - start:.0f} s on {args.jobs} jobs; "
        f"{setup_failed} cases could not be set up)")
  print(f"reliability sweep: {len(results)} cases, {counts['tracebacks']} tracebacks, "
        f"{counts['exit-0 wrong answers']} exit-0 wrong answers, "
        f"{counts['deleted user files']} deleted user files, "
        f"{counts['leftover outputs']} leftover outputs, "
        f"{counts['multi-line errors']} multi-line errors, "
        f"{counts['wrong exit codes']} wrong exit codes")
  return 1 if any(counts.values()) or setup_failed else 0


if __name__ == "__main__":
  sys.exit(main())
