"""Learning-rate schedule and optimizers, as DeepVariant's Keras trainer sets them (spec 9B).

Schedule: ``ExponentialDecay(lr, decay_steps=int(steps_per_epoch * epochs_per_decay),
decay_rate, staircase=True)``, wrapped when ``warmup_steps > 0`` in TF-Models' LinearWarmup:
for step < warmup_steps the rate ramps linearly from ``lr / 10`` to the decayed rate at
``warmup_steps``; afterwards the decay schedule is evaluated at the global step.

Worked example, lr 0.01, steps_per_epoch 100, epochs_per_decay 2, decay 0.5, warmup 100:
step 0 -> 0.001, step 50 -> 0.0055, step 100..199 -> 0.01, step 200 -> 0.005, 400 -> 0.0025.

Optimizers: sgd (Nesterov momentum), rmsprop (rho, momentum, epsilon), adam, adamw, nadam; all
tf_keras optimizers, so ``use_ema`` / ``ema_momentum`` keep the weights' moving average inside
the optimizer (and its checkpoint) as DeepVariant does, and ``optimizer_weight_decay`` is the
optimizer's decoupled weight decay.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras


class WarmupExponentialDecay(tf_keras.optimizers.schedules.LearningRateSchedule):
  """Staircase exponential decay with an optional linear warmup from lr / 10."""

  def __init__(self, learning_rate: float, decay_steps: int, decay_rate: float,
               warmup_steps: int = 0):
    super().__init__()
    self.learning_rate = float(learning_rate)
    self.decay_steps = max(1, int(decay_steps))
    self.decay_rate = float(decay_rate)
    self.warmup_steps = int(warmup_steps)

  def _decayed(self, step):
    stairs = tf.floor(step / float(self.decay_steps))
    return self.learning_rate * tf.pow(self.decay_rate, stairs)

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    decayed = self._decayed(step)
    if self.warmup_steps <= 0:
      return decayed
    start = self.learning_rate / 10.0
    target = self._decayed(tf.constant(float(self.warmup_steps)))
    ramp = start + (target - start) * step / float(self.warmup_steps)
    return tf.where(step < self.warmup_steps, ramp, decayed)

  def get_config(self):
    return {"learning_rate": self.learning_rate, "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate, "warmup_steps": self.warmup_steps}


def make_schedule(cfg, steps_per_epoch: int) -> WarmupExponentialDecay:
  return WarmupExponentialDecay(
      cfg.learning_rate,
      decay_steps=int(steps_per_epoch * cfg.learning_rate_num_epochs_per_decay),
      decay_rate=cfg.learning_rate_decay_rate, warmup_steps=cfg.warmup_steps)


def make_optimizer(cfg, schedule) -> tf_keras.optimizers.Optimizer:
  """The configured optimizer; raises ValueError for an unknown name."""
  common = dict(learning_rate=schedule, use_ema=bool(cfg.use_ema),
                ema_momentum=float(cfg.ema_momentum))
  wd = float(cfg.optimizer_weight_decay) or None
  name = cfg.optimizer
  if name == "sgd":
    return tf_keras.optimizers.SGD(momentum=cfg.momentum, nesterov=True, weight_decay=wd,
                                   **common)
  if name == "rmsprop":
    return tf_keras.optimizers.RMSprop(rho=cfg.rho, momentum=cfg.momentum, epsilon=cfg.epsilon,
                                       weight_decay=wd, **common)
  if name == "adam":
    return tf_keras.optimizers.Adam(beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon,
                                    weight_decay=wd, **common)
  if name == "adamw":
    return tf_keras.optimizers.AdamW(weight_decay=float(cfg.optimizer_weight_decay),
                                     beta_1=cfg.beta_1, beta_2=cfg.beta_2,
                                     epsilon=cfg.epsilon, **common)
  if name == "nadam":
    return tf_keras.optimizers.Nadam(beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon,
                                     weight_decay=wd, **common)
  raise ValueError(f"--config.optimizer={name!r}: unknown optimizer")


def ema_variables(optimizer, var_list):
  """The optimizer's moving averages of ``var_list`` (same order), or None without EMA.

  Reads tf_keras' internal EMA slots: there is no public accessor, and DeepVariant tunes and
  exports exactly these values.
  """
  inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer wraps it
  if not getattr(inner, "use_ema", False) or not hasattr(inner, "_model_variables_moving_average"):
    return None
  return [inner._model_variables_moving_average[inner._index_dict[inner._var_key(v)]]
          for v in var_list]
