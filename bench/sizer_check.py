"""Benchmark: the job sizer's estimate against measured runs on this machine.

  .venv/bin/python bench/sizer_check.py     # about 3 min on 2 cores

Two workloads, each run with DirectRunner multi_processing on --workers processes, then sized
with launch/sizer.py as a local run (no start-up, one machine of --workers vCPUs):
* bench:  bench/make_examples.py's dataset (5 Mbp, 30x, 2x150 bp, 6 channels, fraction 1.0):
          the dataset the sizer's figures were measured on, single-process; here in parallel;
* demo:   scripts/demo.sh's settings on its simulated 300 kb dataset (channel insert_size,
          fractions 1.0,0.5): a workload the figures were not measured on.
Each is make_examples then shuffle of its output. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import common  # noqa: E402
from bench.make_examples import me_args, simulate  # noqa: E402
from launch import sizer  # noqa: E402


def measure(name: str, sim: str, extra, workers: int, work_dir: str):
  out = os.path.join(work_dir, f"sizer-{name}")
  shutil.rmtree(out, ignore_errors=True)
  beam = [f"--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
  me = common.run_sampled([common.PY, "-m", "beam_pipelines.make_examples",
                           *me_args(sim, os.path.join(out, "ex.tfrecord@4.gz"), extra), *beam])
  summary = json.load(open(os.path.join(out, "ex.tfrecord.summary.json")))
  shards = sorted(glob.glob(os.path.join(out, "ex.tfrecord-*-of-00004.gz")))
  sh = common.run_sampled([common.PY, "-m", "beam_pipelines.shuffle", "--input_pattern_list",
                           os.path.join(out, "ex.tfrecord-?????-of-00004.gz"),
                           "--output_pattern_prefix", os.path.join(out, "shuffled", "train"),
                           "--num_shards", "4", "--memory_budget", "1G", *beam])
  return {"examples": summary["examples"], "bytes": sum(os.path.getsize(s) for s in shards),
          "me_wall_s": me["wall_s"], "me_cpu_s": me["cpu_s"], "sh_wall_s": sh["wall_s"],
          "sh_cpu_s": sh["cpu_s"], "rss_mib": max(me["peak_tree_rss_mib"],
                                                  sh["peak_tree_rss_mib"])}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--workers", type=int, default=2)
  ap.add_argument("--work_dir", default=os.path.join(common.ROOT, ".cache", "bench"))
  args = ap.parse_args()
  os.makedirs(args.work_dir, exist_ok=True)
  cases = [
      ("bench", simulate(args.work_dir, 5.0, 30.0, 1), [], 5_000_000, (1.0,), 6),
      ("demo", os.path.join(args.work_dir, "sim-demo"), ["--channels", "insert_size",
                                                         "--downsample_fraction", "1.0,0.5"],
       300_000, (1.0, 0.5), 7),
  ]
  if not os.path.exists(os.path.join(cases[1][1], "simulation.json")):
    common.run_measured([common.PY, "-m", "beam_pipelines.simulate", "--output_dir", cases[1][1],
                         "--overwrite", "--seed", "1"])
  rows = []
  machine = {"vcpus": args.workers, "memory_gb": 8}
  figures = sizer.load_figures()
  figures["machine_types"]["this-machine"] = machine
  for name, sim, extra, bp, fractions, channels in cases:
    m = measure(name, sim, extra, args.workers, args.work_dir)
    est = sizer.estimate(sizer.Workload(bp, 30.0, fractions, channels),
                         sizer.Workers("this-machine", 1, startup_s=0.0), figures)
    measured_wall = m["me_wall_s"] + m["sh_wall_s"]
    rows.append({"workload": name, "examples est/meas": f"{est.examples}/{m['examples']}",
                 "GB est/meas": f"{est.examples_gb:.4f}/{m['bytes'] / 1e9:.4f}",
                 "core-s est/meas": f"{est.core_hours * 3600:.1f}/"
                                    f"{m['me_cpu_s'] + m['sh_cpu_s']:.1f}",
                 "me core-s est/meas": f"{est.make_examples_core_hours * 3600:.1f}/"
                                       f"{m['me_cpu_s']:.1f}",
                 "wall s est/meas": f"{est.wall_hours * 3600:.1f}/{measured_wall:.1f}",
                 "wall ratio": f"{est.wall_hours * 3600 / measured_wall:.2f}",
                 "peak tree RSS MiB": f"{m['rss_mib']:.0f}"})
  print(f"\nsizer vs measured, DirectRunner multi_processing x {args.workers} on this machine")
  print(common.table(rows, list(rows[0].keys())))


if __name__ == "__main__":
  main()
