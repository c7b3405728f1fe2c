"""Strategy construction: TF_CONFIG rules (Vertex AI), chief choice, TPU resolver creation."""
import json

import pytest
import tensorflow as tf

from trainer import strategies

VERTEX = {"cluster": {"chief": ["cmle-training-workerpool0-0:2222"],
                      "worker": ["cmle-training-workerpool1-0:2222",
                                 "cmle-training-workerpool1-1:2222"]},
          "task": {"type": "worker", "index": 1, "trial": ""}, "job": "{}"}


@pytest.mark.parametrize("task,chief", [
    ({"type": "chief", "index": 0}, True),    # Vertex's workerpool0 is the chief
    ({"type": "worker", "index": 0}, False),  # worker 0 is not chief when a chief exists
    ({"type": "worker", "index": 1}, False),
])
def test_chief_with_vertex_cluster(task, chief):
  config = strategies.parse_tf_config(json.dumps({**VERTEX, "task": task}))
  assert strategies.is_chief(config) is chief


def test_worker_0_is_chief_without_chief_task():
  config = strategies.parse_tf_config(json.dumps(
      {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}))
  assert strategies.is_chief(config)


@pytest.mark.parametrize("text,message", [
    (None, "needs TF_CONFIG"),                                           # unset
    ("{", "not valid JSON"),                                             # garbage
    ('{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "no chief or worker"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "out of range"),
])
def test_bad_tf_config(text, message):
  with pytest.raises(ValueError, match=message):
    strategies.parse_tf_config(text)


def test_tpu_resolver_is_created_for_a_grpc_leader():
  resolver = strategies.tpu_resolver("grpc://10.0.0.2:8470")
  assert resolver.master() == "grpc://10.0.0.2:8470"  # no connection is attempted


def test_unknown_strategy():
  with pytest.raises(ValueError, match="must be one of default, mirrored"):
    strategies.make_strategy("horovod")


def test_default_strategy():
  strategy, chief = strategies.make_strategy("default")
  assert strategy.num_replicas_in_sync == 1 and chief
