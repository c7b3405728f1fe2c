"""The fine-tuning case study, end to end on reads made by outside tools, as one command.

Usage::

    bash bench/case_study.sh OUT [--smoke] [--seeds 1,2,3] [--config small]

The story the seeds tell (DeepVariant's BGISEQ fine-tune, the PacBio RNA fine-tune), with
tools nobody here wrote making the reads:

1. a reference, truth VCF and confident BED from ``beam_pipelines.simulate`` (its own reads
   are not used); the truth applied to the reference gives two haplotypes (``bcftools
   consensus``);
2. base platform: ART HiSeq 2500 2x150 reads, 15x per haplotype (30x), ``bwa mem``; a 7.5x
   BAM by ``samtools view -s``;
3. new platform: pbsim HiFi-like long reads (~99% accuracy, ~9 kb), 15x per haplotype,
   ``minimap2 -ax map-hifi``;
4. ``make_dataset`` on the short reads at downsample fractions 1.0, 0.5 and 0.25 (one model
   for every coverage); the base model trained with ``--config=small``;
5. the base model on the long reads, then fine-tuned on the long reads' training region in
   each fine-tune mode (whole network, frozen backbone + new head, frozen backbone + hidden
   head);
6. every model and ``bcftools call -mv`` on the same reads of the held-out test contig
   (never trained on), scored by ``beam_pipelines.evaluate`` as hap.py scores (a right allele with
   the wrong genotype is a FP and a FN).

It prints one table in the seeds' form (rows per data and model, SNP and INDEL precision,
recall and F1, mean and range over ``--seeds``) and the wall and CPU seconds of every step,
and writes them to OUT/case_study.json and OUT/case_study.md. Each child's output goes to
OUT/logs/<step>.log. A step whose outputs are complete (``.done`` in its folder) is skipped,
so a rerun after a failure resumes; OUT/ is the script's own (a folder of other files is
refused). ``--smoke`` shrinks every size for CI (about two minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
TOOLS = ("art_illumina", "bwa", "pbsim", "minimap2", "samtools", "bcftools", "bgzip", "tabix")
PBSIM_MODEL = "/usr/share/pbsim/models/model_qc_clr"
MARKER = ".case-study"
FINE_TUNE_MODES = ("whole", "frozen_backbone_new_head", "frozen_backbone_hidden_head")


@dataclasses.dataclass(frozen=True)
class Sizes:
  """Genome and region layout; the test contig is never trained on."""
  contigs: str               # simulate --contigs
  short_train: str
  short_tune: str
  long_train: str
  long_tune: str
  test: str                  # a whole contig: bcftools, make_examples and evaluate agree on it
  art_fold: float            # ART coverage per haplotype
  pbsim_depth: float         # pbsim coverage per haplotype
  fractions: str
  train_overrides: tuple     # extra --config.* for the base model
  tune_overrides: tuple      # extra --config.* for the fine-tunes
  # Candidate thresholds of the short reads' training and calling examples alike: at 7.5x a
  # het has one alt read in ~1 of 5 sites, which DeepVariant's default (2 reads) never offers
  # the model, while bcftools considers every 1-read site.
  short_candidates: tuple = ("--vsc_min_count_snps=1", "--vsc_min_count_indels=1")


FULL = Sizes(contigs="sim1:6000000,sim2:1000000",
             short_train="sim1:1-5700000", short_tune="sim1:5700001-6000000",
             long_train="sim1:1-700000", long_tune="sim1:5700001-6000000", test="sim2",
             art_fold=15, pbsim_depth=15, fractions="1.0,0.5,0.25",
             # 8 epochs (~40k examples each, ~10 min on 2 cores): the tune loss is flat after
             # epoch 7 and three seeds must fit in about an hour.
             train_overrides=("--config.num_epochs=8",), tune_overrides=("--config.num_epochs=6",
                                                 "--config.learning_rate=0.001",
                                                 "--config.warmup_steps=0"))
SMOKE = Sizes(contigs="sim1:60000,sim2:30000",
              short_train="sim1:1-45000", short_tune="sim1:45001-60000",
              long_train="sim1:1-45000", long_tune="sim1:45001-60000", test="sim2",
              art_fold=8, pbsim_depth=6, fractions="1.0,0.5",
              train_overrides=("--config.num_epochs=1", "--config.batch_size=16"),
              tune_overrides=("--config.num_epochs=1", "--config.batch_size=16",
                              "--config.warmup_steps=0"))


def add_two_contig_flags(p) -> None:
  """The flags of ``two_contig_sizes`` (and OUT), for the benches that use it."""
  p.add_argument("out")
  p.add_argument("--mbp", type=float, default=1.2, help="size of the training contig sim1")
  p.add_argument("--test_mbp", type=float, default=0.4, help="size of the held-out contig sim2")
  p.add_argument("--seed", type=int, default=7)
  p.add_argument("--smoke", action="store_true")


def two_contig_sizes(mbp: float, test_mbp: float, smoke: bool):
  """The layout of the benches that reuse these steps (pseudolabels, cascade): contig sim1 of
  ``mbp`` for training (its last 15% the tune split, for both read sets) and sim2 of
  ``test_mbp`` held out. Returns (sizes, the base model's training overrides, sim2's bp)."""
  n1 = 60_000 if smoke else int(mbp * 1e6)
  n2 = 30_000 if smoke else int(test_mbp * 1e6)
  base = SMOKE if smoke else FULL
  tune_at = int(n1 * 0.85)
  sz = dataclasses.replace(base, contigs=f"sim1:{n1},sim2:{n2}",
                           short_train=f"sim1:1-{tune_at}", short_tune=f"sim1:{tune_at + 1}-{n1}",
                           long_train=f"sim1:1-{tune_at}", long_tune=f"sim1:{tune_at + 1}-{n1}")
  return sz, (base.train_overrides if smoke else ("--config.num_epochs=6",)), n2


def base_platform(r: "Runner", sz: Sizes, seed: int, base_overrides: Sequence[str]):
  """The shared first steps: genome, short and long reads, the short-read dataset and the base
  model (``--config=small``). Returns (genome, {"30x", "7.5x"} BAMs, long-read BAM, dataset,
  base experiment dir)."""
  genome = make_genome(r, sz, seed)
  short = short_reads(r, sz, genome, seed)
  hifi = long_reads(r, sz, genome, seed)
  short_ds = dataset(r, "short", genome, short["30x"], sz.short_train, sz.short_tune,
                     sz.fractions, seed, sz.short_candidates)
  base = train(r, "train_base", os.path.join(r.out, "models", "base"), short_ds, "small", 1,
               base_overrides)
  return genome, short, hifi, short_ds, base


class StepFailed(RuntimeError):
  pass


class Runner:
  """Runs child commands into log files and keeps each step's wall and CPU seconds."""

  def __init__(self, out: str):
    self.out = out
    self.logs = os.path.join(out, "logs")
    os.makedirs(self.logs, exist_ok=True)
    self.timings: Dict[str, Dict[str, float]] = {}

  def run(self, step: str, cmd: Sequence[str], stdout_path: Optional[str] = None,
          shell: bool = False) -> None:
    log = os.path.join(self.logs, f"{step}.log")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "a") as f:
      f.write(f"$ {cmd if shell else ' '.join(cmd)}\n")
      f.flush()
      out = open(stdout_path, "wb") if stdout_path else f
      try:
        r = subprocess.run(cmd, stdout=out, stderr=f, cwd=ROOT, shell=shell,
                           executable="/bin/bash" if shell else None)
      finally:
        if stdout_path:
          out.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = self.timings.setdefault(step, {"wall_s": 0.0, "cpu_s": 0.0})
    t["wall_s"] += time.perf_counter() - start
    t["cpu_s"] += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if r.returncode != 0:
      with open(log) as f:
        tail = f.read().splitlines()[-15:]
      raise StepFailed(f"step {step} failed (exit {r.returncode}); last lines of {log}:\n" +
                       "\n".join(tail))

  def py(self, step: str, module: str, *args: str) -> None:
    self.run(step, [PY, "-m", module, *args])


