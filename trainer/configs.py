"""Config presets for the trainer: ml_collections ConfigDicts, one per recipe.

Why presets: DeepVariant's Keras trainer (spec 9B, ``dv_config.py``) names each training recipe
(``base``, ``wgs``, ``exome``) and lets any field be overridden on the command line
(``--config.learning_rate=0.01``). We keep the same knob names where DeepVariant has one, so a
DeepVariant recipe translates field by field, and add pileflow's own knobs (fine-tune mode,
channel adaptation, class weights as a list, determinism of the input for exact resume).

Presets (``get_config(name)``; ``name+test`` shrinks any preset to a smoke-test size the way
DeepVariant's ``+test`` suffix does):

  base         DeepVariant's ``base`` (latest): InceptionV3, RMSprop, EMA 0.99, warmup 10,000.
  wgs          DeepVariant's ``wgs`` (latest): SGD + Nesterov, lr 0.01, label smoothing 0.01,
               a warm-start fine-tune recipe (set ``init_checkpoint``) with channel adaptation on.
  exome        DeepVariant's ``exome`` (latest), a warm-start recipe.
  scratch      from-scratch training: random init, AdamW, short warmup, no baseline tune.
  small        the CPU recipe (:func:`_small`): the ``small`` backbone (a compact
               ResNet-style net with a read-row branch, ~226k weights), batch 64,
               Adam, balanced class weights, EMA, a tune per epoch and early stop; a
               useful model on 2 cores in minutes.
  tiny         the test preset: the ``tiny`` backbone, batch 8, no warmup, tune every 20 steps,
               small shuffle buffer, few input threads; built for a 2-core CI in seconds.
  small_model  DeepVariant's small model (:func:`_small_model`): the cascade's fully connected
               network over make_examples' 70-integer feature vector per candidate, trained
               on make_dataset's ``small_model/<split>/dataset_config.pbtxt`` by
               trainer/small_model_loop.py and exported for make_examples
               ``--trained_small_model_path``. Its own key set (no image, channel or backbone
               keys): ``--config.<key>`` of a CNN-only key is refused as unknown.

Field meanings are in ``_FIELD_DOCS`` (printed by ``python -m trainer.train --helpfull``).
"""
from __future__ import annotations

from typing import Dict

import ml_collections

# Optimizers accepted by trainer.optim.make_optimizer.
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw", "nadam")
# Fine-tune modes (Helixer's three): whole network; frozen backbone + new softmax head;
# frozen backbone + new head with one hidden layer.
FINE_TUNE_WHOLE = "whole"
FINE_TUNE_FROZEN_NEW_HEAD = "frozen_backbone_new_head"
FINE_TUNE_FROZEN_HIDDEN_HEAD = "frozen_backbone_hidden_head"
FINE_TUNE_MODES = (FINE_TUNE_WHOLE, FINE_TUNE_FROZEN_NEW_HEAD, FINE_TUNE_FROZEN_HIDDEN_HEAD)
MIXED_PRECISION_POLICIES = ("", "mixed_float16", "mixed_bfloat16")

