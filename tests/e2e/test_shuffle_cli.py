"""End-to-end: `python -m beam_pipelines.shuffle` on DeepVariant's golden examples and ours.

Makes real examples with make_examples (GIAB chr20 window), shuffles them with the golden file,
reads every output back (shards, dataset_config.pbtxt, example_info.json, manifest) and checks
values; then each bad input gives one clear line, the right exit code and no finished output.
"""
import collections
import contextlib
import glob
import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from google.protobuf import text_format

from schemas import dataset_config
from schemas import example_format as ef
from schemas import manifest as manifest_lib
from schemas import tfrecord
from schemas.protos import deepvariant_pb2

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
GOLDEN = os.path.abspath(os.path.join(DATA, "golden.training_examples.tfrecord.gz"))
GOLDEN_INFO = GOLDEN + ".example_info.json"


def run_cli(args, module="beam_pipelines.shuffle"):
  return subprocess.run([sys.executable, "-m", module, *args, "--runner", "DirectRunner"],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)


class _Proc:
  def __init__(self, returncode, stdout, stderr):
    self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_inproc(args):
  """The CLI's main() in this process (saves ~2 s of interpreter and Beam start per case).

  Exit codes and the stderr line are the same as a subprocess run's (main returns or exits
  with them); the subprocess path itself is covered by the other tests.
  """
  from beam_pipelines import shuffle
  out, err = io.StringIO(), io.StringIO()
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
      code = shuffle.main([*args, "--runner", "DirectRunner"])
    except SystemExit as e:
      code = e.code
  return _Proc(code, out.getvalue(), err.getvalue())


def error_lines(proc):
  return [l for l in proc.stderr.splitlines() if l.startswith("shuffle: error:")]


def digests(prefix):
  return {os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest()
          for p in sorted(glob.glob(prefix + "-*"))}


def finished_outputs(d):
  """Anything in ``d`` that looks like a finished output (shards, config, manifest, info)."""
  return sorted(p.name for p in pathlib.Path(d).glob("*") if not p.name.startswith("."))


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
  out = tmp_path_factory.mktemp("ours")
  proc = run_cli(["--mode", "training",
                  "--ref", os.path.join(DATA, "ucsc.hg19.chr20.unittest.fasta.gz"),
                  "--reads", os.path.join(DATA, "NA12878_S1.chr20.10_10p1mb.bam"),
                  "--truth_variants", os.path.join(DATA, "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"),
                  "--confident_regions", os.path.join(DATA, "test_nist.b37_chr20_100kbp_at_10mb.bed"),
                  "--regions", "chr20:10,000,000-10,050,000",
                  "--examples", str(out / "train.tfrecord@2.gz")],
                 module="beam_pipelines.make_examples")
  assert proc.returncode == 0, proc.stderr
  return str(out / "train.tfrecord-?????-of-00002.gz")


@pytest.fixture(scope="module")
def shuffled(ours, tmp_path_factory):
  out = tmp_path_factory.mktemp("shuffled")
  args = ["--input_pattern_list", f"{ours},{GOLDEN}",
          "--output_pattern_prefix", str(out / "train.shuffled"),
          "--output_dataset_config_pbtxt", str(out / "dataset_config.pbtxt"),
          "--output_dataset_name", "HG001", "--num_shards", "3", "--seed", "5"]
  proc = run_cli(args)
  assert proc.returncode == 0, proc.stderr
  return out, args, proc