def done(path: str) -> bool:
  return os.path.exists(os.path.join(path, ".done"))


def mark(path: str) -> None:
  os.makedirs(path, exist_ok=True)
  open(os.path.join(path, ".done"), "w").close()


def fresh(path: str) -> str:
  shutil.rmtree(path, ignore_errors=True)
  os.makedirs(path)
  return path


# ---- data ----------------------------------------------------------------------------------------
def make_genome(r: Runner, sz: Sizes, seed: int) -> str:
  d = os.path.join(r.out, "genome")
  if done(d):
    return d
  shutil.rmtree(d, ignore_errors=True)
  r.py("simulate", "beam_pipelines.simulate", "--output_dir", d, "--contigs", sz.contigs,
       "--coverage", "1", "--seed", str(seed))
  for h in (1, 2):
    r.run("haplotypes", ["bash", "-c", f"bcftools consensus -H {h} -f {d}/reference.fa "
                         f"{d}/truth.vcf.gz > {d}/hap{h}.fa"])
  mark(d)
  return d


def short_reads(r: Runner, sz: Sizes, genome: str, seed: int) -> Dict[str, str]:
  d = os.path.join(r.out, "short")
  bam30, bam7 = os.path.join(d, "art30x.bam"), os.path.join(d, "art7.5x.bam")
  if not done(d):
    fresh(d)
    ref = os.path.join(genome, "reference.fa")
    if not os.path.exists(ref + ".bwt"):
      r.run("bwa_index", ["bwa", "index", ref])
    for h in (1, 2):
      r.run("art", ["art_illumina", "-ss", "HS25", "-i", f"{genome}/hap{h}.fa", "-p", "-l",
                    "150", "-f", str(sz.art_fold), "-m", "400", "-s", "50", "-rs",
                    str(seed + h), "-na", "-q", "-o", f"{d}/hap{h}_"])
    rg = r"@RG\tID:art\tSM:SAMPLE\tPL:ILLUMINA"
    r.run("bwa_mem", f"bwa mem -t 2 -R '{rg}' {ref} <(cat {d}/hap1_1.fq {d}/hap2_1.fq) "
                     f"<(cat {d}/hap1_2.fq {d}/hap2_2.fq) 2>>{r.logs}/bwa_mem.log | "
                     f"samtools sort -@2 -o {bam30} - && samtools index {bam30}", shell=True)
    r.run("downsample", ["bash", "-c", f"samtools view -b -s {seed}.25 -o {bam7} {bam30} && "
                         f"samtools index {bam7}"])
    for f in os.listdir(d):
      if f.endswith(".fq"):
        os.remove(os.path.join(d, f))
    mark(d)
  return {"30x": bam30, "7.5x": bam7}


