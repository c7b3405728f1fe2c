"""Train the tiny backbone on simulator-made examples: it must actually learn.

Pipeline: ``beam_pipelines.simulate`` (reference, truth, reads) -> ``beam_pipelines.make_examples``
(training mode, 2 shards of real 100x221x6 pileups) -> shard 0 is the train set, shard 1 the tune
set -> ``trainer.train --config=tiny`` for 200 steps. The labels are het/hom-alt only (the
simulated candidates are all true variants), so the bar is the majority-class rate of the tune set.
"""
import json
import os
import subprocess
import sys

import pytest

from schemas import dataset_config
from schemas import example_format as ef
from schemas import tfrecord
from trainer import train as train_lib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytestmark = pytest.mark.slow


def _sh(*args):
  out = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
  assert out.returncode == 0, out.stderr[-3000:]


def test_tiny_backbone_learns_simulated_pileups(tmp_path, capsys):
  sim, ex = str(tmp_path / "sim"), str(tmp_path / "ex")
  _sh("beam_pipelines.simulate", "--output_dir", sim)
  _sh("beam_pipelines.make_examples", "--mode", "training", "--ref", f"{sim}/reference.fa",
      "--reads", f"{sim}/reads.bam", "--truth_variants", f"{sim}/truth.vcf.gz",
      "--confident_regions", f"{sim}/confident.bed", "--examples", f"{ex}/ex.tfrecord@2.gz",
      "--runner", "DirectRunner")
  configs = []
  for k, name in enumerate(("train", "tune")):
    shard = f"ex.tfrecord-0000{k}-of-00002.gz"
    labels = [ef.example_label(r) for r in tfrecord.read_records(os.path.join(ex, shard))]
    counts = {c: labels.count(c) for c in range(3)}
    path = os.path.join(ex, f"{name}.pbtxt")
    dataset_config.write_dataset_config(path, name, len(labels), counts, shard, name,
                                        tfrecord_path=shard)
    configs.append((path, counts))
  (train, _), (tune, tune_counts) = configs
  majority = max(tune_counts.values()) / sum(tune_counts.values())
  exp = str(tmp_path / "exp")
  steps = 200
  train_examples = dataset_config.read_dataset_config(train).num_examples
  epochs = -(-steps // (train_examples // 8))
  code = train_lib.main([
      "--config=tiny", f"--experiment_dir={exp}", f"--config.train_dataset_pbtxt={train}",
      f"--config.tune_dataset_pbtxt={tune}", f"--config.num_epochs={epochs}",
      "--config.tune_every_steps=25", "--config.log_every_steps=25"])
  out = capsys.readouterr().out
  assert code == 0, out[-3000:]
  with open(os.path.join(exp, "best_checkpoint.json")) as f:
    best = json.load(f)
  losses = [float(v) for v in __import__("re").findall(r"tune at step \d+: .* loss ([0-9.]+)",
                                                        out)]
  print(f"majority {majority:.3f}; tune losses {losses}; best {best['metrics']['tune/categorical_accuracy']:.3f} at {best['step']}")
  assert losses[-1] < 0.5 * losses[0]  # tune loss falls
  assert best["metrics"]["tune/categorical_accuracy"] > majority + 0.1
