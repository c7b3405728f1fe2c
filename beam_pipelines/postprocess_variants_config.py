"""postprocess_variants flags -> one frozen, validated config.

Flag names and defaults are DeepVariant's postprocess_variants' (v1.5), so a DeepVariant
command line carries over with only the command name changed. pileflow additions:
``--overwrite`` (an existing output is refused without it) and ``--bin_size`` (how much genome
one worker sorts). DeepVariant flags not implemented here are refused by name
(``beam_pipelines.deepvariant_flags.POSTPROCESS_VARIANTS``).
"""
from __future__ import annotations

import argparse
import dataclasses

from beam_pipelines import flags
from beam_pipelines.core import call_outputs
from beam_pipelines.core import postprocess
from beam_pipelines.transforms.postprocess_calls import DEFAULT_BIN_SIZE

OUTPUT_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz")


@dataclasses.dataclass(frozen=True)
class PostprocessConfig:
  ref: str
  infile: str
  outfile: str
  qual_filter: float = postprocess.DEFAULT_QUAL_FILTER
  multi_allelic_qual_filter: float = postprocess.DEFAULT_MULTI_ALLELIC_QUAL_FILTER
  cnn_homref_call_min_gq: float = postprocess.DEFAULT_CNN_HOMREF_CALL_MIN_GQ
  only_keep_pass: bool = False
  sample_name: str = ""
  overwrite: bool = False
  bin_size: int = DEFAULT_BIN_SIZE
  nonvariant_site_tfrecord_path: str = ""
  gvcf_outfile: str = ""
  small_model_cvo_records: str = ""

  @property
  def options(self) -> call_outputs.PostprocessOptions:
    return call_outputs.PostprocessOptions(
        qual_filter=self.qual_filter, multi_allelic_qual_filter=self.multi_allelic_qual_filter,
        cnn_homref_call_min_gq=self.cnn_homref_call_min_gq)

  def validate(self) -> "PostprocessConfig":
    """Checks what can be checked without opening files; raises UsageError."""
    err = flags.UsageError
    for name, value in (("--ref", self.ref), ("--infile", self.infile),
                        ("--outfile", self.outfile)):
      if not value:
        raise err(f"{name} is required")
    if not self.outfile.endswith(OUTPUT_SUFFIXES):
      raise err(f"--outfile {self.outfile}: must end in {', '.join(OUTPUT_SUFFIXES)}")
    for name in ("qual_filter", "multi_allelic_qual_filter", "cnn_homref_call_min_gq"):
      if getattr(self, name) < 0:
        raise err(f"--{name} must be >= 0, got {getattr(self, name)}")
    if self.bin_size <= 0:
      raise err(f"--bin_size must be > 0, got {self.bin_size}")
    if bool(self.nonvariant_site_tfrecord_path) != bool(self.gvcf_outfile):
      raise err("gVCF creation requires both --nonvariant_site_tfrecord_path and "
                "--gvcf_outfile to be set")
    if self.gvcf_outfile:
      if not self.gvcf_outfile.endswith(OUTPUT_SUFFIXES):
        raise err(f"--gvcf_outfile {self.gvcf_outfile}: must end in "
                  f"{', '.join(OUTPUT_SUFFIXES)} (e.g. sample.g.vcf.gz)")
      if self.gvcf_outfile == self.outfile:
        raise err(f"--gvcf_outfile and --outfile are the same file {self.outfile}")
    return self


def add_flags(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--ref", default="", help="reference FASTA (+ .fai) the calls are on")
  parser.add_argument("--infile", default="",
                      help="call_variants output (CallVariantsOutput TFRecords): path, glob, "
                           "comma-separated list or sharded spec (x.tfrecord@8.gz); "
                           "DeepVariant's or pileflow's")
  parser.add_argument("--outfile", default="", help="output VCF: .vcf, or .vcf.gz (+ .tbi)")
  parser.add_argument("--qual_filter", type=float, default=postprocess.DEFAULT_QUAL_FILTER,
                      help="variants with QUAL below this get FILTER LowQual")
  parser.add_argument("--multi_allelic_qual_filter", type=float,
                      default=postprocess.DEFAULT_MULTI_ALLELIC_QUAL_FILTER,
                      help="alts of multi-allelic sites whose image QUAL is below this are "
                           "dropped")
  parser.add_argument("--cnn_homref_call_min_gq", type=float,
                      default=postprocess.DEFAULT_CNN_HOMREF_CALL_MIN_GQ,
                      help="RefCalls with GQ below this get GT ./.")
  flags.add_bool(parser, "only_keep_pass", False, "write only PASS records")
  parser.add_argument("--sample_name", default="",
                      help="sample name of the VCF when the call_variants output names none "
                           "(DeepVariant's rule); default 'default'")
  parser.add_argument("--nonvariant_site_tfrecord_path", default="",
                      help="make_examples' --gvcf records (path, glob or sharded spec); with "
                           "--gvcf_outfile")
  parser.add_argument("--gvcf_outfile", default="",
                      help="output gVCF: the calls merged with the reference blocks "
                           "(.g.vcf or .g.vcf.gz + .tbi)")
  parser.add_argument("--small_model_cvo_records", default="",
                      help="make_examples --call_small_model_examples output: the small "
                           "model's calls (CallVariantsOutput), merged with --infile's")
  parser.add_argument("--overwrite", action="store_true",
                      help="replace an existing --outfile / --gvcf_outfile (and .tbi)")
  parser.add_argument("--bin_size", type=int, default=DEFAULT_BIN_SIZE,
                      help="bp of genome one worker sorts (pileflow)")


def from_args(args: argparse.Namespace) -> PostprocessConfig:
  return PostprocessConfig(
      ref=args.ref, infile=args.infile, outfile=args.outfile, qual_filter=args.qual_filter,
      multi_allelic_qual_filter=args.multi_allelic_qual_filter,
      cnn_homref_call_min_gq=args.cnn_homref_call_min_gq, only_keep_pass=args.only_keep_pass,
      sample_name=args.sample_name, overwrite=args.overwrite, bin_size=args.bin_size,
      nonvariant_site_tfrecord_path=args.nonvariant_site_tfrecord_path,
      gvcf_outfile=args.gvcf_outfile, small_model_cvo_records=args.small_model_cvo_records)
