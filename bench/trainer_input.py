"""Trainer throughput: the input pipeline alone, and one model train step.

Why both: a GPU step of InceptionV3 consumes examples far faster than one CPU core can read,
inflate, parse and scale them, so the number of input cores a run needs is
``model examples/s / input examples/s per core``. DeepVariant reports ~640 examples/s for its
Keras trainer on one P100 at batch 512 (spec 11).

  python bench/trainer_input.py                       # input per core + InceptionV3 b32 on CPU
  python bench/trainer_input.py --skip_input --batch_size 512 --mixed_precision \\
      --steps 30                                      # on a GPU machine

Input: the records of ``--examples`` (default DeepVariant's 49 golden examples, repeated in
memory-free fashion by re-reading the file) through trainer.input_pipeline's parse and
``(x - 128) / 128``; measured with tf.data limited to 1 thread ("per core") and with all cores.
Model: trainer.models' InceptionV3 (DeepVariant's build) on random 100x221x6 inputs, RMSprop + EMA
as the base preset, the step as the trainer runs it (forward, loss, backward, update).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import tensorflow as tf
import tf_keras

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from trainer import configs  # noqa: E402
from trainer import input_pipeline as inp  # noqa: E402
from trainer import models  # noqa: E402
from trainer import optim  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "giab-chr20",
                      "golden.training_examples.tfrecord.gz")


def input_rate(path: str, threads: int, batch: int, seconds: float) -> float:
  """Examples/s of read + inflate + parse + decode + preprocess, with ``threads`` threads."""
  gzip = ".gz" in os.path.basename(path)
  shape = inp.read_first_shape(path, gzip)
  ds = tf.data.TFRecordDataset([path], compression_type="GZIP" if gzip else "").repeat()
  ds = ds.batch(batch).map(inp.make_parse_fn(shape), num_parallel_calls=threads)
  options = tf.data.Options()
  options.threading.private_threadpool_size = threads
  options.threading.max_intra_op_parallelism = 1
  ds = ds.with_options(options).prefetch(2)
  it = iter(ds)
  for _ in range(3):
    next(it)
  n, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    b = next(it)
    n += int(b[inp.IMAGE].shape[0])
  return n / (time.perf_counter() - start)


def model_rate(batch: int, steps: int, mixed: bool) -> float:
  tf_keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
  cfg = configs.get_config("base")
  bundle = models.build_model("inception_v3", (100, 221, 6))
  model = bundle.model
  opt = optim.make_optimizer(cfg, optim.make_schedule(cfg, 1000))
  if mixed:
    opt = tf_keras.mixed_precision.LossScaleOptimizer(opt)
  loss_fn = tf_keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
  x = tf.random.uniform((batch, 100, 221, 6), -1, 1)
  y = tf.one_hot(tf.random.uniform((batch,), 0, 3, tf.int32), 3)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = loss_fn(y, model(x, training=True))
      scaled = opt.get_scaled_loss(loss) if mixed else loss
    grads = tape.gradient(scaled, model.trainable_variables)
    if mixed:
      grads = opt.get_unscaled_gradients(grads)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  for _ in range(2):
    step().numpy()
  start = time.perf_counter()
  for _ in range(steps):
    loss = step()
  loss.numpy()
  return batch * steps / (time.perf_counter() - start)


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--examples", default=GOLDEN, help="a TFRecord(.gz) file of pileup examples")
  p.add_argument("--seconds", type=float, default=5.0, help="time per input measurement")
  p.add_argument("--batch_size", type=int, default=32)
  p.add_argument("--steps", type=int, default=5)
  p.add_argument("--mixed_precision", action="store_true")
  p.add_argument("--skip_input", action="store_true")
  p.add_argument("--skip_model", action="store_true")
  args = p.parse_args(argv)
  cores = os.cpu_count() or 1
  gpus = tf.config.list_physical_devices("GPU")
  print(f"host: {cores} cores; GPUs: {[g.name for g in gpus] or 'none'}; TF {tf.__version__}")
  if not args.skip_input:
    one = input_rate(args.examples, 1, 32, args.seconds)
    print(f"input (read+inflate+parse+decode+(x-128)/128), 1 thread: {one:.0f} examples/s "
          "per core")
    allc = input_rate(args.examples, cores, 32, args.seconds)
    print(f"input, {cores} threads: {allc:.0f} examples/s ({allc / cores:.0f} per core)")
  if not args.skip_model:
    rate = model_rate(args.batch_size, args.steps, args.mixed_precision)
    where = "GPU" if gpus else "CPU"
    print(f"InceptionV3 train step on {where}, batch {args.batch_size}"
          f"{', mixed_float16' if args.mixed_precision else ''}: {rate:.1f} examples/s "
          f"(DeepVariant: ~640 examples/s on one P100 at batch 512)")


if __name__ == "__main__":
  main()
