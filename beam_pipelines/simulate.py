"""Simulates pileflow's default dataset: reference, truth VCF, confident BED and reads BAM.

Local (default: contigs of 200 kb and 100 kb, 30x, 2x150 bp, insert 400 +- 80; ~3 s, one core):

  python -m beam_pipelines.simulate --output_dir /tmp/sim

Bigger, for benchmarks (5 Mbp, ~1M reads, ~35 s), and restricted to regions:

  python -m beam_pipelines.simulate --output_dir /tmp/sim5m --contigs sim1:3000000,sim2:2000000
  python -m beam_pipelines.simulate --output_dir /tmp/simr --regions sim1:50,001-60,000

There is no cloud form: the output is small, so write it locally and copy it to a bucket
(``gsutil -m cp -r /tmp/sim gs://BUCKET/sim``) to run the pipelines on Dataflow.

Flags become one frozen, validated ``SimulationConfig``; everything is checked before anything
is written, and the output directory appears only when complete. A bad option prints one line
(``simulate: error: --coverage must be > 0, got -3``) on stderr and exits with code 2.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('simulate')

import argparse
import sys
from typing import List, Optional

from beam_pipelines import flags
from beam_pipelines.core import simulation as sim
from beam_pipelines.io import simulation_writer

PROG = "simulate"
_DEFAULTS = sim.SimulationConfig()


def build_parser() -> argparse.ArgumentParser:
  d = _DEFAULTS
  p = flags.OneLineArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
  p.add_argument("--output_dir", required=True, help="directory to create (must be absent or "
                 "empty unless --overwrite)")
  p.add_argument("--overwrite", action="store_true",
                 help="replace the files of an earlier simulation in --output_dir")
  p.add_argument("--contigs", default=",".join(f"{n}:{l}" for n, l in d.contigs),
                 help="name:length list, comma separated (lengths may end in k or m)")
  p.add_argument("--coverage", type=float, default=d.coverage, help="mean read depth")
  p.add_argument("--read_length", type=int, default=d.read_length)
  p.add_argument("--insert_size_mean", type=float, default=d.insert_mean)
  p.add_argument("--insert_size_sd", type=float, default=d.insert_sd)
  p.add_argument("--error_rate", type=float, default=d.error_rate,
                 help="mean per-base substitution error rate")
  p.add_argument("--snp_rate", type=float, default=d.snp_rate, help="SNP sites per base")
  p.add_argument("--indel_rate", type=float, default=d.indel_rate, help="indel sites per base")
  p.add_argument("--multiallelic_fraction", type=float, default=d.multiallelic_fraction)
  p.add_argument("--hom_alt_fraction", type=float, default=d.hom_alt_fraction)
  p.add_argument("--phased_fraction", type=float, default=d.phased_fraction)
  p.add_argument("--duplicate_fraction", type=float, default=d.duplicate_fraction,
                 help="fraction of fragments with a PCR-duplicate copy (0x400)")
  p.add_argument("--secondary_fraction", type=float, default=d.secondary_fraction,
                 help="fraction of mapped reads with an extra secondary record (0x100)")
  p.add_argument("--supplementary_fraction", type=float, default=d.supplementary_fraction,
                 help="fraction of mapped reads with an extra supplementary record (0x800)")
  p.add_argument("--qcfail_fraction", type=float, default=d.qcfail_fraction,
                 help="fraction of fragments flagged QC-fail (0x200)")
  p.add_argument("--mate_unmapped_fraction", type=float, default=d.mate_unmapped_fraction,
                 help="fraction of fragments with one mate unmapped")
  p.add_argument("--soft_clip_fraction", type=float, default=d.soft_clip_fraction,
                 help="fraction of reads with a soft-clipped adapter-like tail")
  p.add_argument("--systematic_error_rate", type=float, default=d.systematic_error_rate,
                 help="systematic-error hotspots per reference base: at each, 8-35%% of reads "
                      "show the same wrong base (the source of most hom-ref candidates)")
  p.add_argument("--sample_name", default=d.sample_name)
  p.add_argument("--seed", type=int, default=d.seed)
  p.add_argument("--regions", nargs="+", action="extend", default=None,
                 help="region literals (1-based, e.g. sim1:1,001-5,000) where reads are "
                 "simulated; space separated")
  p.add_argument("--bgzip_reference", action="store_true",
                 help="also write reference.fa.gz (+ .fai, .gzi)")
  return p


def config_from_args(args: argparse.Namespace) -> sim.SimulationConfig:
  """Flags -> one frozen, validated config (raises SimulationConfigError)."""
  regions = tuple(r for value in (args.regions or []) for r in value.split())
  return sim.SimulationConfig(
      contigs=sim.parse_contigs(args.contigs), coverage=args.coverage,
      read_length=args.read_length, insert_mean=args.insert_size_mean,
      insert_sd=args.insert_size_sd, error_rate=args.error_rate, snp_rate=args.snp_rate,
      indel_rate=args.indel_rate, multiallelic_fraction=args.multiallelic_fraction,
      hom_alt_fraction=args.hom_alt_fraction, phased_fraction=args.phased_fraction,
      duplicate_fraction=args.duplicate_fraction, secondary_fraction=args.secondary_fraction,
      supplementary_fraction=args.supplementary_fraction,
      qcfail_fraction=args.qcfail_fraction, mate_unmapped_fraction=args.mate_unmapped_fraction,
      soft_clip_fraction=args.soft_clip_fraction,
      systematic_error_rate=args.systematic_error_rate, sample_name=args.sample_name,
      seed=args.seed, regions=regions, bgzip_reference=args.bgzip_reference).validate()


def summary_paragraph(output_dir: str, summary: dict) -> str:
  v, r = summary["variants"], summary["reads"]
  contigs = ", ".join(f"{n} ({c['length']:,} bp)" for n, c in summary["contigs"].items())
  return (
      f"Wrote a simulated dataset to {output_dir}: {', '.join(summary['files'])}. "
      f"Contigs: {contigs}. Truth: {v['total']:,} variants ({v['by_type']['snp']:,} SNPs, "
      f"{v['by_type']['insertion']:,} insertions, {v['by_type']['deletion']:,} deletions, "
      f"{v['by_type']['complex']:,} complex; {v['by_genotype']['het']:,} het, "
      f"{v['by_genotype']['hom_alt']:,} hom-alt, {v['by_genotype']['het_alt']:,} het-alt; "
      f"{v['phasing']['phased']:,} phased); confident regions cover "
      f"{summary['confident_bp']:,} bp. Reads: {r['records']:,} BAM records from "
      f"{r['fragments']:,} fragments ({r['primary_mapped']:,} primary mapped, "
      f"{r['duplicate']:,} duplicate, {r['secondary']:,} secondary, "
      f"{r['supplementary']:,} supplementary, {r['qcfail']:,} QC-fail, {r['unmapped']:,} "
      f"unmapped mates, {r['soft_clipped']:,} soft-clipped, {r['low_mapq']:,} with MAPQ < 20).")


def main(argv: Optional[List[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  summary = flags.run_or_fail(
      PROG, lambda: simulation_writer.write_simulation(config_from_args(args), args.output_dir,
                                                       args.overwrite),
      (sim.SimulationConfigError,))
  print(summary_paragraph(args.output_dir, summary))
  return 0


if __name__ == "__main__":
  sys.exit(main())
