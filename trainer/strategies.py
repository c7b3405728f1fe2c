"""Distribution strategies: default, mirrored, multi_worker (TF_CONFIG) and TPU.

Why each:
* ``default``: one device (CPU or the first GPU), no distribution overhead.
* ``mirrored``: all local GPUs (DeepVariant's default). ``cpu_devices=N`` splits the CPU into N
  logical devices first, so the mirrored code path runs (and is tested) without a GPU.
* ``multi_worker``: MultiWorkerMirroredStrategy over the cluster in ``TF_CONFIG``, the variable
  Vertex AI sets for every replica of a multi-worker job (``cluster`` with ``chief``/``worker``
  lists and ``task`` {type, index}). Only the chief writes to the experiment directory.
* ``tpu``: TPUClusterResolver(leader) -> connect -> initialize -> TPUStrategy, as DeepVariant
  does; ``leader`` is a TPU name, ``grpc://host:8470`` or 'local' on a TPU VM.
"""
from __future__ import annotations

import json
import os
from typing import Optional

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def split_cpu(num_devices: int) -> None:
  """Makes the CPU look like ``num_devices`` logical devices (call before TF uses a device)."""
  cpus = tf.config.list_physical_devices("CPU")
  tf.config.set_logical_device_configuration(
      cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])


def parse_tf_config(text: Optional[str]) -> dict:
  """Validated TF_CONFIG: needs a cluster with chief or worker tasks and this task's type/index.

  Raises:
    ValueError: unset, not JSON, or missing the pieces MultiWorkerMirroredStrategy needs.
  """
  if not text:
    raise ValueError("--strategy=multi_worker needs TF_CONFIG (set by Vertex AI for each "
                     "replica); it is not set")
  try:
    config = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"TF_CONFIG is not valid JSON ({e})") from None
  cluster = config.get("cluster") or {}
  task = config.get("task") or {}
  if not (cluster.get("chief") or cluster.get("worker")):
    raise ValueError(f"TF_CONFIG cluster has no chief or worker tasks: {cluster!r}")
  if task.get("type") not in cluster or not isinstance(task.get("index"), int):
    raise ValueError(f"TF_CONFIG task {task!r} is not one of the cluster's tasks")
  if not 0 <= task["index"] < len(cluster[task["type"]]):
    raise ValueError(f"TF_CONFIG task index {task['index']} out of range for "
                     f"{len(cluster[task['type']])} {task['type']} task(s)")
  return config


def is_chief(tf_config: Optional[dict]) -> bool:
  """The chief writes checkpoints and summaries: task 'chief', or worker 0 without a chief."""
  if not tf_config:
    return True
  task = tf_config["task"]
  if task["type"] == "chief":
    return True
  return task["type"] == "worker" and task["index"] == 0 and not tf_config["cluster"].get("chief")


def tpu_resolver(leader: str):
  """The TPUClusterResolver DeepVariant builds (no connection is made here)."""
  return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=leader or "")


def make_strategy(name: str, *, leader: str = "", cpu_devices: int = 0):
  """Builds strategy ``name`` (module docstring). Returns (strategy, is_chief)."""
  if name not in STRATEGIES:
    raise ValueError(f"--strategy={name!r}: must be one of {', '.join(STRATEGIES)}")
  if cpu_devices > 1:
    split_cpu(cpu_devices)
  if name == "default":
    return tf.distribute.get_strategy(), True
  if name == "mirrored":
    return tf.distribute.MirroredStrategy(), True
  if name == "multi_worker":
    tf_config = parse_tf_config(os.environ.get("TF_CONFIG"))
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    return strategy, is_chief(tf_config)
  resolver = tpu_resolver(leader)
  tf.config.experimental_connect_to_cluster(resolver)
  tf.tpu.experimental.initialize_tpu_system(resolver)
  return tf.distribute.TPUStrategy(resolver), True
