"""The pipelines never lose a user's file and never finish wrongly (issue 14), on the GIAB data.

Every case asserts the exit code (2 bad input, 1 run failure, 130 interrupted), exactly one
stderr line naming the problem, and that nothing finished-looking is left. The data-loss cases
plant user files next to and inside the would-be output and check every byte survives.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from beam_pipelines import make_examples
from tests import giab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = "chr20:10,000,000-10,002,000"


def _training(examples, region=SMALL, **over):
  args = dict(zip(*[iter(giab.training_args(examples, region))] * 2))
  args.update(over)
  return [x for k, v in args.items() if v is not None for x in (k, v)]


def _main(argv, capsys):
  """make_examples in-process: (exit code, stderr lines)."""
  try:
    code = make_examples.main(argv)
  except SystemExit as e:
    code = e.code
  err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
  return code, err


def _snapshot(folder):
  """Every file under ``folder`` with its sha256 (what must survive a refused run)."""
  out = {}
  for root, dirs, files in os.walk(folder):
    for name in files:
      path = os.path.join(root, name)
      out[os.path.relpath(path, folder)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    for name in dirs:
      out[os.path.relpath(os.path.join(root, name), folder) + "/"] = "dir"
  return out


def _plant(folder):
  (folder / "keep.txt").write_text("a user's notes")
  (folder / "sub").mkdir()
  (folder / "sub" / "data.bin").write_bytes(bytes(range(256)))


@pytest.mark.parametrize("spelling", ["{d}", "{d}/", "."])
def test_examples_naming_a_directory_is_refused_and_nothing_is_deleted(
    spelling, tmp_path, monkeypatch, capsys):
  work = tmp_path / "work"
  work.mkdir()
  _plant(work)
  target = work / "out"
  target.mkdir()
  _plant(target)
  monkeypatch.chdir(work)
  before = _snapshot(tmp_path)
  code, err = _main(_training(spelling.format(d=target)), capsys)
  assert code == 2 and len(err) == 1, err
  assert err[0].startswith("make_examples: error: --examples=") and "directory" in err[0]
  assert _snapshot(tmp_path) == before  # every planted file and folder, byte for byte


@pytest.mark.parametrize("spec", ["out@x.gz", "out@0.gz", "out@.gz"])
def test_malformed_sharded_spec_is_refused(spec, tmp_path, capsys):
  code, err = _main(_training(str(tmp_path / spec)), capsys)
  assert code == 2 and len(err) == 1 and "@" in err[0], err
  assert os.listdir(tmp_path) == []


def test_confident_bed_with_other_contig_names_is_refused_with_the_hint(tmp_path, capsys):
  bed = tmp_path / "nochr.bed"
  bed.write_text("".join(l[3:] for l in open(giab.CONFIDENT)))  # chr20 -> 20
  out = tmp_path / "out" / "ex.tfrecord@2.gz"
  code, err = _main(_training(str(out), **{"--confident_regions": str(bed)}), capsys)
  assert code == 2 and len(err) == 1, err
  assert f"--confident_regions {bed}: contig(s) 20 not in" in err[0]
  assert "use chr20, not 20" in err[0]
  assert not (tmp_path / "out").exists()


def test_region_and_truth_with_other_contig_names_are_refused(tmp_path, capsys):
  out = str(tmp_path / "ex.tfrecord.gz")
  code, err = _main(_training(out, region="20:10,000,000-10,002,000"), capsys)
  assert code == 2 and len(err) == 1 and "use chr20, not 20" in err[0], err
  truth = tmp_path / "truth.vcf.gz"
  text = subprocess.run(["bcftools", "view", giab.TRUTH], capture_output=True, text=True,
                        check=True).stdout
  renamed = "\n".join(l.replace("ID=chr20,", "ID=20,") if l.startswith("##contig")
                      else (l[3:] if l.startswith("chr20\t") else l) for l in text.splitlines())
  plain = tmp_path / "truth.vcf"
  plain.write_text(renamed + "\n")
  subprocess.run(["bgzip", "-f", str(plain)], check=True)
  subprocess.run(["tabix", "-f", "-p", "vcf", str(truth)], check=True)
  code, err = _main(_training(out, **{"--truth_variants": str(truth)}), capsys)
  assert code == 2 and len(err) == 1, err
  assert str(truth) in err[0] and "use chr20, not 20" in err[0]
  assert not os.path.exists(out)


def test_confident_regions_outside_the_processed_regions_are_refused(tmp_path, capsys):
  """Training only labels inside confident regions: none overlapping means empty shards."""
  out = tmp_path / "ex.tfrecord.gz"
  code, err = _main(_training(str(out), region="chr20:1-100000"), capsys)
  assert code == 2 and len(err) == 1 and "no confident interval overlaps" in err[0], err
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("flag,message", [
    ("--regoins", "--regoins: unknown flag"),
    ("--phase_reads", "--phase_reads: a DeepVariant make_examples flag that "
                             "pileflow does not implement"),
])
def test_unknown_and_unimplemented_flags_are_refused_by_name(flag, message, tmp_path, capsys):
  code, err = _main(_training(str(tmp_path / "ex.tfrecord.gz")) + [flag, "x"], capsys)
  assert code == 2 and len(err) == 1 and message in err[0], err
  assert os.listdir(tmp_path) == []


def test_beam_options_still_pass_through(tmp_path, capsys):
  out = tmp_path / "ex.tfrecord.gz"
  code, err = _main(_training(str(out)) + ["--direct_num_workers=1", "--runner",
                                           "DirectRunner"], capsys)
  assert code == 0, err
  assert out.exists()


@pytest.mark.parametrize("path", ["/proc/pileflow/ex.tfrecord.gz", "{f}/ex.tfrecord.gz"])
def test_unwritable_output_is_found_before_any_work(path, tmp_path, capsys):
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  started = time.time()
  code, err = _main(_training(path.format(f=a_file)), capsys)
  assert code == 2 and len(err) == 1 and "cannot write in" in err[0], err
  assert time.time() - started < 60  # preflight, not the pipeline (generous: CI is slow)
  assert a_file.read_text() == "x"


def test_rerun_needs_overwrite_which_replaces_only_this_runs_files(tmp_path, capsys):
  out = tmp_path / "ex.tfrecord@2.gz"
  code, err = _main(_training(str(out)), capsys)
  assert code == 0, err
  (tmp_path / "notes.txt").write_text("mine")
  before = _snapshot(tmp_path)
  code, err = _main(_training(str(out)), capsys)
  assert code == 2 and len(err) == 1 and "already exists; pass --overwrite" in err[0], err
  assert _snapshot(tmp_path) == before  # refused: every byte as it was
  code, err = _main(_training(str(out)) + ["--overwrite"], capsys)
  assert code == 0, err
  after = _snapshot(tmp_path)
  assert after.pop("ex.tfrecord.summary.json") and before.pop("ex.tfrecord.summary.json")
  assert after == before  # the same shards again, notes.txt untouched


def test_training_summary_with_no_examples_says_none_not_calling_mode(capsys):
  summary = {"examples": 0, "shape": None, "partitions": 1, "regions_bp": 10, "seconds": 0.1,
             "mode": "training", "counters": {}, "shards": [], "realign_reads": False}
  make_examples._print_summary(summary)
  out = capsys.readouterr().out.splitlines()
  assert out[0].startswith("make_examples: 0 examples from 1 partitions")
  assert "by class: none;" in out[1] and "calling mode" not in out[1]


# ---- subprocess cases: worker processes, signals, temp folders ------------------------------
def _cli(args, tmp_path, **kw):
  env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
  (tmp_path / "tmp").mkdir(exist_ok=True)
  return subprocess.Popen([sys.executable, "-m", "beam_pipelines.make_examples", *args],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kw)


def _corrupt_bam(tmp_path):
  data = bytearray(open(giab.BAM, "rb").read())
  mid = len(data) // 3
  data[mid:mid + 4000] = bytes((b * 7 + 3) & 255 for b in data[mid:mid + 4000])
  bam = tmp_path / "corrupt.bam"
  bam.write_bytes(bytes(data))
  shutil.copy(giab.BAM + ".bai", str(bam) + ".bai")
  return bam


def test_a_worker_error_in_multi_process_mode_is_one_line(tmp_path):
  bam = _corrupt_bam(tmp_path)
  out = tmp_path / "out" / "ex.tfrecord@2.gz"
  proc = _cli(_training(str(out), region=giab.WINDOW, **{"--reads": str(bam)})
              + ["--direct_running_mode=multi_processing", "--direct_num_workers=2"], tmp_path)
  _, stderr = proc.communicate(timeout=600)
  errors = [l for l in stderr.splitlines() if "error" in l.lower() or "Traceback" in l]
  assert proc.returncode == 2, stderr[-3000:]
  assert "Traceback" not in stderr, stderr[-3000:]
  assert len(errors) == 1 and str(bam) in errors[0], errors
  assert not (tmp_path / "out").exists()
  assert os.listdir(tmp_path / "tmp") == []  # no beam-temp* folder left


def test_sigint_is_one_line_and_leaves_nothing(tmp_path):
  out = tmp_path / "out" / "ex.tfrecord@2.gz"
  proc = _cli(_training(str(out), region=giab.WINDOW), tmp_path)
  # Wait for the plan line: from then on the pipeline is running.
  first = proc.stderr.readline()
  assert "work units" in first, first
  time.sleep(2)
  proc.send_signal(signal.SIGINT)
  _, rest = proc.communicate(timeout=120)
  lines = [l for l in rest.splitlines() if l.strip() and "unit " not in l]
  assert proc.returncode == 130, rest[-3000:]
  assert lines == ["make_examples: interrupted; outputs of this run were removed"], rest[-3000:]
  assert not (tmp_path / "out").exists()
  assert os.listdir(tmp_path / "tmp") == []


def test_a_finished_run_leaves_no_temp_folder(tmp_path):
  out = tmp_path / "ex.tfrecord.gz"
  proc = _cli(_training(str(out)), tmp_path)
  _, stderr = proc.communicate(timeout=300)
  assert proc.returncode == 0, stderr[-2000:]
  assert os.listdir(tmp_path / "tmp") == []
  assert sorted(os.listdir(tmp_path)) == ["ex.tfrecord.gz", "ex.tfrecord.gz.example_info.json",
                                          "ex.tfrecord.gz.summary.json", "tmp"]