def long_reads(r: Runner, sz: Sizes, genome: str, seed: int, haplotag: bool = False) -> str:
  """pbsim reads of each haplotype, minimap2 map-hifi, sorted and indexed.

  ``haplotag``: the BAM a read-backed phasing tool (WhatsHap haplotag) would give, from the
  simulation's own knowledge: reads renamed ``h1_``/``h2_`` per haplotype (pbsim numbers both
  haplotypes' reads alike) and tagged HP 1 / 2, in ``long-hp/``. The plain BAM (the case
  study's) keeps pbsim's names.
  """
  d = os.path.join(r.out, "long-hp" if haplotag else "long")
  bam = os.path.join(d, "hifi.bam")
  if not done(d):
    fresh(d)
    ref = os.path.join(genome, "reference.fa")
    for h in (1, 2):
      rename = f" && sed -i 's/^@S/@h{h}_S/' hap{h}.fq" if haplotag else ""
      r.run("pbsim", f"cd {d} && pbsim --data-type CLR --model_qc {PBSIM_MODEL} "
                     f"--depth {sz.pbsim_depth} --length-mean 9000 --length-sd 2000 "
                     f"--accuracy-mean 0.99 --accuracy-sd 0.005 --accuracy-min 0.98 "
                     f"--seed {seed + h} --prefix hap{h} {genome}/hap{h}.fa && "
                     f"cat hap{h}_*.fastq > hap{h}.fq && rm -f hap{h}_*{rename}", shell=True)
    rg = r"@RG\tID:hifi\tSM:SAMPLE\tPL:PACBIO"
    sorted_bam = bam + ".untagged.bam" if haplotag else bam
    index = "" if haplotag else f" && samtools index {bam}"
    r.run("minimap2", f"minimap2 -t 2 -ax map-hifi -R '{rg}' {ref} {d}/hap1.fq {d}/hap2.fq "
                      f"2>>{r.logs}/minimap2.log | samtools sort -@2 -o {sorted_bam} -{index}",
          shell=True)
    if haplotag:
      _tag_haplotypes(sorted_bam, bam)
      os.remove(sorted_bam)
      r.run("haplotag", ["samtools", "index", bam])
    for f in os.listdir(d):
      if f.endswith(".fq"):
        os.remove(os.path.join(d, f))
    mark(d)
  return bam


