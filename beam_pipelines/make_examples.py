"""make_examples: DeepVariant-compatible labeled pileup examples from BAM/CRAM, as a Beam job.

Local (DirectRunner, all cores):

  python -m beam_pipelines.make_examples --mode training \\
    --ref ref.fa.gz --reads sample.bam --truth_variants truth.vcf.gz \\
    --confident_regions confident.bed --regions "chr20:10,000,000-10,100,000" \\
    --examples out/train.tfrecord@4.gz \\
    --direct_running_mode=multi_processing --direct_num_workers=2

Dataflow (the same pipeline; see launch/ for packaging):

  python -m beam_pipelines.make_examples --mode training ... \\
    --examples gs://bucket/ex/train.tfrecord@64.gz \\
    --runner DataflowRunner --project P --region R --temp_location gs://bucket/tmp \\
    --setup_file ./setup.py

Flags follow DeepVariant's make_examples (see ``--help``); any other flag is a Beam pipeline
option. Outputs: the shards, ``<shard>.example_info.json`` beside each, and
``<prefix>.summary.json`` with every counter. ``--downsample_fraction 1.0,0.5`` makes examples
at each fraction in one pass; each example then carries a ``downsample_fraction`` feature.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('make_examples')

import json
import logging
import sys
import time
from typing import Dict, List, Optional, Sequence

import apache_beam as beam

from beam_pipelines import flags
from beam_pipelines import make_examples_config as config_lib
from beam_pipelines.core import counters
from beam_pipelines.core.candidates import VscOptions
from beam_pipelines import model_types
from beam_pipelines.core.alt_aligned import AltAlignedOptions
from beam_pipelines.core.example_maker import ExampleMakerOptions
from beam_pipelines.core.gvcf import GvcfOptions
from beam_pipelines.core.pileup import PileupOptions, PileupOptionsError
from beam_pipelines.core.read_filters import ReadFilterOptions
from beam_pipelines.core.realigner import RealignerOptions
from beam_pipelines.io import filesystem as fs
from beam_pipelines.io import make_examples_inputs as inputs
from beam_pipelines.io.example_outputs import ExampleOutputs
from beam_pipelines.transforms.make_examples import MakeExamples
from beam_pipelines.core.small_model_cascade import SmallModelOptions
from schemas import channels as channel_rules
from schemas import small_model

PROG = "make_examples"
log = logging.getLogger("pileflow.make_examples")


def maker_options(cfg: config_lib.MakeExamplesConfig, sample_name: str,
                  small: Optional[SmallModelOptions] = None) -> ExampleMakerOptions:
  """The pure core's options from the validated config; raises UsageError on bad values.
  ``small``: the cascade's options when the caller already loaded them (else loaded here)."""
  try:
    opt_channels = channel_rules.validate_opt_channels(cfg.channels)
    physical = channel_rules.physical_channel_order(opt_channels,
                                                    add_hp_channel=cfg.add_hp_channel)
    pileup = PileupOptions(height=cfg.pileup_image_height, width=cfg.pileup_image_width,
                           channels=tuple(int(c) for c in physical),
                           min_mapping_quality=cfg.min_mapping_quality,
                           min_base_quality=cfg.min_base_quality,
                           sort_by_haplotypes=cfg.sort_by_haplotypes,
                           hp_tag_for_assembly_polishing=cfg.hp_tag_for_assembly_polishing
                           ).validate()
    vsc = VscOptions(cfg.vsc_min_count_snps, cfg.vsc_min_count_indels,
                     cfg.vsc_min_fraction_snps, cfg.vsc_min_fraction_indels)
  except (ValueError, PileupOptionsError) as e:
    raise flags.UsageError(str(e)) from None
  realigner = RealignerOptions() if cfg.realign_reads else None
  return ExampleMakerOptions(
      training=cfg.training, sample_name=sample_name, bam_fname=cfg.bam_fname,
      read_filter=ReadFilterOptions(
          min_mapping_quality=cfg.min_mapping_quality, keep_duplicates=cfg.keep_duplicates,
          keep_secondary_alignments=cfg.keep_secondary_alignments,
          keep_supplementary_alignments=cfg.keep_supplementary_alignments),
      max_reads_per_partition=cfg.max_reads_per_partition,
      min_base_quality=cfg.min_base_quality, vsc=vsc, pileup=pileup,
      labeler=cfg.labeler_algorithm, customized_classes=cfg.customized_classes,
      customized_info_field=cfg.customized_classes_labeler_info_field_name,
      downsample_fractions=cfg.downsample_fractions,
      seed=cfg.seed, sequencing_type=config_lib.SEQUENCING_TYPES[cfg.sequencing_type],
      exclude_het_alt_images=cfg.multi_allelic_mode == "exclude_het_alt_images",
      realigner=realigner,
      alt_aligned=AltAlignedOptions(cfg.alt_aligned_pileup, cfg.types_to_alt_align,
                                    (realigner or RealignerOptions()).aln),
      split_skip_reads=cfg.split_skip_reads, parse_sam_aux_fields=cfg.parse_sam_aux_fields,
      small_model=small if small is not None else small_model_options(cfg),
      gvcf=GvcfOptions(gq_resolution=cfg.gvcf_gq_binsize,
                       include_med_dp=cfg.include_med_dp).validate() if cfg.gvcf else None)


