"""Fine-tuning on pseudolabels, on reads made by outside tools, scored against the withheld truth.

Usage::

    .venv/bin/python bench/pseudolabel_study.py OUT [--mbp 1.2] [--smoke]

The case study's story with the truth of the new platform withheld (``bench/case_study.py``'s
data steps, reused): a genome and truth from ``beam_pipelines.simulate`` (contig sim1 for
training, sim2 held out), ART 2x150 30x + ``bwa mem`` (base platform) and pbsim HiFi-like long
reads + ``minimap2`` (new platform). Steps:

1. base model: ``trainer.train --config=small`` on the short reads (truth labels);
2. the base model calls the long reads of sim1 (``beam_pipelines.call``);
3. ``beam_pipelines.pseudolabels`` turns those calls into a truth VCF and confident BED;
4. ``make_dataset`` on the long reads of sim1 with the pseudolabels (train and tune splits:
   no real truth anywhere in training or selection);
5. fine-tune the base model on them (whole network, the case study's fine-tune settings);
6. base and fine-tuned models call the long reads of sim2, scored against the real truth by
   ``beam_pipelines.evaluate`` (genotype-aware, as hap.py counts). The real truth is also used
   to say how right the pseudolabels were (their own precision, as labels).

Prints one table (SNP and INDEL precision, recall, F1 of both models) and step times; writes
OUT/pseudolabel_study.json. Reruns resume finished steps.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import case_study as cs  # noqa: E402


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  cs.add_two_contig_flags(p)
  p.add_argument("--min_gq", type=int, default=20)
  p.add_argument("--top_fraction", type=float, default=1.0)
  args = p.parse_args(argv)
  if args.smoke:  # a smoke-size base model is barely trained: its GQs are all low
    args.min_gq = 0
  sz, base_overrides, _ = cs.two_contig_sizes(args.mbp, args.test_mbp, args.smoke)
  r = cs.Runner(args.out)
  genome, short, hifi, short_ds, base = cs.base_platform(r, sz, args.seed, base_overrides)
  # 2-3: the base model's calls on the new platform's training contig become the labels.
  new_train = cs.calling_examples(r, "hifi_sim1", genome, hifi, "sim1")
  calls = os.path.join(args.out, "calls", "base_on_hifi_sim1.vcf.gz")
  if not os.path.exists(calls):
    r.py("call", "beam_pipelines.call", "--examples", new_train, "--model", base, "--ref",
         f"{genome}/reference.fa", "--outfile", calls)
  pseudo = os.path.join(args.out, "pseudo")
  if not cs.done(pseudo):
    r.py("pseudolabels", "beam_pipelines.pseudolabels", "--calls", calls, "--ref",
         f"{genome}/reference.fa", "--output_dir", pseudo, "--min_gq", str(args.min_gq),
         "--top_fraction", str(args.top_fraction), "--overwrite")
    cs.mark(pseudo)
  label_scores = cs.score(r, "evaluate", os.path.join(pseudo, "truth.vcf.gz"), genome, "sim1")
  # 4-5: a long-read dataset labeled only by the pseudolabels, and the fine-tune on it.
  pseudo_genome = os.path.join(args.out, "pseudo_genome")
  os.makedirs(pseudo_genome, exist_ok=True)
  for name, src in (("reference.fa", f"{genome}/reference.fa"),
                    ("reference.fa.fai", f"{genome}/reference.fa.fai"),
                    ("truth.vcf.gz", f"{pseudo}/truth.vcf.gz"),
                    ("truth.vcf.gz.tbi", f"{pseudo}/truth.vcf.gz.tbi"),
                    ("confident.bed", f"{pseudo}/confident.bed")):
    link = os.path.join(pseudo_genome, name)
    if not os.path.exists(link):
      os.symlink(os.path.abspath(src), link)
  long_ds = cs.dataset(r, "long_pseudo", pseudo_genome, hifi, sz.long_train, sz.long_tune,
                       "1.0", args.seed)
  ft = cs.train(r, "fine_tune", os.path.join(args.out, "models", "ft-pseudo"), long_ds, "small",
                1, sz.tune_overrides + (f"--config.init_checkpoint={cs.best_checkpoint(base)}",
                                             "--config.fine_tune_mode=whole"))
  # 6: both models on the held-out contig, scored against the real truth.
  test = cs.calling_examples(r, "hifi_sim2", genome, hifi, "sim2")
  rows = {"base model (short reads)": cs.call_model(r, "hifi_sim2.base", base, test, genome,
                                                    "sim2"),
          "fine-tuned on pseudolabels": cs.call_model(r, "hifi_sim2.ft-pseudo", ft, test,
                                                      genome, "sim2")}
  with open(os.path.join(pseudo, "pseudolabels.json")) as f:
    kept = json.load(f)
  result = {"rows": rows, "pseudolabels": kept, "pseudolabel_scores": label_scores,
            "timings": r.timings, "sizes": dataclasses.asdict(sz)}
  with open(os.path.join(args.out, "pseudolabel_study.json"), "w") as f:
    json.dump(result, f, indent=1)
  print(f"pseudolabels kept per class: {kept['kept']} of {kept['offered']} (GQ >= "
        f"{args.min_gq}); as labels against the withheld truth on sim1: " +
        ", ".join(f"{t} precision {s['precision']:.4f} recall {s['recall']:.4f}"
                  for t, s in label_scores.items()))
  print("| Data | Model | Type | Precision | Recall | F1 | Truth |")
  print("|---|---|---|---|---|---|---|")
  for model, scores in rows.items():
    for t in ("SNP", "INDEL"):
      s = scores[t]
      print(f"| long HiFi, sim2 (held out) | {model} | {t} | {s['precision']:.4f} | "
            f"{s['recall']:.4f} | {s['f1']:.4f} | {s['truth']} |")
  print("\n".join(cs.timing_table(r.timings)))
  return 0


if __name__ == "__main__":
  sys.exit(main())
