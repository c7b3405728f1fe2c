"""make_dataset flags -> one frozen, validated config.

A sample is one ``--sample`` flag of space-separated key=value pairs:
``--sample "name=HG001 reads=a.bam,b.bam truth=truth.vcf.gz confident=conf.bed"``.
Splits are ``--split NAME=REGIONS`` (see core/splits.py). The example-making knobs are
make_examples' own flags with the same names and defaults.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Dict, Optional, Tuple

from beam_pipelines import flags
from beam_pipelines import model_types
from beam_pipelines import make_examples_config as me_config
from beam_pipelines.core import downsample
from beam_pipelines.core import shuffle_plan

SAMPLE_KEYS = ("name", "reads", "truth", "confident")


@dataclasses.dataclass(frozen=True)
class SampleSpec:
  name: str
  reads: Tuple[str, ...]
  truth: str
  confident: str


def parse_sample(text: str) -> SampleSpec:
  pairs: Dict[str, str] = {}
  for item in text.split():
    key, sep, value = item.partition("=")
    if not sep or key not in SAMPLE_KEYS:
      raise flags.UsageError(f"--sample {text!r}: expected space-separated "
                             f"{'=, '.join(SAMPLE_KEYS)}= pairs, got {item!r}")
    pairs[key] = value
  missing = [k for k in SAMPLE_KEYS if not pairs.get(k)]
  if missing:
    raise flags.UsageError(f"--sample {text!r}: missing {', '.join(missing)}")
  return SampleSpec(pairs["name"], tuple(r for r in pairs["reads"].split(",") if r),
                    pairs["truth"], pairs["confident"])


@dataclasses.dataclass(frozen=True)
class MakeDatasetConfig:
  ref: str
  samples: Tuple[SampleSpec, ...]
  splits: Tuple[str, ...]
  output_dir: str
  num_shards: int = 4
  seed: int = 0
  memory_budget: str = "1G"
  overwrite: bool = False
  allow_label_imbalance: bool = False
  keep_unshuffled: bool = False
  # make_examples knobs (same names and defaults as make_examples' flags)
  channels: Tuple[str, ...] = ()
  downsample_fractions: Tuple[float, ...] = ()
  downsample_seed: int = 609314161
  partition_size: int = 1000
  partitions_per_unit: int = 20
  max_reads_per_partition: int = 1500
  min_mapping_quality: int = 5
  min_base_quality: int = 10
  labeler_algorithm: str = "haplotype_labeler"
  realign_reads: bool = True
  alt_aligned_pileup: str = "none"
  types_to_alt_align: str = "indels"
  split_skip_reads: bool = False
  parse_sam_aux_fields: Optional[bool] = None  # see make_examples
  sort_by_haplotypes: bool = False
  add_hp_channel: bool = False
  hp_tag_for_assembly_polishing: int = 0
  write_small_model_examples: bool = True
  pileup_image_height: int = 100
  pileup_image_width: int = 221
  sequencing_type: str = ""
  vsc_min_count_snps: int = 2
  vsc_min_count_indels: int = 2
  vsc_min_fraction_snps: float = 0.12
  vsc_min_fraction_indels: float = 0.06

  def validate(self) -> "MakeDatasetConfig":
    err = flags.UsageError
    if not self.samples:
      raise err("at least one --sample is required")
    names = [s.name for s in self.samples]
    if len(set(names)) != len(names):
      raise err(f"--sample names must differ, got {names}")
    if self.num_shards <= 0:
      raise err(f"--num_shards must be > 0, got {self.num_shards}")
    try:
      shuffle_plan.parse_memory(self.memory_budget)
      downsample.validate_fractions(self.downsample_fractions)
    except ValueError as e:
      raise err(str(e)) from None
    for sample in self.samples:  # make_examples validates each file the same way
      self.examples_config(sample, ()).validate()
    return self

  @property
  def memory_budget_bytes(self) -> int:
    return shuffle_plan.parse_memory(self.memory_budget)

  def split_dir(self, split: str) -> str:
    return os.path.join(self.output_dir, split)

  def split_prefix(self, split: str) -> str:
    return os.path.join(self.split_dir(split), split)

  def config_path(self, split: str) -> str:
    return os.path.join(self.split_dir(split), "dataset_config.pbtxt")

  # The small model's examples of a split: <output_dir>/small_model/<split>/...
  def small_model_split_dir(self, split: str) -> str:
    return os.path.join(self.output_dir, "small_model", split)

  def small_model_split_prefix(self, split: str) -> str:
    return os.path.join(self.small_model_split_dir(split), split)

  def small_model_config_path(self, split: str) -> str:
    return os.path.join(self.small_model_split_dir(split), "dataset_config.pbtxt")

  def examples_config(self, sample: SampleSpec,
                      regions: Tuple[str, ...]) -> me_config.MakeExamplesConfig:
    """make_examples' config for one sample over one split's regions (training mode)."""
    return me_config.MakeExamplesConfig(
        mode="training", ref=self.ref, reads=sample.reads,
        examples=os.path.join(self.output_dir, "unshuffled", sample.name + ".tfrecord.gz"),
        truth_variants=sample.truth, confident_regions=sample.confident, regions=regions,
        partition_size=self.partition_size, partitions_per_unit=self.partitions_per_unit,
        max_reads_per_partition=self.max_reads_per_partition,
        min_mapping_quality=self.min_mapping_quality, min_base_quality=self.min_base_quality,
        labeler_algorithm=self.labeler_algorithm, channels=self.channels,
        sample_name=sample.name, downsample_fractions=self.downsample_fractions,
        seed=self.downsample_seed, sequencing_type=self.sequencing_type,
        realign_reads=self.realign_reads, vsc_min_count_snps=self.vsc_min_count_snps,
        vsc_min_count_indels=self.vsc_min_count_indels,
        vsc_min_fraction_snps=self.vsc_min_fraction_snps,
        vsc_min_fraction_indels=self.vsc_min_fraction_indels,
        alt_aligned_pileup=self.alt_aligned_pileup, types_to_alt_align=self.types_to_alt_align,
        split_skip_reads=self.split_skip_reads, pileup_image_height=self.pileup_image_height,
        **me_config.haplotype_settings(self),
        write_small_model_examples=self.write_small_model_examples,
        pileup_image_width=self.pileup_image_width)


def add_flags(parser: argparse.ArgumentParser) -> None:
  a = parser.add_argument
  a("--ref", required=True, help="reference FASTA (plain or bgzipped) with .fai")
  a("--sample", action="append", default=[], required=True,
    help='one sample: "name=N reads=a.bam[,b.bam] truth=t.vcf.gz confident=c.bed" (repeat)')
  a("--split", action="append", default=[], required=True,
    help="NAME=REGIONS, e.g. train=chr1-chr19 (repeat; splits must not overlap)")
  a("--output_dir", required=True, help="one folder per split is written here")
  a("--num_shards", type=int, default=4, help="shuffled shards per split (default 4)")
  a("--seed", type=int, default=0, help="shuffle seed (default 0)")
  a("--memory_budget", default="1G", help="shuffle memory budget, e.g. 512M, 4G (default 1G)")
  flags.add_bool(parser, "overwrite", False, "replace existing split outputs")
  flags.add_bool(parser, "allow_label_imbalance", False,
                 "write a split even if one class exceeds 95%% or a class is empty")
  flags.add_bool(parser, "keep_unshuffled", False,
                 "also keep each split's examples before the shuffle, in <split>/unshuffled/")
  a("--channels", default="", help="extra channels, e.g. insert_size")
  a("--pileup_image_height", type=int, default=0, help="0 = 100")
  a("--pileup_image_width", type=int, default=0, help="0 = 221")
  model_types.add_flag(parser)
  a("--alt_aligned_pileup", default="none",
    choices=("none", "rows", "diff_channels", "base_channels"),
    help="alt-aligned views of the reads (see make_examples)")
  a("--types_to_alt_align", default="indels", choices=("indels", "all"),
    help="candidates that get alt-aligned views (see make_examples)")
  a("--downsample_fraction", default="", help="comma-separated fractions, e.g. 1.0,0.5")
  a("--downsample_seed", type=int, default=609314161)
  a("--partition_size", type=int, default=1000)
  a("--partitions_per_unit", type=int, default=20)
  a("--max_reads_per_partition", type=int, default=1500)
  a("--min_mapping_quality", type=int, default=5)
  a("--min_base_quality", type=int, default=10)
  a("--labeler_algorithm", default="haplotype_labeler", choices=me_config.LABELERS[:2])
  flags.add_bool(parser, "realign_reads", True, "local realignment (see make_examples)")
  flags.add_bool(parser, "split_skip_reads", False,
                 "cut spliced reads (CIGAR N) into their aligned blocks (see make_examples)")
  me_config.add_haplotype_flags(parser)
  a("--sequencing_type", default="", help="WGS, WES or TRIO")
  flags.add_bool(parser, "write_small_model_examples", True,
                 "also write the small model's labeled examples, shuffled and split like the "
                 "pileups, under <output_dir>/small_model/<split>/")
  # Candidate thresholds: the calling run must use the same ones as the training data (a
  # model never shown 1-read candidates calls their sequencing errors variants).
  a("--vsc_min_count_snps", type=int, default=2)
  a("--vsc_min_count_indels", type=int, default=2)
  a("--vsc_min_fraction_snps", type=float, default=0.12)
  a("--vsc_min_fraction_indels", type=float, default=0.06)


def from_args(args: argparse.Namespace) -> MakeDatasetConfig:
  try:
    fractions = tuple(float(f) for f in args.downsample_fraction.split(",") if f.strip())
  except ValueError:
    raise flags.UsageError(f"--downsample_fraction {args.downsample_fraction!r}: expected "
                           "comma-separated numbers") from None
  return MakeDatasetConfig(
      ref=args.ref, samples=tuple(parse_sample(s) for s in args.sample),
      splits=tuple(args.split), output_dir=args.output_dir, num_shards=args.num_shards,
      seed=args.seed, memory_budget=args.memory_budget, overwrite=args.overwrite,
      allow_label_imbalance=args.allow_label_imbalance, keep_unshuffled=args.keep_unshuffled,
      channels=tuple(c for c in args.channels.replace(",", " ").split() if c),
      downsample_fractions=fractions, downsample_seed=args.downsample_seed,
      partition_size=args.partition_size, partitions_per_unit=args.partitions_per_unit,
      max_reads_per_partition=args.max_reads_per_partition,
      min_mapping_quality=args.min_mapping_quality, min_base_quality=args.min_base_quality,
      labeler_algorithm=args.labeler_algorithm, realign_reads=args.realign_reads,
      alt_aligned_pileup=args.alt_aligned_pileup, types_to_alt_align=args.types_to_alt_align,
      split_skip_reads=args.split_skip_reads, **me_config.haplotype_settings(args),
      write_small_model_examples=args.write_small_model_examples,
      pileup_image_height=args.pileup_image_height or 100,
      pileup_image_width=args.pileup_image_width or 221,
      sequencing_type=args.sequencing_type.upper(),
      vsc_min_count_snps=args.vsc_min_count_snps, vsc_min_count_indels=args.vsc_min_count_indels,
      vsc_min_fraction_snps=args.vsc_min_fraction_snps,
      vsc_min_fraction_indels=args.vsc_min_fraction_indels)
