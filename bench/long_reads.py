"""Long reads with and without ``--model_type PACBIO``: how many examples per truth site, and
how many truth sites carry a right-labelled example.

Data by outside tools, as in the case study (bench/case_study.py, whose steps this reuses): a
simulated diploid genome (``beam_pipelines.simulate``, haplotypes by ``bcftools consensus``),
pbsim HiFi-like reads (~99% accurate, ~9 kb) per haplotype, ``minimap2 -ax map-hifi``. Then
``make_examples --mode training`` over one region with the default (short-read) settings and
with ``--model_type PACBIO`` (on the plain BAM, and on a haplotagged one whose HP tags come
from the simulation: the HP channel and haplotype-sorted rows, pictured by show_examples),
timed.

Two coverage figures: the haplotype labeler's own (truth sites it matched to candidates,
``labeling_n_true_positive_sites`` of the run summary: differently represented indels count),
and per type an exact-representation one: an example with the truth site's start, a single
image alt that is one of its alts, and the label equal to that alt's count in the truth
genotype (hom-ref truth records are not sites).

    .venv/bin/python bench/long_reads.py OUT [--mbp 1] [--depth 15]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pysam  # noqa: E402

from bench import case_study as cs  # noqa: E402
from bench import common  # noqa: E402
from schemas import example_format, tfrecord  # noqa: E402


def truth_sites(vcf: str, bed: str, contig: str, start: int, end: int) -> Dict[int, Dict]:
  """0-based start -> {alt: count in GT, 'indel': bool} for non-ref truth in confident BED."""
  conf = []
  with open(bed) as f:
    for line in f:
      c, s, e = line.split()[:3]
      if c == contig:
        conf.append((int(s), int(e)))
  out = {}
  with pysam.VariantFile(vcf) as v:
    for rec in v.fetch(contig, start, end):
      gt = [g for g in rec.samples[0]["GT"] if g is not None]
      if not any(gt) or not any(s <= rec.start and rec.stop <= e for s, e in conf):
        continue
      counts = {rec.alleles[i]: gt.count(i) for i in set(gt) if i}
      indel = any(len(a) != len(rec.ref) for a in rec.alts)
      out[rec.start] = {"alts": counts, "indel": indel}
  return out


def score(examples: str, sites: Dict[int, Dict]) -> Dict[str, float]:
  covered = set()
  n = 0
  for raw in tfrecord.read_records(examples):
    n += 1
    e = example_format.decode_example(raw)
    site = sites.get(e.variant.start)
    if site is None:
      continue
    for i in e.alt_indices:
      alt = e.variant.alternate_bases[i]
      if site["alts"].get(alt) == e.label and len(e.alt_indices) == 1:
        covered.add(e.variant.start)
  kinds = collections.Counter("indel" if s["indel"] else "snp" for s in sites.values())
  hit = collections.Counter("indel" if sites[p]["indel"] else "snp" for p in covered)
  return {"examples": n, "truth sites": len(sites),
          "examples per truth site": round(n / max(len(sites), 1), 2),
          "SNP sites, exact": f"{hit['snp']}/{kinds['snp']} "
                                f"({100 * hit['snp'] / max(kinds['snp'], 1):.2f}%)",
          "indel sites, exact": f"{hit['indel']}/{kinds['indel']} "
                                  f"({100 * hit['indel'] / max(kinds['indel'], 1):.2f}%)"}


def main(argv: Optional[Sequence[str]] = None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("out")
  p.add_argument("--mbp", type=float, default=1.0, help="size of the simulated contig")
  p.add_argument("--depth", type=float, default=15, help="pbsim depth per haplotype")
  p.add_argument("--seed", type=int, default=11)
  args = p.parse_args(argv)
  bp = int(args.mbp * 1_000_000)
  sz = cs.dataclasses.replace(cs.SMOKE, contigs=f"sim1:{bp}", pbsim_depth=args.depth)
  r = cs.Runner(args.out)
  genome = cs.make_genome(r, sz, args.seed)
  bams = {False: cs.long_reads(r, sz, genome, args.seed),
          True: cs.long_reads(r, sz, genome, args.seed, haplotag=True)}
  region = f"sim1:1-{bp}"
  sites = truth_sites(f"{genome}/truth.vcf.gz", f"{genome}/confident.bed", "sim1", 0, bp)
  rows: List[Dict] = []
  for label, name, tagged, extra in (
      ("default (short-read) settings", "default", False, []),
      ("--model_type PACBIO", "PACBIO", False, ["--model_type", "PACBIO"]),
      ("--model_type PACBIO, haplotagged BAM (HP 1/2)", "PACBIO-hp", True,
       ["--model_type", "PACBIO"])):
    out = os.path.join(args.out, "examples", name, "ex.tfrecord.gz")
    cmd = [common.PY, "-m", "beam_pipelines.make_examples", "--mode", "training", "--ref",
           f"{genome}/reference.fa", "--reads", bams[tagged], "--truth_variants",
           f"{genome}/truth.vcf.gz", "--confident_regions", f"{genome}/confident.bed",
           "--regions", region, "--examples", out, "--overwrite", *extra]
    m = common.run_sampled(cmd)
    with open(out + ".summary.json") as f:
      counters = json.load(f)["counters"]
    tp = counters.get("labeling_n_true_positive_sites", 0)
    row = {"settings": label, **score(out, sites),
           "sites matched by the labeler": f"{tp}/{len(sites)} ({100 * tp / len(sites):.2f}%)",
           "core-s/Mbp": round(m["cpu_s"] / args.mbp, 1),
           "peak RSS MiB": round(m["peak_tree_rss_mib"])}
    rows.append(row)
    if tagged:  # pictures of the first het SNPs: HP channel and haplotype-sorted rows
      pics = os.path.join(args.out, "pictures")
      r.py("show_examples", "beam_pipelines.show_examples", "--examples", out, "--output_dir",
           pics, "--labels", "1", "--variant_types", "snp", "--num", "4", "--overwrite")
      print(f"pictures of haplotagged PACBIO examples: {pics}")
  print(f"pbsim HiFi-like reads, {args.depth:g}x per haplotype, minimap2 map-hifi, "
        f"{args.mbp:g} Mbp simulated contig, make_examples --mode training, one process")
  print(common.table(rows, list(rows[0])))
  return 0


if __name__ == "__main__":
  sys.exit(main())
