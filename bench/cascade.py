"""The small-model cascade on reads made by outside tools: accuracy, cost and calibration.

Usage::

    .venv/bin/python bench/cascade.py OUT [--mbp 1.2] [--test_mbp 0.4] [--smoke]

Data and base CNN are the case study's (``bench/case_study.py`` steps, the same layout as
``bench/pseudolabel_study.py``, so an OUT of either resumes): a ``beam_pipelines.simulate``
genome and truth (sim1 for training, sim2 held out), ART 2x150 30x + ``bwa mem`` (and a 7.5x
``samtools view -s`` subset), pbsim HiFi-like reads + ``minimap2``. Steps:

1. ``make_dataset`` on the short reads (fractions 1.0, 0.5, 0.25) and on the long reads: the
   pileup splits and, beside them, ``small_model/<split>/`` (the small model's examples,
   shuffled with the same seed);
2. the base CNN (``--config=small``) and the base small model
   (``--config=small_model``) on the short reads; the small model fine-tuned on the long reads;
3. on sim2 (never trained on), at 30x and 7.5x: make_examples calling, call_variants and
   postprocess_variants, once CNN-only and once with the cascade (make_examples
   ``--call_small_model_examples``, postprocess ``--small_model_cvo_records``); each VCF scored
   by ``beam_pipelines.evaluate`` as hap.py counts (a right allele with the wrong genotype is
   a FP and a FN);
4. calibration and the fine-tuning story: labeled small-model examples of sim2
   (make_examples training mode, ``--write_small_model_examples``) for each read set; among
   the candidates the small model would accept (GQ >= the SNP / indel threshold), the
   observed genotype error rate against the error their GQ claims; for the long reads with
   the base small model and the fine-tuned one.

Prints the tables (F1 per arm and delta, share of candidates per model, core-seconds per Mbp
per stage, calibration rows) and writes OUT/cascade.json. Core-seconds are the children's
user+system CPU (``getrusage``), so two-process DirectRunner stages count both cores.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import sys
from typing import Dict, List, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import case_study as cs  # noqa: E402
from schemas import small_model as contract  # noqa: E402
from schemas import tfrecord  # noqa: E402

ME_WORKERS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")


def train_small(r: cs.Runner, step: str, exp: str, ds: str, extra: Sequence[str] = ()) -> str:
  """The small model trained on dataset ``ds``'s small_model splits; returns its export."""
  if not cs.done(exp):
    r.py(step, "trainer.train", "--config=small_model", f"--experiment_dir={exp}",
         f"--config.train_dataset_pbtxt={ds}/small_model/train/dataset_config.pbtxt",
         f"--config.tune_dataset_pbtxt={ds}/small_model/tune/dataset_config.pbtxt",
         "--config.seed=1", *extra)
    cs.mark(exp)
  return os.path.join(exp, "small_model")


def calling_run(r: cs.Runner, tag: str, genome: str, bam: str, region: str, cnn: str,
                candidates: Sequence[str], small_model: str = "") -> Dict:
  """make_examples -> call_variants -> postprocess_variants on ``region``; the cascade when
  ``small_model`` is given. Returns the scores, the candidate shares and the stage timings."""
  d = os.path.join(r.out, "cascade", tag)
  examples = f"{d}/examples.tfrecord@4.gz"
  cvo = f"{d}/calls@2.tfrecord.gz"
  vcf = f"{d}/calls.vcf.gz"
  ref = f"{genome}/reference.fa"
  cascade = ["--call_small_model_examples", f"--trained_small_model_path={small_model}"] \
      if small_model else []
  if not cs.done(d):
    cs.fresh(d)
    r.py(f"{tag}: make_examples", "beam_pipelines.make_examples", "--mode", "calling", "--ref",
         ref, "--reads", bam, "--regions", region, "--channels", "insert_size", "--examples",
         examples, *ME_WORKERS, *candidates, *cascade)
    r.py(f"{tag}: call_variants", "beam_pipelines.call_variants", "--examples", examples,
         "--checkpoint", cnn, "--outfile", cvo)
    small = ["--small_model_cvo_records",
             f"{d}/examples_call_variant_outputs.tfrecord@4.gz"] if small_model else []
    r.py(f"{tag}: postprocess_variants", "beam_pipelines.postprocess_variants", "--ref", ref,
         "--infile", cvo, "--outfile", vcf, *small)
    stages = {s: r.timings[f"{tag}: {s}"] for s in
              ("make_examples", "call_variants", "postprocess_variants")}
    with open(f"{d}/stages.json", "w") as f:  # a resumed run reports the measured times
      json.dump(stages, f)
    cs.mark(d)
  with open(f"{d}/stages.json") as f:
    stages = json.load(f)
  with open(f"{d}/examples.tfrecord.summary.json") as f:
    c = json.load(f)["counters"]
  scores = cs.score(r, f"{tag}: evaluate", vcf, genome, region)
  return {"scores": scores, "candidates": c.get("candidates", 0),
          "small_model_called": c.get("small_model_candidates_called", 0),
          "cnn_candidates": c.get("cnn_candidates", c.get("candidates", 0)), "stages": stages}