_FIELD_DOCS: Dict[str, str] = {
    "model_type": "backbone name in trainer.models registry (inception_v3, resnet50_v2, ...)",
    "train_dataset_pbtxt": "dataset_config.pbtxt of the training set (spec 8.3)",
    "tune_dataset_pbtxt": "dataset_config.pbtxt of the tune (validation) set",
    "best_checkpoint_metric": "tune metric that selects the best checkpoint, e.g. tune/f1_weighted",
    "batch_size": "global batch size (split over replicas)",
    "num_epochs": "training epochs; steps = num_examples // batch_size * num_epochs",
    "max_train_steps": "stop after this many steps even if num_epochs would go on (0: off); "
                       "gives runs on different data one step budget (trainer.study)",
    "num_validation_examples": "tune examples per tune run; 0 = the whole tune set",
    "optimizer": "one of " + ", ".join(OPTIMIZERS),
    "learning_rate": "peak learning rate",
    "learning_rate_num_epochs_per_decay": "epochs per exponential-decay stair",
    "learning_rate_decay_rate": "decay factor per stair",
    "warmup_steps": "linear warmup from learning_rate/10 over this many steps (0 = none)",
    "rho": "RMSprop rho", "momentum": "SGD/RMSprop momentum", "epsilon": "RMSprop/Adam epsilon",
    "beta_1": "Adam beta_1", "beta_2": "Adam beta_2",
    "use_ema": "keep an exponential moving average of the weights; tune/export use it",
    "ema_momentum": "EMA decay per step",
    "optimizer_weight_decay": "decoupled weight decay inside the optimizer (AdamW style)",
    "weight_decay": "L2 penalty on conv and dense kernels (added to the loss)",
    "label_smoothing": "label smoothing of the categorical cross-entropy",
    "class_weights": "comma-separated weight per label 0,1,2 (e.g. '1,1,2'); '' = unweighted; "
                     "'balanced' = N/(3*n_class) from the training set's class counts",
    "backbone_dropout_rate": "dropout between the pooled backbone and the head",
    "early_stopping_patience": "tunes without improvement before stopping (<=0: never stop)",
    "tune_every_steps": "tune this often (also at every epoch end and at the last step)",
    "log_every_steps": "train summaries and progress line this often",
    "steps_per_iter": "train steps inside one tf.function call",
    "checkpoint_every_steps": "save resumable training state this often (also at every tune)",
    "keep_top_k": "best checkpoints kept (only improving ones are saved)",
    "init_checkpoint": "warm start: our checkpoint or a DeepVariant tf.keras checkpoint prefix",
    "adapt_channels": "allow warm start from a checkpoint with another channel count",
    "fine_tune_mode": "one of " + ", ".join(FINE_TUNE_MODES),
    "head_hidden_units": "hidden units of the frozen_backbone_hidden_head head",
    "mixed_precision": "'' (float32), mixed_float16 (GPU) or mixed_bfloat16 (TPU/CPU)",
    "seed": "seed of weights init, file order and record shuffle",
    "shuffle_buffer_elements": "record shuffle buffer of the training input",
    "input_read_threads": "files read in parallel (interleave cycle length)",
    "prefetch_buffer_bytes": "read buffer per TFRecord file",
    "deterministic_input": "fixed record order per (seed, epoch) so a resume continues exactly",
    "limit": "if > 0, train on at most this many batches per epoch (smoke tests)",
    "image_summaries": "example images written to TensorBoard at the first log",
    "expected_channels": "comma-separated channel enum values the model expects ('' = data's)",
    "trial": "trial number (hyper-parameter search bookkeeping, logged only)",
    "calling_tune_examples": "calling-mode examples of a small held-out region; when set, tunes "
                             "also call it and score tune/calling_f1 etc. (trainer.calling_tune)",
    "calling_tune_truth": "truth VCF for the calling tune",
    "calling_tune_confident_regions": "confident-regions BED for the calling tune",
    "calling_tune_ref": "reference FASTA (.fai) the calling tune examples were made from",
    "calling_tune_regions": "region(s) the calling tune examples cover (chr:start-end or BED)",
    "calling_tune_every": "run the calling pass every N tunes (and at step 0 and the last step)",
    "calibrate_temperature": "fit a temperature on the tune set after training and fold it into "
                             "the exported head, so genotype probabilities (QUAL/GQ) are "
                             "calibrated (calibration.json has the reliability table)",
    "hidden_layer_sizes": "small_model: comma-separated units of the ReLU hidden layers "
                          "(DeepVariant's: 750,750)",
    "vaf_context_window_size": "small_model: make_examples' --small_model_vaf_context_window_size "
                               "the examples were made with (51: 70 features); exported with "
                               "the model, which make_examples checks",
}


