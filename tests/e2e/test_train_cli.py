"""The trainer's command line end to end: DeepVariant's golden examples, SIGKILL + resume,
MirroredStrategy on 2 logical CPUs, and one-line errors for bad input."""
import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.unit import test_trainer_data as data

from trainer import train as train_lib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytestmark = pytest.mark.slow

def _cmd(exp, train, tune, *extra):
  return [sys.executable, "-m", "trainer.train", "--config=tiny", f"--experiment_dir={exp}",
          f"--config.train_dataset_pbtxt={train}", f"--config.tune_dataset_pbtxt={tune}",
          *extra]

def _run(cmd, timeout=300):
  return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)

def test_golden_examples_train_tune_select_export(tmp_path, capsys):
  """DeepVariant's 49 golden examples through train.main: 2 steps of 24, tune, select, export."""
  config = data.write_golden_config(str(tmp_path))
  exp = str(tmp_path / "exp")
  code = train_lib.main(_cmd(exp, config, config, "--config.batch_size=24",
                         "--config.tune_every_steps=1")[3:])
  out = capsys.readouterr().out
  assert code == 0 and "train: done at step 2/2" in out
  with open(os.path.join(exp, "best_checkpoint.json")) as f:
    best = json.load(f)
  assert best["step"] in (1, 2) and best["metrics"]["tune/num_examples"] == 49
  assert best["metrics"]["tune/indel/num_examples"] == 4  # variant_type split: 4 indels
  with open(os.path.join(exp, "export", "deepvariant", "example_info.json")) as f:
    assert json.load(f)["shape"] == [100, 221, 6]
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  loaded = tf.saved_model.load(os.path.join(exp, "export", "saved_model"))
  probs = loaded.signatures["serving_default"](tf.zeros((2, 100, 221, 6)))
  assert list(probs.values())[0].shape == (2, 3)

def _kill_when_blocked(cmd):
  """Starts ``cmd``, waits for its fault-injection block (state just saved), SIGKILLs it."""
  proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
  lines = []
  for line in proc.stdout:
    lines.append(line)
    if "blocking after step" in line:
      break
  proc.send_signal(signal.SIGKILL)
  proc.wait(timeout=60)
  assert proc.returncode == -signal.SIGKILL, "".join(lines)[-3000:]
  return "".join(lines)

def test_resume_after_sigkill_continues_at_the_same_step(tmp_path):
  """Same step, optimizer state and data position: final weights equal an uninterrupted run."""
  d = str(tmp_path)
  train_cfg = data.write_dataset(d, "train", 96, seed=1, shards=3)
  tune_cfg = data.write_dataset(d, "tune", 24, seed=2)
  args = ("--config.num_epochs=3", "--config.tune_every_steps=6",
          "--config.checkpoint_every_steps=6", "--config.log_every_steps=6")
  killed_log = _kill_when_blocked(_cmd(os.path.join(d, "b"), train_cfg, tune_cfg, *args,
                                       "--debug_block_after_step=15"))
  assert "blocking after step 18" in killed_log  # state saved at the tune of step 18
  # A half-written checkpoint newer than the pointer must never be taken as the latest.
  with open(os.path.join(d, "b", "state", "ckpt-24.index"), "wb") as f:
    f.write(b"half written")
  resumed = _run(_cmd(os.path.join(d, "b"), train_cfg, tune_cfg, *args))
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert "train: resuming from step 18" in resumed.stdout
  assert "train: done at step 36/36" in resumed.stdout
  steps = [int(m) for m in re.findall(r"train: step (\d+)/36", resumed.stdout)]
  assert steps == [24, 30, 36]  # continues after 18, never repeats a step
  straight = _run(_cmd(os.path.join(d, "a"), train_cfg, tune_cfg, *args))
  assert straight.returncode == 0, straight.stderr[-3000:]
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  a = tf.train.load_checkpoint(os.path.join(d, "a", "state"))
  b = tf.train.load_checkpoint(os.path.join(d, "b", "state"))
  for key in ("model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE",
              "model/layer_with_weights-2/kernel/.ATTRIBUTES/VARIABLE_VALUE"):
    np.testing.assert_allclose(a.get_tensor(key), b.get_tensor(key), rtol=1e-5, atol=1e-6)

def test_mirrored_on_two_logical_cpus(tmp_path):
  d = str(tmp_path)
  train = data.write_dataset(d, "train", 32, seed=1)
  tune = data.write_dataset(d, "tune", 10, seed=2)
  out = _run(_cmd(os.path.join(d, "exp"), train, tune, "--strategy=mirrored",
                  "--cpu_devices=2", "--config.tune_every_steps=2"))
  assert out.returncode == 0, out.stderr[-3000:]
  assert "2 replica(s)" in out.stdout and "train: done at step 4/4" in out.stdout
  with open(os.path.join(d, "exp", "best_checkpoint.json")) as f:
    assert json.load(f)["metrics"]["tune/num_examples"] == 10  # every tune example scored

@pytest.mark.parametrize("case,expected", [
    ("missing_config", r"^train: error: .*nope\.pbtxt: dataset config does not exist$"),
    ("no_files", r"^train: error: .*c\.pbtxt: tfrecord_path pattern .* matches no files$"),
    ("info_channels", r"^train: error: .*example_info\.json: lists channels \[1\.\.6, 19 "
                      r"insert_size\] \(7\) but .* has 6 channels"),
    ("corrupt", r"^train: error: .*train\.tfrecord-00001-of-00002\.gz: corrupt record after"),
    ("other_arch", r"^train: error: .*has 3 weighted layers but model inception_v3"),
])
def test_bad_input_is_one_line(tmp_path, capsys, case, expected):
  d = str(tmp_path)
  train = data.write_dataset(d, "train", 16, seed=1)
  tune = data.write_dataset(d, "tune", 8, seed=2)
  extra = []
  if case == "missing_config":
    train = os.path.join(d, "nope.pbtxt")
  elif case == "no_files":
    from schemas import dataset_config  # pylint: disable=g-import-not-at-top
    train = os.path.join(d, "c.pbtxt")
    dataset_config.write_dataset_config(train, "c", 5, {}, "x", "x", tfrecord_path="x@2.gz")
  elif case == "info_channels":
    train = data.write_dataset(d, "bad", 8, example_info_channels=[1, 2, 3, 4, 5, 6, 19])
  elif case == "corrupt":
    import gzip  # pylint: disable=g-import-not-at-top
    path = os.path.join(d, "train.tfrecord-00001-of-00002.gz")
    with gzip.open(path, "rb") as f:
      raw = bytearray(f.read())
    raw[-100] ^= 0xFF
    with gzip.open(path, "wb") as f:
      f.write(bytes(raw))
  elif case == "other_arch":
    tiny_dir = os.path.join(d, "first")
    assert train_lib.main(_cmd(tiny_dir, train, tune)[3:]) == 0
    extra = [f"--config.init_checkpoint={tiny_dir}/export/deepvariant/model.ckpt",
             "--config.model_type=inception_v3", "--config.batch_size=2"]
    train = data.write_dataset(d, "big", 4, shape=(75, 75, 6))
    tune = train
  capsys.readouterr()
  with pytest.raises(SystemExit) as e:  # bad input: exit 2 (schemas/errors.py)
    train_lib.main(_cmd(os.path.join(d, "exp"), train, tune, *extra)[3:])
  err = capsys.readouterr().err.strip().splitlines()
  assert e.value.code == 2 and len(err) == 1 and re.match(expected, err[0]), err
  assert not os.path.exists(os.path.join(d, "exp"))  # nothing trained: the new dir is removed