def _tag_haplotypes(src: str, dst: str) -> None:
  """HP 1 / 2 from the ``h1_`` / ``h2_`` read-name prefix (see ``long_reads``)."""
  import pysam
  with pysam.AlignmentFile(src, "rb") as inp, \
      pysam.AlignmentFile(dst, "wb", template=inp) as out:
    for rec in inp:
      rec.set_tag("HP", int(rec.query_name[1]))
      out.write(rec)


def dataset(r: Runner, name: str, genome: str, bam: str, train: str, tune: str,
            fractions: str, seed: int, candidates: Sequence[str] = ()) -> str:
  d = os.path.join(r.out, "datasets", name)
  if not done(d):
    shutil.rmtree(d, ignore_errors=True)
    sample = (f"name=SAMPLE reads={bam} truth={genome}/truth.vcf.gz "
              f"confident={genome}/confident.bed")
    r.py(f"make_dataset_{name}", "beam_pipelines.make_dataset", "--ref",
         f"{genome}/reference.fa", "--sample", sample, "--split", f"train={train}",
         "--split", f"tune={tune}", "--channels", "insert_size", "--downsample_fraction",
         fractions, "--num_shards", "4", "--seed", str(seed), "--output_dir", d,
         "--allow_label_imbalance", "--direct_running_mode=multi_processing",
         "--direct_num_workers=2", *candidates)
    mark(d)
  return d


def calling_examples(r: Runner, name: str, genome: str, bam: str, region: str,
                     candidates: Sequence[str] = ()) -> str:
  d = os.path.join(r.out, "calling", name)
  if not done(d):
    shutil.rmtree(d, ignore_errors=True)
    r.py(f"make_examples_{name}", "beam_pipelines.make_examples", "--mode", "calling", "--ref",
         f"{genome}/reference.fa", "--reads", bam, "--regions", region, "--channels",
         "insert_size", "--examples", f"{d}/test.tfrecord@4.gz",
         "--direct_running_mode=multi_processing", "--direct_num_workers=2", *candidates)
    mark(d)
  return f"{d}/test.tfrecord@4.gz"


# ---- models and scoring --------------------------------------------------------------------------
def train(r: Runner, step: str, exp: str, ds: str, config: str, seed: int,
          extra: Sequence[str]) -> str:
  if not done(exp):
    shutil.rmtree(exp, ignore_errors=True)
    r.py(step, "trainer.train", f"--config={config}", f"--experiment_dir={exp}",
         f"--config.train_dataset_pbtxt={ds}/train/dataset_config.pbtxt",
         f"--config.tune_dataset_pbtxt={ds}/tune/dataset_config.pbtxt",
         f"--config.seed={seed}", *extra)
    mark(exp)
  return exp


def best_checkpoint(exp: str) -> str:
  with open(os.path.join(exp, "best_checkpoint.json")) as f:
    return json.load(f)["checkpoint"]