def small_model_options(cfg: config_lib.MakeExamplesConfig) -> Optional[SmallModelOptions]:
  """The cascade's options; loads --trained_small_model_path (UsageError naming it when it is
  missing or not a small model), so a bad model stops the run before any work."""
  if not (cfg.write_small_model_examples or cfg.call_small_model_examples):
    return None
  model = None
  if cfg.call_small_model_examples:
    try:
      model = small_model.load(cfg.trained_small_model_path)
    except small_model.SmallModelError as e:
      raise flags.UsageError(str(e)) from None
  try:
    return SmallModelOptions(
        write_examples=cfg.write_small_model_examples, model=model,
        snp_gq_threshold=cfg.small_model_snp_gq_threshold,
        indel_gq_threshold=cfg.small_model_indel_gq_threshold,
        vaf_context_window_size=cfg.small_model_vaf_context_window_size,
        call_multiallelics=cfg.small_model_call_multiallelics)
  except ValueError as e:
    raise flags.UsageError(str(e)) from None


def side_outputs(cfg: config_lib.MakeExamplesConfig) -> Dict[str, ExampleOutputs]:
  """The run's outputs beside --examples, by side-output name (see transforms/make_examples):
  --gvcf blocks, --write_small_model_examples examples, the cascade's calls."""
  out = {}
  if cfg.gvcf:
    out["gvcf"] = ExampleOutputs.for_spec(cfg.gvcf, examples=False)
  if cfg.small_model_examples:
    out["small_model"] = ExampleOutputs.for_spec(cfg.small_model_examples, examples=False)
  if cfg.small_model_calls:
    out["small_model_calls"] = ExampleOutputs.for_spec(cfg.small_model_calls, examples=False)
  return out


SIDE_FLAGS = {"gvcf": "--gvcf", "small_model": "--write_small_model_examples",
              "small_model_calls": "--call_small_model_examples"}
SIDE_WHAT = {"gvcf": "gVCF records", "small_model": "small-model examples",
             "small_model_calls": "small-model calls"}


def build_pipeline(p: beam.Pipeline, cfg: config_lib.MakeExamplesConfig,
                   plan: inputs.MakeExamplesPlan, opts: ExampleMakerOptions,
                   outputs: ExampleOutputs,
                   side: Optional[Dict[str, ExampleOutputs]] = None):
  """The pipeline, identical for every runner (launch/ submits this same construction)."""
  return p | "MakeExamples" >> MakeExamples(
      plan.units, cfg.ref, cfg.reads, cfg.truth_variants, cfg.confident_regions, opts, outputs,
      side if side is not None else side_outputs(cfg))


def _summary(cfg, plan, outputs: ExampleOutputs, infos: List[Dict], seconds: float,
             argv: Sequence[str]) -> Dict:
  total = counters.merge(i.get("counts", {}) for i in infos)
  return {
      "command": "make_examples " + " ".join(argv),
      "mode": cfg.mode,
      "realign_reads": cfg.realign_reads,
      "sample_name": plan.sample_name,
      "regions_bp": plan.total_bp,
      "partitions": plan.num_partitions,
      "work_units": len(plan.units),
      "shards": [{"path": p, "examples": i["examples"]}
                 for p, i in zip(outputs.final_paths, infos)],
      "examples": sum(i["examples"] for i in infos),
      "shape": next((i["shape"] for i in infos if i["shape"]), None),
      "seconds": round(seconds, 3),
      "counters": dict(sorted(total.items())),
  }