def test_golden_and_ours_shuffled(ours, shuffled):
  out, _, proc = shuffled
  inputs = [r for p in sorted(glob.glob(ours)) + [GOLDEN] for r in tfrecord.read_records(p)]
  shards = sorted(glob.glob(str(out / "train.shuffled-?????-of-00003.tfrecord.gz")))
  assert len(shards) == 3
  output = [r for s in shards for r in tfrecord.read_records(s)]
  # Same multiset of records; parse-equal too (checked on a decoded sample of fields).
  assert collections.Counter(output) == collections.Counter(inputs)
  assert len(output) == len(inputs) > 49
  assert output != inputs, "output must not be in input order"
  decoded = {ef.decode_example(r).locus for r in output}
  assert decoded == {ef.decode_example(r).locus for r in inputs}
  # Not just rotated: the golden records (49 consecutive inputs) are spread over every shard.
  golden = set(tfrecord.read_records(GOLDEN))
  assert all(any(r in golden for r in tfrecord.read_records(s)) for s in shards)
  # Class counts, computed independently from the inputs.
  want = collections.Counter(ef.example_label(r) for r in inputs)
  text = (out / "dataset_config.pbtxt").read_text()
  proto = text_format.Parse(text, deepvariant_pb2.DeepVariantDatasetConfig())
  assert proto.name == "HG001"
  assert proto.num_examples == len(inputs)
  assert proto.tfrecord_path == str(out / "train.shuffled") + "-?????-of-?????.tfrecord.gz"
  assert glob.glob(proto.tfrecord_path) == glob.glob(str(out / "train.shuffled-*"))
  parsed = dataset_config.parse_dataset_config(text)
  assert parsed.class_counts == dict(sorted(want.items()))
  assert text.startswith("# Generated by shuffle_tfrecords_beam.py\n# class0: ")
  assert text.endswith(f"num_examples: {len(inputs)}\n\n")
  # example_info.json copied beside the shards (spec 8.2), byte-equal to the inputs' info.
  assert (out / "example_info.json").read_bytes() == open(GOLDEN_INFO, "rb").read()
  manifest = manifest_lib.read_manifest(str(out / "dataset_config.manifest.json"))
  assert manifest_lib.class_counts(manifest) == dict(want)
  assert manifest["num_examples"] == len(inputs)
  assert manifest["image_shape"] == [100, 221, 6] and manifest["channels"] == [1, 2, 3, 4, 5, 6]
  assert manifest["input_counts"][GOLDEN] == 49
  assert manifest["sample_counts"] == {"NA12878": len(inputs)}
  assert sum(manifest["variant_type_counts"].values()) == len(inputs)
  assert manifest["seed"] == 5 and "--seed 5" in manifest["command_line"]
  assert {i["path"]: i["bytes"] for i in manifest["inputs"]}[GOLDEN] == os.path.getsize(GOLDEN)
  assert [s["examples"] for s in manifest["shards"]] == \
      [sum(1 for _ in tfrecord.read_records(s)) for s in shards]
  assert "shuffle: " in proc.stdout and "by class: class 0:" in proc.stdout
  assert not list(out.glob(".pileflow-shuffle-tmp-*")), "temp dir must be removed"


def test_reruns_and_multiprocessing_are_byte_identical(shuffled, tmp_path):
  out, args, _ = shuffled
  base = digests(str(out / "train.shuffled"))
  for name, extra in (("rerun", []),
                      ("multi", ["--direct_running_mode=multi_processing",
                                 "--direct_num_workers=2", "--memory_budget", "300K"])):
    new_args = [str(tmp_path / name / "train.shuffled") if a == str(out / "train.shuffled")
                else a for a in args if "dataset_config" not in a]
    new_args = [a for a in new_args if a != "--output_dataset_config_pbtxt"]
    # The rerun goes through main() in this process, the 2-worker run through a subprocess.
    proc = run_cli(new_args + extra) if extra else run_inproc(new_args)
    assert proc.returncode == 0, proc.stderr
    assert digests(str(tmp_path / name / "train.shuffled")) == base, name


def _write(path, records):
  tfrecord.write_records(str(path), records)
  return str(path)


def _relabel(records, label=None, channels=None):
  """Re-encodes records without a label / with one more image channel."""
  out = []
  for r in records:
    rec = ef.decode_example(r)
    image = rec.image if channels is None else np.concatenate(
        [rec.image, np.zeros(rec.image.shape[:2] + (channels - rec.image.shape[2],), np.uint8)],
        axis=2)
    out.append(ef.encode_example(image, rec.variant, rec.alt_indices, rec.variant_type,
                                 rec.sequencing_type, label))
  return out


def test_pattern_matching_no_files(tmp_path):
  proc = run_cli(["--input_pattern_list", str(tmp_path / "nothing-*.gz"),
                  "--output_pattern_prefix", str(tmp_path / "out" / "x")])
  assert proc.returncode == 2
  assert error_lines(proc) == [f"shuffle: error: --input_pattern_list: pattern "
                               f"{tmp_path / 'nothing-*.gz'} matches no files"]
  assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind,fragment", [
    ("truncated_gzip", "compressed stream is damaged"),   # file cut in the middle of a member
    ("bad_crc", "payload CRC mismatch"),                  # one flipped byte in a record
])
def test_corrupt_input(kind, fragment, tmp_path):
  records = list(tfrecord.read_records(GOLDEN))
  if kind == "truncated_gzip":
    path = tmp_path / "bad.tfrecord.gz"
    path.write_bytes(open(GOLDEN, "rb").read()[:200_000])
  else:
    path = tmp_path / "bad.tfrecord"
    data = bytearray(b"".join(tfrecord.frame_record(r) for r in records[:5]))
    data[2 * (16 + len(records[0])) + 1000] ^= 0xFF   # inside record 2's payload
    path.write_bytes(bytes(data))
  out = tmp_path / "out"
  args = ["--input_pattern_list", str(path), "--output_pattern_prefix", str(out / "x"),
          "--num_shards", "2", "--allow_label_imbalance"]
  proc = run_inproc(args)
  assert proc.returncode == 2, proc.stderr  # a corrupt input is bad input, found mid-run
  lines = error_lines(proc)
  assert len(lines) == 1 and str(path) in lines[0] and fragment in lines[0]
  assert "byte offset" in lines[0] and "while running" not in lines[0]
  if kind == "bad_crc":
    assert f"record at byte offset {2 * (16 + len(records[0]))}:" in lines[0]
  assert finished_outputs(out) == [] if out.exists() else True
  # --skip_corrupt keeps what came before the damage, and says so in the manifest.
  proc = run_inproc(args + ["--skip_corrupt"])
  assert proc.returncode == 0, proc.stderr
  manifest = manifest_lib.read_manifest(str(out / "x.manifest.json"))
  kept = manifest["num_examples"]
  assert len(manifest["corrupt_inputs"]) == 1
  assert manifest["corrupt_inputs"][0]["records_kept"] == kept
  assert kept == (2 if kind == "bad_crc" else manifest["input_counts"][str(path)])
  assert 0 < kept < 49
  assert "SKIPPED corrupt input" in proc.stdout