def score(r: Runner, step: str, vcf: str, genome: str, region: str) -> Dict[str, Dict]:
  csv_path = vcf.replace(".vcf.gz", ".summary.csv")
  if not os.path.exists(csv_path):
    r.py(step, "beam_pipelines.evaluate", "--calls", vcf, "--truth", f"{genome}/truth.vcf.gz",
         "--confident_regions", f"{genome}/confident.bed", "--ref", f"{genome}/reference.fa",
         "--regions", region, "--output_csv", csv_path)
  with open(csv_path) as f:
    rows = [row for row in csv.DictReader(f) if row["Subset"] == "*"]
  return {row["Type"]: {"precision": float(row["METRIC.Precision"]),
                        "recall": float(row["METRIC.Recall"]),
                        "f1": float(row["METRIC.F1_Score"]),
                        "truth": int(row["TRUTH.TOTAL"]), "fp_gt": int(row["FP.gt"])}
          for row in rows}


def call_model(r: Runner, tag: str, exp: str, examples: str, genome: str, region: str):
  vcf = os.path.join(r.out, "calls", f"{tag}.vcf.gz")
  if not os.path.exists(vcf):
    r.py("call", "beam_pipelines.call", "--examples", examples, "--model", exp, "--ref",
         f"{genome}/reference.fa", "--outfile", vcf)
  return score(r, "evaluate", vcf, genome, region)


def call_bcftools(r: Runner, tag: str, bam: str, genome: str, region: str):
  vcf = os.path.join(r.out, "calls", f"{tag}.vcf.gz")
  if not os.path.exists(vcf):
    os.makedirs(os.path.dirname(vcf), exist_ok=True)
    r.run("bcftools_call", f"bcftools mpileup -f {genome}/reference.fa -r {region} -a AD,DP "
                           f"-Ou {bam} 2>/dev/null | bcftools call -mv -Oz -o {vcf}.tmp.gz && "
                           f"mv {vcf}.tmp.gz {vcf} && tabix -p vcf {vcf}", shell=True)
  return score(r, "evaluate", vcf, genome, region)


# ---- the study -----------------------------------------------------------------------------------
def study(out: str, sz: Sizes, config: str, seeds: Sequence[int], data_seed: int) -> dict:
  r = Runner(out)
  genome = make_genome(r, sz, data_seed)
  short = short_reads(r, sz, genome, data_seed)
  hifi = long_reads(r, sz, genome, data_seed)
  short_ds = dataset(r, "short", genome, short["30x"], sz.short_train, sz.short_tune,
                     sz.fractions, data_seed, sz.short_candidates)
  long_ds = dataset(r, "long", genome, hifi, sz.long_train, sz.long_tune, "1.0", data_seed)
  test = {"short 30x": calling_examples(r, "short30x", genome, short["30x"], sz.test,
                                       sz.short_candidates),
          "short 7.5x": calling_examples(r, "short7.5x", genome, short["7.5x"], sz.test,
                                         sz.short_candidates),
          "long HiFi": calling_examples(r, "hifi", genome, hifi, sz.test)}
  bams = {"short 30x": short["30x"], "short 7.5x": short["7.5x"], "long HiFi": hifi}
  results: Dict[str, Dict[str, List[Dict]]] = {}

  def add(data: str, model: str, scores: Dict[str, Dict]) -> None:
    results.setdefault(f"{data} | {model}", {}).setdefault("runs", []).append(scores)

  for seed in seeds:
    base = train(r, "train_base", os.path.join(out, "models", f"base-s{seed}"), short_ds,
                 config, seed, sz.train_overrides)
    for data in ("short 30x", "short 7.5x", "long HiFi"):
      add(data, "base model (short reads)",
          call_model(r, f"{data.replace(' ', '_')}.base.s{seed}", base, test[data], genome,
                     sz.test))
    for mode in FINE_TUNE_MODES:
      exp = train(r, "fine_tune", os.path.join(out, "models", f"ft-{mode}-s{seed}"), long_ds,
                  config, seed, sz.tune_overrides + (
                      f"--config.init_checkpoint={best_checkpoint(base)}",
                      f"--config.fine_tune_mode={mode}"))
      add("long HiFi", f"fine-tuned: {mode}",
          call_model(r, f"long_HiFi.ft-{mode}.s{seed}", exp, test["long HiFi"], genome,
                     sz.test))
  for data, bam in bams.items():
    add(data, "bcftools call -mv", call_bcftools(r, f"{data.replace(' ', '_')}.bcftools", bam,
                                                 genome, sz.test))
  return {"rows": results, "timings": r.timings, "seeds": list(seeds), "config": config,
          "sizes": dataclasses.asdict(sz)}


