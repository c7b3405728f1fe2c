"""shuffle flags -> one frozen, validated config.

DeepVariant's flags keep their names and meaning (spec 8.1: ``--input_pattern_list``,
``--output_pattern_prefix``, ``--output_dataset_config_pbtxt``, ``--output_dataset_name``), so
existing command lines carry over. pileflow adds what DeepVariant leaves to the runner or lacks:
``--num_shards`` (DeepVariant: 1 shard locally, hundreds on Dataflow), ``--seed`` (DeepVariant
has none), ``--memory_budget`` (the RAM for record data; sizes the buckets), ``--skip_corrupt``,
``--overwrite``, ``--allow_label_imbalance`` and ``--output_manifest``.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Optional, Tuple

from beam_pipelines import flags
from schemas import manifest
from beam_pipelines.core import shuffle_plan

DEFAULT_NUM_SHARDS = 16
DEFAULT_SEED = 0
DEFAULT_MEMORY_BUDGET = "1G"


@dataclasses.dataclass(frozen=True)
class ShuffleConfig:
  input_pattern_list: str
  output_pattern_prefix: str
  output_dataset_config_pbtxt: Optional[str] = None
  output_dataset_name: Optional[str] = None
  output_manifest: Optional[str] = None
  num_shards: int = DEFAULT_NUM_SHARDS
  seed: int = DEFAULT_SEED
  memory_budget: str = DEFAULT_MEMORY_BUDGET
  skip_corrupt: bool = False
  overwrite: bool = False
  allow_label_imbalance: bool = False

  @property
  def input_patterns(self) -> Tuple[str, ...]:
    return tuple(p.strip() for p in self.input_pattern_list.split(",") if p.strip())

  @property
  def memory_budget_bytes(self) -> int:
    return shuffle_plan.parse_memory(self.memory_budget)

  @property
  def manifest_path(self) -> str:
    """``--output_manifest``, else beside the config (``x.pbtxt`` -> ``x.manifest.json``),
    else ``<output_pattern_prefix>.manifest.json``."""
    if self.output_manifest:
      return self.output_manifest
    if self.output_dataset_config_pbtxt:
      return manifest.manifest_path_for_config(self.output_dataset_config_pbtxt)
    return self.output_pattern_prefix + manifest.MANIFEST_SUFFIX

  def validate(self) -> "ShuffleConfig":
    """Checks what can be checked without reading inputs; raises UsageError naming the flag."""
    err = flags.UsageError
    if not self.input_patterns:
      raise err("--input_pattern_list is required (comma-separated TFRecord glob patterns)")
    if not self.output_pattern_prefix:
      raise err("--output_pattern_prefix is required")
    if self.output_pattern_prefix.endswith("/"):
      raise err(f"--output_pattern_prefix {self.output_pattern_prefix} must name a file "
                "prefix, not a directory")
    if self.output_dataset_config_pbtxt and not self.output_dataset_name:
      raise err("--output_dataset_name is required with --output_dataset_config_pbtxt")
    if self.num_shards <= 0:
      raise err(f"--num_shards must be > 0, got {self.num_shards}")
    try:
      self.memory_budget_bytes
    except ValueError as e:
      raise err(f"--memory_budget: {e}") from None
    for name, path in (("--output_pattern_prefix", self.output_pattern_prefix),
                       ("--output_dataset_config_pbtxt", self.output_dataset_config_pbtxt),
                       ("--output_manifest", self.output_manifest)):
      if path and "://" not in path:
        out_dir = os.path.dirname(os.path.abspath(path))
        probe = out_dir
        while not os.path.exists(probe):
          probe = os.path.dirname(probe)
        if not os.path.isdir(probe) or not os.access(probe, os.W_OK):
          raise err(f"{name} {path}: output directory {out_dir} is not writable")
    return self


def add_flags(parser: argparse.ArgumentParser) -> None:
  a = parser.add_argument
  a("--input_pattern_list", required=True,
    help="comma-separated TFRecord glob patterns (gzip if the name contains .gz)")
  a("--output_pattern_prefix", required=True,
    help="output shards are <prefix>-SSSSS-of-NNNNN.tfrecord.gz")
  a("--output_dataset_config_pbtxt", default=None,
    help="write DeepVariant's dataset_config.pbtxt here (needs --output_dataset_name)")
  a("--output_dataset_name", default=None, help="the config's name: field")
  a("--output_manifest", default=None,
    help="JSON manifest path (default: beside the config, else <prefix>.manifest.json)")
  a("--num_shards", type=int, default=DEFAULT_NUM_SHARDS,
    help=f"number of output shards (default {DEFAULT_NUM_SHARDS})")
  a("--seed", type=int, default=DEFAULT_SEED,
    help=f"shuffle seed: same inputs + seed + num_shards = same bytes (default {DEFAULT_SEED})")
  a("--memory_budget", default=DEFAULT_MEMORY_BUDGET,
    help="RAM for record data across concurrently written shards, e.g. 512M, 4G (default "
         f"{DEFAULT_MEMORY_BUDGET}); split across --direct_num_workers on DirectRunner")
  flags.add_bool(parser, "skip_corrupt", False,
                 "skip the rest of a corrupt/truncated input (listed in the manifest) "
                 "instead of failing")
  flags.add_bool(parser, "overwrite", False, "replace shards already under the output prefix")
  flags.add_bool(parser, "allow_label_imbalance", False,
                 "accept a class over 95%% or an empty class (still warned)")


def from_args(args: argparse.Namespace) -> ShuffleConfig:
  return ShuffleConfig(
      input_pattern_list=args.input_pattern_list, output_pattern_prefix=args.output_pattern_prefix,
      output_dataset_config_pbtxt=args.output_dataset_config_pbtxt,
      output_dataset_name=args.output_dataset_name, output_manifest=args.output_manifest,
      num_shards=args.num_shards, seed=args.seed, memory_budget=args.memory_budget,
      skip_corrupt=args.skip_corrupt, overwrite=args.overwrite,
      allow_label_imbalance=args.allow_label_imbalance)