def labeled_examples(r: cs.Runner, tag: str, genome: str, bam: str, region: str,
                     candidates: Sequence[str]) -> List[contract.SmallModelExample]:
  """The small model's labeled examples of ``region`` (make_examples training mode)."""
  d = os.path.join(r.out, "labeled", tag)
  if not cs.done(d):
    cs.fresh(d)
    r.py(f"labeled {tag}", "beam_pipelines.make_examples", "--mode", "training", "--ref",
         f"{genome}/reference.fa", "--reads", bam, "--regions", region, "--truth_variants",
         f"{genome}/truth.vcf.gz", "--confident_regions", f"{genome}/confident.bed",
         "--channels", "insert_size", "--examples", f"{d}/pileups.tfrecord@2.gz",
         "--write_small_model_examples", *ME_WORKERS, *candidates)
    cs.mark(d)
  out = []
  for path in sorted(glob.glob(f"{d}/pileups_small_model.tfrecord-*")):
    out.extend(contract.decode_example(b, path) for b in tfrecord.read_records(path))
  return out


def acceptance(model_dir: str, examples: Sequence[contract.SmallModelExample]) -> Dict:
  """What the cascade would do with these labeled candidates at the default thresholds."""
  model = contract.load(model_dir)
  x = np.asarray([e.features for e in examples], np.int64)
  y = np.asarray([e.label for e in examples])
  probs = model.predict_proba(x)
  gq = contract.gq_of(probs)
  snp = x[:, contract.feature_names().index("is_snp")] == 1
  thr = np.where(snp, contract.DEFAULT_SNP_GQ_THRESHOLD, contract.DEFAULT_INDEL_GQ_THRESHOLD)
  accepted = gq >= thr
  wrong = probs.argmax(axis=1) != y
  out = {"candidates": int(len(y)), "accepted": int(accepted.sum()),
         "acceptance_rate": float(accepted.mean()) if len(y) else 0.0}
  for name, sel in (("all", accepted), ("snp", accepted & snp), ("indel", accepted & ~snp)):
    n = int(sel.sum())
    claimed = float((1.0 - probs[sel].max(axis=1)).mean()) if n else 0.0
    observed = float(wrong[sel].mean()) if n else 0.0
    out[name] = {"accepted": n, "errors": int(wrong[sel].sum()), "observed_error": observed,
                 "claimed_error": claimed,
                 "ratio": (observed / claimed) if claimed > 0 else None}
  return out


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  cs.add_two_contig_flags(p)
  args = p.parse_args(argv)
  sz, base_overrides, n2 = cs.two_contig_sizes(args.mbp, args.test_mbp, args.smoke)
  r = cs.Runner(args.out)
  genome, short, hifi, short_ds, base = cs.base_platform(r, sz, args.seed, base_overrides)
  cnn = cs.best_checkpoint(base)
  short_sm = cs.dataset(r, "short_sm", genome, short["30x"], sz.short_train, sz.short_tune,
                        sz.fractions, args.seed, sz.short_candidates)
  long_sm = cs.dataset(r, "long_sm", genome, hifi, sz.long_train, sz.long_tune, "1.0",
                       args.seed)
  test_mb = n2 / 1e6
  runs: Dict[str, Dict] = {}
  for cov in ("30x", "7.5x"):  # CNN-only first: it needs no small model
    runs[f"short {cov} | CNN only"] = calling_run(r, f"{cov}-cnn", genome, short[cov], "sim2",
                                                  cnn, sz.short_candidates)
  labeled = {cov: labeled_examples(r, f"short{cov}", genome, short[cov], "sim2",
                                   sz.short_candidates) for cov in ("30x", "7.5x")}
  hifi_examples = labeled_examples(r, "hifi", genome, hifi, "sim2", ())
  # Smoke sizes give a few hundred vectors: less than one of the preset's 512-batches.
  small_overrides = ("--config.batch_size=32", "--config.num_epochs=3") if args.smoke else ()
  sm_base = train_small(r, "train_small_base", os.path.join(args.out, "models", "small_base"),
                        short_sm, small_overrides)
  sm_ft = train_small(r, "train_small_ft", os.path.join(args.out, "models", "small_ft"),
                      long_sm, small_overrides + (f"--config.init_checkpoint={sm_base}",))
  for cov in ("30x", "7.5x"):
    runs[f"short {cov} | cascade"] = calling_run(r, f"{cov}-cascade", genome, short[cov],
                                                 "sim2", cnn, sz.short_candidates, sm_base)
  calibration = {f"short {cov} | base small model": acceptance(sm_base, labeled[cov])
                 for cov in ("30x", "7.5x")}
  calibration["long HiFi | base small model"] = acceptance(sm_base, hifi_examples)
  calibration["long HiFi | fine-tuned small model"] = acceptance(sm_ft, hifi_examples)

  result = {"runs": runs, "calibration": calibration, "test_mbp": test_mb,
            "timings": r.timings, "sizes": dataclasses.asdict(sz)}
  with open(os.path.join(args.out, "cascade.json"), "w") as f:
    json.dump(result, f, indent=1)
  print(render(result))
  return 0


