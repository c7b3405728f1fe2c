"""Training DeepVariant's small model: ``python -m trainer.train --config=small_model``.

The small model is the first stage of DeepVariant's (1.8+) cascade: make_examples runs a
fully connected network over one integer feature vector per candidate
(``schemas.small_model``) and calls the candidates it is sure of (GQ over a threshold) without
drawing a pileup. This module trains that network and hands make_examples the folder it loads
with ``schemas.small_model.load`` (``--trained_small_model_path``)::

  python -m trainer.train --config=small_model \\
      --config.train_dataset_pbtxt=pileflow-out/dataset/small_model/train/dataset_config.pbtxt \\
      --config.tune_dataset_pbtxt=pileflow-out/dataset/small_model/tune/dataset_config.pbtxt \\
      --experiment_dir=pileflow-out/small_model_train
  # then: make_examples --mode calling --call_small_model_examples \\
  #         --trained_small_model_path=pileflow-out/small_model_train/small_model ...

What happens, in order (the CNN loop's conventions, trainer/loop.py, where they fit):

1. Both splits are read into memory and checked (trainer/small_model_data.py): a pileup
   dataset, calling-mode examples or vectors of the wrong length are refused, one line each.
2. Inputs are scaled by the training split's mean and std (std floored at 1); with
   ``init_checkpoint`` the starting model's own scaling is kept instead (its weights were
   trained for it) and its weights are loaded: a small-model export folder
   (``small_model.json``) or a checkpoint of an earlier small-model run; a pileup (CNN)
   checkpoint or export is refused. A warm start is tuned at step 0 first: the baseline the
   fine-tune must beat (trainer/selection.py).
3. Adam over a row permutation per epoch that depends on (seed, epoch) only; weights are
   initialised from the seed. No dropout, no other randomness: the same data and seed give the
   same weights on the same CPU build (tested).
4. After every epoch the whole tune split (or its first ``num_validation_examples``) is scored
   with trainer/metrics.py; the selector keeps the checkpoint with the best
   ``best_checkpoint_metric`` in ``checkpoints/`` (and ``best_checkpoint.json``) and stops after
   ``early_stopping_patience`` tunes without gain. Training state goes to ``state/`` after every
   tune, so re-running the same command resumes at the last epoch end.
5. The best checkpoint is restored; a temperature is fitted on the tune split
   (trainer/calibration.py) and stored in the export, which is checked once more by loading it
   back and comparing its numpy probabilities with the Keras model's.
6. ``report.html`` (curves, confusion matrices, the reliability table and plot before and
   after calibration, what the cascade's GQ thresholds would accept) is written beside it.

Experiment directory::

    config.json  log.txt  best_checkpoint.json  calibration.json  events.out.tfevents.*
    report.html  report.json  reliability.png
    state/  checkpoints/  small_model/{small_model.json, weights.npz}

The Keras model outputs logits (softmax and temperature are applied outside it), which is
exactly ``schemas.small_model.SmallModel``'s layout: kernels and biases copy over unchanged.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import ml_collections
import numpy as np
import tensorflow as tf
import tf_keras

from schemas import _files
from schemas import errors
from schemas import small_model as contract
from trainer import calibration
from trainer import checkpoints as ckpt_lib
from trainer import configs
from trainer import metrics as metrics_lib
from trainer import optim
from trainer import selection
from trainer import small_model_data as data_lib
from trainer import summaries

BEST_CHECKPOINT_JSON = "best_checkpoint.json"
CALIBRATION_JSON = "calibration.json"
CONFIG_JSON = "config.json"
STATE_DIR = "state"
CHECKPOINTS_DIR = "checkpoints"
EXPORT_DIR = "small_model"
# Variables beside the model in our checkpoints; their presence marks a small-model checkpoint.
INPUT_MEAN_KEY = ckpt_lib.SMALL_MODEL_MARKER_KEY
INPUT_SCALE_KEY = "input_scale/.ATTRIBUTES/VARIABLE_VALUE"
WINDOW_KEY = "vaf_context_window_size/.ATTRIBUTES/VARIABLE_VALUE"
HIDDEN_NAME = "hidden_{}"
LOGITS_NAME = "logits"
# The export must give the Keras model's probabilities; float32 matmuls in two libraries
# differ by ~1e-7, anything past this is a bug.
EXPORT_TOLERANCE = 1e-5
_PREDICT_BATCH = 8192


@dataclasses.dataclass
class SmallModelRunResult:
  final_step: int
  num_train_steps: int
  stopped_early: bool
  best_step: int
  best_value: Optional[float]
  best_is_baseline: bool
  resumed_from: Optional[int]
  tunes: List[Dict[str, float]]
  export_dir: Optional[str]
  temperature: float
  report_path: Optional[str]


# ---- the network ----------------------------------------------------------------------------------
def build_model(num_features: int, hidden: Sequence[int], seed: int) -> tf_keras.Model:
  """Dense(ReLU) x len(hidden) -> Dense(3) logits; every initializer seeded from ``seed``."""
  inputs = tf_keras.Input((num_features,), name="features")
  x = inputs
  for i, units in enumerate(hidden):
    x = tf_keras.layers.Dense(
        int(units), activation="relu", name=HIDDEN_NAME.format(i),
        kernel_initializer=tf_keras.initializers.GlorotUniform(seed=seed + i))(x)
  logits = tf_keras.layers.Dense(
      3, name=LOGITS_NAME,
      kernel_initializer=tf_keras.initializers.GlorotUniform(seed=seed + len(hidden)))(x)
  return tf_keras.Model(inputs, logits, name="small_model")


def dense_layers(model: tf_keras.Model) -> List[tf_keras.layers.Dense]:
  return [layer for layer in model.layers if isinstance(layer, tf_keras.layers.Dense)]


def num_weights(model: tf_keras.Model) -> int:
  return int(sum(np.prod(v.shape) for v in model.trainable_variables))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
  z = np.asarray(logits, np.float64) / float(temperature)
  z -= z.max(axis=1, keepdims=True)
  e = np.exp(z)
  return e / e.sum(axis=1, keepdims=True)


def predict_logits(model: tf_keras.Model, x: np.ndarray) -> np.ndarray:
  out = [model(x[i:i + _PREDICT_BATCH], training=False).numpy()
         for i in range(0, len(x), _PREDICT_BATCH)]
  return np.concatenate(out) if out else np.zeros((0, 3), np.float32)


# ---- warm start -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class InitModel:
  """The weights and input scaling a warm start copies, from an export or a checkpoint."""
  source: str
  kernels: Tuple[np.ndarray, ...]
  biases: Tuple[np.ndarray, ...]
  input_mean: np.ndarray
  input_scale: np.ndarray
  vaf_context_window_size: int

  @property
  def hidden(self) -> Tuple[int, ...]:
    return tuple(int(k.shape[1]) for k in self.kernels[:-1])


def _init_error(path: str, why: str) -> ckpt_lib.CheckpointError:
  return ckpt_lib.CheckpointError(f"--config.init_checkpoint={path}: {why}")


_NOT_SMALL = ("--config=small_model warm-starts from a small-model export folder (small_model.json) "
              "or a checkpoint of a --config=small_model run (its checkpoints/ckpt-N)")


def read_init(path: str) -> InitModel:
  """Reads a warm start: an export folder (``schemas.small_model.save``), or a checkpoint prefix
  or ``checkpoints/`` folder of a small-model run.

  Raises:
    CheckpointError: missing, unreadable, or a pileup (CNN) checkpoint or export.
  """
  if os.path.isdir(path):
    if os.path.isfile(os.path.join(path, contract.MODEL_JSON)):
      try:
        m = contract.load(path)
      except contract.SmallModelError as e:
        raise _init_error(path, str(e).split(": ", 1)[-1]) from None
      return InitModel(source=f"small-model export {path}", kernels=tuple(m.kernels),
                       biases=tuple(m.biases), input_mean=m.input_mean,
                       input_scale=m.input_scale,
                       vaf_context_window_size=m.vaf_context_window_size)
    if any(os.path.exists(os.path.join(path, d)) for d in ("saved_model", "deepvariant")):
      raise _init_error(path, f"a pileup (CNN) export folder, not a small model; {_NOT_SMALL}")
    if not os.path.exists(os.path.join(path, "checkpoint")):
      raise _init_error(path, f"neither a small-model export folder (no {contract.MODEL_JSON}) "
                              "nor a checkpoint folder (no 'checkpoint' file)")
  prefix = ckpt_lib.resolve_checkpoint(path)
  try:
    shapes = dict(tf.train.list_variables(prefix))
  except (tf.errors.OpError, ValueError) as e:
    raise _init_error(path, f"unreadable checkpoint {prefix} ({ckpt_lib._first_line(e)})") from None
  if INPUT_MEAN_KEY not in shapes:
    kernels = [s for name, s in shapes.items() if name.endswith("/kernel/.ATTRIBUTES/VARIABLE_VALUE")]
    kind = ("a pileup (CNN) checkpoint" if any(len(s) == 4 for s in kernels) else
            "not a small-model checkpoint (no input scaling in it)")
    raise _init_error(path, f"{prefix} is {kind}; {_NOT_SMALL}")
  reader = tf.train.load_checkpoint(prefix)
  kernels, biases = [], []
  while f"model/layer_with_weights-{len(kernels)}/kernel/.ATTRIBUTES/VARIABLE_VALUE" in shapes:
    i = len(kernels)
    kernels.append(reader.get_tensor(f"model/layer_with_weights-{i}/kernel/.ATTRIBUTES/"
                                     "VARIABLE_VALUE").astype(np.float32))
    biases.append(reader.get_tensor(f"model/layer_with_weights-{i}/bias/.ATTRIBUTES/"
                                    "VARIABLE_VALUE").astype(np.float32))
  if not kernels or kernels[-1].shape[1] != 3:
    raise _init_error(path, f"{prefix} holds no small-model layers")
  return InitModel(source=f"checkpoint {prefix}", kernels=tuple(kernels), biases=tuple(biases),
                   input_mean=reader.get_tensor(INPUT_MEAN_KEY).astype(np.float32),
                   input_scale=reader.get_tensor(INPUT_SCALE_KEY).astype(np.float32),
                   vaf_context_window_size=int(reader.get_tensor(WINDOW_KEY)))


def check_init(init: InitModel, cfg: ml_collections.ConfigDict, num_features: int) -> None:
  """The starting model must fit the configured one exactly; one line saying what to set."""
  path = cfg.init_checkpoint
  if init.vaf_context_window_size != cfg.vaf_context_window_size:
    raise _init_error(path, f"trained for --small_model_vaf_context_window_size "
                            f"{init.vaf_context_window_size}, but --config.vaf_context_window_size="
                            f"{cfg.vaf_context_window_size}")
  if init.kernels[0].shape[0] != num_features:
    raise _init_error(path, f"takes {init.kernels[0].shape[0]} features, the examples have "
                            f"{num_features}")
  hidden = configs.parse_hidden_layer_sizes(cfg.hidden_layer_sizes)
  if init.hidden != hidden:
    sizes = ",".join(map(str, init.hidden))
    raise _init_error(path, f"has hidden layers {sizes} but --config.hidden_layer_sizes="
                            f"{cfg.hidden_layer_sizes}; set --config.hidden_layer_sizes={sizes} "
                            f"to fine-tune it")


# ---- the run --------------------------------------------------------------------------------------
class SmallModelExperiment(selection.SelectionVariables):
  """One small-model training run in ``experiment_dir``; ``run()`` does it all (module doc)."""

  def __init__(self, cfg: ml_collections.ConfigDict, experiment_dir: str,
               log: Optional[Callable[[str], None]] = None):
    configs.validate(cfg)
    self.cfg = cfg
    self.dir = experiment_dir
    self._print = log or (lambda line: print(line, flush=True))
    self.tunes: List[Dict[str, float]] = []
    self.hidden = configs.parse_hidden_layer_sizes(cfg.hidden_layer_sizes)
    tf.io.gfile.makedirs(experiment_dir)

  def log(self, line: str) -> None:
    self._print(f"train: {line}")
    with tf.io.gfile.GFile(os.path.join(self.dir, "log.txt"), "a") as f:
      f.write(line + "\n")

  # ---- setup -------------------------------------------------------------------------------------
  def _check_previous_run(self) -> None:
    """A directory holding a CNN run is refused before anything in it is rewritten."""
    path = os.path.join(self.dir, CONFIG_JSON)
    if not tf.io.gfile.exists(path):
      return
    try:
      with tf.io.gfile.GFile(path, "r") as f:
        previous = json.load(f)
    except (OSError, ValueError):
      return
    kind = previous.get("model_type") if isinstance(previous, dict) else None
    if kind and kind != configs.SMALL_MODEL:
      raise data_lib.InputError(
          f"--experiment_dir {self.dir}: holds a pileup model's training run (config.json "
          f"model_type {kind}); train the small model in a new --experiment_dir")

  def _read_inputs(self) -> None:
    cfg = self.cfg
    window = cfg.vaf_context_window_size
    self.feature_names = contract.feature_names(window)
    self.train = data_lib.load_dataset(cfg.train_dataset_pbtxt, window)
    self.tune_data = data_lib.load_dataset(cfg.tune_dataset_pbtxt, window,
                                           max_examples=cfg.num_validation_examples)
    for d in (self.train, self.tune_data):
      note = data_lib.count_note(d)
      if note and not (d is self.tune_data and cfg.num_validation_examples):
        self.log(note)
    self.steps_per_epoch = self.train.num_examples // cfg.batch_size
    if self.steps_per_epoch == 0:
      raise data_lib.InputError(
          f"{cfg.train_dataset_pbtxt}: {self.train.num_examples} examples is less than one "
          f"batch (--config.batch_size={cfg.batch_size})")
    if self.steps_per_epoch < 10:
      self.log(f"note: {self.train.num_examples} training examples make only "
               f"{self.steps_per_epoch} step(s) per epoch at --config.batch_size="
               f"{cfg.batch_size}; a smaller batch (e.g. 32) trains such a set better")
    self.num_train_steps = self.steps_per_epoch * cfg.num_epochs
    if cfg.max_train_steps:
      self.num_train_steps = min(self.num_train_steps, cfg.max_train_steps)
    self.class_weight_values = configs.resolve_class_weights(cfg.class_weights,
                                                             self.train.class_counts)
    if self.class_weight_values is not None:
      self.log("class weights: " + ", ".join(f"{c}={w:.3f}"
                                             for c, w in enumerate(self.class_weight_values)))
    self.init = None
    if cfg.init_checkpoint:
      self.init = read_init(cfg.init_checkpoint)
      check_init(self.init, cfg, len(self.feature_names))

  def _build(self) -> None:
    cfg = self.cfg
    n = len(self.feature_names)
    self.model = build_model(n, self.hidden, cfg.seed)
    self.schedule = optim.make_schedule(cfg, self.steps_per_epoch)
    self.optimizer = tf_keras.optimizers.Adam(
        learning_rate=self.schedule, beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon,
        weight_decay=float(cfg.optimizer_weight_decay) or None)
    self.optimizer.build(self.model.trainable_variables)
    mean, scale = data_lib.input_scaling(self.train.features)
    self.input_mean = tf.Variable(mean, trainable=False, name="input_mean")
    self.input_scale = tf.Variable(scale, trainable=False, name="input_scale")
    self.window = tf.Variable(cfg.vaf_context_window_size, dtype=tf.int64, trainable=False)
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    self.sel_best_value = tf.Variable(np.nan, dtype=tf.float64, trainable=False)
    self.sel_best_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
    self.sel_counter = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.sel_baseline = tf.Variable(-1, dtype=tf.int64, trainable=False)
    self.stopped = tf.Variable(0, dtype=tf.int64, trainable=False)
    scaling = dict(input_mean=self.input_mean, input_scale=self.input_scale,
                   vaf_context_window_size=self.window)
    self.state = tf.train.Checkpoint(
        model=self.model, optimizer=self.optimizer, global_step=self.step,
        best_value=self.sel_best_value, best_step=self.sel_best_step,
        early_stopping=self.sel_counter, baseline_step=self.sel_baseline, stopped=self.stopped,
        **scaling)
    for sub, what in ((STATE_DIR, "training state"), (CHECKPOINTS_DIR, "best checkpoint")):
      ckpt_lib.check_pointer(os.path.join(self.dir, sub), what)
    self.state_manager = tf.train.CheckpointManager(
        self.state, os.path.join(self.dir, STATE_DIR), max_to_keep=2)
    self.best_ckpt = tf.train.Checkpoint(model=self.model, **scaling)
    self.best_manager = tf.train.CheckpointManager(
        self.best_ckpt, os.path.join(self.dir, CHECKPOINTS_DIR), max_to_keep=cfg.keep_top_k,
        checkpoint_name="ckpt")
    self.writer = tf.summary.create_file_writer(self.dir)

  def _warm_start(self) -> None:
    init = self.init
    for layer, k, b in zip(dense_layers(self.model), init.kernels, init.biases):
      layer.kernel.assign(k)
      layer.bias.assign(b)
    self.input_mean.assign(init.input_mean)
    self.input_scale.assign(init.input_scale)
    self.log(f"warm start from {init.source} (its input scaling kept; hidden layers "
             f"{','.join(map(str, init.hidden))})")

  def _scaled(self, features: np.ndarray) -> np.ndarray:
    return data_lib.scale_features(features, self.input_mean.numpy(), self.input_scale.numpy())

  def _make_train_step(self):
    model, optimizer, cfg = self.model, self.optimizer, self.cfg
    batch, width = cfg.batch_size, len(self.feature_names)
    smoothing = float(cfg.label_smoothing)

    @tf.function(input_signature=[tf.TensorSpec([batch, width], tf.float32),
                                  tf.TensorSpec([batch], tf.int64),
                                  tf.TensorSpec([batch], tf.float32)])
    def train_step(x, y, w):
      with tf.GradientTape() as tape:
        logits = model(x, training=True)
        target = tf.one_hot(y, 3) * (1.0 - smoothing) + smoothing / 3.0
        per_example = tf.nn.softmax_cross_entropy_with_logits(target, logits)
        loss = tf.reduce_sum(per_example * w) / float(batch)
      grads = tape.gradient(loss, model.trainable_variables)
      optimizer.apply_gradients(zip(grads, model.trainable_variables))
      correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.float32))
      return loss, correct
    return train_step

  # ---- tune and selection ------------------------------------------------------------------------
  def tune_logits(self) -> np.ndarray:
    return predict_logits(self.model, self._scaled(self.tune_data.features))

  def tune(self, step: int) -> Dict[str, float]:
    probs = softmax(self.tune_logits())
    values = metrics_lib.compute_metrics(
        self.tune_data.labels, probs, self.tune_data.variant_types,
        label_smoothing=self.cfg.label_smoothing, class_weights=self.class_weight_values)
    out = {f"tune/{k}": v for k, v in values.items()}
    out["epoch"] = step / self.steps_per_epoch
    with self.writer.as_default():
      for key, value in out.items():
        summaries.scalar(key, value, step)
    return out

  def _save_best(self, step: int, metrics: Dict[str, float], baseline: bool) -> None:
    path = self.best_manager.save(checkpoint_number=step)
    record = {"step": int(step), "metric": self.cfg.best_checkpoint_metric,
              "value": metrics[self.cfg.best_checkpoint_metric], "checkpoint": path,
              "baseline": bool(baseline),
              "metrics": {k: (float(v) if math.isfinite(v) else None)
                          for k, v in sorted(metrics.items())}}
    _files_write_json(os.path.join(self.dir, BEST_CHECKPOINT_JSON), record)

  def _after_tune(self, step: int, selector, metrics, baseline: bool = False):
    try:
      decision = selector.update(step, metrics, baseline=baseline)
    except KeyError as e:
      raise data_lib.InputError(f"--config.best_checkpoint_metric: {e.args[0]}") from None
    self.tunes.append({"step": step, **metrics})
    if decision.improved:
      self._save_best(step, metrics, baseline)
    m = self.cfg.best_checkpoint_metric
    self.log(f"tune at step {step}{' (warm-start baseline)' if baseline else ''} (epoch "
             f"{metrics['epoch']:.0f}): {m} {decision.value:.5f} loss {metrics['tune/loss']:.4f} "
             f"accuracy {metrics['tune/categorical_accuracy']:.4f} "
             f"{'new best' if decision.improved else 'no improvement'} "
             f"(best {selector.state.best_value:.5f} at step {selector.state.best_step})")
    self._store_selector(selector)
    return decision

  # ---- main --------------------------------------------------------------------------------------
  def run(self) -> SmallModelRunResult:
    cfg = self.cfg
    self._check_previous_run()
    self._read_inputs()
    self._build()
    _files_write_json(os.path.join(self.dir, CONFIG_JSON), json.loads(cfg.to_json()))
    self.log("config:\n" + cfg.to_json(indent=2, sort_keys=True))
    self.log(f"small model: {len(self.feature_names)} features -> hidden "
             f"{','.join(map(str, self.hidden))} -> 3 ({num_weights(self.model):,} weights); "
             f"train {self.train.num_examples} examples ({data_lib.describe_counts(self.train)}) "
             f"in {len(self.train.files)} file(s), tune {self.tune_data.num_examples} "
             f"({data_lib.describe_counts(self.tune_data)}); {self.steps_per_epoch} steps/epoch, "
             f"{self.num_train_steps} steps")

    resumed_from = None
    latest = self.state_manager.latest_checkpoint
    best = self.best_manager.latest_checkpoint
    if best:
      ckpt_lib.check_readable(best, "best checkpoint")
    if latest:
      ckpt_lib.check_readable(latest, "training state")
      try:
        self.state.restore(latest).assert_existing_objects_matched()
      except (tf.errors.OpError, AssertionError, ValueError) as e:
        raise ckpt_lib.CheckpointError(
            f"{latest}: cannot resume from this training state ({ckpt_lib._first_line(e)}); was "
            f"{self.dir} trained with another config? Train in a new --experiment_dir") from None
      resumed_from = int(self.step.numpy())
      selector = self._selector()
      self.log(f"resuming from step {resumed_from} ({latest})")
    else:
      selector = self._selector()
      if self.init is not None:
        self._warm_start()
        self._after_tune(0, selector, self.tune(0), baseline=True)
      self.state_manager.save(checkpoint_number=0)

    x_train = self._scaled(self.train.features)
    y_train = self.train.labels
    w_train = (np.ones(len(y_train), np.float32) if self.class_weight_values is None else
               np.asarray(self.class_weight_values, np.float32)[y_train])
    train_step = self._make_train_step()
    batch = cfg.batch_size
    step = int(self.step.numpy())
    stopped = bool(self.stopped.numpy())
    total = self.num_train_steps
    loss_sum = correct_sum = seen = 0.0
    t_last, step_last = time.time(), step
    while step < total and not stopped:
      epoch = step // self.steps_per_epoch
      order = data_lib.epoch_order(len(y_train), cfg.seed, epoch)
      epoch_end = min((epoch + 1) * self.steps_per_epoch, total)
      while step < epoch_end:
        b = step - epoch * self.steps_per_epoch
        idx = order[b * batch:(b + 1) * batch]
        loss, correct = train_step(x_train[idx], y_train[idx], w_train[idx])
        loss_sum += float(loss)
        correct_sum += float(correct)
        seen += 1
        step += 1
        if step % cfg.log_every_steps == 0 or step == epoch_end:
          now = time.time()
          lr = float(self.schedule(self.optimizer.iterations))
          loss_mean, acc = loss_sum / seen, correct_sum / (seen * batch)
          rate = (step - step_last) * batch / max(now - t_last, 1e-9)
          self.log(f"step {step}/{total} epoch {step / self.steps_per_epoch:.2f} loss "
                   f"{loss_mean:.4f} accuracy {acc:.4f} lr {lr:.3g} {rate:.0f} examples/s")
          with self.writer.as_default():
            for key, value in (("train/loss", loss_mean), ("train/categorical_accuracy", acc),
                               ("train/learning_rate", lr), ("epoch", step / self.steps_per_epoch)):
              summaries.scalar(key, value, step)
          loss_sum = correct_sum = seen = 0.0
          t_last, step_last = now, step
      self.step.assign(step)
      decision = self._after_tune(step, selector, self.tune(step))
      if decision.stop:
        stopped = True
        self.stopped.assign(1)
        self.log(f"early stopping at step {step}: {cfg.best_checkpoint_metric} did not improve "
                 f"in {cfg.early_stopping_patience + 1} tunes")
      self.state_manager.save(checkpoint_number=step)
    self.writer.flush()
    return self._finish(step, stopped, selector, resumed_from)

  # ---- the end: calibrate, export, report --------------------------------------------------------
  def _calibrate(self, logits: np.ndarray) -> Tuple[float, Dict[str, object]]:
    probs = softmax(logits)
    labels = self.tune_data.labels
    temperature = (calibration.fit_temperature(probs, labels)
                   if self.cfg.calibrate_temperature else 1.0)
    record = calibration.summary(probs, labels, temperature)
    record["fitted"] = bool(self.cfg.calibrate_temperature)
    if self.cfg.calibrate_temperature:
      self.log(f"calibration on {len(labels)} tune examples: temperature {temperature:.4f}, NLL "
               f"{record['nll_before']:.4f} -> {record['nll_after']:.4f}, ECE "
               f"{record['ece_before']:.4f} -> {record['ece_after']:.4f}")
    self.log("GQ claimed vs observed on the tune set: " +
             calibration.format_reliability(record["reliability_after"]))
    _files_write_json(os.path.join(self.dir, CALIBRATION_JSON), record)
    return temperature, record

  def exported_model(self, temperature: float, info: Dict) -> contract.SmallModel:
    layers = dense_layers(self.model)
    return contract.SmallModel(
        feature_names=self.feature_names,
        vaf_context_window_size=int(self.cfg.vaf_context_window_size),
        kernels=tuple(layer.kernel.numpy().astype(np.float32) for layer in layers),
        biases=tuple(layer.bias.numpy().astype(np.float32) for layer in layers),
        input_mean=self.input_mean.numpy().astype(np.float32),
        input_scale=self.input_scale.numpy().astype(np.float32),
        temperature=float(temperature), info=info)

  def _export(self, model: contract.SmallModel, keras_probs: np.ndarray) -> str:
    """Writes ``<experiment_dir>/small_model/`` so that it appears complete or not at all, and
    checks it by loading it back (a wrong export would mis-call every cascade candidate)."""
    final = os.path.join(self.dir, EXPORT_DIR)
    staging = tempfile.mkdtemp(prefix=".small_model.tmp-",
                               dir=None if "://" in self.dir else self.dir)
    os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the model from other readers
    try:
      contract.save(staging, model)
      loaded = contract.load(staging)
      diff = float(np.abs(loaded.predict_proba(self.tune_data.features) - keras_probs).max())
      if not diff <= EXPORT_TOLERANCE:
        raise errors.RunFailure(f"{staging}: the exported small model's probabilities differ "
                                f"from the Keras model's by {diff:.3g} (> {EXPORT_TOLERANCE})")
      if "://" in self.dir:  # no rename on object stores: weights first, json (marker) last
        tf.io.gfile.makedirs(final)
        for name in (contract.WEIGHTS_NPZ, contract.MODEL_JSON):
          tf.io.gfile.copy(os.path.join(staging, name), os.path.join(final, name),
                           overwrite=True)
      else:
        if os.path.exists(final):
          shutil.rmtree(final)
        os.rename(staging, final)
    finally:
      if os.path.exists(staging):
        shutil.rmtree(staging, ignore_errors=True)
    self.log(f"exported {final} (export vs Keras probabilities: max difference {diff:.2g})")
    return final

  def _finish(self, step, stopped, selector, resumed_from) -> SmallModelRunResult:
    state = selector.state
    best_path = self.best_manager.latest_checkpoint
    if best_path is None:
      raise errors.RunFailure(f"{self.dir}: no tune ran, so there is no best checkpoint to "
                              "export")
    try:
      self.best_ckpt.restore(best_path).assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
      raise ckpt_lib.CheckpointError(f"{best_path}: cannot restore the best checkpoint "
                                     f"({ckpt_lib._first_line(e)})") from None
    if state.best_is_baseline:
      self.log(f"fine-tuning never beat the warm-start baseline ({self.cfg.best_checkpoint_metric}"
               f" {state.best_value:.5f} at step {state.best_step}); keeping the baseline")
    logits = self.tune_logits()
    temperature, calib = self._calibrate(logits)
    info = {"trained_by": "python -m trainer.train --config=" + str(self.cfg.get("preset", "")),
            "train_dataset_pbtxt": self.cfg.train_dataset_pbtxt,
            "tune_dataset_pbtxt": self.cfg.tune_dataset_pbtxt,
            "train_examples": self.train.num_examples,
            "tune_examples": self.tune_data.num_examples,
            "init_checkpoint": self.cfg.init_checkpoint or None,
            "best_checkpoint": best_path, "best_step": int(state.best_step),
            "metric": self.cfg.best_checkpoint_metric, "metric_value": state.best_value,
            "class_weights": (None if self.class_weight_values is None
                              else list(self.class_weight_values)),
            "seed": int(self.cfg.seed),
            "calibration": {k: calib[k] for k in ("temperature", "nll_before", "nll_after",
                                                  "ece_before", "ece_after")}}
    keras_probs = softmax(logits, temperature)
    export_dir = self._export(self.exported_model(temperature, info), keras_probs)
    self.log(f"best {self.cfg.best_checkpoint_metric} {state.best_value:.5f} at step "
             f"{state.best_step}")
    result = SmallModelRunResult(
        final_step=step, num_train_steps=self.num_train_steps, stopped_early=stopped,
        best_step=state.best_step, best_value=state.best_value,
        best_is_baseline=state.best_is_baseline, resumed_from=resumed_from, tunes=self.tunes,
        export_dir=export_dir, temperature=float(temperature), report_path=None)
    from trainer import small_model_report as report_lib
    result.report_path = report_lib.write_report_for_experiment(self, result, keras_probs, calib)
    self.log(f"training report: {result.report_path}")
    return result


def _files_write_json(path: str, record) -> None:
  text = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
  if "://" in path:
    with tf.io.gfile.GFile(path, "wb") as f:
      f.write(text)
  else:
    _files.atomic_write_bytes(path, text)
