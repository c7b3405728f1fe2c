"""``python -m trainer.train --config=small_model``: DeepVariant's small model trained on
synthetic small-model examples, calibrated, exported for make_examples and reported.

Why synthetic: seconds on 2 cores. The label is a learnable function of the feature vector,
as in real data: the variant allele frequency (``variant_allele_frequency``, feature 4) is
drawn from a range per genotype (hom-ref 0-14, het 25-75, hom-alt 86-100), the ranges of the
other features are the same for every class, and 3% of the labels are flipped (label noise, so
the probabilities have something to calibrate). Files are written as make_dataset writes them:
gzipped shards named by a sharded spec and a dataset_config.pbtxt whose tfrecord_path is that
spec, relative to the config.
"""
import contextlib
import io
import json
import os

import numpy as np
import pytest

from schemas import dataset_config
from schemas import sharding
from schemas import small_model as contract
from schemas import tfrecord
from trainer import calibration
from trainer import configs
from trainer import metrics as metrics_lib
from trainer import small_model_data as data_lib
from trainer import small_model_loop as loop_lib
from trainer import train as train_lib
from tests.unit import test_trainer_data as cnn_data

NAMES = contract.feature_names()
VAF = NAMES.index("variant_allele_frequency")
_VAF_RANGE = {0: (0, 15), 1: (25, 76), 2: (86, 101)}
FLIP = 0.03


def synthetic_vectors(n: int, seed: int):
  """(features int64 [n, 70], labels [n]): module docstring."""
  rng = np.random.default_rng(seed)
  labels = rng.choice(3, size=n, p=[0.3, 0.45, 0.25])
  x = np.zeros((n, len(NAMES)), np.int64)
  depth = rng.integers(10, 60, n)
  vaf = np.array([rng.integers(*_VAF_RANGE[int(k)]) for k in labels])
  alt = depth * vaf // 100
  x[:, NAMES.index("num_reads_supports_ref")] = depth - alt
  x[:, NAMES.index("num_reads_supports_alt")] = alt
  x[:, NAMES.index("alt_indices_depth")] = depth
  x[:, NAMES.index("total_depth")] = depth
  x[:, VAF] = vaf
  x[:, NAMES.index("alt_indices_variant_allele_frequency")] = vaf
  for name in ("ref_mapping_quality", "alt_mapping_quality"):
    x[:, NAMES.index(name)] = rng.integers(40, 61, n)
  for name in ("ref_base_quality", "alt_base_quality"):
    x[:, NAMES.index(name)] = rng.integers(20, 41, n)
  for name in ("ref_reverse_strand_ratio", "alt_reverse_strand_ratio"):
    x[:, NAMES.index(name)] = rng.integers(30, 71, n)
  snp = rng.random(n) < 0.8
  x[:, NAMES.index("is_snp")] = snp
  x[:, NAMES.index("is_deletion")] = ~snp
  x[:, NAMES.index("deletion_length")] = np.where(snp, 0, rng.integers(1, 5, n))
  context = [NAMES.index(contract.context_feature_name(o)) for o in contract.context_offsets(51)]
  x[:, context] = rng.integers(0, 8, (n, len(context)))
  flip = rng.random(n) < FLIP
  labels = np.where(flip, (labels + rng.integers(1, 3, n)) % 3, labels)
  return x, labels.astype(np.int64)


def write_split(directory: str, name: str, n: int, seed: int, shards: int = 2) -> str:
  """Shards + dataset_config.pbtxt of one split in ``directory``/``name``; returns the config."""
  folder = os.path.join(directory, name)
  os.makedirs(folder, exist_ok=True)
  x, labels = synthetic_vectors(n, seed)
  records = [contract.encode_example(row, ("chr1", 1000 + i, 1001 + i, "A", "G"), int(label),
                                     contract.GENOTYPE_BY_CLASS[int(label)])
             for i, (row, label) in enumerate(zip(x, labels))]
  spec = f"{name}.tfrecord@{shards}.gz"
  for k in range(shards):
    tfrecord.write_records(os.path.join(folder, sharding.sharded_filename(spec, k)),
                           records[k::shards])
  config = os.path.join(folder, "dataset_config.pbtxt")
  counts = {c: int((labels == c).sum()) for c in range(3)}
  dataset_config.write_dataset_config(config, name, n, counts, spec, name, tfrecord_path=spec)
  return config


def _args(exp, train, tune, *extra):
  return ["--config=small_model", f"--experiment_dir={exp}",
          f"--config.train_dataset_pbtxt={train}", f"--config.tune_dataset_pbtxt={tune}",
          "--config.hidden_layer_sizes=64,64", "--config.batch_size=64",
          "--config.learning_rate=0.003", *extra]


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
  d = str(tmp_path_factory.mktemp("small_model_sets"))
  return {"dir": d, "train": write_split(d, "train", 3000, seed=1),
          "tune": write_split(d, "tune", 800, seed=2),
          "held_out": synthetic_vectors(2000, seed=3)}


