"""Benchmark: make_examples core-seconds per Mbp, examples/s per core and peak RSS.

  .venv/bin/python bench/make_examples.py            # 5 Mbp, 30x, 2x150 bp (about 3 min)
  .venv/bin/python bench/make_examples.py --mbp 0.5  # quick look

Simulates the dataset once (cached under --work_dir), runs make_examples in training mode with
6 channels on DirectRunner in one process (one core, so CPU seconds are core-seconds), and in
the same run times ``samtools view`` decoding the same BAM (the floor: reading is never the
bottleneck) and reports our ratio to it. ``--profile`` adds a cProfile of one slice showing
what dominates. Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import common  # noqa: E402


def simulate(work: str, mbp: float, coverage: float, seed: int) -> str:
  total = int(mbp * 1e6)
  lengths = [total * 3 // 5, total - total * 3 // 5] if total >= 200_000 else [total]
  contigs = ",".join(f"bench{i + 1}:{n}" for i, n in enumerate(lengths))
  out = os.path.join(work, f"sim-{mbp:g}mbp-{coverage:g}x-s{seed}")
  if not os.path.exists(os.path.join(out, "simulation.json")):
    r = common.run_measured([common.PY, "-m", "beam_pipelines.simulate", "--output_dir", out,
                             "--contigs", contigs, "--coverage", str(coverage),
                             "--seed", str(seed), "--overwrite"])
    print(f"simulated {mbp:g} Mbp at {coverage:g}x in {r['wall_s']:.1f} s -> {out}")
  return out


def me_args(sim: str, examples: str, extra=()):
  return ["--mode", "training", "--ref", os.path.join(sim, "reference.fa"),
          "--reads", os.path.join(sim, "reads.bam"),
          "--truth_variants", os.path.join(sim, "truth.vcf.gz"),
          "--confident_regions", os.path.join(sim, "confident.bed"),
          "--examples", examples, *extra]


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--mbp", type=float, default=5.0)
  ap.add_argument("--coverage", type=float, default=30.0)
  ap.add_argument("--seed", type=int, default=1)
  ap.add_argument("--work_dir", default=os.path.join(common.ROOT, ".cache", "bench"))
  ap.add_argument("--profile", action="store_true", help="cProfile a 200 kb slice")
  ap.add_argument("--extra", default="", help="extra make_examples flags, space separated")
  args = ap.parse_args()
  os.makedirs(args.work_dir, exist_ok=True)
  sim = simulate(args.work_dir, args.mbp, args.coverage, args.seed)
  bam = os.path.join(sim, "reads.bam")
  bam_mb = os.path.getsize(bam) / 1e6
  mbp = json.load(open(os.path.join(sim, "simulation.json")))
  total_bp = sum(c[1] if isinstance(c, list) else c["length"]
                 for c in mbp["config"]["contigs"]) if "config" in mbp else int(args.mbp * 1e6)

  floor = common.run_sampled(["samtools", "view", "-@", "0", "-o", "/dev/null", bam],
                             interval=0.05)
  out_dir = os.path.join(args.work_dir, "make_examples-out")
  shutil.rmtree(out_dir, ignore_errors=True)
  ours = common.run_sampled([common.PY, "-m", "beam_pipelines.make_examples",
                              *me_args(sim, os.path.join(out_dir, "ex.tfrecord@4.gz"),
                                       args.extra.split())])
  summary = json.load(open(os.path.join(out_dir, "ex.tfrecord.summary.json")))
  n = summary["examples"]
  mbp_f = total_bp / 1e6
  rows = [
      {"what": "samtools view (decode floor)", "wall_s": f"{floor['wall_s']:.1f}",
       "core_s": f"{floor['cpu_s']:.1f}", "core_s_per_Mbp": f"{floor['cpu_s'] / mbp_f:.2f}",
       "peak_rss_MiB": f"{floor['peak_tree_rss_mib']:.0f}", "examples/s/core": ""},
      {"what": "make_examples training, 6 ch", "wall_s": f"{ours['wall_s']:.1f}",
       "core_s": f"{ours['cpu_s']:.1f}", "core_s_per_Mbp": f"{ours['cpu_s'] / mbp_f:.2f}",
       "peak_rss_MiB": f"{ours['peak_tree_rss_mib']:.0f}",
       "examples/s/core": f"{n / ours['cpu_s']:.1f}"},
  ]
  print(f"\ndataset: {mbp_f:g} Mbp, {args.coverage:g}x 2x150 bp, BAM {bam_mb:.0f} MB, "
        f"{summary['counters'].get('reads_seen', 0):,} reads seen, {n:,} examples")
  print(common.table(rows, ["what", "wall_s", "core_s", "core_s_per_Mbp", "peak_rss_MiB",
                            "examples/s/core"]))
  print(f"ratio make_examples / samtools view (core-seconds): "
        f"{ours['cpu_s'] / floor['cpu_s']:.1f}x; target <= 3 core-s/Mbp")
  if args.profile:
    profile_slice(sim)


def profile_slice(sim: str):
  """cProfile of the per-partition work on a 200 kb slice (no Beam), top functions by tottime."""
  from beam_pipelines import make_examples, make_examples_config as cfg_lib
  from beam_pipelines.core.example_maker import make_partition_examples, reference_span
  from beam_pipelines.io import make_examples_inputs as inputs
  from beam_pipelines.io.bam import BamReader
  from beam_pipelines.io.bed import read_confident_regions
  from beam_pipelines.io.fasta import FastaReader
  from beam_pipelines.io.truth import TruthReader
  parser = argparse.ArgumentParser()
  cfg_lib.add_flags(parser)
  ns = parser.parse_args(me_args(sim, "/tmp/unused.tfrecord.gz",
                                 ["--regions", "bench1:100001-300000"]))
  cfg = cfg_lib.from_args(ns).validate()
  plan = inputs.plan(cfg)
  opts = make_examples.maker_options(cfg, plan.sample_name)
  fasta, bam, truth = FastaReader(cfg.ref), BamReader(cfg.reads), TruthReader(cfg.truth_variants)
  confident = read_confident_regions(cfg.confident_regions)
  lengths = fasta.contig_lengths()

  def work():
    for unit in plan.units:
      for part in unit.partitions:
        raw = list(bam.fetch(part))
        span = reference_span(part, raw, 221, lengths[part.contig])
        ref = fasta.window(part.contig, span.start, span.end)
        make_partition_examples(part, raw, ref, opts, truth.fetch(part), confident)

  prof = cProfile.Profile()
  prof.runcall(work)
  print("\nprofile of a 200 kb slice (top 15 by own time):")
  pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
  main()
