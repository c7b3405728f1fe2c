"""Job sizer: core-hours, wall time and cost of make_examples + shuffle before the job runs.

Why: a whole-genome make_examples is thousands of core-hours; knowing that (and what a worker
count buys in wall time and costs) before submitting is the difference between a planned run
and a surprise bill. The estimate scales our own measured figures (launch/bench_figures.json,
each with the command that produced it) by the workload; it does not model the cloud beyond
list prices and a start-up delay, so treat it as +-30% and re-measure when the code changes.

  python -m launch.sizer --genome_mbp 3100 --coverage 30 --downsample_fraction 1.0,0.5 \\
    --machine_type n2-standard-8 --workers 64
  python -m launch.sizer --bam HG002.bam --genome_mbp 3100 --machine_type n2-standard-8 \\
    --workers 64     # coverage from the BAM's size

The model (per-Mbp figures come from a 30x, 2x150 bp, 6-channel training run):
* make_examples core-seconds = Mbp x core_s_per_Mbp x (coverage / 30) x sum(fractions).
  Per-read work (decode, filter, allele counting, pileup rows) dominates and is linear in reads;
  every downsample fraction re-does the counting and drawing on fraction x the reads.
* examples = Mbp x examples_per_Mbp x number of fractions; bytes x channels / 6.
* shuffle core-seconds = compressed example GB x core_s_per_GB (scatter + sort + write).
* wall = start-up + core-seconds / (workers x vCPUs x efficiency). Dataflow runs one SDK
  process per vCPU; each needs about peak_rss_mib of memory plus its share of the shuffle
  memory budget, checked against the machine's memory.
* cost = worker-hours x (vCPUs x vCPU price + GB x memory price + disk GB x disk price).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

FIGURES_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_figures.json")
PROG = "launch.sizer"


def load_figures(path: str = FIGURES_PATH) -> Dict:
  with open(path, encoding="utf-8") as f:
    return json.load(f)


@dataclasses.dataclass(frozen=True)
class Workload:
  """What is processed. ``genome_bp`` counts the regions make_examples covers (0-based
  half-open spans summed), not the reference length when --regions restricts it."""
  genome_bp: int
  coverage: float
  downsample_fractions: Tuple[float, ...] = (1.0,)
  channels: int = 6
  shuffle: bool = True

  def validate(self) -> "Workload":
    if self.genome_bp <= 0:
      raise ValueError(f"genome size must be > 0 bp, got {self.genome_bp}")
    if self.coverage <= 0:
      raise ValueError(f"coverage must be > 0, got {self.coverage}")
    if not self.downsample_fractions or any(not 0 < f <= 1 for f in self.downsample_fractions):
      raise ValueError(f"downsample fractions must be in (0, 1], got {self.downsample_fractions}")
    if self.channels < 1:
      raise ValueError(f"channels must be >= 1, got {self.channels}")
    return self


@dataclasses.dataclass(frozen=True)
class Workers:
  machine_type: str
  count: int
  disk_gb: int = 50
  disk_type: str = "pd-standard"
  startup_s: Optional[float] = None  # None: Dataflow's start-up figure; 0 for a local run
  setup_file: bool = True            # workers pip-install pileflow (vs a custom image)
  shuffle_memory_budget_gb: float = 1.0


@dataclasses.dataclass(frozen=True)
class Estimate:
  examples: int
  examples_gb: float
  make_examples_core_hours: float
  shuffle_core_hours: float
  startup_s: float
  wall_hours: float
  worker_hours: float
  cost_usd: float
  cost_breakdown: Dict[str, float]
  memory_per_process_mib: float
  memory_per_vcpu_mib: float
  warnings: Tuple[str, ...]

  @property
  def core_hours(self) -> float:
    return self.make_examples_core_hours + self.shuffle_core_hours


def coverage_from_bam(bam_bytes: int, genome_bp: int, figures: Optional[Dict] = None) -> float:
  """Coverage implied by a BAM's size, from the bench BAM's bytes per Mbp per 1x.

  BAM bytes per read depend on read length, qualities (binned or not) and tags; our figure is
  a simulated 2x150 bp BAM with full-resolution qualities, close to an Illumina WGS BAM.
  """
  me = (figures or load_figures())["make_examples"]
  per_mbp_per_x = me["bam_bytes_per_mbp"] / me["coverage"]
  return bam_bytes / (genome_bp / 1e6) / per_mbp_per_x


def estimate(work: Workload, workers: Workers, figures: Optional[Dict] = None) -> Estimate:
  """The sizer: see the module docstring for the model and the figures it uses."""
  figures = figures or load_figures()
  work.validate()
  machines = figures["machine_types"]
  if workers.machine_type not in machines:
    raise ValueError(f"unknown machine type {workers.machine_type!r}; known: "
                     f"{', '.join(sorted(machines))} (add it to {FIGURES_PATH})")
  if workers.count < 1:
    raise ValueError(f"workers must be >= 1, got {workers.count}")
  me, sh, par, df = (figures["make_examples"], figures["shuffle"], figures["parallel"],
                     figures["dataflow"])
  prices, machine = figures["prices_usd"], machines[workers.machine_type]
  mbp = work.genome_bp / 1e6
  coverage_scale = work.coverage / me["coverage"]
  me_core_s = mbp * me["core_seconds_per_mbp"] * coverage_scale * sum(work.downsample_fractions)
  examples = int(round(mbp * me["examples_per_mbp"] * len(work.downsample_fractions)))
  examples_bytes = examples * me["example_bytes_gz"] * work.channels / me["channels"]
  shuffle_core_s = (examples_bytes / 1e9 * sh["core_seconds_per_gb"]) if work.shuffle else 0.0
  vcpus = machine["vcpus"] * workers.count
  if workers.startup_s is not None:
    startup = workers.startup_s
  else:
    startup = df["worker_startup_s"] + (df["setup_file_install_s"] if workers.setup_file else 0)
  compute_s = (me_core_s + shuffle_core_s) / (vcpus * par["efficiency"])
  wall_s = startup + compute_s
  worker_hours = wall_s / 3600 * workers.count
  disk_price = prices["pd_ssd_gb_hour"] if workers.disk_type == "pd-ssd" else \
      prices["pd_standard_gb_hour"]
  breakdown = {
      "vcpu": worker_hours * machine["vcpus"] * prices["vcpu_hour"],
      "memory": worker_hours * machine["memory_gb"] * prices["memory_gb_hour"],
      "disk": worker_hours * workers.disk_gb * disk_price,
  }
  per_process = max(me["peak_rss_mib_per_process"], sh["peak_rss_mib_per_process"] +
                    (workers.shuffle_memory_budget_gb * 1024 / machine["vcpus"]
                     if work.shuffle else 0))
  per_vcpu = machine["memory_gb"] * 1024 / machine["vcpus"]
  warnings: List[str] = []
  if per_process > 0.8 * per_vcpu:
    warnings.append(f"{workers.machine_type} has {per_vcpu:.0f} MiB per vCPU; each SDK process "
                    f"needs about {per_process:.0f} MiB: use a highmem type or fewer harness "
                    "processes")
  if compute_s < startup:
    warnings.append(f"compute ({compute_s / 60:.1f} min) is shorter than worker start-up "
                    f"({startup / 60:.1f} min): fewer workers cost less for about the same wall "
                    "time")
  return Estimate(examples=examples, examples_gb=examples_bytes / 1e9,
                  make_examples_core_hours=me_core_s / 3600,
                  shuffle_core_hours=shuffle_core_s / 3600, startup_s=startup,
                  wall_hours=wall_s / 3600, worker_hours=worker_hours,
                  cost_usd=sum(breakdown.values()), cost_breakdown=breakdown,
                  memory_per_process_mib=per_process, memory_per_vcpu_mib=per_vcpu,
                  warnings=tuple(warnings))


def format_estimate(work: Workload, workers: Workers, est: Estimate) -> str:
  lines = [
      f"{PROG}: {work.genome_bp / 1e6:,.1f} Mbp at {work.coverage:.1f}x, fractions "
      f"{','.join(f'{f:g}' for f in work.downsample_fractions)}, {work.channels} channels; "
      f"{workers.count} x {workers.machine_type}",
      f"{PROG}:   examples ~{est.examples:,} ({est.examples_gb:.2f} GB gzipped)",
      f"{PROG}:   core-hours: make_examples {est.make_examples_core_hours:,.2f}, shuffle "
      f"{est.shuffle_core_hours:,.2f}, total {est.core_hours:,.2f}",
      f"{PROG}:   wall ~{est.wall_hours * 60:,.1f} min (start-up {est.startup_s / 60:.1f} min); "
      f"{est.worker_hours:,.2f} worker-hours",
      f"{PROG}:   cost ~${est.cost_usd:,.2f} (vCPU ${est.cost_breakdown['vcpu']:,.2f}, memory "
      f"${est.cost_breakdown['memory']:,.2f}, disk ${est.cost_breakdown['disk']:,.2f}) at list "
      "prices",
      f"{PROG}:   memory: ~{est.memory_per_process_mib:.0f} MiB per SDK process, "
      f"{est.memory_per_vcpu_mib:.0f} MiB per vCPU available",
  ]
  lines += [f"{PROG}:   WARNING: {w}" for w in est.warnings]
  return "\n".join(lines)


def _fractions(text: str) -> Tuple[float, ...]:
  try:
    return tuple(float(x) for x in text.split(",") if x.strip())
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def main(argv: Optional[Sequence[str]] = None) -> int:
  p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
  p.add_argument("--genome_mbp", type=float, required=True,
                 help="Mbp make_examples covers (e.g. 3100 for GRCh38 WGS, ~60 for an exome "
                      "capture region)")
  g = p.add_mutually_exclusive_group(required=True)
  g.add_argument("--coverage", type=float)
  g.add_argument("--bam", help="estimate coverage from this BAM's size")
  g.add_argument("--bam_bytes", type=float)
  p.add_argument("--downsample_fraction", type=_fractions, default=(1.0,))
  p.add_argument("--channels", type=int, default=6)
  p.add_argument("--no_shuffle", action="store_true", help="make_examples only")
  p.add_argument("--machine_type", default="n2-standard-8")
  p.add_argument("--workers", type=int, required=True)
  p.add_argument("--disk_gb", type=int, default=50)
  p.add_argument("--disk_type", choices=("pd-standard", "pd-ssd"), default="pd-standard")
  p.add_argument("--sdk_container_image", action="store_true",
                 help="workers use a custom image (no per-worker pip install)")
  p.add_argument("--local", action="store_true", help="a local run: no start-up, no cost")
  p.add_argument("--figures", default=FIGURES_PATH)
  a = p.parse_args(argv)
  figures = load_figures(a.figures)
  genome_bp = int(a.genome_mbp * 1e6)
  coverage = a.coverage
  if coverage is None:
    size = os.path.getsize(a.bam) if a.bam else a.bam_bytes
    coverage = coverage_from_bam(int(size), genome_bp, figures)
  work = Workload(genome_bp, coverage, a.downsample_fraction, a.channels, not a.no_shuffle)
  workers = Workers(a.machine_type, a.workers, a.disk_gb, a.disk_type,
                    startup_s=0.0 if a.local else None, setup_file=not a.sdk_container_image)
  try:
    est = estimate(work, workers, figures)
  except ValueError as e:
    sys.stderr.write(f"{PROG}: error: {e}\n")
    return 2
  print(format_estimate(work, workers, est))
  return 0


if __name__ == "__main__":
  sys.exit(main())