@pytest.fixture(scope="module")
def trained(sets, tmp_path_factory):
  """One run through the CLI's main(), shared by the tests that read its outputs."""
  exp = str(tmp_path_factory.mktemp("small_model_exp") / "exp")
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    code = train_lib.main(_args(exp, sets["train"], sets["tune"], "--config.num_epochs=6"))
  return {"exp": exp, "code": code, "out": out.getvalue()}


def _rebuild_keras(exp):
  """The best checkpoint as a Keras model plus its input scaling (what the export came from)."""
  import tensorflow as tf
  init = loop_lib.read_init(os.path.join(exp, "checkpoints"))
  model = loop_lib.build_model(len(NAMES), init.hidden, seed=0)
  for layer, k, b in zip(loop_lib.dense_layers(model), init.kernels, init.biases):
    layer.kernel.assign(k)
    layer.bias.assign(b)
  return model, init, tf


def test_cli_trains_exports_and_prints_where(trained):
  """Exit 0; the last lines name the export (what make_examples takes) and the report."""
  exp, out = trained["exp"], trained["out"]
  assert trained["code"] == 0
  export = os.path.join(exp, "small_model")
  assert f"train: small model: {export} (make_examples --trained_small_model_path={export})" in out
  assert f"train: report: {os.path.join(exp, 'report.html')}" in out
  assert "train: done at step" in out
  assert sorted(os.listdir(export)) == ["small_model.json", "weights.npz"]


def test_export_is_accurate_on_held_out_data(trained, sets):
  """The export alone (numpy, as make_examples applies it) calls held-out genotypes right."""
  model = contract.load(os.path.join(trained["exp"], "small_model"))
  x, labels = sets["held_out"]
  accuracy = float((model.predict_proba(x).argmax(axis=1) == labels).mean())
  assert accuracy > 0.9, accuracy
  assert model.feature_names == NAMES and model.vaf_context_window_size == 51
  assert [k.shape[1] for k in model.kernels] == [64, 64, 3]
  np.testing.assert_allclose(model.input_scale, np.maximum(
      data_lib.load_dataset(sets["train"], 51).features.std(axis=0), 1.0), rtol=1e-5)


def test_export_reproduces_the_keras_model_with_the_fitted_temperature(trained, sets):
  """predict_proba of the loaded export == softmax(Keras logits / T) to 1e-5, and T is the one
  calibration.fit_temperature gives on the best checkpoint's tune probabilities."""
  exp = trained["exp"]
  exported = contract.load(os.path.join(exp, "small_model"))
  model, init, _ = _rebuild_keras(exp)
  tune = data_lib.load_dataset(sets["tune"], 51)
  logits = loop_lib.predict_logits(model, data_lib.scale_features(
      tune.features, init.input_mean, init.input_scale))
  fitted = calibration.fit_temperature(loop_lib.softmax(logits), tune.labels)
  assert exported.temperature == pytest.approx(fitted, rel=1e-9)
  assert exported.temperature != 1.0
  with open(os.path.join(exp, "calibration.json")) as f:
    assert json.load(f)["temperature"] == pytest.approx(fitted, abs=1e-5)
  x_held, _ = sets["held_out"]
  held_logits = loop_lib.predict_logits(model, data_lib.scale_features(
      x_held, init.input_mean, init.input_scale))
  np.testing.assert_allclose(exported.predict_proba(x_held),
                             loop_lib.softmax(held_logits, fitted), atol=1e-5)