def _summary(values: List[float]) -> str:
  if len(values) == 1:
    return f"{values[0]:.4f}"
  return f"{statistics.mean(values):.4f} ({min(values):.4f}-{max(values):.4f})"


def timing_table(timings: Dict[str, Dict[str, float]]) -> List[str]:
  """Markdown rows: wall and CPU seconds per step (``Runner.timings``) and their total."""
  lines = ["| Step | Wall s | CPU s |", "|---|---|---|"]
  for step, t in timings.items():
    lines.append(f"| {step} | {t['wall_s']:.0f} | {t['cpu_s']:.0f} |")
  total_w = sum(t["wall_s"] for t in timings.values())
  total_c = sum(t["cpu_s"] for t in timings.values())
  lines.append(f"| total | {total_w:.0f} | {total_c:.0f} |")
  return lines


def render(result: dict) -> str:
  lines = ["| Data | Model | Type | Precision | Recall | F1 | Truth |",
           "|---|---|---|---|---|---|---|"]
  for key, row in result["rows"].items():
    data, model = key.split(" | ")
    for vtype in ("SNP", "INDEL"):
      runs = [run[vtype] for run in row["runs"] if vtype in run]
      if not runs:
        continue
      lines.append(f"| {data} | {model} | {vtype} | "
                   f"{_summary([x['precision'] for x in runs])} | "
                   f"{_summary([x['recall'] for x in runs])} | "
                   f"{_summary([x['f1'] for x in runs])} | {runs[0]['truth']} |")
  lines += [""] + timing_table(result["timings"])
  seeds = ", ".join(map(str, result["seeds"]))
  lines.insert(0, f"Case study ({'smoke' if result.get('smoke') else 'full'} sizes, "
                  f"--config={result['config']}, training seeds {seeds}; F1 as mean (min-max) "
                  f"over seeds; scored genotype-aware as hap.py scores)\n")
  return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("out", help="working folder (created; reruns resume in it)")
  p.add_argument("--smoke", action="store_true", help="tiny sizes for CI (~2 minutes)")
  p.add_argument("--seeds", default="1", help="training seeds, comma separated (e.g. 1,2,3)")
  p.add_argument("--config", default="small", help="trainer preset of every model")
  p.add_argument("--data_seed", type=int, default=7, help="seed of genome and reads")
  args = p.parse_args(argv)
  missing = [t for t in TOOLS if shutil.which(t) is None]
  if missing:
    print(f"case_study: error: missing tools {', '.join(missing)} (bash scripts/setup.sh "
          "installs them)", file=sys.stderr)
    return 2
  out = os.path.abspath(args.out)
  if os.path.isdir(out) and os.listdir(out) and not os.path.exists(os.path.join(out, MARKER)):
    print(f"case_study: error: {out}: not empty and not a case-study folder; choose a new one",
          file=sys.stderr)
    return 2
  os.makedirs(out, exist_ok=True)
  open(os.path.join(out, MARKER), "w").close()
  sizes = SMOKE if args.smoke else FULL
  try:
    seeds = [int(s) for s in args.seeds.split(",")]
  except ValueError:
    print(f"case_study: error: --seeds {args.seeds!r}: expected integers", file=sys.stderr)
    return 2
  start = time.time()
  try:
    result = study(out, sizes, args.config, seeds, args.data_seed)
  except StepFailed as e:
    print(f"case_study: error: {e}", file=sys.stderr)
    return 1
  result["smoke"] = args.smoke
  result["wall_s"] = time.time() - start
  text = render(result)
  print(text)
  with open(os.path.join(out, "case_study.json"), "w") as f:
    json.dump(result, f, indent=1)
  with open(os.path.join(out, "case_study.md"), "w") as f:
    f.write(text + "\n")
  return 0


if __name__ == "__main__":
  sys.exit(main())
