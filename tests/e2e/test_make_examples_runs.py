"""make_examples end to end on simulated data: determinism across runners, fractions, reruns."""
import collections
import glob
import hashlib
import json
import os
import subprocess
import sys

import pytest

from schemas import example_format, example_info, tfrecord

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args, check=True):
  out = subprocess.run([sys.executable, "-m", "beam_pipelines.make_examples", *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
  if check:
    assert out.returncode == 0, out.stderr[-3000:]
  return out


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
  d = tmp_path_factory.mktemp("sim") / "data"
  subprocess.run([sys.executable, "-m", "beam_pipelines.simulate", "--output_dir", str(d),
                  "--contigs", "s1:60000,s2:30000", "--seed", "7"], cwd=ROOT, check=True,
                 capture_output=True)
  return d


def training_args(sim, examples, *extra):
  return ["--mode", "training", "--ref", str(sim / "reference.fa"),
          "--reads", str(sim / "reads.bam"), "--truth_variants", str(sim / "truth.vcf.gz"),
          "--confident_regions", str(sim / "confident.bed"), "--examples", examples,
          "--partitions_per_unit", "7", *extra]


def digests(pattern):
  return {os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest()
          for p in sorted(glob.glob(pattern))}


def test_same_bytes_in_memory_multiprocess_and_rerun(sim, tmp_path):
  a = str(tmp_path / "a" / "ex.tfrecord@3.gz")
  b = str(tmp_path / "b" / "ex.tfrecord@3.gz")
  run_cli(*training_args(sim, a))
  run_cli(*training_args(sim, b), "--direct_running_mode=multi_processing",
          "--direct_num_workers=2")
  da = digests(str(tmp_path / "a" / "ex.tfrecord-*-of-00003.gz"))
  db = digests(str(tmp_path / "b" / "ex.tfrecord-*-of-00003.gz"))
  assert len(da) == 3 and da == db
  # A rerun over existing outputs needs --overwrite; it gives the same bytes, nothing left over.
  run_cli(*training_args(sim, a), "--overwrite")
  assert digests(str(tmp_path / "a" / "ex.tfrecord-*-of-00003.gz")) == da
  assert not glob.glob(str(tmp_path / "a" / ".pileflow-tmp-*"))
  # Within a shard, examples are in genome order (contig order of the reference, then start).
  for path in sorted(glob.glob(str(tmp_path / "a" / "ex.tfrecord-*.gz"))):
    loci = [example_format.decode_example(r).locus for r in tfrecord.read_records(path)]
    keys = [(l.split(":")[0], int(l.split(":")[1].split("-")[0])) for l in loci]
    assert keys == sorted(keys, key=lambda k: ({"s1": 0, "s2": 1}[k[0]], k[1]))
    info = example_info.read_example_info(path + ".example_info.json")
    assert info.shape == (100, 221, 6) and info.channels == (1, 2, 3, 4, 5, 6)


def test_several_downsample_fractions_in_one_pass(sim, tmp_path):
  out = str(tmp_path / "ds" / "ex.tfrecord.gz")
  run_cli(*training_args(sim, out, "--downsample_fraction", "1.0,0.5,0.25",
                         "--channels", "insert_size"))
  records = [example_format.decode_example(r) for r in tfrecord.read_records(out)]
  by_fraction = collections.Counter(round(e.extra["downsample_fraction"], 3) for e in records)
  assert set(by_fraction) == {1.0, 0.5, 0.25}
  dp = collections.defaultdict(list)
  for e in records:
    dp[round(e.extra["downsample_fraction"], 3)].append(e.variant.calls[0].info["DP"]
                                                        .values[0].int_value)
  mean = {f: sum(v) / len(v) for f, v in dp.items()}
  # Depth at candidates scales with the fraction (30x simulated; ratios within 20%).
  assert 0.4 < mean[0.5] / mean[1.0] < 0.6 and 0.2 < mean[0.25] / mean[1.0] < 0.3
  assert all(e.shape == (100, 221, 7) for e in records)  # insert_size channel appended
  summary = json.load(open(str(tmp_path / "ds" / "ex.tfrecord.gz.summary.json")))
  assert summary["counters"]["examples_downsample_0.25"] == by_fraction[0.25]
