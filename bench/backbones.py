"""Training and inference speed of the registry's backbones on this machine (CPU).

Usage::

    .venv/bin/python bench/backbones.py [--models small,tiny] [--shape 100,221,7]
        [--batch 64] [--steps 30]

For each backbone: weights, training examples/s (forward + backward + Adam update of one
batch held in memory, as the trainer's step does) and inference examples/s. The input pipeline
is left out on purpose (bench/trainer_input.py measures it): this is the model's own cost, the
ceiling of what training on this machine can reach. Figures go to stdout as a table.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from trainer import cli  # noqa: E402

cli.quiet_tensorflow()
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

from trainer import models  # noqa: E402


def measure(name: str, shape, batch: int, steps: int) -> dict:
  bundle = models.build_model(name, shape)
  model = bundle.model
  optimizer = tf_keras.optimizers.Adam(1e-3)
  loss_fn = tf_keras.losses.CategoricalCrossentropy()
  rng = np.random.default_rng(0)
  images = tf.constant(rng.uniform(-1, 1, (batch, *shape)).astype(np.float32))
  labels = tf.one_hot(rng.integers(0, 3, batch), 3)

  @tf.function
  def train_step():
    with tf.GradientTape() as tape:
      loss = loss_fn(labels, model(images, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  @tf.function
  def infer():
    return model(images, training=False)

  for _ in range(3):  # trace and warm up
    train_step()
    infer()
  start = time.perf_counter()
  for _ in range(steps):
    train_step().numpy()
  train_s = time.perf_counter() - start
  start = time.perf_counter()
  for _ in range(steps):
    infer().numpy()
  infer_s = time.perf_counter() - start
  weights = sum(int(np.prod(w.shape)) for w in model.weights)
  return {"model": name, "weights": weights, "train_ex_s": steps * batch / train_s,
          "infer_ex_s": steps * batch / infer_s}


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--models", default="small,tiny")
  p.add_argument("--shape", default="100,221,7")
  p.add_argument("--batch", type=int, default=64)
  p.add_argument("--steps", type=int, default=30)
  args = p.parse_args(argv)
  shape = tuple(int(v) for v in args.shape.split(","))
  print(f"backbones on {os.cpu_count()} CPU(s), input {list(shape)}, batch {args.batch}, "
        f"{args.steps} timed steps each (TensorFlow {tf.__version__})")
  print(f"{'model':20} {'weights':>10} {'train ex/s':>11} {'infer ex/s':>11}")
  for name in args.models.split(","):
    r = measure(name, shape, args.batch, args.steps)
    print(f"{r['model']:20} {r['weights']:>10,} {r['train_ex_s']:>11.0f} {r['infer_ex_s']:>11.0f}",
          flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
