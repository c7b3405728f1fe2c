"""The backbone comparison on reads made by outside tools: ART + bwa, then ``trainer.study``.

Usage::

    .venv/bin/python bench/backbone_study.py OUT [--backbones tiny,small,regnety_002]
        [--baseline small] [--folds 3] [--steps_per_fold 300] [--mbp 1.5] [--smoke]

Data as the case study makes it (``bench/case_study.py``'s steps, reused): a genome and truth
from ``beam_pipelines.simulate``, two haplotypes by ``bcftools consensus``, ART HiSeq 2500
2x150 reads at 15x per haplotype (30x), ``bwa mem``; ``make_dataset`` labels the whole genome
at downsample fractions 1.0 and 0.5 into one training split (the last 2 kbp go to a tune
split nobody uses: the study makes its own folds). Then ``trainer.study`` with the ``small`` preset, the same step budget for every
backbone. Prints the study's summary and writes OUT/study/{study.csv, study_summary.csv,
study.png}; every step's log is in OUT/logs/. Reruns resume (finished steps are skipped, the
study keeps its rows).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import case_study as cs  # noqa: E402


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("out")
  p.add_argument("--backbones", default="tiny,small,regnety_002")
  p.add_argument("--baseline", default="small")
  p.add_argument("--folds", type=int, default=3)
  p.add_argument("--steps_per_fold", type=int, default=300)
  p.add_argument("--mbp", type=float, default=1.5, help="genome size in Mbp")
  p.add_argument("--seed", type=int, default=7)
  p.add_argument("--smoke", action="store_true", help="60 kbp, 2 folds, 4 steps")
  args = p.parse_args(argv)
  length = 60_000 if args.smoke else int(args.mbp * 1_000_000)
  sz = dataclasses.replace(cs.SMOKE if args.smoke else cs.FULL, contigs=f"sim1:{length}")
  folds, steps = (2, 4) if args.smoke else (args.folds, args.steps_per_fold)
  os.makedirs(args.out, exist_ok=True)
  r = cs.Runner(args.out)
  genome = cs.make_genome(r, sz, args.seed)
  bam = cs.short_reads(r, sz, genome, args.seed)["30x"]
  # make_dataset wants a tune split; the study makes its own folds from the train split.
  data = cs.dataset(r, "study", genome, bam, f"sim1:1-{length - 2000}",
                    f"sim1:{length - 1999}-{length}", "1.0,0.5", args.seed, sz.short_candidates)
  study_dir = os.path.join(args.out, "study")
  extra = ["--config.batch_size=16", "--config.warmup_steps=0"] if args.smoke else []
  r.py("study", "trainer.study",
       f"--dataset_config_pbtxt={data}/train/dataset_config.pbtxt",
       f"--backbones={args.backbones}", f"--baseline={args.baseline}", f"--folds={folds}",
       f"--steps_per_fold={steps}", f"--experiment_dir={study_dir}", "--config=small",
       f"--region_size={max(2_000, length // (6 * folds))}", *extra)
  with open(os.path.join(study_dir, "study_summary.csv")) as f:
    rows = list(csv.DictReader(f))
  print(f"backbone study: ART 2x150 30x + bwa mem, {length / 1e6:g} Mbp, {folds} folds, "
        f"{steps} steps per fold, --config=small")
  print("| backbone | metric | mean | sd | diff vs baseline | Wilcoxon p | paired t p |")
  print("|---|---|---|---|---|---|---|")
  for row in rows:
    print(f"| {row['backbone']} | {row['metric']} | {row['mean']} | {row['sd']} | "
          f"{row['mean_diff_vs_baseline']} | {row['wilcoxon_p']} | {row['ttest_p']} |")
  print("\n".join(cs.timing_table(r.timings)))
  return 0


if __name__ == "__main__":
  sys.exit(main())