def _base() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model_type = "inception_v3"
  c.trial = 0
  c.train_dataset_pbtxt = ""
  c.tune_dataset_pbtxt = ""
  c.best_checkpoint_metric = "tune/f1_weighted"
  c.batch_size = 16384
  c.num_epochs = 10
  c.max_train_steps = 0
  c.num_validation_examples = 1_500_000
  c.optimizer = "rmsprop"
  c.learning_rate = 0.001
  c.learning_rate_num_epochs_per_decay = 2.0
  c.learning_rate_decay_rate = 0.947
  c.warmup_steps = 10_000
  c.rho = 0.9
  c.momentum = 0.9
  c.epsilon = 1.0
  c.beta_1 = 0.9
  c.beta_2 = 0.999
  c.use_ema = True
  c.ema_momentum = 0.99
  c.optimizer_weight_decay = 0.0
  c.weight_decay = 0.00004
  c.label_smoothing = 1e-6
  c.class_weights = ""
  c.backbone_dropout_rate = 0.2
  c.early_stopping_patience = 250
  c.tune_every_steps = 12_800
  c.log_every_steps = 1_280
  c.steps_per_iter = 128
  c.checkpoint_every_steps = 1_280
  c.keep_top_k = 5
  c.init_checkpoint = ""
  c.adapt_channels = False
  c.fine_tune_mode = FINE_TUNE_WHOLE
  c.head_hidden_units = 256
  c.mixed_precision = ""
  c.seed = 400620758
  c.shuffle_buffer_elements = 50_000
  c.input_read_threads = 8
  c.prefetch_buffer_bytes = 16_000_000
  c.deterministic_input = True
  c.limit = 0
  c.image_summaries = 3
  c.expected_channels = ""
  c.calling_tune_examples = ""
  c.calling_tune_truth = ""
  c.calling_tune_confident_regions = ""
  c.calling_tune_ref = ""
  c.calling_tune_regions = ""
  c.calling_tune_every = 1
  c.calibrate_temperature = False
  return c


def _wgs() -> ml_collections.ConfigDict:
  c = _base()
  c.num_validation_examples = 150_000
  c.optimizer = "sgd"
  c.momentum = 0.9
  c.use_ema = True
  c.ema_momentum = 0.99
  c.weight_decay = 0.0001
  c.early_stopping_patience = 100
  c.learning_rate = 0.01
  c.learning_rate_num_epochs_per_decay = 2.25
  c.learning_rate_decay_rate = 0.9999
  c.warmup_steps = 0
  c.label_smoothing = 0.01
  # pileflow: a fine-tune of a released model on 7-channel (insert_size) data is the usual use.
  c.adapt_channels = True
  return c


def _exome() -> ml_collections.ConfigDict:
  c = _wgs()
  c.num_validation_examples = 0
  c.num_epochs = 20
  c.weight_decay = 1e-5
  c.early_stopping_patience = 250
  c.learning_rate_decay_rate = 0.5
  c.warmup_steps = 5000
  return c


def _scratch() -> ml_collections.ConfigDict:
  c = _base()
  c.optimizer = "adamw"
  c.learning_rate = 0.001
  c.optimizer_weight_decay = 0.004
  c.epsilon = 1e-7
  c.warmup_steps = 1000
  c.use_ema = True
  c.label_smoothing = 0.01
  c.init_checkpoint = ""
  return c