def test_report_has_the_reliability_table_and_plot(trained):
  exp = trained["exp"]
  with open(os.path.join(exp, "reliability.png"), "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  with open(os.path.join(exp, "calibration.json")) as f:
    calib = json.load(f)
  with open(os.path.join(exp, "report.html")) as f:
    page = f.read()
  assert 'data-plot="reliability"' in page
  assert calibration.format_reliability(calib["reliability_after"]) in page
  assert calibration.format_reliability(calib["reliability_before"]) in page
  assert "claimed GQ" in page and "observed GQ" in page
  with open(os.path.join(exp, "report.json")) as f:
    record = json.load(f)
  assert record["kind"] == "small_model"
  snp = record["cascade"][0]
  assert snp["kind"] == "SNP" and 0 < snp["accepted"] <= snp["candidates"]
  sweep = [r for r in record["cascade_sweep"] if r["kind"] == "SNP"]
  assert [r["gq_threshold"] for r in sweep] == [15, 20, 25, 30, 35, 40, 50]
  assert [r for r in sweep if r["gq_threshold"] == 25][0]["accepted"] == snp["accepted"]
  assert "Other GQ thresholds (tune set)" in page


def test_cascade_sweep_counts_calls_and_errors_per_threshold():
  from trainer import small_model_report
  probs = np.array([[0.999, 0.001, 0.0], [0.5, 0.5, 0.0], [0.0, 0.9999, 0.0001],
                    [0.00001, 0.99999, 0.0]])
  labels = np.array([1, 1, 1, 0])      # rows 0 and 3 are wrong
  types = np.array([1, 1, 2, 2])       # two SNPs, two indels
  rows = small_model_report.cascade_sweep(probs, labels, types, thresholds=(20, 45))
  by = {(r["kind"], r["gq_threshold"]): (r["accepted"], r["errors"]) for r in rows}
  # GQs: 30, 3, 40, 50
  assert by[("SNP", 20)] == (1, 1) and by[("SNP", 45)] == (0, 0)
  assert by[("indel and other", 20)] == (2, 1) and by[("indel and other", 45)] == (1, 1)


def test_best_checkpoint_is_the_best_tune(trained):
  """best_checkpoint.json names the tune with the highest tune/f1_weighted of the log."""
  exp = trained["exp"]
  with open(os.path.join(exp, "best_checkpoint.json")) as f:
    best = json.load(f)
  assert best["metric"] == "tune/f1_weighted"
  tunes = [line for line in trained["out"].splitlines() if line.startswith("train: tune at")]
  assert len(tunes) == 6  # one per epoch
  values = [float(line.split("tune/f1_weighted ")[1].split()[0]) for line in tunes]
  assert best["value"] == pytest.approx(max(values), abs=1e-5)


def _train_quietly(args):
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    assert train_lib.main(args) == 0
  return out.getvalue()


@pytest.mark.parametrize("init", [
    "small_model",             # the export folder make_examples loads
    "checkpoints",             # the trainer's own best checkpoint (folder with its pointer)
])
def test_warm_start_starts_from_the_init(trained, sets, tmp_path, init):
  """The step-0 baseline tune scores exactly the starting model (its raw, uncalibrated
  probabilities) and is far better than one epoch from scratch."""
  exp = trained["exp"]
  start = os.path.join(exp, init)
  out = _train_quietly(_args(str(tmp_path / "ft"), sets["train"], sets["tune"],
                             "--config.num_epochs=1", "--config.learning_rate=1e-5",
                             f"--config.init_checkpoint={start}"))
  assert "(warm-start baseline)" in out
  baseline = [line for line in out.splitlines() if "tune at step 0 (warm-start baseline)" in line]
  loss = float(baseline[0].split(" loss ")[1].split()[0])
  exported = contract.load(os.path.join(exp, "small_model"))
  tune = data_lib.load_dataset(sets["tune"], 51)
  raw = contract.SmallModel(exported.feature_names, 51, exported.kernels, exported.biases,
                            exported.input_mean, exported.input_scale, temperature=1.0)
  expected = metrics_lib.cross_entropy(tune.labels, raw.predict_proba(tune.features))
  assert loss == pytest.approx(expected, abs=1e-4)
  scratch = _train_quietly(_args(str(tmp_path / "scratch"), sets["train"], sets["tune"],
                                 "--config.num_epochs=1", "--config.learning_rate=1e-5"))
  first = [line for line in scratch.splitlines() if line.startswith("train: tune at")][0]
  assert loss < float(first.split(" loss ")[1].split()[0]) - 0.3


def test_same_seed_same_weights(sets, tmp_path):
  """Determinism: two runs with one seed give identical exported weights; another seed not."""
  def weights(name, seed):
    _train_quietly(_args(str(tmp_path / name), sets["train"], sets["tune"],
                         "--config.num_epochs=2", f"--config.seed={seed}",
                         "--config.hidden_layer_sizes=16,16", "--config.calibrate_temperature=false"))
    return _weights(str(tmp_path / name))
  a, b, c = weights("a", 7), weights("b", 7), weights("c", 8)
  assert sorted(a) == sorted(b)
  for key in a:
    assert np.array_equal(a[key], b[key]), key
  assert not np.array_equal(a["kernel_0"], c["kernel_0"])


def _weights(exp):
  with np.load(os.path.join(exp, "small_model", "weights.npz")) as npz:
    return {k: npz[k] for k in npz.files}


def test_rerun_resumes_at_the_epoch_end_and_matches_a_straight_run(sets, tmp_path):
  """Re-running in the same directory resumes from state/ (epoch-end saves; the epoch's row
  order depends on (seed, epoch) only), so 2 + 2 epochs give the weights of 4 straight ones.
  Balanced class weights on: their path runs and is logged."""
  common = ("--config.hidden_layer_sizes=16,16", "--config.class_weights=balanced",
            "--config.calibrate_temperature=false")
  split = str(tmp_path / "split")
  _train_quietly(_args(split, sets["train"], sets["tune"], "--config.num_epochs=2", *common))
  out = _train_quietly(_args(split, sets["train"], sets["tune"], "--config.num_epochs=4",
                             *common))
  assert "train: resuming from step 92" in out and "train: class weights: 0=" in out
  assert len([l for l in out.splitlines() if l.startswith("train: tune at")]) == 2
  straight = str(tmp_path / "straight")
  _train_quietly(_args(straight, sets["train"], sets["tune"], "--config.num_epochs=4", *common))
  a, b = _weights(split), _weights(straight)
  for key in a:
    assert np.array_equal(a[key], b[key]), key


def test_report_rerenders_from_its_files(trained):
  """python -m trainer.report knows a small-model experiment and redraws its page."""
  from trainer import report as report_lib
  page = os.path.join(trained["exp"], "report.html")
  os.remove(page)
  with contextlib.redirect_stdout(io.StringIO()):
    assert report_lib.main(["--experiment_dir", trained["exp"]]) == 0
  with open(page) as f:
    assert 'data-plot="reliability"' in f.read()


def _one_line_exit_2(capsys, args):
  with pytest.raises(SystemExit) as e:
    train_lib.main(args)
  err = capsys.readouterr().err
  assert e.value.code == 2, err
  assert err.count("\n") == 1 and err.startswith("train: error: "), err
  return err


def test_pileup_dataset_is_refused_by_the_small_model(sets, tmp_path, capsys):
  cnn = cnn_data.write_dataset(str(tmp_path / "cnn"), "train", 8)
  err = _one_line_exit_2(capsys, _args(str(tmp_path / "exp"), cnn, sets["tune"]))
  assert cnn in err and "pileup examples" in err
  assert not os.path.exists(tmp_path / "exp")  # nothing left behind


def test_small_model_dataset_is_refused_by_the_cnn(sets, tmp_path, capsys):
  err = _one_line_exit_2(capsys, [
      "--config=tiny", f"--experiment_dir={tmp_path / 'exp'}",
      f"--config.train_dataset_pbtxt={sets['train']}",
      f"--config.tune_dataset_pbtxt={sets['tune']}"])
  assert "small-model examples" in err and "--config=small_model" in err
  assert os.path.join(sets["dir"], "train") in err


def test_cnn_checkpoint_is_refused_as_init(sets, tmp_path, capsys):
  import tensorflow as tf
  from trainer import models
  bundle = models.build_model("tiny", (20, 21, 6), seed=1)
  prefix = tf.train.Checkpoint(model=bundle.model).save(str(tmp_path / "cnn" / "ckpt"))
  err = _one_line_exit_2(capsys, _args(str(tmp_path / "exp"), sets["train"], sets["tune"],
                                       f"--config.init_checkpoint={prefix}"))
  assert "a pileup (CNN) checkpoint" in err and prefix in err


def test_cnn_experiment_dir_is_refused_and_kept(sets, tmp_path, capsys):
  from schemas import output_paths
  exp = tmp_path / "cnn_exp"
  output_paths.claim_dir(str(exp), "trainer.train")
  (exp / "config.json").write_text(json.dumps({"model_type": "small"}))
  err = _one_line_exit_2(capsys, _args(str(exp), sets["train"], sets["tune"]))
  assert "holds a pileup model's training run" in err
  assert json.loads((exp / "config.json").read_text()) == {"model_type": "small"}


@pytest.mark.parametrize("override,message", [
    ("--config.hidden_layer_sizes=64,x", "expected comma-separated positive integers"),
    ("--config.use_ema=true", "a key of the pileup CNN presets"),  # CNN-only key: not ignored
    ("--config.vaf_context_window_size=11", "70 features but"),    # data made with window 51
])
def test_bad_small_model_settings_are_one_line(sets, tmp_path, capsys, override, message):
  err = _one_line_exit_2(capsys, _args(str(tmp_path / "exp"), sets["train"], sets["tune"],
                                       override))
  assert message in err


def test_preset_and_test_shrink():
  cfg = configs.get_config("small_model")
  assert configs.parse_hidden_layer_sizes(cfg.hidden_layer_sizes) == (750, 750)
  assert configs.is_small_model(cfg) and cfg.optimizer == "adam"
  shrunk = configs.get_config("small_model+test")
  assert shrunk.hidden_layer_sizes == "32,32" and "steps_per_iter" not in shrunk
  with pytest.raises(ValueError, match="its own preset"):
    cfg = configs.get_config("base")
    cfg.model_type = "small_model"
    configs.validate(cfg)
