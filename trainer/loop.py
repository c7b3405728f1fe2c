"""The train/tune loop: steps, tunes, best-checkpoint selection, early stopping, resume, export.

Why this shape (DeepVariant's Keras trainer, spec 9B, with pileflow's resume guarantees):

* Train steps run ``steps_per_iter`` at a time inside one tf.function; a chunk never crosses a
  log, tune, checkpoint or epoch boundary, so those happen at exact steps.
* Tunes run at every ``tune_every_steps``, at every epoch end and at the last step, plus once at
  step 0 when warm-starting (the baseline the fine-tune must beat). With EMA on, the tune (and
  the saved best model) uses the moving-average weights.
* ``trainer.selection`` decides improvement and early stopping. Improving tunes save the model
  to ``<experiment_dir>/checkpoints/ckpt-<step>`` (top ``keep_top_k`` kept; newest is best) and
  rewrite ``best_checkpoint.json`` (step, metric, value, all tune metrics, baseline flag).
* Resumable state (model, optimizer with EMA slots, step, selection state) goes to
  ``<experiment_dir>/state/`` every ``checkpoint_every_steps`` and after every tune.
  tf.train.CheckpointManager moves its ``checkpoint`` pointer only after the data and index
  files are complete, so a checkpoint half-written when the process was SIGKILLed is never the
  latest. Re-running the same command restores it and continues at the same step, optimizer
  state and data position: with ``deterministic_input`` the epoch's record order is a function
  of (seed, epoch) and the examples already consumed in the epoch are skipped.
* At the end the best checkpoint is restored and exported as a SavedModel
  (``export/saved_model``) and as a DeepVariant tf.keras checkpoint (``export/deepvariant/
  model.ckpt`` + example_info.json).

Experiment directory::

    config.json  example_info.json  log.txt  best_checkpoint.json  events.out.tfevents.*
    state/       checkpoints/       export/saved_model/  export/deepvariant/
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time
from typing import Callable, Dict, List, Optional

import ml_collections
import numpy as np
import tensorflow as tf
import tf_keras

from schemas import _files
from schemas import errors
from schemas import example_info as example_info_lib
from schemas import labels as labels_lib
from trainer import calibration
from trainer import calling_tune
from trainer import checkpoints as ckpt_lib
from trainer import configs
from trainer import input_pipeline as inp
from trainer import metrics as metrics_lib
from trainer import models
from trainer import optim
from trainer import selection
from trainer import summaries

BEST_CHECKPOINT_JSON = "best_checkpoint.json"
CALIBRATION_JSON = "calibration.json"
CONFIG_JSON = "config.json"


@dataclasses.dataclass
class RunResult:
  final_step: int
  num_train_steps: int
  stopped_early: bool
  best_step: int
  best_value: Optional[float]
  best_is_baseline: bool
  resumed_from: Optional[int]
  tunes: List[Dict[str, float]]
  saved_model_dir: Optional[str]
  deepvariant_checkpoint: Optional[str]


def _round_metrics(values: Dict[str, float]) -> Dict[str, float]:
  return {k: (float(v) if math.isfinite(v) else None) for k, v in sorted(values.items())}


class Experiment(selection.SelectionVariables):
  """One training run in ``experiment_dir`` under ``strategy``; ``run()`` does it all."""

  def __init__(self, cfg: ml_collections.ConfigDict, experiment_dir: str, strategy=None,
               is_chief: bool = True, log: Optional[Callable[[str], None]] = None,
               block_after_step: int = 0):
    if configs.is_small_model(cfg):
      raise errors.InputError("--config=small_model: the small model is not a pileup CNN; it "
                              "trains with trainer.small_model_loop (python -m trainer.train "
                              "--config=small_model)")
    configs.validate(cfg)
    self.cfg = cfg
    self.dir = experiment_dir
    self.strategy = strategy or tf.distribute.get_strategy()
    self.is_chief = is_chief
    self._print = log or (lambda line: print(line, flush=True))
    self.block_after_step = block_after_step
    self.tunes: List[Dict[str, float]] = []
    # Non-chief workers of a multi-worker job write to a private scratch directory instead.
    self.write_dir = experiment_dir if is_chief else os.path.join(
        experiment_dir, "workertemp", f"{os.getpid()}")
    tf.io.gfile.makedirs(self.write_dir)

  # ---- logging ---------------------------------------------------------------------------------
  def log(self, line: str) -> None:
    self._print(f"train: {line}")
    if self.is_chief:
      with tf.io.gfile.GFile(os.path.join(self.dir, "log.txt"), "a") as f:
        f.write(line + "\n")

  # ---- setup -----------------------------------------------------------------------------------
  def _inspect_inputs(self) -> None:
    cfg = self.cfg
    self.train_info = inp.inspect_dataset(cfg.train_dataset_pbtxt)
    self.tune_info = inp.inspect_dataset(cfg.tune_dataset_pbtxt)
    inp.check_same_layout(self.train_info, self.tune_info)
    data_channels = self.train_info.channels
    expected = configs.parse_channel_list(cfg.expected_channels)
    inp.check_channels(expected, data_channels,
                       f"--config.expected_channels vs {cfg.train_dataset_pbtxt}")
    if expected is not None and len(expected) != self.train_info.shape[2]:
      raise inp.InputError(f"{cfg.train_dataset_pbtxt}: --config.expected_channels lists "
                           f"{len(expected)} channels but the examples have "
                           f"{self.train_info.shape[2]}")
    self.channels = tuple(data_channels or expected or range(1, self.train_info.shape[2] + 1))
    if cfg.init_checkpoint and not cfg.adapt_channels:
      inp.check_channels(ckpt_lib.read_checkpoint_channels(cfg.init_checkpoint), data_channels,
                         f"{cfg.init_checkpoint} (init_checkpoint) vs {cfg.train_dataset_pbtxt}")
    self.class_weight_values = configs.resolve_class_weights(cfg.class_weights,
                                                             self.train_info.class_counts)
    if configs.parse_class_weights(cfg.class_weights) == configs.BALANCED:
      self.log("class weights (balanced from the training set's counts): " +
               ", ".join(f"{c}={w:.3f}" for c, w in enumerate(self.class_weight_values)))
    gb = cfg.batch_size
    self.steps_per_epoch = self.train_info.num_examples // gb
    if cfg.limit:
      self.steps_per_epoch = min(self.steps_per_epoch, cfg.limit)
    if self.steps_per_epoch == 0:
      raise inp.InputError(f"{cfg.train_dataset_pbtxt}: {self.train_info.num_examples} examples "
                           f"is less than one batch (--config.batch_size={gb})")
    self.num_train_steps = self.steps_per_epoch * cfg.num_epochs
    if cfg.max_train_steps:
      self.num_train_steps = min(self.num_train_steps, cfg.max_train_steps)
    replicas = self.strategy.num_replicas_in_sync
    if gb % replicas:
      raise inp.InputError(f"--config.batch_size={gb} must be divisible by the {replicas} "
                           "replicas")
    self.calling_tuner = None
    if cfg.calling_tune_examples:  # calling-level tune: read and check everything before step 0
      try:
        self.calling_tuner = calling_tune.CallingTuner.from_config(cfg, log=self.log)
        self.calling_tuner.check_layout(self.train_info.shape, self.channels,
                                        cfg.train_dataset_pbtxt)
      except ValueError as e:
        raise inp.InputError(str(e)) from None

  def _write_run_files(self) -> None:
    if not self.is_chief:
      return
    _files.atomic_write_bytes(os.path.join(self.dir, CONFIG_JSON),
                              (self.cfg.to_json(indent=2, sort_keys=True) + "\n").encode())
    example_info_lib.write_example_info(
        os.path.join(self.dir, example_info_lib.DATASET_EXAMPLE_INFO_NAME),
        self.train_info.shape, self.channels)

  def _build(self) -> None:
    cfg = self.cfg
    tf_keras.mixed_precision.set_global_policy(cfg.mixed_precision or "float32")
    kwargs = dict(dropout_rate=cfg.backbone_dropout_rate, fine_tune_mode=cfg.fine_tune_mode,
                  head_hidden_units=cfg.head_hidden_units)
    with self.strategy.scope():
      self.bundle = models.build_model(cfg.model_type, self.train_info.shape, seed=cfg.seed,
                                       **kwargs)
      self.model = self.bundle.model
      # Separate model for tuning/saving the EMA weights (DeepVariant clones it the same way).
      self.eval_model = (models.build_model(cfg.model_type, self.train_info.shape,
                                            seed=cfg.seed, **kwargs).model
                         if cfg.use_ema else self.model)
      self.schedule = optim.make_schedule(cfg, self.steps_per_epoch)
      optimizer = optim.make_optimizer(cfg, self.schedule)
      if cfg.mixed_precision == "mixed_float16":
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
      self.optimizer = optimizer
      self.optimizer.build(self.model.trainable_variables)
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
      self.sel_best_value = tf.Variable(np.nan, dtype=tf.float64, trainable=False)
      self.sel_best_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
      self.sel_counter = tf.Variable(0, dtype=tf.int64, trainable=False)
      self.sel_baseline = tf.Variable(-1, dtype=tf.int64, trainable=False)
      self.stopped = tf.Variable(0, dtype=tf.int64, trainable=False)
      self.train_loss = tf_keras.metrics.Mean("train_loss")
      self.train_accuracy = tf_keras.metrics.SparseCategoricalAccuracy("train_accuracy")
      self.loss_fn = tf_keras.losses.CategoricalCrossentropy(
          label_smoothing=cfg.label_smoothing, reduction=tf_keras.losses.Reduction.NONE)
      weights = self.class_weight_values
      self.class_weights = None if weights is None else tf.constant(weights, tf.float32)
    self.state = tf.train.Checkpoint(
        model=self.model, optimizer=self.optimizer, global_step=self.step,
        best_value=self.sel_best_value, best_step=self.sel_best_step,
        early_stopping=self.sel_counter, baseline_step=self.sel_baseline, stopped=self.stopped)
    ckpt_lib.check_pointer(os.path.join(self.write_dir, "state"), "training state")
    ckpt_lib.check_pointer(os.path.join(self.write_dir, "checkpoints"), "best checkpoint")
    self.state_manager = tf.train.CheckpointManager(
        self.state, os.path.join(self.write_dir, "state"), max_to_keep=2)
    self.best_ckpt = tf.train.Checkpoint(model=self.eval_model)
    self.best_manager = tf.train.CheckpointManager(
        self.best_ckpt, os.path.join(self.write_dir, "checkpoints"),
        max_to_keep=cfg.keep_top_k, checkpoint_name="ckpt")
    self.writer = (tf.summary.create_file_writer(self.dir) if self.is_chief
                   else tf.summary.create_noop_writer())

  # ---- steps -----------------------------------------------------------------------------------
  def _make_train_chunk(self):
    strategy, model, optimizer, cfg = self.strategy, self.model, self.optimizer, self.cfg
    global_batch = cfg.batch_size
    decay = self.bundle.decay_kernels if cfg.weight_decay > 0 else []
    loss_scaled = isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)

    def step_fn(batch):
      labels = batch[inp.LABEL]
      with tf.GradientTape() as tape:
        probs = model(batch[inp.IMAGE], training=True)
        onehot = tf.one_hot(labels, labels_lib.NUM_CLASSES)
        per_example = self.loss_fn(onehot, probs)
        if self.class_weights is not None:
          per_example = per_example * tf.gather(self.class_weights, labels)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        if decay:
          l2 = cfg.weight_decay * tf.add_n([tf.reduce_sum(tf.square(tf.cast(k, tf.float32)))
                                            for k in decay])
          loss += tf.nn.scale_regularization_loss(l2)
        scaled = optimizer.get_scaled_loss(loss) if loss_scaled else loss
      variables = model.trainable_variables
      grads = tape.gradient(scaled, variables)
      if loss_scaled:
        grads = optimizer.get_unscaled_gradients(grads)
      optimizer.apply_gradients(zip(grads, variables))
      self.train_loss.update_state(loss * strategy.num_replicas_in_sync)
      self.train_accuracy.update_state(labels, probs)

    @tf.function
    def chunk(iterator, n):
      for _ in tf.range(n):
        strategy.run(step_fn, args=(next(iterator),))
    return chunk

  def _make_predict(self):
    strategy, model = self.strategy, self.eval_model

    @tf.function(reduce_retracing=True)
    def predict(batch):
      def fn(b):
        return (model(b[inp.IMAGE], training=False), b[inp.LABEL], b[inp.VARIANT_TYPE],
                b[inp.VALID])
      out = strategy.run(fn, args=(batch,))
      return tuple(strategy.gather(t, axis=0) for t in out)
    return predict

  # ---- data ------------------------------------------------------------------------------------
  def _train_iterator(self, epoch: int, steps_into_epoch: int):
    cfg = self.cfg

    def fn(ctx):
      per_pipeline = cfg.batch_size // ctx.num_input_pipelines
      return inp.make_train_dataset(
          self.train_info, cfg.batch_size, seed=cfg.seed, epoch=epoch,
          shuffle_buffer=cfg.shuffle_buffer_elements, read_threads=cfg.input_read_threads,
          buffer_bytes=cfg.prefetch_buffer_bytes, deterministic=cfg.deterministic_input,
          skip_examples=steps_into_epoch * per_pipeline, input_context=ctx)
    return iter(self.strategy.distribute_datasets_from_function(fn))

  def _tune_dataset(self):
    cfg = self.cfg

    def fn(ctx):
      return inp.make_tune_dataset(self.tune_info, cfg.batch_size,
                                   num_examples=cfg.num_validation_examples,
                                   read_threads=cfg.input_read_threads,
                                   buffer_bytes=cfg.prefetch_buffer_bytes, input_context=ctx)
    return self.strategy.distribute_datasets_from_function(fn)

  def _corrupt(self, error: Exception) -> inp.InputError:
    return inp.corrupt_input_error([self.train_info, self.tune_info], error)

  def _input_or_failure(self, error: Exception, where: str) -> BaseException:
    """What a TensorFlow error raised while training or tuning means for the user.

    A damaged file or a record that does not parse: an InputError naming the file (found by
    re-reading the files). Out of memory: a RunFailure saying what to lower. Anything else is
    returned as is (a bug keeps its traceback).
    """
    if isinstance(error, tf.errors.ResourceExhaustedError):
      return errors.RunFailure(f"out of memory in {where} ({inp._first_line(error)}); lower "
                               f"--config.batch_size (now {self.cfg.batch_size})")
    if isinstance(error, tf.errors.DataLossError):
      return self._corrupt(error)
    if isinstance(error, (tf.errors.InvalidArgumentError, tf.errors.NotFoundError)):
      found = inp.input_error_for([self.train_info, self.tune_info], error)
      if found is not None:
        return found
    return error

  # ---- tune ------------------------------------------------------------------------------------
  def _load_eval_weights(self) -> None:
    if self.eval_model is self.model:
      return
    for target, source in zip(self.eval_model.weights, self.model.weights):
      target.assign(source)
    averages = optim.ema_variables(self.optimizer, self.model.trainable_variables)
    if averages is None:
      return
    by_name = {id(v): a for v, a in zip(self.model.trainable_variables, averages)}
    for target, source in zip(self.eval_model.weights, self.model.weights):
      if id(source) in by_name:
        target.assign(by_name[id(source)])

  def _tune_predictions(self, step: int):
    """(probs, labels, variant types) of ``eval_model`` over the tune set."""
    predict = self._make_predict() if not hasattr(self, "_predict") else self._predict
    self._predict = predict
    probs, labels, vtypes = [], [], []
    try:
      for batch in self._tune_dataset():
        p, l, v, valid = (t.numpy() for t in predict(batch))
        keep = valid > 0  # drop the padding rows of a multi-replica tune set
        probs.append(p[keep])
        labels.append(l[keep])
        vtypes.append(v[keep])
    except tf.errors.OpError as e:
      raise self._input_or_failure(e, f"the tune at step {step}") from None
    if not labels:
      raise inp.InputError(f"{self.cfg.tune_dataset_pbtxt}: the tune set yielded no examples")
    return np.concatenate(probs), np.concatenate(labels), np.concatenate(vtypes)

  def tune(self, step: int) -> Dict[str, float]:
    """Scores the (EMA) model on the tune set; returns {'tune/<metric>': value}."""
    self._load_eval_weights()
    probs, labels, vtypes = self._tune_predictions(step)
    cw = self.class_weight_values
    values = metrics_lib.compute_metrics(
        labels, probs, vtypes,
        label_smoothing=self.cfg.label_smoothing, class_weights=cw)
    out = {f"tune/{k}": v for k, v in values.items()}
    out["epoch"] = step / self.steps_per_epoch
    if self.calling_tuner is not None and self.calling_tuner.due(step, self.num_train_steps):
      out.update(self.calling_tuner.score(self.eval_model))
    with self.writer.as_default():
      for key, value in out.items():
        summaries.scalar(key, value, step)
    return out

  # ---- summaries -------------------------------------------------------------------------------
  def _write_example_images(self) -> None:
    n = self.cfg.image_summaries
    if not n or not self.is_chief:
      return
    ds = inp.make_tune_dataset(self.tune_info, n, num_examples=n, read_threads=1,
                               buffer_bytes=self.cfg.prefetch_buffer_bytes)
    for batch in ds.take(1):
      images = batch[inp.IMAGE]  # [n, H, W, C] in [-1, 1): channels side by side, grey
      h, w, c = self.train_info.shape
      tiles = tf.reshape(tf.transpose(images, [0, 1, 3, 2]), [-1, h, c * w, 1])
      with self.writer.as_default():
        summaries.image("examples/channels_side_by_side", (tiles + 1.0) / 2.0, 0, n)

  # ---- checkpoints -----------------------------------------------------------------------------
  def _save_best(self, step: int, metrics: Dict[str, float], baseline: bool) -> str:
    path = self.best_manager.save(checkpoint_number=step)
    if self.is_chief:
      example_info_lib.write_example_info(
          os.path.join(self.write_dir, "checkpoints", example_info_lib.DATASET_EXAMPLE_INFO_NAME),
          self.train_info.shape, self.channels)
      record = {"step": int(step), "metric": self.cfg.best_checkpoint_metric,
                "value": metrics[self.cfg.best_checkpoint_metric], "checkpoint": path,
                "baseline": bool(baseline), "metrics": _round_metrics(metrics)}
      _files.atomic_write_bytes(os.path.join(self.dir, BEST_CHECKPOINT_JSON),
                                (json.dumps(record, indent=2) + "\n").encode())
    return path

  def _after_tune(self, step: int, selector, metrics, baseline: bool = False):
    if (calling_tune.is_calling_metric(self.cfg.best_checkpoint_metric) and
        self.cfg.best_checkpoint_metric not in metrics):
      # A calling-level metric selects, and this tune skipped the calling pass: no decision.
      self.tunes.append({"step": step, **metrics})
      self.log(f"tune at step {step}: no calling pass this tune (every "
               f"{self.cfg.calling_tune_every}); selection unchanged")
      return selection.Decision(value=float("nan"), improved=False, stop=False)
    decision = selector.update(step, metrics, baseline=baseline)
    self.tunes.append({"step": step, **metrics})
    if decision.improved:
      self._save_best(step, metrics, baseline)
    m = self.cfg.best_checkpoint_metric
    self.log(f"tune at step {step}{' (warm-start baseline)' if baseline else ''}: {m} "
             f"{decision.value:.5f} loss {metrics['tune/loss']:.4f} accuracy "
             f"{metrics['tune/categorical_accuracy']:.4f} "
             f"{'new best' if decision.improved else 'no improvement'} "
             f"(best {selector.state.best_value:.5f} at step {selector.state.best_step}; "
             f"{selector.state.tunes_without_improvement} tunes without improvement)")
    with self.writer.as_default():
      summaries.scalar("tune/early_stopping", selector.state.tunes_without_improvement, step)
    self._store_selector(selector)
    return decision

  def _save_state(self, step: int) -> None:
    self.state_manager.save(checkpoint_number=step)

  # ---- main ------------------------------------------------------------------------------------
  def run(self) -> RunResult:
    cfg = self.cfg
    self._inspect_inputs()
    self._build()
    self._write_run_files()
    self.log("config:\n" + cfg.to_json(indent=2, sort_keys=True))
    self.log(f"train {self.train_info.num_examples} examples in {len(self.train_info.files)} "
             f"file(s), tune {self.tune_info.num_examples}; shape "
             f"{list(self.train_info.shape)} channels {list(self.channels)}; "
             f"{self.strategy.num_replicas_in_sync} replica(s); {self.steps_per_epoch} "
             f"steps/epoch, {self.num_train_steps} steps")

    resumed_from = None
    selector = None
    latest = self.state_manager.latest_checkpoint
    best = self.best_manager.latest_checkpoint
    if best:  # read only at the end: check it now, not after the whole run
      ckpt_lib.check_readable(best, "best checkpoint")
    if latest:
      ckpt_lib.check_readable(latest, "training state")
      try:
        self.state.restore(latest).assert_existing_objects_matched()
      except (tf.errors.OpError, AssertionError, ValueError) as e:
        raise ckpt_lib.CheckpointError(
            f"{latest}: cannot resume from this training state ({inp._first_line(e)}); was "
            f"{self.dir} trained with another config? Train in a new --experiment_dir") from None
      resumed_from = int(self.step.numpy())
      selector = self._selector()
      self.log(f"resuming from step {resumed_from} ({latest})")
    else:
      selector = self._selector()
      if cfg.init_checkpoint:
        layout = ckpt_lib.warm_start(
            self.bundle, cfg.init_checkpoint,
            load_head=cfg.fine_tune_mode == configs.FINE_TUNE_WHOLE,
            adapt_channels=cfg.adapt_channels)
        self.log(f"warm start from {layout.path} ({layout.num_channels} input channels in the "
                 f"checkpoint, {self.train_info.shape[2]} in the data; "
                 f"fine_tune_mode {cfg.fine_tune_mode})")
        if cfg.use_ema:  # start the moving averages from the warm-start weights
          averages = optim.ema_variables(self.optimizer, self.model.trainable_variables)
          for a, v in zip(averages or [], self.model.trainable_variables):
            a.assign(v)
        metrics = self.tune(0)
        self._after_tune(0, selector, metrics, baseline=True)
      self._write_example_images()
      self._save_state(0)

    step = int(self.step.numpy())
    stopped = bool(self.stopped.numpy())
    chunk = self._make_train_chunk()
    total = self.num_train_steps
    t_last, step_last = time.time(), step
    while step < total and not stopped:
      epoch = step // self.steps_per_epoch
      epoch_end = min((epoch + 1) * self.steps_per_epoch, total)
      iterator = self._train_iterator(epoch, step - epoch * self.steps_per_epoch)
      while step < epoch_end and not stopped:
        n = min(cfg.steps_per_iter, epoch_end - step,
                *(e - step % e for e in (cfg.log_every_steps, cfg.tune_every_steps,
                                         cfg.checkpoint_every_steps)))
        try:
          chunk(iterator, tf.constant(n, tf.int32))
        except tf.errors.OpError as e:
          raise self._input_or_failure(e, f"training step {step + 1}") from None
        step += n
        self.step.assign(step)
        if step % cfg.log_every_steps == 0 or step == total:
          now = time.time()
          rate = (step - step_last) * cfg.batch_size / max(now - t_last, 1e-9)
          lr = float(self.schedule(self.optimizer.iterations))
          loss, acc = float(self.train_loss.result()), float(self.train_accuracy.result())
          self.log(f"step {step}/{total} epoch {step / self.steps_per_epoch:.2f} loss "
                   f"{loss:.4f} accuracy {acc:.4f} lr {lr:.3g} {rate:.1f} examples/s")
          with self.writer.as_default():
            for key, value in (("train/loss", loss), ("train/categorical_accuracy", acc),
                               ("train/learning_rate", lr),
                               ("train/examples_per_second", rate),
                               ("epoch", step / self.steps_per_epoch)):
              summaries.scalar(key, value, step)
          self.train_loss.reset_state()
          self.train_accuracy.reset_state()
          t_last, step_last = time.time(), step
        tuned = False
        if step % cfg.tune_every_steps == 0 or step == epoch_end:
          decision = self._after_tune(step, selector, self.tune(step))
          tuned = True
          if decision.stop:
            stopped = True
            self.stopped.assign(1)
            self.log(f"early stopping at step {step}: {cfg.best_checkpoint_metric} did not "
                     f"improve in {cfg.early_stopping_patience + 1} tunes")
        saved = tuned or step % cfg.checkpoint_every_steps == 0 or step == total
        if saved:
          self._save_state(step)
        if saved and self.block_after_step and step >= self.block_after_step:
          self.log(f"blocking after step {step} (--debug_block_after_step)")
          self.writer.flush()
          while True:  # fault injection for resume tests: wait to be killed
            time.sleep(3600)
    self.writer.flush()
    result = self._finish(step, stopped, selector, resumed_from)
    if self.is_chief:  # report.html + report.json in the experiment dir (trainer/report.py)
      from trainer import report as report_lib
      report_lib.write_report_for_experiment(self, result)
    return result

  def _export(self):
    """Exports the (restored best) eval model; returns (SavedModel dir, DeepVariant prefix).

    Locally the export is written to a temporary folder and renamed to ``export/`` only when
    both parts are complete, so an interrupted export never leaves an ``export/saved_model``
    that beam_pipelines.call would take for a finished model. (GCS has no directory rename; there the
    export is written in place.)
    """
    export = os.path.join(self.dir, "export")
    remote = "://" in self.dir
    target = export if remote else os.path.join(self.dir, f".export.tmp-{os.getpid()}")
    try:
      if tf.io.gfile.exists(target):
        tf.io.gfile.rmtree(target)
      ckpt_lib.export_saved_model(self.eval_model, os.path.join(target, "saved_model"),
                                  self.train_info.shape, self.channels)
      ckpt_lib.export_deepvariant_checkpoint(self.eval_model, os.path.join(target, "deepvariant"),
                                             self.train_info.shape, self.channels)
      if not remote:
        if os.path.exists(export):
          shutil.rmtree(export)
        os.rename(target, export)
    finally:
      if not remote and os.path.exists(target):
        shutil.rmtree(target, ignore_errors=True)
    return (os.path.join(export, "saved_model"),
            os.path.join(export, "deepvariant", ckpt_lib.DV_CHECKPOINT_NAME))

  def _calibrate(self, step: int) -> None:
    """Temperature scaling of the best model on the tune set, folded into the head's weights
    (trainer/calibration.py), so the exports' probabilities are calibrated; the checkpoints
    in ``checkpoints/`` stay as trained (what a warm start should start from)."""
    probs, labels, _ = self._tune_predictions(step)
    temperature = calibration.fit_temperature(probs, labels)
    head = self.eval_model.get_layer(models.HEAD_NAME)
    head.kernel.assign(head.kernel / temperature)
    head.bias.assign(head.bias / temperature)
    record = calibration.summary(probs, labels, temperature)
    self.log(f"calibration on {len(labels)} tune examples: temperature {temperature:.3f}, "
             f"NLL {record['nll_before']:.4f} -> {record['nll_after']:.4f}, ECE "
             f"{record['ece_before']:.4f} -> {record['ece_after']:.4f}")
    self.log("calibrated GQ vs observed: " +
             calibration.format_reliability(record["reliability_after"]))
    if self.is_chief:
      _files.atomic_write_bytes(os.path.join(self.dir, CALIBRATION_JSON),
                                (json.dumps(record, indent=2) + "\n").encode())

  def _finish(self, step, stopped, selector, resumed_from) -> RunResult:
    state = selector.state
    saved_model_dir = dv_prefix = None
    best_path = self.best_manager.latest_checkpoint
    if best_path is None:
      self.log("no tune ran; nothing to export")
    else:
      try:
        self.best_ckpt.restore(best_path).assert_existing_objects_matched()
      except (tf.errors.OpError, AssertionError, ValueError) as e:
        raise ckpt_lib.CheckpointError(f"{best_path}: cannot restore the best checkpoint "
                                       f"({inp._first_line(e)})") from None
      if state.best_is_baseline:
        self.log(f"fine-tuning never beat the warm-start baseline ({self.cfg.best_checkpoint_metric}"
                 f" {state.best_value:.5f} at step {state.best_step}); keeping the baseline")
      if self.cfg.calibrate_temperature:
        self._calibrate(step)
      if self.is_chief:
        saved_model_dir, dv_prefix = self._export()
        self.log(f"best {self.cfg.best_checkpoint_metric} {state.best_value:.5f} at step "
                 f"{state.best_step}; exported {saved_model_dir} and {dv_prefix}")
    if not self.is_chief:
      shutil.rmtree(self.write_dir, ignore_errors=True)
    return RunResult(final_step=step, num_train_steps=self.num_train_steps,
                     stopped_early=stopped, best_step=state.best_step,
                     best_value=state.best_value, best_is_baseline=state.best_is_baseline,
                     resumed_from=resumed_from, tunes=self.tunes,
                     saved_model_dir=saved_model_dir, deepvariant_checkpoint=dv_prefix)
