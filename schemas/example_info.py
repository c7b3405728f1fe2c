"""``*.example_info.json``: the shape and channels of a set of examples (spec 1.6).

Why: the model is only valid for examples of one shape and channel list. make_examples writes
this file beside every examples file, the shuffle copies one next to the shuffled data, the
trainer copies it next to the checkpoint, and calling refuses examples whose info differs.

The bytes match DeepVariant's exactly: Python ``json.dumps`` defaults (", " and ": "), key order
version, shape, channels, no trailing newline, e.g.
``{"version": "1.5.0", "shape": [100, 221, 6], "channels": [1, 2, 3, 4, 5, 6]}``.
``shape`` is null when the task wrote no example.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional, Sequence, Tuple

from schemas import DEEPVARIANT_VERSION
from schemas import _files
from schemas import channels as channels_lib
from schemas import sharding

EXAMPLE_INFO_SUFFIX = ".example_info.json"
DATASET_EXAMPLE_INFO_NAME = "example_info.json"


@dataclasses.dataclass(frozen=True)
class ExampleInfo:
  """Parsed example_info.json; ``shape`` is None when no example was written."""
  version: str
  shape: Optional[Tuple[int, ...]]
  channels: Tuple[int, ...]

  def to_json(self) -> str:
    return example_info_json(self.shape, self.channels, self.version)


def example_info_json(shape: Optional[Sequence[int]], channels: Sequence[int],
                      version: str = DEEPVARIANT_VERSION) -> str:
  """The exact text DeepVariant writes (no trailing newline)."""
  return json.dumps({
      "version": version,
      "shape": None if shape is None else [int(v) for v in shape],
      "channels": [int(c) for c in channels],
  })


def example_info_path(examples_path: str) -> str:
  """``<resolved examples filename>.example_info.json``.

  Raises:
    ValueError: ``examples_path`` is a sharded spec (``x@16.gz``): each task's file has its own
      info, so resolve the shard name first (``sharding.sharded_filename``).
  """
  if sharding.is_sharded(examples_path):
    raise ValueError(f"{examples_path!r} is a sharded spec; pass one resolved shard filename")
  return examples_path + EXAMPLE_INFO_SUFFIX


def dataset_example_info_path(output_prefix: str) -> str:
  """Where the shuffle puts its copy: ``<dirname(output_pattern_prefix)>/example_info.json``."""
  return os.path.join(os.path.dirname(output_prefix), DATASET_EXAMPLE_INFO_NAME)


def write_example_info(path: str, shape: Optional[Sequence[int]], channels: Sequence[int],
                       version: str = DEEPVARIANT_VERSION) -> None:
  """Writes the file atomically (it appears complete or not at all)."""
  _files.atomic_write_bytes(path, example_info_json(shape, channels, version).encode("utf-8"))


def parse_example_info(text: str, source: str = "<string>") -> ExampleInfo:
  """Parses example_info.json text; ``source`` names the file in error messages."""
  try:
    obj = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"{source}: not valid JSON ({e})") from e
  if not isinstance(obj, dict) or not {"version", "shape", "channels"} <= set(obj):
    raise ValueError(f"{source}: expected keys version, shape, channels; got {obj!r}")
  shape = obj["shape"]
  if shape is not None and (not isinstance(shape, list) or len(shape) != 3):
    raise ValueError(f"{source}: shape must be [H, W, C] or null, got {shape!r}")
  return ExampleInfo(version=str(obj["version"]),
                     shape=None if shape is None else tuple(int(v) for v in shape),
                     channels=tuple(int(c) for c in obj["channels"]))


def read_example_info(path: str) -> ExampleInfo:
  with open(path, "r", encoding="utf-8") as f:
    return parse_example_info(f.read(), source=path)


def check_compatible(expected: ExampleInfo, found: ExampleInfo, what: str = "examples") -> None:
  """Raises ValueError when ``found`` (e.g. the examples) cannot feed ``expected`` (the model).

  Shapes are compared only when both are known (a task that wrote no example has none).
  """
  if tuple(expected.channels) != tuple(found.channels):
    raise ValueError(f"{what}: " + channels_lib.channel_mismatch_message(expected.channels,
                                                                         found.channels))
  if expected.shape is not None and found.shape is not None and expected.shape != found.shape:
    raise ValueError(f"{what}: expected shape {list(expected.shape)} found {list(found.shape)}")
