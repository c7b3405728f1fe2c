"""make_dataset end to end: BAM -> shuffled splits with configs and manifests, in one pipeline."""
import collections
import glob
import hashlib
import json
import os
import subprocess
import sys

import pytest
from google.protobuf import text_format

from schemas import example_format, small_model, tfrecord
from schemas.protos import deepvariant_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
  d = tmp_path_factory.mktemp("dssim") / "data"
  subprocess.run([sys.executable, "-m", "beam_pipelines.simulate", "--output_dir", str(d),
                  "--contigs", "s1:60000,s2:40000", "--seed", "11"], cwd=ROOT, check=True,
                 capture_output=True)
  return d


def _cli(prog, *args):
  return subprocess.run([sys.executable, "-m", f"beam_pipelines.{prog}", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=600)


def _dataset_args(sim, out, *extra):
  sample = (f"name=SIM reads={sim / 'reads.bam'} truth={sim / 'truth.vcf.gz'} "
            f"confident={sim / 'confident.bed'}")
  return ["--ref", str(sim / "reference.fa"), "--sample", sample, "--split", "train=s1",
          "--split", "tune=s2:1-20000", "--split", "test=s2:20001-40000", "--output_dir",
          str(out), "--num_shards", "3", "--seed", "4", "--downsample_fraction", "1.0,0.5",
          "--allow_label_imbalance", *extra]


def _records(pattern):
  return [r for p in sorted(glob.glob(pattern)) for r in tfrecord.read_records(p)]


def _digests(out):
  paths = glob.glob(str(out / "*" / "*.tfrecord.gz")) + \
      glob.glob(str(out / "small_model" / "*" / "*.tfrecord.gz"))
  return {os.path.relpath(p, out): hashlib.sha256(open(p, "rb").read()).hexdigest()
          for p in sorted(paths)}


@pytest.fixture(scope="module")
def dataset(sim, tmp_path_factory):
  out = tmp_path_factory.mktemp("ds") / "out"
  proc = _cli("make_dataset", *_dataset_args(sim, out))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return out, proc.stdout


def test_splits_hold_exactly_make_examples_records_shuffled(sim, dataset, tmp_path):
  out, _ = dataset
  me = tmp_path / "me" / "train.tfrecord.gz"
  proc = _cli("make_examples", "--mode", "training", "--ref", str(sim / "reference.fa"),
              "--reads", str(sim / "reads.bam"), "--truth_variants", str(sim / "truth.vcf.gz"),
              "--confident_regions", str(sim / "confident.bed"), "--regions", "s1",
              "--downsample_fraction", "1.0,0.5", "--sample_name", "SIM", "--examples", str(me))
  assert proc.returncode == 0, proc.stderr[-2000:]
  ordered = list(tfrecord.read_records(str(me)))
  shuffled = _records(str(out / "train" / "train-*-of-00003.tfrecord.gz"))
  assert collections.Counter(shuffled) == collections.Counter(ordered)  # same records
  assert shuffled != ordered  # but not in genome order


def test_small_model_splits_hold_make_examples_small_model_examples(sim, dataset, tmp_path):
  """The small model's examples: the same labeled candidates, shuffled with the same seed,
  with their own dataset_config.pbtxt under small_model/<split>/."""
  out, stdout = dataset
  me = tmp_path / "me" / "train.tfrecord.gz"
  proc = _cli("make_examples", "--mode", "training", "--ref", str(sim / "reference.fa"),
              "--reads", str(sim / "reads.bam"), "--truth_variants", str(sim / "truth.vcf.gz"),
              "--confident_regions", str(sim / "confident.bed"), "--regions", "s1",
              "--downsample_fraction", "1.0,0.5", "--sample_name", "SIM", "--examples", str(me),
              "--write_small_model_examples")
  assert proc.returncode == 0, proc.stderr[-2000:]
  ordered = list(tfrecord.read_records(str(tmp_path / "me" / "train_small_model.tfrecord.gz")))
  assert "small-model examples" in proc.stdout
  for split in ("train", "tune", "test"):
    folder = out / "small_model" / split
    cfg = text_format.Parse(open(folder / "dataset_config.pbtxt").read(),
                            deepvariant_pb2.DeepVariantDatasetConfig())
    records = _records(str(folder / f"{split}-*-of-00003.tfrecord.gz"))
    assert cfg.num_examples == len(records) > 0
    assert sorted(glob.glob(cfg.tfrecord_path)) == sorted(glob.glob(str(folder / "*.gz")))
    labels = collections.Counter(small_model.decode_example(r).label for r in records)
    manifest = json.load(open(folder / "dataset_config.manifest.json"))
    assert {int(k): v for k, v in manifest["class_counts"].items()} == dict(labels)
    assert str(folder / "dataset_config.pbtxt") in stdout
    if split == "train":
      assert collections.Counter(records) == collections.Counter(ordered)
      assert records != ordered
      # One vector per pileup example of the split: a multi-allelic site has one per image.
      pileups = _records(str(out / "train" / "train-*-of-00003.tfrecord.gz"))
      assert len(records) == len(pileups)


def test_configs_and_manifests(dataset):
  out, stdout = dataset
  for split in ("train", "tune", "test"):
    text = open(out / split / "dataset_config.pbtxt").read()
    cfg = text_format.Parse(text, deepvariant_pb2.DeepVariantDatasetConfig())
    records = _records(str(out / split / f"{split}-*-of-00003.tfrecord.gz"))
    assert cfg.name == split and cfg.num_examples == len(records) > 0
    assert sorted(glob.glob(cfg.tfrecord_path)) == sorted(
        glob.glob(str(out / split / f"{split}-*.tfrecord.gz")))
    manifest = json.load(open(out / split / "dataset_config.manifest.json"))
    labels = collections.Counter(example_format.decode_example(r).label for r in records)
    assert {int(k): v for k, v in manifest["class_counts"].items()} == dict(labels)
    assert set(manifest["downsample_fraction_counts"]) == {"1", "0.5"}
    assert manifest["sample_counts"] == {"SIM": len(records)}
    assert f"{split}:" in stdout  # the end-of-run summary names every split
  assert not glob.glob(str(out / "*" / "unshuffled"))  # no intermediate copy kept


def test_rerun_and_two_workers_give_identical_bytes(sim, dataset, tmp_path):
  out, _ = dataset
  again = tmp_path / "again"
  proc = _cli("make_dataset", *_dataset_args(sim, again),
              "--direct_running_mode=multi_processing", "--direct_num_workers=2")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert _digests(again) == _digests(out) and len(_digests(out)) == 18


def test_overlapping_splits_refused_before_any_work(sim, tmp_path):
  out = tmp_path / "bad"
  args = _dataset_args(sim, out)
  args[args.index("tune=s2:1-20000")] = "tune=s1:50001-60000"
  proc = _cli("make_dataset", *args)
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode == 2
  assert lines == ["make_dataset: error: splits 'train' and 'tune' overlap on 10,000 bp "
                   "(first: s1:50001-60000); a locus may be in one split only"]
  assert not out.exists()


def test_existing_split_outputs_refused_without_overwrite(sim, dataset):
  out, _ = dataset
  before = _digests(out)
  proc = _cli("make_dataset", *_dataset_args(sim, out))
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode == 2 and len(lines) == 1, proc.stderr
  # It names make_dataset's own flag, not the shuffle's --output_pattern_prefix.
  assert lines[0].startswith(f"make_dataset: error: --output_dir={out}: holds the output of an "
                             "earlier run; pass --overwrite"), lines[0]
  assert _digests(out) == before


def test_a_users_folder_is_never_written_into(sim, tmp_path):
  """A non-empty folder pileflow did not make is refused, with or without --overwrite."""
  user = tmp_path / "mine"
  (user / "train").mkdir(parents=True)
  planted = {user / "notes.txt": "keep", user / "train" / "train.csv": "mine"}
  for path, text in planted.items():
    path.write_text(text)
  for extra in ([], ["--overwrite"]):
    proc = _cli("make_dataset", *_dataset_args(sim, user, *extra))
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "not made by pileflow" in lines[0]
  assert {p: p.read_text() for p in planted} == planted
  assert sorted(str(p.relative_to(user)) for p in user.rglob("*")) == [
      "notes.txt", "train", "train/train.csv"]
