"""BAM to benchmarked model on simulated data: make examples -> train (selected on calling F1)
-> call a held-out region -> bcftools accepts the VCF -> evaluate scores it.

Simulated dataset: 2 contigs (sim1 120 kb: training; sim2 60 kb: first half tunes, second half
is the held-out test region). The tiny backbone trains for 4 epochs (about 200 steps) on CPU, with checkpoints
selected on ``tune/calling_f1`` over sim2:1-30000 (every 2nd epoch-end tune and the last).
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from schemas import dataset_config
from schemas import example_format as ef
from schemas import tfrecord
from beam_pipelines import call as call_lib
from beam_pipelines import evaluate
from trainer import train as train_lib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytestmark = pytest.mark.slow
TUNE_REGION, TEST_REGION = "sim2:1-30000", "sim2:30001-60000"


def _sh(*args):
  out = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]
  return out


def _examples(sim, mode, region, out):
  args = ["beam_pipelines.make_examples", "--mode", mode, "--ref", f"{sim}/reference.fa",
          "--reads", f"{sim}/reads.bam", "--regions", region, "--channels", "insert_size",
          "--examples", out, "--runner", "DirectRunner"]
  if mode == "training":
    args += ["--truth_variants", f"{sim}/truth.vcf.gz", "--confident_regions",
             f"{sim}/confident.bed"]
  _sh(*args)


def _config(path, name, shard):
  labels = [ef.example_label(r) for r in tfrecord.read_records(shard)]
  counts = {c: labels.count(c) for c in range(3)}
  dataset_config.write_dataset_config(path, name, len(labels), counts, os.path.basename(shard),
                                      name, tfrecord_path=os.path.basename(shard))
  return len(labels)


def test_train_call_evaluate_on_simulated_data(tmp_path, capsys):
  sim, ex = str(tmp_path / "sim"), str(tmp_path / "ex")
  _sh("beam_pipelines.simulate", "--output_dir", sim, "--contigs", "sim1:120k,sim2:60k",
      "--seed", "3")
  _examples(sim, "training", "sim1", f"{ex}/train.tfrecord.gz")
  _examples(sim, "calling", TUNE_REGION, f"{ex}/calling_tune.tfrecord.gz")
  _examples(sim, "calling", TEST_REGION, f"{ex}/calling_test.tfrecord@2.gz")
  n_train = _config(f"{ex}/train.pbtxt", "train", f"{ex}/train.tfrecord.gz")
  # The example-level tune set is the training set itself (this test selects on calling F1,
  # and one make_examples run less keeps it under a minute).
  _config(f"{ex}/tune.pbtxt", "tune", f"{ex}/train.tfrecord.gz")

  exp = str(tmp_path / "exp")
  code = train_lib.main([
      "--config=tiny", f"--experiment_dir={exp}", f"--config.train_dataset_pbtxt={ex}/train.pbtxt",
      f"--config.tune_dataset_pbtxt={ex}/tune.pbtxt",
      "--config.num_epochs=4", "--config.tune_every_steps=100000",  # tunes at epoch ends
      "--config.log_every_steps=100", "--config.best_checkpoint_metric=tune/calling_f1",
      f"--config.calling_tune_examples={ex}/calling_tune.tfrecord.gz",
      f"--config.calling_tune_truth={sim}/truth.vcf.gz",
      f"--config.calling_tune_confident_regions={sim}/confident.bed",
      f"--config.calling_tune_ref={sim}/reference.fa",
      f"--config.calling_tune_regions={TUNE_REGION}", "--config.calling_tune_every=2"])
  out = capsys.readouterr().out
  assert code == 0, out[-3000:]
  calling_f1s = [float(v) for v in re.findall(r"calling tune: \d+ calls, F1 ([0-9.]+)", out)]
  skipped = out.count("no calling pass this tune")
  best = json.load(open(os.path.join(exp, "best_checkpoint.json")))
  assert best["metric"] == "tune/calling_f1"
  assert best["value"] == pytest.approx(max(calling_f1s), abs=1e-4)  # the log rounds to 4 places
  assert skipped >= 1 and len(calling_f1s) >= 2  # every 2nd tune, plus the last step

  vcf = str(tmp_path / "calls.vcf.gz")
  summary = call_lib.run(call_lib.CallConfig(
      examples=f"{ex}/calling_test.tfrecord@2.gz", model=exp, ref=f"{sim}/reference.fa",
      outfile=vcf), log=print)
  if shutil.which("bcftools"):
    stats = subprocess.run(["bcftools", "stats", vcf], capture_output=True, text=True)
    assert stats.returncode == 0, stats.stderr
    records = re.search(r"number of records:\s+(\d+)", stats.stdout).group(1)
    assert int(records) == summary["calls"] > 0
  truth = evaluate.TruthSet(f"{sim}/truth.vcf.gz", f"{sim}/confident.bed",
                            f"{sim}/reference.fa", TEST_REGION)
  rows = evaluate.evaluate_files(vcf, truth)
  from beam_pipelines.core import vcf_compare
  print(vcf_compare.format_table(rows))
  scores = vcf_compare.overall_scores(rows)
  print(f"calling F1 on the tune region by tune: {calling_f1s}; best {best['value']:.4f} at "
        f"step {best['step']}; test region: {scores}")
  snp = next(r for r in rows if r["Type"] == "SNP")
  assert snp["TRUTH.TOTAL"] >= 20
  # The tiny test net finds the alleles but is a poor genotyper: its quality bar is on allele
  # level (--squash_ploidy); hap.py's genotype-aware scoring moves each genotype error from TP
  # to FN and FP, and nothing else.
  allele_rows = evaluate.evaluate_files(vcf, evaluate.TruthSet(
      f"{sim}/truth.vcf.gz", f"{sim}/confident.bed", f"{sim}/reference.fa", TEST_REGION,
      genotype_match=False))
  allele = vcf_compare.overall_scores(allele_rows)
  assert allele["recall"] > 0.8 and allele["f1"] > 0.75
  for gt_row, al_row in zip(rows, allele_rows):
    assert gt_row["TRUTH.TP"] + gt_row["FP.gt"] == al_row["TRUTH.TP"]
    assert gt_row["QUERY.FP"] - gt_row["FP.gt"] == al_row["QUERY.FP"]
  assert scores["f1"] <= allele["f1"]

  # The same calls through DeepVariant's two steps as Beam pipelines: call_variants
  # (RunInference) writes CallVariantsOutput shards, the same bytes on one process and on two;
  # postprocess_variants turns them into beam_pipelines.call's VCF, record for record.
  cvo = {}
  for mode, extra in (("one", []), ("two", ["--direct_running_mode=multi_processing",
                                            "--direct_num_workers=2"])):
    cvo[mode] = str(tmp_path / f"cvo-{mode}@3.tfrecord.gz")
    out = _sh("beam_pipelines.call_variants", "--examples", f"{ex}/calling_test.tfrecord@2.gz",
              "--checkpoint", exp, "--outfile", cvo[mode], "--batch_size", "64", *extra)
    assert f"{summary['examples']} CallVariantsOutput records in 3 shard(s)" in out.stdout
  for k in range(3):
    one, two = (open(f"{tmp_path}/cvo-{m}-{k:05d}-of-00003.tfrecord.gz", "rb").read()
                for m in ("one", "two"))
    assert one == two
  pp_vcf = str(tmp_path / "pp.vcf.gz")
  _sh("beam_pipelines.postprocess_variants", "--ref", f"{sim}/reference.fa", "--infile",
      cvo["two"], "--outfile", pp_vcf)

  def records(path):
    with gzip.open(path, "rt") as f:
      return [line for line in f if not line.startswith("#")]
  assert records(pp_vcf) == records(vcf)
