"""make_examples flags -> one frozen, validated config.

Flag names and defaults follow DeepVariant v1.5's make_examples where the meaning is the same
(spec 2.1), so existing command lines carry over. pileflow additions: several
``--downsample_fraction`` values in one run, ``--seed`` for downsampling, and
``--partitions_per_unit`` (how many partitions one Beam element processes).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Dict, List, Optional, Sequence, Tuple

from beam_pipelines import flags
from beam_pipelines import model_types
from beam_pipelines.core import downsample
from schemas import sharding
from schemas import small_model

MODES = ("training", "calling")
LABELERS = ("haplotype_labeler", "positional_labeler", "customized_classes_labeler")
MAX_CLASSES = 3  # the trainer's model has three outputs
SEQUENCING_TYPES = {"": 0, "WGS": 1, "WES": 2, "TRIO": 3}
MULTI_ALLELIC_MODES = ("", "add_het_alt_images", "exclude_het_alt_images")


def sibling_spec(spec: str, suffix: str) -> str:
  """``spec`` with ``suffix`` inserted before the ``.tfrecord`` of its file name."""
  head, _, name = spec.rpartition("/")
  at = name.find(".tfrecord")
  if at < 0:
    raise flags.UsageError(f"--examples {spec}: name it *.tfrecord[@N][.gz] so the small "
                           f"model's outputs can be named beside it")
  return (head + "/" if head else "") + name[:at] + suffix + name[at:]


def _split_list(text: str) -> Tuple[str, ...]:
  """Whitespace-separated (DeepVariant) list; commas inside numbers are kept."""
  return tuple(t for t in (text or "").split() if t)


@dataclasses.dataclass(frozen=True)
class MakeExamplesConfig:
  mode: str
  ref: str
  reads: Tuple[str, ...]
  examples: str
  truth_variants: Optional[str] = None
  confident_regions: Optional[str] = None
  regions: Tuple[str, ...] = ()
  exclude_regions: Tuple[str, ...] = ()
  partition_size: int = 1000
  partitions_per_unit: int = 20
  max_reads_per_partition: int = 1500
  min_mapping_quality: int = 5
  min_base_quality: int = 10
  keep_duplicates: bool = False
  keep_secondary_alignments: bool = False
  keep_supplementary_alignments: bool = False
  vsc_min_count_snps: int = 2
  vsc_min_count_indels: int = 2
  vsc_min_fraction_snps: float = 0.12
  vsc_min_fraction_indels: float = 0.06
  labeler_algorithm: str = "haplotype_labeler"
  channels: Tuple[str, ...] = ()
  pileup_image_height: int = 100
  pileup_image_width: int = 221
  sample_name: Optional[str] = None
  downsample_fractions: Tuple[float, ...] = ()
  seed: int = 609314161
  sequencing_type: str = ""
  multi_allelic_mode: str = ""
  use_default_excluded_contigs: bool = True
  realign_reads: bool = True
  overwrite: bool = False
  gvcf: Optional[str] = None
  gvcf_gq_binsize: int = 5
  include_med_dp: bool = False
  customized_classes_labeler_classes_list: str = ""
  customized_classes_labeler_info_field_name: str = ""
  alt_aligned_pileup: str = "none"
  types_to_alt_align: str = "indels"
  split_skip_reads: bool = False
  parse_sam_aux_fields: Optional[bool] = None  # None: on when the HP tag is needed
  sort_by_haplotypes: bool = False
  add_hp_channel: bool = False
  hp_tag_for_assembly_polishing: int = 0
  write_small_model_examples: bool = False
  call_small_model_examples: bool = False
  trained_small_model_path: str = ""
  small_model_snp_gq_threshold: float = small_model.DEFAULT_SNP_GQ_THRESHOLD
  small_model_indel_gq_threshold: float = small_model.DEFAULT_INDEL_GQ_THRESHOLD
  small_model_vaf_context_window_size: int = small_model.DEFAULT_VAF_CONTEXT_WINDOW_SIZE
  small_model_call_multiallelics: bool = False

  @property
  def small_model_examples(self) -> Optional[str]:
    """Where --write_small_model_examples writes: beside --examples, ``_small_model`` added
    to the name before ``.tfrecord``."""
    return sibling_spec(self.examples, "_small_model") if self.write_small_model_examples \
        else None

  @property
  def small_model_calls(self) -> Optional[str]:
    """Where the cascade's calls go, named as DeepVariant names them:
    ``make_examples.tfrecord@N.gz`` -> ``make_examples_call_variant_outputs.tfrecord@N.gz``."""
    return sibling_spec(self.examples, "_call_variant_outputs") \
        if self.call_small_model_examples else None

  @property
  def customized_classes(self) -> Tuple[str, ...]:
    return tuple(c.strip() for c in self.customized_classes_labeler_classes_list.split(",")
                 if c.strip())

  @property
  def training(self) -> bool:
    return self.mode == "training"

  @property
  def bam_fname(self) -> str:
    """DeepVariant's BAM_FNAME: basename of the whole --reads flag string (spec 1.4)."""
    return os.path.basename(",".join(self.reads))

  def validate(self) -> "MakeExamplesConfig":
    """Checks everything that can be checked without opening files; raises UsageError."""
    err = flags.UsageError
    if self.mode not in MODES:
      raise err(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
    for name, path in [("--ref", self.ref)] + [("--reads", r) for r in self.reads]:
      if not path:
        raise err(f"{name} is required")
      if "://" not in path and not os.path.exists(path):
        raise err(f"{name} {path}: file not found")
    if not self.reads:
      raise err("--reads is required")
    if not self.examples:
      raise err("--examples is required")
    check_haplotype_flags(self)
    if self.training:
      for name, path in (("--truth_variants", self.truth_variants),
                         ("--confident_regions", self.confident_regions)):
        if not path:
          raise err(f"{name} is required in --mode training")
        if "://" not in path and not os.path.exists(path):
          raise err(f"{name} {path}: file not found")
    if self.labeler_algorithm not in LABELERS:
      raise err(f"--labeler_algorithm must be one of {', '.join(LABELERS)}, "
                f"got {self.labeler_algorithm!r}")
    for name in ("partition_size", "partitions_per_unit"):
      if getattr(self, name) <= 0:
        raise err(f"--{name} must be > 0, got {getattr(self, name)}")
    if self.max_reads_per_partition < 0:
      raise err(f"--max_reads_per_partition must be >= 0 (0 = no cap), "
                f"got {self.max_reads_per_partition}")
    for name in ("vsc_min_fraction_snps", "vsc_min_fraction_indels"):
      if not 0.0 <= getattr(self, name) <= 1.0:
        raise err(f"--{name} must be in [0, 1], got {getattr(self, name)}")
    if self.sequencing_type not in SEQUENCING_TYPES:
      raise err(f"--sequencing_type must be one of WGS, WES, TRIO, got {self.sequencing_type!r}")
    if self.multi_allelic_mode not in MULTI_ALLELIC_MODES:
      raise err(f"--multi_allelic_mode must be one of {MULTI_ALLELIC_MODES[1:]}, "
                f"got {self.multi_allelic_mode!r}")
    try:
      downsample.validate_fractions(self.downsample_fractions)
    except ValueError as e:
      raise err(str(e)) from None
    if self.gvcf:
      self._validate_gvcf()
    if self.labeler_algorithm == "customized_classes_labeler":
      self._validate_customized_classes()
    self._validate_small_model()
    return self

  def _validate_small_model(self) -> None:
    err = flags.UsageError
    if self.write_small_model_examples:
      if not self.training:
        raise err("--write_small_model_examples needs --mode training (the examples carry "
                  "truth labels)")
      if self.labeler_algorithm == "customized_classes_labeler":
        raise err("--write_small_model_examples: the small model learns genotypes; it does "
                  "not take --labeler_algorithm customized_classes_labeler")
    if self.call_small_model_examples:
      if self.training:
        raise err("--call_small_model_examples needs --mode calling")
      if not self.trained_small_model_path:
        raise err("--call_small_model_examples needs --trained_small_model_path (a folder "
                  "exported by python -m trainer.train --config=small_model)")
    else:
      for name in ("trained_small_model_path", "small_model_call_multiallelics"):
        if getattr(self, name):
          raise err(f"--{name} is only used with --call_small_model_examples")
    for name in ("small_model_snp_gq_threshold", "small_model_indel_gq_threshold"):
      value = getattr(self, name)
      if value < 0 and value != -1:
        raise err(f"--{name} must be >= 0, or -1 to send every such candidate to the CNN; "
                  f"got {value}")
    try:
      small_model.context_offsets(self.small_model_vaf_context_window_size)
    except ValueError as e:
      raise err(str(e)) from None
    _ = self.small_model_examples, self.small_model_calls  # names them, or UsageError

  def _validate_customized_classes(self) -> None:
    err = flags.UsageError
    classes = self.customized_classes
    if not self.customized_classes_labeler_info_field_name:
      raise err("--labeler_algorithm customized_classes_labeler needs "
                "--customized_classes_labeler_info_field_name (the truth INFO field)")
    if len(classes) < 2:
      given = self.customized_classes_labeler_classes_list
      raise err("--customized_classes_labeler_classes_list needs at least 2 classes, comma "
                f"separated (e.g. ref,class1,class2), got {given!r}")
    if len(set(classes)) != len(classes):
      raise err(f"--customized_classes_labeler_classes_list {','.join(classes)}: a class is "
                "named twice")
    if len(classes) > MAX_CLASSES:
      raise err(f"--customized_classes_labeler_classes_list has {len(classes)} classes; "
                f"pileflow's trainer has {MAX_CLASSES} outputs, so at most {MAX_CLASSES}")

  def _validate_gvcf(self) -> None:
    err = flags.UsageError
    if self.gvcf_gq_binsize < 1:
      raise err(f"--gvcf_gq_binsize must be >= 1, got {self.gvcf_gq_binsize}")
    if len(self.downsample_fractions) > 1:
      raise err("--gvcf takes one --downsample_fraction at most (the gVCF describes one set "
                "of reads)")
    try:
      n_examples = sharding.num_shards(self.examples) if sharding.is_sharded(self.examples) \
          else 1
      n_gvcf = sharding.num_shards(self.gvcf) if sharding.is_sharded(self.gvcf) else 1
    except sharding.ShardSpecError as e:
      raise err(str(e)) from None
    if n_gvcf != n_examples:
      raise err(f"--gvcf {self.gvcf} has {n_gvcf} shard(s) but --examples {self.examples} has "
                f"{n_examples}; each make_examples task writes one of each, so they must match")


HAPLOTYPE_FLAGS = ("parse_sam_aux_fields", "sort_by_haplotypes", "add_hp_channel",
                   "hp_tag_for_assembly_polishing")


def add_haplotype_flags(parser: argparse.ArgumentParser) -> None:
  """DeepVariant's HP-tag flags (make_examples and make_dataset alike)."""
  a = parser.add_argument
  a("--parse_sam_aux_fields", dest="parse_sam_aux_fields", nargs="?", const=True,
    default=None, type=flags.str2bool,
    help="read the HP tag of every record (default: on when --add_hp_channel or "
         "--sort_by_haplotypes needs it, as DeepVariant v1.5 resolves it)")
  a("--noparse_sam_aux_fields", dest="parse_sam_aux_fields", action="store_false",
    help=argparse.SUPPRESS)
  flags.add_bool(parser, "sort_by_haplotypes", False,
                 "sort read rows by HP tag (untagged 0 first), then by start")
  flags.add_bool(parser, "add_hp_channel", False,
                 "add channel 7: the read's HP tag 0/1/2 as 0/127/254")
  a("--hp_tag_for_assembly_polishing", type=int, default=0,
    help="> 0: reads with this HP tag on top; 2 also swaps HP 1 and 2 in the HP channel")


def haplotype_settings(source) -> Dict[str, object]:
  """The HAPLOTYPE_FLAGS values of ``source`` (parsed flags or a config), by field name."""
  return {name: getattr(source, name) for name in HAPLOTYPE_FLAGS}


def check_haplotype_flags(cfg) -> None:
  """The HP channel and haplotype sorting need the HP tag: refused with it turned off."""
  users = [f"--{n}" for n in ("add_hp_channel", "sort_by_haplotypes") if getattr(cfg, n)]
  if users and cfg.parse_sam_aux_fields is False:
    raise flags.UsageError(f"{' and '.join(users)} need(s) each read's HP tag, which "
                           "--noparse_sam_aux_fields turns off")


def add_flags(parser: argparse.ArgumentParser) -> None:
  a = parser.add_argument
  a("--mode", required=True, choices=MODES, help="training (labeled) or calling examples")
  a("--ref", required=True, help="reference FASTA, plain or bgzipped, with .fai (+.gzi)")
  a("--reads", required=True,
    help="aligned reads: BAM/CRAM, comma-separated for several files of one sample")
  a("--examples", required=True,
    help="output: path, or sharded spec like out.tfrecord@8.gz (gzip if it contains .gz)")
  a("--truth_variants", help="training: bgzipped, tabix-indexed truth VCF")
  a("--confident_regions", help="training: BED of regions where the truth is complete")
  a("--regions", default="", help="space-separated region literals or BED files to process")
  a("--exclude_regions", default="", help="space-separated region literals or BED files")
  a("--partition_size", type=int, default=1000, help="bp per partition (default 1000)")
  a("--partitions_per_unit", type=int, default=20,
    help="partitions per Beam work unit (default 20)")
  a("--max_reads_per_partition", type=int, default=1500,
    help="reservoir cap per partition; 0 = no cap (default 1500)")
  a("--min_mapping_quality", type=int, default=5)
  a("--min_base_quality", type=int, default=10)
  flags.add_bool(parser, "realign_reads", True,
                 "realign reads near candidate indels before counting and drawing, as "
                 "DeepVariant does; --realign_reads=false for raw aligner placements")
  flags.add_bool(parser, "keep_duplicates", False, "keep reads flagged as duplicates")
  flags.add_bool(parser, "keep_secondary_alignments", False, "keep secondary alignments")
  flags.add_bool(parser, "keep_supplementary_alignments", False,
                 "keep supplementary alignments")
  a("--vsc_min_count_snps", type=int, default=2)
  a("--vsc_min_count_indels", type=int, default=2)
  a("--vsc_min_fraction_snps", type=float, default=0.12)
  a("--vsc_min_fraction_indels", type=float, default=0.06)
  a("--labeler_algorithm", default="haplotype_labeler", choices=LABELERS)
  a("--customized_classes_labeler_classes_list", default="",
    help="customized_classes_labeler: the classes, comma separated, label 0 first "
         "(e.g. ref,class1,class2)")
  a("--customized_classes_labeler_info_field_name", default="",
    help="customized_classes_labeler: the truth VCF INFO field naming each variant's class")
  a("--channels", default="",
    help="extra channels, comma or space separated (e.g. insert_size)")
  model_types.add_flag(parser)
  a("--alt_aligned_pileup", default="none",
    choices=("none", "rows", "diff_channels", "base_channels"),
    help="also draw the reads aligned to each alt allele: diff_channels / base_channels add "
         "2 channels, rows stacks 3 pileups (DeepVariant's long-read setting)")
  a("--types_to_alt_align", default="indels", choices=("indels", "all"),
    help="candidates that get alt-aligned views (the others get blank ones)")
  flags.add_bool(parser, "split_skip_reads", False,
                 "cut spliced reads (CIGAR N, RNA) into their aligned blocks")
  add_haplotype_flags(parser)
  a("--pileup_image_height", type=int, default=0, help="0 = 100")
  a("--pileup_image_width", type=int, default=0, help="0 = 221")
  a("--sample_name", default=None,
    help="sample name for the examples (default: SM of the first read group)")
  a("--downsample_fraction", default="",
    help="comma-separated fractions in (0,1], e.g. 1.0,0.5,0.25: one pass makes examples "
         "at each; every example carries its fraction as the downsample_fraction feature")
  a("--seed", type=int, default=609314161, help="seed of per-fragment downsampling")
  a("--sequencing_type", default="", help="WGS, WES or TRIO (sequencing_type feature)")
  a("--multi_allelic_mode", default="",
    help="exclude_het_alt_images to make only single-alt images")
  a("--gvcf", default=None,
    help="also write gVCF reference-confidence records (nucleus Variant protos, TFRecord) "
         "here: path or sharded spec with --examples' shard count (calling mode)")
  a("--gvcf_gq_binsize", type=int, default=5,
    help="GQ bin size of gVCF blocks (DeepVariant's default 5)")
  flags.add_bool(parser, "include_med_dp", False, "add MED_DP to gVCF blocks")
  flags.add_bool(parser, "write_small_model_examples", False,
                 "training: also write labeled small-model examples (one feature vector per "
                 "biallelic candidate) beside --examples, as <name>_small_model.tfrecord...")
  flags.add_bool(parser, "call_small_model_examples", False,
                 "calling: the small model (--trained_small_model_path) calls candidates whose "
                 "GQ clears the thresholds before any pileup is drawn; its calls go to "
                 "<name>_call_variant_outputs.tfrecord... for postprocess_variants "
                 "--small_model_cvo_records")
  a("--trained_small_model_path", default="",
    help="folder exported by python -m trainer.train --config=small_model")
  a("--small_model_snp_gq_threshold", type=float,
    default=small_model.DEFAULT_SNP_GQ_THRESHOLD,
    help="accept the small model's SNP calls with GQ >= this; -1: SNPs all go to the CNN")
  a("--small_model_indel_gq_threshold", type=float,
    default=small_model.DEFAULT_INDEL_GQ_THRESHOLD,
    help="accept the small model's indel calls with GQ >= this; -1: indels all go to the CNN")
  flags.add_bool(parser, "small_model_call_multiallelics", False,
                 "let the small model call multi-allelic candidates too (every image's alt set "
                 "must clear the threshold); by default they go to the CNN")
  a("--small_model_vaf_context_window_size", type=int,
    default=small_model.DEFAULT_VAF_CONTEXT_WINDOW_SIZE,
    help="positions around a candidate whose VAF is a feature (51: -25..+25)")
  flags.add_bool(parser, "overwrite", False,
                 "replace the output files of an earlier run (only the files this run writes)")


def from_args(args: argparse.Namespace) -> MakeExamplesConfig:
  channels = tuple(c for c in args.channels.replace(",", " ").split() if c)
  fractions: Tuple[float, ...] = ()
  if args.downsample_fraction:
    try:
      fractions = tuple(float(f) for f in args.downsample_fraction.split(",") if f.strip())
    except ValueError:
      raise flags.UsageError(f"--downsample_fraction {args.downsample_fraction!r}: "
                             "expected comma-separated numbers") from None
  return MakeExamplesConfig(
      mode=args.mode, ref=args.ref, reads=tuple(r for r in args.reads.split(",") if r),
      examples=args.examples, truth_variants=args.truth_variants,
      confident_regions=args.confident_regions, regions=_split_list(args.regions),
      exclude_regions=_split_list(args.exclude_regions), partition_size=args.partition_size,
      partitions_per_unit=args.partitions_per_unit,
      max_reads_per_partition=args.max_reads_per_partition,
      min_mapping_quality=args.min_mapping_quality, min_base_quality=args.min_base_quality,
      keep_duplicates=args.keep_duplicates,
      keep_secondary_alignments=args.keep_secondary_alignments,
      keep_supplementary_alignments=args.keep_supplementary_alignments,
      vsc_min_count_snps=args.vsc_min_count_snps, vsc_min_count_indels=args.vsc_min_count_indels,
      vsc_min_fraction_snps=args.vsc_min_fraction_snps,
      vsc_min_fraction_indels=args.vsc_min_fraction_indels,
      labeler_algorithm=args.labeler_algorithm, channels=channels,
      pileup_image_height=args.pileup_image_height or 100,
      pileup_image_width=args.pileup_image_width or 221, sample_name=args.sample_name,
      downsample_fractions=fractions, seed=args.seed,
      sequencing_type=args.sequencing_type.upper(), multi_allelic_mode=args.multi_allelic_mode,
      realign_reads=args.realign_reads, overwrite=args.overwrite, gvcf=args.gvcf or None,
      gvcf_gq_binsize=args.gvcf_gq_binsize, include_med_dp=args.include_med_dp,
      customized_classes_labeler_classes_list=args.customized_classes_labeler_classes_list,
      customized_classes_labeler_info_field_name=args.customized_classes_labeler_info_field_name,
      alt_aligned_pileup=args.alt_aligned_pileup, types_to_alt_align=args.types_to_alt_align,
      split_skip_reads=args.split_skip_reads, **haplotype_settings(args),
      write_small_model_examples=args.write_small_model_examples,
      call_small_model_examples=args.call_small_model_examples,
      trained_small_model_path=args.trained_small_model_path,
      small_model_snp_gq_threshold=args.small_model_snp_gq_threshold,
      small_model_indel_gq_threshold=args.small_model_indel_gq_threshold,
      small_model_vaf_context_window_size=args.small_model_vaf_context_window_size,
      small_model_call_multiallelics=args.small_model_call_multiallelics)