def test_different_shapes_name_both_files(tmp_path):
  golden = list(tfrecord.read_records(GOLDEN))[:4]
  six = _write(tmp_path / "a6.tfrecord.gz", golden)
  seven = _write(tmp_path / "b7.tfrecord.gz", _relabel(golden, label=1, channels=7))
  proc = run_inproc(["--input_pattern_list", f"{six},{seven}",
                  "--output_pattern_prefix", str(tmp_path / "out" / "x")])
  assert proc.returncode == 2
  assert error_lines(proc) == [f"shuffle: error: inputs differ in image shape: {six} has "
                               f"[100, 221, 6] but {seven} has [100, 221, 7]"]
  assert not (tmp_path / "out").exists()


def test_different_channels_name_both_files(tmp_path):
  golden = list(tfrecord.read_records(GOLDEN))[:4]
  a = _write(tmp_path / "a.tfrecord.gz", golden)
  b = _write(tmp_path / "b.tfrecord.gz", golden[::-1])
  shutil.copy(GOLDEN_INFO, a + ".example_info.json")
  pathlib.Path(b + ".example_info.json").write_text(
      '{"version": "1.5.0", "shape": [100, 221, 6], "channels": [1, 2, 3, 4, 5, 19]}')
  proc = run_inproc(["--input_pattern_list", f"{a},{b}",
                  "--output_pattern_prefix", str(tmp_path / "out" / "x")])
  assert proc.returncode == 2
  assert error_lines(proc) == [f"shuffle: error: inputs differ in channels: {a} has [1..6] "
                               f"but {b} has [1..5, 19 insert_size]"]


def test_existing_shards_refused_unless_overwrite(tmp_path):
  golden = _write(tmp_path / "g.tfrecord.gz", list(tfrecord.read_records(GOLDEN)))
  prefix = str(tmp_path / "out" / "x")
  base = ["--input_pattern_list", golden, "--output_pattern_prefix", prefix]
  assert run_inproc(base + ["--num_shards", "4"]).returncode == 0
  before = digests(prefix)
  proc = run_inproc(base + ["--num_shards", "2"])
  assert proc.returncode == 2
  assert len(error_lines(proc)) == 1 and "already holds 4 shard(s)" in error_lines(proc)[0]
  assert "--overwrite" in error_lines(proc)[0]
  assert digests(prefix) == before, "a refused run must not touch the old shards"
  proc = run_inproc(base + ["--num_shards", "2", "--overwrite"])
  assert proc.returncode == 0, proc.stderr
  # The 4 old shards are gone (the config's -?????-of-????? pattern would match them).
  assert sorted(glob.glob(prefix + "-*.tfrecord.gz")) == \
      [prefix + "-00000-of-00002.tfrecord.gz", prefix + "-00001-of-00002.tfrecord.gz"]


@pytest.mark.parametrize("case,extra,code,fragment", [
    ("hom_alt_only", [], 2, "class 0 (hom_ref) is empty"),       # 100% class 2: refused
    ("hom_alt_only", ["--allow_label_imbalance"], 0, None),      # accepted, still warned
    ("unlabeled", ["--allow_label_imbalance"], 2, "carries a label"),  # calling examples
])
def test_label_qa(case, extra, code, fragment, tmp_path):
  golden = list(tfrecord.read_records(GOLDEN))
  records = [r for r in golden if ef.example_label(r) == 2] if case == "hom_alt_only" \
      else _relabel(golden, label=None)
  path = _write(tmp_path / "in.tfrecord.gz", records)
  out = tmp_path / "out"
  proc = run_inproc(["--input_pattern_list", path, "--output_pattern_prefix", str(out / "x"),
                  "--output_dataset_config_pbtxt", str(out / "dataset_config.pbtxt"),
                  "--output_dataset_name", "qa", *extra])
  assert proc.returncode == code, proc.stderr
  if code:
    lines = error_lines(proc)
    assert len(lines) == 1 and fragment in lines[0] and "label QA failed" in lines[0]
    assert finished_outputs(out) == [] if out.exists() else True
  else:
    manifest = json.loads((out / "dataset_config.manifest.json").read_text())
    assert manifest["class_counts"] == {"2": 36}
    assert len(manifest["label_qa_warnings"]) == 3  # 100% class 2; classes 0 and 1 empty
    assert "LABEL QA WARNING" in proc.stdout
