"""Bad input to the trainer's entry points (train, call, evaluate): one line, the documented exit
code (schemas/errors.py: 2 bad input, 1 failure, 130 interrupted), nothing finished-looking left.

Most cases run ``main(argv)`` in this process (TensorFlow is imported once per worker); the
interrupt case runs ``python -m trainer.train`` and sends it SIGINT.
"""
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from schemas import dataset_config
from schemas import example_format as ef
from schemas import example_info
from schemas import output_paths
from schemas import tfrecord
from tests.unit import test_call as call_helpers
from tests.unit import test_trainer_data as data
from beam_pipelines import call as call_lib
from beam_pipelines import evaluate
from trainer import train as train_lib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytestmark = pytest.mark.slow
SEQ = "ACGTTGCAAC" * 30  # 300 bp; 1-based 2 is C, 12 is C


def _exit(main, argv, capsys):
  """(exit code, stderr lines) of ``main(argv)``; a clean return is exit code 0."""
  capsys.readouterr()
  try:
    code = main(argv)
  except SystemExit as e:
    code = e.code
  return code, capsys.readouterr().err.strip().splitlines()


def _one_line(err, pattern):
  assert len(err) == 1 and re.search(pattern, err[0]), err


def _files(d):
  return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)


# ---- evaluate -----------------------------------------------------------------------------------
def _vcf(path, contig, records):
  header = ["##fileformat=VCFv4.2", f"##contig=<ID={contig},length=300>",
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS"]
  with gzip.open(path, "wt") as f:
    f.write("\n".join(header + [f"{contig}\t{r}" for r in records]) + "\n")
  return str(path)


@pytest.fixture()
def eval_files(tmp_path):
  """chr1 reference, truth, confident BED and calls, plus the same three spelt '1'."""
  d = tmp_path / "in"
  d.mkdir()
  out = {"ref": call_helpers._write_fasta(str(d / "ref.fa"), {"chr1": SEQ})}
  for contig, suffix in (("chr1", ""), ("1", "_b37")):
    out["truth" + suffix] = _vcf(d / f"truth{suffix}.vcf.gz", contig,
                                 ["2\t.\tC\tA\t50\tPASS\t.\tGT\t0/1"])
    out["calls" + suffix] = _vcf(d / f"calls{suffix}.vcf.gz", contig,
                                 ["2\t.\tC\tA\t50\tPASS\t.\tGT\t0/1"])
    bed = d / f"conf{suffix}.bed"
    bed.write_text(f"{contig}\t0\t300\n")
    out["bed" + suffix] = str(bed)
  out["csv"] = str(tmp_path / "out" / "summary.csv")
  return out


def _eval_argv(f, **over):
  args = {"--calls": f["calls"], "--truth": f["truth"], "--confident_regions": f["bed"],
          "--ref": f["ref"], "--output_csv": f["csv"], **over}
  return [x for k, v in args.items() if v is not None for x in ((k,) if v is True else (k, v))]


def test_evaluate_scores_matching_inputs(eval_files, capsys):
  code, _ = _exit(evaluate.main, _eval_argv(eval_files), capsys)
  assert code == 0 and os.path.exists(eval_files["csv"])  # the folder out/ was created


@pytest.mark.parametrize("flag,key,named", [
    ("--truth", "truth_b37", "--truth"),                 # b37 truth on an hg19-style reference
    ("--confident_regions", "bed_b37", "--confident_regions"),
    ("--calls", "calls_b37", "--calls"),
    ("--regions", None, "--regions 1:1-100"),            # a region literal spelt without chr
])
def test_evaluate_refuses_contig_names_the_reference_lacks(eval_files, capsys, flag, key, named):
  """Without the check these score F1 0.0000, which looks like a result."""
  value = eval_files[key] if key else "1:1-100"
  code, err = _exit(evaluate.main, _eval_argv(eval_files, **{flag: value}), capsys)
  assert code == 2
  _one_line(err, rf"^evaluate: error: {re.escape(named)}.*: contig\(s\) 1 not in --ref .*"
                 r"with the 'chr' prefix: use chr1, not 1$")
  assert not os.path.exists(os.path.dirname(eval_files["csv"]))


def test_evaluate_unwritable_csv_is_refused_before_any_work(eval_files, capsys):
  # The truth is missing too: the output path is checked first, so that is what is reported.
  argv = _eval_argv(eval_files, **{"--output_csv": "/proc/x.csv", "--truth": "/nope.vcf.gz"})
  code, err = _exit(evaluate.main, argv, capsys)
  assert code == 2
  _one_line(err, r"^evaluate: error: --output_csv=/proc/x\.csv: cannot write in /proc")


def test_evaluate_existing_csv_needs_overwrite(eval_files, capsys, tmp_path):
  os.makedirs(os.path.dirname(eval_files["csv"]))
  with open(eval_files["csv"], "w") as f:
    f.write("mine\n")
  code, err = _exit(evaluate.main, _eval_argv(eval_files), capsys)
  assert code == 2
  _one_line(err, r"summary\.csv already exists; pass --overwrite")
  assert open(eval_files["csv"]).read() == "mine\n"
  code, _ = _exit(evaluate.main, _eval_argv(eval_files, **{"--overwrite": True}), capsys)
  assert code == 0 and open(eval_files["csv"]).read().startswith("Type,")
  # The default CSV (beside --calls) is held to the same rule, and the message says it is it.
  default = evaluate.default_csv_path(eval_files["calls"])
  open(default, "w").close()
  code, err = _exit(evaluate.main, _eval_argv(eval_files, **{"--output_csv": None}), capsys)
  assert code == 2
  _one_line(err, r"already exists; .*\(the default --output_csv, beside --calls")
  assert os.path.getsize(default) == 0


# ---- call ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
  """An untrained tiny model for test_call's examples (as test_call's own fixture makes it)."""
  from trainer import checkpoints as ckpt_lib  # pylint: disable=g-import-not-at-top
  from trainer import models  # pylint: disable=g-import-not-at-top
  model = models.build_model("tiny", call_helpers.SHAPE, seed=3).model
  return ckpt_lib.export_saved_model(model, str(tmp_path_factory.mktemp("model") / "sm"),
                                     call_helpers.SHAPE, call_helpers.CHANNELS)


def _call_argv(examples, model, ref, outfile, *extra):
  return ["--examples", examples, "--model", model, "--ref", ref, "--outfile", outfile, *extra]


@pytest.mark.parametrize("damage,message", [
    ("truncate", r"corrupt or truncated examples file: unreadable after \d+ good records"),
    ("garbage", r"corrupt or truncated examples file: unreadable first record"),
])
def test_call_on_a_damaged_examples_file_names_it(tmp_path, saved_model, capsys, damage,
                                                   message):
  examples = call_helpers._write_examples(str(tmp_path / "ex.tfrecord.gz"))
  raw = open(examples, "rb").read()
  with open(examples, "wb") as f:
    f.write(raw[:len(raw) * 2 // 3] if damage == "truncate" else b"\x1f\x8b" + b"garbage" * 50)
  ref = call_helpers._write_fasta(str(tmp_path / "ref.fa"), call_helpers.SEQ)
  out = str(tmp_path / "out" / "calls.vcf.gz")
  code, err = _exit(call_lib.main, _call_argv(examples, saved_model, ref, out), capsys)
  assert code == 2
  _one_line(err, rf"^call: error: {re.escape(examples)}: {message}")
  assert not os.path.exists(tmp_path / "out")


def test_call_refuses_examples_named_without_chr(tmp_path, saved_model, capsys):
  examples = call_helpers._write_examples(str(tmp_path / "ex.tfrecord.gz"),
                                          candidates=[("20", 1, "C", ["A"], [5, 5])])
  ref = call_helpers._write_fasta(str(tmp_path / "ref.fa"), {"chr20": SEQ})
  code, err = _exit(call_lib.main, _call_argv(examples, saved_model, ref,
                                              str(tmp_path / "calls.vcf.gz")), capsys)
  assert code == 2
  _one_line(err, r"^call: error: --examples .*: contig\(s\) 20 not in --ref .*: use chr20, "
                 r"not 20$")
  assert not os.path.exists(tmp_path / "calls.vcf.gz")


def test_call_outfile_is_checked_before_any_work(tmp_path, saved_model, capsys):
  ref = call_helpers._write_fasta(str(tmp_path / "ref.fa"), call_helpers.SEQ)
  missing = str(tmp_path / "none.tfrecord.gz")  # bad too, but the output is checked first
  code, err = _exit(call_lib.main, _call_argv(missing, saved_model, ref, "/proc/x.vcf.gz"),
                    capsys)
  assert code == 2
  _one_line(err, r"^call: error: --outfile=/proc/x\.vcf\.gz: cannot write in /proc")
  examples = call_helpers._write_examples(str(tmp_path / "ex.tfrecord.gz"))
  out = tmp_path / "calls.vcf.gz"
  out.write_bytes(b"mine")
  code, err = _exit(call_lib.main, _call_argv(examples, saved_model, ref, str(out)), capsys)
  assert code == 2 and out.read_bytes() == b"mine"
  _one_line(err, r"calls\.vcf\.gz already exists; pass --overwrite")
  code, _ = _exit(call_lib.main, _call_argv(examples, saved_model, ref, str(out),
                                            "--overwrite"), capsys)
  assert code == 0 and out.read_bytes()[:2] == b"\x1f\x8b" and os.path.exists(f"{out}.tbi")


def test_call_interrupted_while_writing_leaves_nothing(tmp_path, saved_model, capsys,
                                                       monkeypatch):
  if threading.current_thread() is not threading.main_thread():
    pytest.skip("signal handlers need the main thread")

  def exit_in_test(code):  # schemas.errors ends an interrupted process with os._exit
    raise SystemExit(code)
  monkeypatch.setattr(os, "_exit", exit_in_test)
  examples = call_helpers._write_examples(str(tmp_path / "ex.tfrecord.gz"))
  ref = call_helpers._write_fasta(str(tmp_path / "ref.fa"), call_helpers.SEQ)
  from beam_pipelines.io import vcf_output  # pylint: disable=g-import-not-at-top
  real = vcf_output.pysam.tabix_index

  def interrupt_then_index(*args, **kwargs):  # the VCF is compressed under its temp name
    os.kill(os.getpid(), signal.SIGINT)
    return real(*args, **kwargs)
  monkeypatch.setattr(vcf_output.pysam, "tabix_index", interrupt_then_index)
  out_dir = tmp_path / "out"
  code, err = _exit(call_lib.main, _call_argv(examples, saved_model, ref,
                                              str(out_dir / "calls.vcf.gz")), capsys)
  assert code == 130
  _one_line(err, r"^call: interrupted; outputs of this run were removed$")
  assert not out_dir.exists()  # no VCF, no .tbi, no temporary file, not even the new folder


def _fake_experiment(d, best_step=None, state_step=3):
  """An interrupted experiment's layout: config.json, state/ckpt-N, maybe checkpoints/ckpt-M."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  os.makedirs(d)
  with open(os.path.join(d, "config.json"), "w") as f:
    json.dump({"model_type": "tiny"}, f)
  ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
  tf.train.CheckpointManager(ckpt, os.path.join(d, "state"), 2).save(checkpoint_number=state_step)
  if best_step is not None:
    path = tf.train.CheckpointManager(ckpt, os.path.join(d, "checkpoints"), 2,
                                      checkpoint_name="ckpt").save(checkpoint_number=best_step)
    with open(os.path.join(d, "best_checkpoint.json"), "w") as f:
      json.dump({"step": best_step, "metric": "tune/f1_weighted", "value": 0.5,
                 "checkpoint": path}, f)


@pytest.mark.parametrize("best_step,message", [
    (None, r"no best checkpoint was chosen yet .* the latest training state is "
           r"(?P<path>\S+/state/ckpt-3): pass --model (?P=path) to call with it"),
    (2, r"the best checkpoint so far is (?P<path>\S+/checkpoints/ckpt-2) \(step 2, "
        r"tune/f1_weighted 0\.50000\): pass --model (?P=path)"),
])
def test_call_on_an_unfinished_experiment_names_the_checkpoint(tmp_path, capsys, best_step,
                                                                 message):
  exp = str(tmp_path / "exp")
  _fake_experiment(exp, best_step)
  examples = call_helpers._write_examples(str(tmp_path / "ex.tfrecord.gz"))
  ref = call_helpers._write_fasta(str(tmp_path / "ref.fa"), call_helpers.SEQ)
  code, err = _exit(call_lib.main, _call_argv(examples, exp, ref,
                                              str(tmp_path / "calls.vcf.gz")), capsys)
  assert code == 2
  _one_line(err, rf"^call: error: --model {re.escape(exp)}: training of this experiment has "
                 rf"not finished \(no export/saved_model\)(; | and ){message}")


# ---- train --------------------------------------------------------------------------------------
def _train_argv(exp, train, tune, *extra):
  return ["--config=tiny", f"--experiment_dir={exp}", f"--config.train_dataset_pbtxt={train}",
          f"--config.tune_dataset_pbtxt={tune}", *extra]


def _calling_mode_dataset(d, name, n=16, shape=(20, 21, 6)):
  """Examples as make_examples --mode calling writes them: no ``label`` feature."""
  rng = np.random.default_rng(0)
  records = [ef.encode_example(rng.integers(0, 255, shape, dtype=np.uint8),
                               ef.variant_to_proto("chr1", 100 + i, "A", ["G"], sample_name="S",
                                                  dp=10, ad=[5, 5]),
                               [0], 1) for i in range(n)]
  path = os.path.join(d, f"{name}.tfrecord.gz")
  tfrecord.write_records(path, records)
  example_info.write_example_info(path + example_info.EXAMPLE_INFO_SUFFIX, shape,
                                  list(range(1, 7)))
  config = os.path.join(d, f"{name}.pbtxt")
  dataset_config.write_dataset_config(config, name, n, {}, path, name,
                                      tfrecord_path=os.path.basename(path))
  return config, path


def test_train_on_unlabeled_examples_names_the_file(tmp_path, capsys):
  d = str(tmp_path)
  train, path = _calling_mode_dataset(d, "calling")
  tune = data.write_dataset(d, "tune", 8, seed=2)
  exp = os.path.join(d, "exp")
  code, err = _exit(train_lib.main, _train_argv(exp, train, tune), capsys)
  assert code == 2
  _one_line(err, rf"^train: error: {re.escape(path)}: examples have no labels .*calling-mode "
                 r"examples\?\); training needs examples made with make_examples --mode training$")
  assert not os.path.exists(exp)


def test_train_refuses_a_folder_pileflow_did_not_make(tmp_path, capsys):
  d = str(tmp_path)
  exp = tmp_path / "my_results"
  exp.mkdir()
  (exp / "thesis.tex").write_text("months of work")
  code, err = _exit(train_lib.main, _train_argv(str(exp), "t.pbtxt", "v.pbtxt"), capsys)
  assert code == 2
  _one_line(err, rf"^train: error: --experiment_dir={re.escape(str(exp))}: directory is not "
                 r"empty and was not made by pileflow")
  assert _files(str(exp)) == ["thesis.tex"]


def test_train_resume_checks_checkpoints_and_accepts_older_experiments(tmp_path, capsys):
  d = str(tmp_path)
  train = data.write_dataset(d, "train", 32, seed=1)
  tune = data.write_dataset(d, "tune", 8, seed=2)
  exp = os.path.join(d, "exp")
  argv = _train_argv(exp, train, tune, "--config.tune_every_steps=2")
  assert _exit(train_lib.main, argv, capsys)[0] == 0
  assert os.path.exists(os.path.join(exp, output_paths.MARKER))
  for rel, what in (("checkpoints/ckpt-4.index", "best checkpoint"),
                    ("state/ckpt-4.index", "training state")):
    path = os.path.join(exp, rel)
    shutil.copy(path, path + ".bak")
    with open(path, "wb") as f:
      f.write(b"overwritten with junk")
    code, err = _exit(train_lib.main, argv, capsys)
    assert code == 2
    _one_line(err, rf"^train: error: {re.escape(path)}: unreadable {what} \(")
    os.replace(path + ".bak", path)
  # An experiment of an earlier pileflow version (no marker) is recognised by its layout.
  os.remove(os.path.join(exp, output_paths.MARKER))
  capsys.readouterr()
  assert train_lib.main(argv) == 0
  assert "experiment directory of an earlier pileflow version" in capsys.readouterr().out
  assert os.path.exists(os.path.join(exp, output_paths.MARKER))


_TF_NOISE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl)")


def test_train_sigint_is_one_line_and_keeps_only_resumable_state(tmp_path):
  d = str(tmp_path)
  train = data.write_dataset(d, "train", 400, seed=1)
  tune = data.write_dataset(d, "tune", 8, seed=2)
  exp = os.path.join(d, "exp")
  cmd = [sys.executable, "-m", "trainer.train",
         *_train_argv(exp, train, tune, "--config.log_every_steps=1",
                      "--config.checkpoint_every_steps=1", "--config.tune_every_steps=1000")]
  proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
  seen = []
  for line in proc.stdout:
    seen.append(line)
    if re.match(r"train: step 2/", line):  # step 1's state is saved by now
      break
  proc.send_signal(signal.SIGINT)
  out, err = proc.communicate(timeout=120)
  ours = [l for l in err.splitlines() if l.strip() and not _TF_NOISE.match(l)]
  assert proc.returncode == 130, "".join(seen) + out + err[-3000:]
  assert len(ours) == 1 and re.match(
      r"^train: interrupted at step \d+; re-run the same command to resume from "
      rf"{re.escape(exp)}/state/ckpt-\d+$", ours[0]), ours
  # Only what resumes the run is kept: no export, no report, no temporary folder.
  names = set(os.listdir(exp))
  assert not names & {"export", "report.html", "report.json"}, names
  assert not [n for n in names if ".tmp" in n], names
  assert os.path.isdir(os.path.join(exp, "state"))


# ---- flags --------------------------------------------------------------------------------------
_MAINS = {"train": train_lib.main, "call": call_lib.main, "evaluate": evaluate.main}


@pytest.mark.parametrize("tool,argv,message", [
    ("train", ["--experiment_dir=x", "--regoins", "chr1"], r"--regoins: unknown flag"),
    ("call", ["--regoins=chr1"], r"--regoins: unknown flag"),
    ("evaluate", ["--regoins", "chr1"], r"--regoins: unknown flag"),
    # Reported before the missing required flags: a DeepVariant command line hears of it first.
    ("call", ["--use_openvino"],
     r"--use_openvino: a DeepVariant call_variants flag that pileflow does not implement"),
    ("call", ["--gvcf_outfile=g.vcf.gz"],
     r"--gvcf_outfile: a DeepVariant postprocess_variants flag that pileflow does not implement"),
    ("call", ["--model_name=inception_v3"],
     r"--model_name: a DeepVariant call_variants flag .* \(use --model_type\)"),
    ("train", ["--experiment_dir=x", "--debug"],
     r"--debug: a DeepVariant train flag that pileflow does not implement"),
    ("train", ["--experiment_dir=x", "--limit=5"],
     r"--limit: a DeepVariant train flag .* \(use --config\.limit\)"),
    ("train", ["--experiment_dir=x", "--num_epochs=3"],
     r"--num_epochs: unknown flag \(num_epochs is a config key: set it with "
     r"--config\.num_epochs=VALUE\)"),
    ("call", ["--out=x.vcf.gz"], r"--out: unknown flag"),  # no abbreviations of --outfile
])
def test_unknown_and_deepvariant_flags_are_refused_by_name(capsys, tool, argv, message):
  code, err = _exit(_MAINS[tool], argv, capsys)
  assert code == 2
  _one_line(err, rf"^{tool}: error: {message}")