def render(result: Dict) -> str:
  mb = result["test_mbp"]
  lines = ["| Data | Arm | SNP F1 | INDEL F1 | candidates | small model called | CNN "
           "classified | make_examples core-s/Mbp | call_variants | postprocess | total |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
  for key, run in result["runs"].items():
    data, arm = key.split(" | ")
    s = run["scores"]
    cost = {k: v.get("cpu_s", 0.0) / mb for k, v in run["stages"].items()}
    n = max(1, run["candidates"])
    lines.append(
        f"| {data} | {arm} | {s['SNP']['f1']:.4f} | {s['INDEL']['f1']:.4f} | "
        f"{run['candidates']} | {run['small_model_called']} "
        f"({100 * run['small_model_called'] / n:.1f}%) | {run['cnn_candidates']} "
        f"({100 * run['cnn_candidates'] / n:.1f}%) | {cost['make_examples']:.1f} | "
        f"{cost['call_variants']:.1f} | {cost['postprocess_variants']:.1f} | "
        f"{sum(cost.values()):.1f} |")
  lines += ["", "| Data | Small model | candidates | accepted | error among accepted "
            "(observed) | claimed by GQ | observed / claimed | SNP errors | indel errors |",
            "|---|---|---|---|---|---|---|---|---|"]
  for key, a in result["calibration"].items():
    data, model = key.split(" | ")
    al = a["all"]
    ratio = f"{al['ratio']:.2f}" if al["ratio"] is not None else "n/a"
    lines.append(f"| {data} | {model} | {a['candidates']} | {a['accepted']} "
                 f"({100 * a['acceptance_rate']:.1f}%) | {al['observed_error']:.5f} "
                 f"({al['errors']}) | {al['claimed_error']:.5f} | {ratio} | "
                 f"{a['snp']['errors']}/{a['snp']['accepted']} | "
                 f"{a['indel']['errors']}/{a['indel']['accepted']} |")
  lines += [""] + cs.timing_table(result["timings"])
  return "\n".join(lines)


if __name__ == "__main__":
  sys.exit(main())