def _shrink_for_test(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """DeepVariant's ``+test`` suffix: tiny batches and budgets, no warmup, no warm start."""
  c.batch_size = 4
  c.num_epochs = 2
  c.num_validation_examples = 0
  c.warmup_steps = 0
  c.limit = 50
  c.steps_per_iter = 4
  c.shuffle_buffer_elements = 50
  c.input_read_threads = 2
  c.tune_every_steps = 20
  c.log_every_steps = 10
  c.checkpoint_every_steps = 10
  c.init_checkpoint = ""
  return c


def _tiny() -> ml_collections.ConfigDict:
  c = _shrink_for_test(_base())
  c.model_type = "tiny"
  c.batch_size = 8
  c.num_epochs = 1
  c.limit = 0
  c.optimizer = "adam"
  c.learning_rate = 0.003
  c.epsilon = 1e-7
  c.use_ema = False
  c.weight_decay = 0.0
  c.backbone_dropout_rate = 0.0
  c.early_stopping_patience = 0
  c.keep_top_k = 2
  c.image_summaries = 2
  return c


def _small() -> ml_collections.ConfigDict:
  """The CPU recipe: the ``small`` backbone trained from scratch in minutes on 2 cores.

  Why each choice (pileup data of one sample, a few thousand to a few hundred thousand
  examples): Adam with a short warmup and a per-epoch decay converges in ~10 epochs without
  tuning; batch 64 keeps batch-norm statistics stable and uses both cores; no class weights:
  the candidates a model calls have the class mix of the candidates it trained on, so the
  unweighted loss is the one whose argmax is right, and ``balanced`` (hom-ref up-weighted 10x)
  measurably lost recall on hets at low coverage (bench/RESULTS.md, case study; keep it for data
  whose training mix differs from the calling one); EMA weights are what tunes
  and exports use (smoother than the last step's); tune once per epoch on the whole tune set
  and stop after 4 tunes without gain (small data overfits: the best epoch is kept, not the
  last); no label smoothing, and temperature scaling on the tune set before export, so the
  softmax is a probability that QUAL/GQ can use (trainer/calibration.py).
  Downsample-fraction augmentation is a property of the data: make the dataset with
  ``--downsample_fraction 1.0,0.5,0.25`` so one model handles low coverage.
  """
  c = _base()
  c.model_type = "small"
  c.batch_size = 64
  c.num_epochs = 12
  c.num_validation_examples = 0
  c.optimizer = "adam"
  c.learning_rate = 0.002
  c.epsilon = 1e-7
  c.warmup_steps = 100
  c.learning_rate_num_epochs_per_decay = 1.0
  c.learning_rate_decay_rate = 0.75
  c.use_ema = True
  c.ema_momentum = 0.99
  c.weight_decay = 1e-5
  c.label_smoothing = 0.0
  c.class_weights = ""
  c.backbone_dropout_rate = 0.2
  c.early_stopping_patience = 4
  c.tune_every_steps = 1_000_000  # i.e. at every epoch end (and the last step)
  c.log_every_steps = 50
  c.steps_per_iter = 10
  c.checkpoint_every_steps = 200
  c.keep_top_k = 2
  c.shuffle_buffer_elements = 20_000
  c.input_read_threads = 2
  c.image_summaries = 0
  c.calibrate_temperature = True
  return c


SMALL_MODEL = "small_model"  # model_type (and preset name) of DeepVariant's small model


def _small_model() -> ml_collections.ConfigDict:
  """DeepVariant's small model: an MLP over the cascade's integer feature vector.

  Architecture as DeepVariant 1.8+ (``small_model_config.py``): two ReLU hidden layers of 750
  (~620k weights for 70 features), a 3-class softmax head, Adam with staircase exponential
  decay per epoch and a tiny decoupled weight decay (1e-7). What differs, and why:

  * learning rate 1e-3 (DeepVariant: 1e-4) over 30 epochs of batch 512 (DeepVariant: 50):
    DeepVariant trains on ~10^9 candidates; one sample's make_dataset gives tens of thousands,
    so the same number of steps needs a larger rate; decay 0.9 per epoch settles it.
  * inputs scaled by the training set's mean and std (std floored at 1, so a feature that is
    constant in training is only shifted): DeepVariant feeds raw integers (0..100 VAFs next to
    depths in the hundreds), which Adam copes with but which makes the first epochs erratic.
    The scaling is part of the export (``schemas.small_model.SmallModel.input_mean/scale``).
  * a tune on the whole tune set after every epoch; the checkpoint with the best
    ``tune/f1_weighted`` is kept and training stops after 5 tunes without gain.
  * no class weights by default (as the ``small`` CNN preset, same reason: the cascade calls
    the candidates' class mix, and a re-weighted prior shifts the very probabilities that the
    GQ threshold reads); ``class_weights`` takes the CNN's values ('balanced', '1,2,1').
  * temperature scaling on the tune set (trainer/calibration.py), stored as the export's
    ``temperature``: the cascade accepts calls by GQ, so GQ must mean what it says.
  """
  c = ml_collections.ConfigDict()
  c.model_type = SMALL_MODEL
  c.trial = 0
  c.train_dataset_pbtxt = ""
  c.tune_dataset_pbtxt = ""
  c.best_checkpoint_metric = "tune/f1_weighted"
  c.hidden_layer_sizes = "750,750"
  c.vaf_context_window_size = 51
  c.batch_size = 512
  c.num_epochs = 30
  c.max_train_steps = 0
  c.num_validation_examples = 0
  c.optimizer = "adam"
  c.learning_rate = 0.001
  c.learning_rate_num_epochs_per_decay = 1.0
  c.learning_rate_decay_rate = 0.9
  c.warmup_steps = 0
  c.beta_1 = 0.9
  c.beta_2 = 0.999
  c.epsilon = 1e-7
  c.optimizer_weight_decay = 1e-7
  c.label_smoothing = 0.0
  c.class_weights = ""
  c.early_stopping_patience = 5
  c.keep_top_k = 2
  c.log_every_steps = 50
  c.init_checkpoint = ""
  c.seed = 400620758
  c.calibrate_temperature = True
  return c


def _shrink_small_model_for_test(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """``small_model+test``: a 32-unit net, batch 32, 2 epochs, no warm start."""
  c.hidden_layer_sizes = "32,32"
  c.batch_size = 32
  c.num_epochs = 2
  c.log_every_steps = 10
  c.init_checkpoint = ""
  return c


PRESETS = {"base": _base, "wgs": _wgs, "exome": _exome, "scratch": _scratch, "tiny": _tiny,
           "small": _small, SMALL_MODEL: _small_model}


def get_config(name: str = "base") -> ml_collections.ConfigDict:
  """The preset ``name``; ``name+test`` applies the smoke-test shrink on top.

  Accepts DeepVariant's spelling ``dv_config.py:wgs`` / ``trainer/configs.py:wgs`` too (the part
  after the last ':' names the preset).

  Raises:
    ValueError: unknown preset name (the message lists the known ones).
  """
  spec = name.rsplit(":", 1)[-1]
  base, _, suffix = spec.partition("+")
  if base not in PRESETS or suffix not in ("", "test"):
    raise ValueError(f"--config: unknown preset {name!r}; known: "
                     f"{', '.join(sorted(PRESETS))} (optionally with +test)")
  c = PRESETS[base]()
  if suffix == "test":
    c = _shrink_small_model_for_test(c) if base == SMALL_MODEL else _shrink_for_test(c)
  c.preset = spec
  return c


def field_doc(key: str) -> str:
  return _FIELD_DOCS.get(key, "")


def is_small_model(c: ml_collections.ConfigDict) -> bool:
  """Whether ``c`` configures DeepVariant's small model (trainer/small_model_loop.py) rather
  than a pileup CNN (trainer/loop.py)."""
  return c.get("model_type") == SMALL_MODEL


def validate(c: ml_collections.ConfigDict) -> None:
  """Checks value ranges once, before anything is built; raises ValueError naming the key."""
  def need(ok: bool, key: str, why: str) -> None:
    if not ok:
      raise ValueError(f"--config.{key}={c[key]!r}: {why}")
  if is_small_model(c):
    need("hidden_layer_sizes" in c, "model_type",
         "the small model has its own preset and keys: use --config=small_model")
    validate_small_model(c)
    return
  need(bool(c.train_dataset_pbtxt), "train_dataset_pbtxt", "required (a dataset_config.pbtxt)")
  need(bool(c.tune_dataset_pbtxt), "tune_dataset_pbtxt", "required (a dataset_config.pbtxt)")
  need(c.batch_size > 0, "batch_size", "must be > 0")
  need(c.num_epochs > 0, "num_epochs", "must be > 0")
  need(c.max_train_steps >= 0, "max_train_steps", "must be >= 0 (0: off)")
  need(c.num_validation_examples >= 0, "num_validation_examples", "must be >= 0")
  need(c.optimizer in OPTIMIZERS, "optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
  need(c.learning_rate > 0, "learning_rate", "must be > 0")
  need(0 < c.learning_rate_decay_rate <= 1, "learning_rate_decay_rate", "must be in (0, 1]")
  need(c.learning_rate_num_epochs_per_decay > 0, "learning_rate_num_epochs_per_decay",
       "must be > 0")
  need(c.warmup_steps >= 0, "warmup_steps", "must be >= 0")
  need(0 <= c.ema_momentum < 1, "ema_momentum", "must be in [0, 1)")
  need(c.weight_decay >= 0, "weight_decay", "must be >= 0")
  need(0 <= c.label_smoothing < 1, "label_smoothing", "must be in [0, 1)")
  need(0 <= c.backbone_dropout_rate < 1, "backbone_dropout_rate", "must be in [0, 1)")
  need(c.tune_every_steps > 0, "tune_every_steps", "must be > 0")
  need(c.log_every_steps > 0, "log_every_steps", "must be > 0")
  need(c.steps_per_iter > 0, "steps_per_iter", "must be > 0")
  need(c.checkpoint_every_steps > 0, "checkpoint_every_steps", "must be > 0")
  need(c.keep_top_k > 0, "keep_top_k", "must be > 0")
  need(c.fine_tune_mode in FINE_TUNE_MODES, "fine_tune_mode",
       f"must be one of {', '.join(FINE_TUNE_MODES)}")
  need(c.head_hidden_units > 0, "head_hidden_units", "must be > 0")
  need(c.mixed_precision in MIXED_PRECISION_POLICIES, "mixed_precision",
       "must be '', mixed_float16 or mixed_bfloat16")
  need(c.shuffle_buffer_elements > 0, "shuffle_buffer_elements", "must be > 0")
  need(c.input_read_threads > 0, "input_read_threads", "must be > 0")
  need(c.limit >= 0, "limit", "must be >= 0")
  need("/" in c.best_checkpoint_metric and c.best_checkpoint_metric.startswith("tune/"),
       "best_checkpoint_metric", "must name a tune metric, e.g. tune/f1_weighted")
  if c.best_checkpoint_metric.startswith("tune/calling_"):
    need(bool(c.calling_tune_examples), "best_checkpoint_metric",
         "a calling-level metric needs --config.calling_tune_examples (and its truth)")
  if c.calling_tune_examples:
    for key in ("calling_tune_truth", "calling_tune_confident_regions", "calling_tune_ref",
                "calling_tune_regions"):
      need(bool(c[key]), key, "required with --config.calling_tune_examples")
    need(c.calling_tune_every > 0, "calling_tune_every", "must be > 0")
  parse_class_weights(c.class_weights)  # raises with its own message
  parse_channel_list(c.expected_channels)
  if c.fine_tune_mode != FINE_TUNE_WHOLE:
    need(bool(c.init_checkpoint), "fine_tune_mode",
         "a frozen-backbone mode needs --config.init_checkpoint (nothing to freeze otherwise)")


def validate_small_model(c: ml_collections.ConfigDict) -> None:
  """:func:`validate` for the ``small_model`` preset's keys."""
  def need(ok: bool, key: str, why: str) -> None:
    if not ok:
      raise ValueError(f"--config.{key}={c[key]!r}: {why}")
  need(bool(c.train_dataset_pbtxt), "train_dataset_pbtxt",
       "required (make_dataset's small_model/train/dataset_config.pbtxt)")
  need(bool(c.tune_dataset_pbtxt), "tune_dataset_pbtxt",
       "required (make_dataset's small_model/tune/dataset_config.pbtxt)")
  parse_hidden_layer_sizes(c.hidden_layer_sizes)  # raises with its own message
  need(c.vaf_context_window_size >= 0, "vaf_context_window_size", "must be >= 0")
  need(c.batch_size > 0, "batch_size", "must be > 0")
  need(c.num_epochs > 0, "num_epochs", "must be > 0")
  need(c.max_train_steps >= 0, "max_train_steps", "must be >= 0 (0: off)")
  need(c.num_validation_examples >= 0, "num_validation_examples", "must be >= 0")
  need(c.optimizer == "adam", "optimizer", "the small model trains with adam only")
  need(c.learning_rate > 0, "learning_rate", "must be > 0")
  need(0 < c.learning_rate_decay_rate <= 1, "learning_rate_decay_rate", "must be in (0, 1]")
  need(c.learning_rate_num_epochs_per_decay > 0, "learning_rate_num_epochs_per_decay",
       "must be > 0")
  need(c.warmup_steps >= 0, "warmup_steps", "must be >= 0")
  need(0 <= c.beta_1 < 1, "beta_1", "must be in [0, 1)")
  need(0 <= c.beta_2 < 1, "beta_2", "must be in [0, 1)")
  need(c.epsilon > 0, "epsilon", "must be > 0")
  need(c.optimizer_weight_decay >= 0, "optimizer_weight_decay", "must be >= 0")
  need(0 <= c.label_smoothing < 1, "label_smoothing", "must be in [0, 1)")
  need(c.keep_top_k > 0, "keep_top_k", "must be > 0")
  need(c.log_every_steps > 0, "log_every_steps", "must be > 0")
  need(c.best_checkpoint_metric.startswith("tune/") and
       not c.best_checkpoint_metric.startswith("tune/calling_"), "best_checkpoint_metric",
       "must name a tune metric of the small model, e.g. tune/f1_weighted or tune/loss")
  parse_class_weights(c.class_weights)


def parse_hidden_layer_sizes(text: str):
  """``'750,750'`` -> (750, 750): units of the small model's hidden layers (at least one)."""
  try:
    sizes = tuple(int(v) for v in str(text).replace(" ", "").split(","))
  except ValueError:
    sizes = ()
  if not sizes or min(sizes) <= 0:
    raise ValueError(f"--config.hidden_layer_sizes={text!r}: expected comma-separated "
                     "positive integers, e.g. 750,750")
  return sizes


BALANCED = "balanced"


def parse_class_weights(text: str):
  """``'1,2,1'`` -> (1.0, 2.0, 1.0); ``''`` -> None (unweighted); ``'balanced'`` -> BALANCED
  (weights from the training set's class counts: :func:`balanced_class_weights`). One weight
  per label 0..2."""
  if not text:
    return None
  if text == BALANCED:
    return BALANCED
  try:
    weights = tuple(float(w) for w in text.split(","))
  except ValueError:
    raise ValueError(f"--config.class_weights={text!r}: expected 3 comma-separated numbers "
                     f"or {BALANCED!r}")
  if len(weights) != 3 or min(weights) < 0:
    raise ValueError(f"--config.class_weights={text!r}: expected 3 non-negative numbers "
                     "(labels 0, 1, 2)")
  return weights


def balanced_class_weights(class_counts, max_weight: float = 10.0):
  """Weights ``N / (K * n_c)`` from the training set's counts (K classes present), so each
  class carries the same
  total weight and the weight averaged over the examples is 1 (the loss scale and the learning
  rate keep their meaning). Why: hom-ref candidates are rare in clean data (sequencing-error
  sites), and an unweighted model learns to call every candidate a variant. A class with no
  example gets weight 1 (it contributes nothing either way); weights are capped at
  ``max_weight`` so a handful of examples cannot dominate the loss.
  """
  counts = [int(class_counts.get(c, 0)) for c in range(3)]
  total, present = sum(counts), sum(n > 0 for n in counts)
  if total == 0:
    return (1.0, 1.0, 1.0)
  return tuple(min(max_weight, total / (present * n)) if n else 1.0 for n in counts)


def resolve_class_weights(text: str, class_counts):
  """The weights the loss uses: None, the listed ones, or the balanced ones for ``counts``."""
  weights = parse_class_weights(text)
  if weights == BALANCED:
    return balanced_class_weights(class_counts)
  return weights


def parse_channel_list(text: str):
  """``'1,2,3,4,5,6,19'`` -> (1, ..., 19); ``''`` -> None (take the data's channels)."""
  if not text:
    return None
  try:
    return tuple(int(v) for v in str(text).replace(" ", "").split(",") if v)
  except ValueError:
    raise ValueError(f"--config.expected_channels={text!r}: expected comma-separated integers")