def _print_summary(summary: Dict) -> None:
  c = summary["counters"]
  classes = ", ".join(f"class {k[len(counters.EXAMPLES_CLASS_PREFIX):]}: {v}"
                      for k, v in c.items() if k.startswith(counters.EXAMPLES_CLASS_PREFIX))
  types = ", ".join(f"{k[len(counters.EXAMPLES_TYPE_PREFIX):]}: {v}"
                    for k, v in c.items() if k.startswith(counters.EXAMPLES_TYPE_PREFIX))
  filtered = ", ".join(f"{k[len(counters.READS_FILTERED_PREFIX):]} {v}"
                       for k, v in c.items() if k.startswith(counters.READS_FILTERED_PREFIX))
  shape = f" {summary['shape']}" if summary["shape"] else ""
  print(f"{PROG}: {summary['examples']} examples{shape} from "
        f"{summary['partitions']} partitions ({summary['regions_bp']:,} bp) in "
        f"{summary['seconds']:.1f} s")
  no_classes = "none" if summary["mode"] == "training" else "n/a (calling mode)"
  print(f"{PROG}:   by class: {classes or no_classes}; by type: {types or 'none'}")
  print(f"{PROG}:   reads seen {c.get(counters.READS_SEEN, 0)}, kept "
        f"{c.get(counters.READS_KEPT, 0)}; filtered: {filtered or 'none'}")
  if summary.get("realign_reads"):
    print(f"{PROG}:   realignment: {c.get(counters.READS_REALIGNED, 0)} reads moved in "
          f"{c.get(counters.REALIGNMENT_WINDOWS, 0)} assembled windows")
  else:
    print(f"{PROG}:   realignment: off (--realign_reads=false)")
  print(f"{PROG}:   candidates {c.get(counters.CANDIDATES, 0)}, non-confident "
        f"{c.get(counters.CANDIDATES_NON_CONFIDENT, 0)}, truth variants without a candidate "
        f"{c.get(counters.TRUTH_FALSE_NEGATIVES, 0)}")
  for shard in summary["shards"]:
    print(f"{PROG}:   wrote {shard['path']} ({shard['examples']} examples)")
  if c.get(counters.SMALL_MODEL_SCORED):
    print(f"{PROG}:   small model: called {c.get(counters.SMALL_MODEL_CALLED, 0)} of "
          f"{c.get(counters.CANDIDATES, 0)} candidates (scored "
          f"{c[counters.SMALL_MODEL_SCORED]}); CNN: {c.get(counters.CNN_CANDIDATES, 0)} "
          "candidates get pileups")
  for name, what in SIDE_WHAT.items():
    for shard in summary.get(name, []):
      print(f"{PROG}:   wrote {shard['path']} ({shard['records']} {what})")


def run(cfg: config_lib.MakeExamplesConfig, beam_args: Sequence[str],
        argv: Sequence[str] = (), preset: Optional[Dict] = None) -> Dict:
  """Plans, runs the pipeline, commits the outputs and returns the run summary.

  Raises inputs.INPUT_ERRORS / flags.UsageError for bad inputs (before any output is made).
  """
  started = time.time()
  outputs = ExampleOutputs.for_spec(cfg.examples)
  outputs.preflight(cfg.overwrite)
  side = side_outputs(cfg)
  for name, out in side.items():
    out.preflight(cfg.overwrite, flag=SIDE_FLAGS[name])
  new_dir = not fs.exists(fs.dirname(outputs.final_paths[0]) or ".")
  small = small_model_options(cfg)  # a bad --trained_small_model_path stops us before planning
  plan = inputs.plan(cfg)
  opts = maker_options(cfg, plan.sample_name, small)
  log.info("%s: %d partitions in %d work units over %s bp -> %d shard(s)", PROG,
           plan.num_partitions, len(plan.units), f"{plan.total_bp:,}", outputs.num_shards)
  try:
    with beam.Pipeline(options=flags.pipeline_options(beam_args)) as p:
      build_pipeline(p, cfg, plan, opts, outputs, side)
    side_infos = {name: out.commit(()) for name, out in side.items()}
    infos = outputs.commit(opts.channels)
  except BaseException:
    for out in side.values():
      out.abort()
    outputs.abort(remove_empty_dir=new_dir)
    raise
  summary = _summary(cfg, plan, outputs, infos, time.time() - started, argv)
  for name, out in side.items():
    summary[name] = [{"path": p, "records": i["examples"]}
                     for p, i in zip(out.final_paths, side_infos[name])]
  if preset:
    summary["model_type"] = preset
  fs.write_bytes(outputs.summary_path(), (json.dumps(summary, indent=1) + "\n").encode())
  return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
  flags.setup_logging()
  parser = flags.OneLineArgumentParser(
      prog=PROG, description="DeepVariant-compatible pileup examples as a Beam pipeline.")
  config_lib.add_flags(parser)
  args, beam_args = flags.parse_known(parser, argv, PROG)
  argv = list(sys.argv[1:] if argv is None else argv)
  preset = model_types.apply(args, model_types.explicit_dests(parser, argv))
  for line in model_types.describe(preset):
    print(f"{PROG}: {line}", file=sys.stderr)
  summary = flags.run_or_fail(
      PROG, lambda: run(config_lib.from_args(args).validate(), beam_args, argv, preset),
      inputs.INPUT_ERRORS)
  _print_summary(summary)
  return 0


if __name__ == "__main__":
  sys.exit(main())
