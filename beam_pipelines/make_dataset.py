"""make_dataset: from BAMs to shuffled, training-ready splits in one Beam pipeline.

  python -m beam_pipelines.make_dataset --ref ref.fa.gz \\
    --sample "name=HG001 reads=hg001.bam truth=hg001.vcf.gz confident=hg001.bed" \\
    --sample "name=HG002 reads=hg002.bam truth=hg002.vcf.gz confident=hg002.bed" \\
    --split train=chr1-chr19 --split tune=chr21 --split test=chr20 \\
    --downsample_fraction 1.0,0.5 --channels insert_size --output_dir dataset \\
    --direct_running_mode=multi_processing --direct_num_workers=8

On Dataflow add ``--runner DataflowRunner --project P --region R --temp_location gs://...`` and
a gs:// ``--output_dir``. Per split it writes ``<output_dir>/<split>/``: shuffled
``<split>-SSSSS-of-NNNNN.tfrecord.gz`` shards, DeepVariant's ``dataset_config.pbtxt``,
``dataset_config.manifest.json`` and ``example_info.json``. Examples flow from make_examples
straight into the bounded-memory shuffle: no unshuffled copy is kept unless
``--keep_unshuffled``. Splits are checked for overlap, and every split passes label QA,
before any split is committed.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('make_dataset')

import json
import os
import shlex
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import apache_beam as beam

from beam_pipelines import flags
from beam_pipelines import make_dataset_config as config_lib
from beam_pipelines import make_examples
from beam_pipelines import model_types
from beam_pipelines.core import shuffle_plan, splits
from beam_pipelines.io import bed
from beam_pipelines.io import filesystem as fs
from beam_pipelines.io import make_examples_inputs as inputs
from beam_pipelines.io.fasta import FastaReader
from beam_pipelines.transforms import shuffle_examples as se
from beam_pipelines.transforms.make_examples import MakeExampleRecords
from schemas import example_info
from schemas import output_paths

PROG = "make_dataset"
# Size guess for planning shuffle buckets before any example exists: about one example per
# kb at ~10 KB compressed each. A wrong guess only changes how many passes a bucket needs.
ESTIMATED_BYTES_PER_BP = 10
SMALL_MODEL_KEY = "small_model/"  # shuffles[] key prefix of a split's small-model examples


def _plan(cfg: config_lib.MakeDatasetConfig, beam_args: Sequence[str]):
  output_paths.check_dir_output(cfg.output_dir, "--output_dir", cfg.overwrite)
  with FastaReader(cfg.ref) as fasta:
    lengths = fasta.contig_lengths()
  split_list = splits.parse_all(cfg.splits, lengths, bed.read_bed)
  jobs = []
  for split in split_list:
    for sample in cfg.samples:
      me_cfg = cfg.examples_config(sample, split.literals()).validate()
      plan = inputs.plan(me_cfg)
      jobs.append((split, sample, me_cfg, plan,
                   make_examples.maker_options(me_cfg, sample.name)))
  workers = max(1, _workers(beam_args))
  budget = cfg.memory_budget_bytes
  shuffles = {}
  for split in split_list:
    fractions = max(1, len(cfg.downsample_fractions))
    estimate = split.total_bp * ESTIMATED_BYTES_PER_BP * fractions * len(cfg.samples)
    kinds = [(split.name, cfg.split_prefix(split.name), estimate)]
    if cfg.write_small_model_examples:
      # ~0.5 KB per small-model example; the same seed, so the same shuffle rule.
      kinds.append((SMALL_MODEL_KEY + split.name, cfg.small_model_split_prefix(split.name),
                    max(1, estimate // 20)))
    for key, prefix, size in kinds:
      outputs = se.ShuffleOutputs.for_prefix(prefix, cfg.num_shards)
      outputs.preflight(cfg.overwrite, "--output_dir", cfg.output_dir)
      shuffles[key] = (outputs, shuffle_plan.plan_shuffle(
          cfg.seed, cfg.num_shards, size, max(1, budget // workers)))
  return split_list, jobs, shuffles


def _workers(beam_args: Sequence[str]) -> int:
  from beam_pipelines.shuffle import worker_count
  return worker_count(beam_args)


def build_pipeline(p: beam.Pipeline, cfg: config_lib.MakeDatasetConfig, split_list, jobs,
                   shuffles) -> None:
  """One pipeline for every split and sample; identical for every runner."""
  for split in split_list:
    parts, small_parts = [], []
    for sp, sample, me_cfg, plan, opts in jobs:
      if sp.name != split.name:
        continue
      made = p | f"Examples[{split.name}/{sample.name}]" >> MakeExampleRecords(
          plan.units, me_cfg.ref, me_cfg.reads, me_cfg.truth_variants,
          me_cfg.confident_regions, opts, label=f"{PROG}[{split.name}/{sample.name}]",
          small_model=cfg.write_small_model_examples)
      if cfg.write_small_model_examples:
        parts.append(made["examples"])
        small_parts.append(made["small_model"])
      else:
        parts.append(made)
    records = parts | f"Samples[{split.name}]" >> beam.Flatten()
    outputs, plan = shuffles[split.name]
    _ = records | f"Shuffle[{split.name}]" >> se.ShuffleExamples(plan, outputs,
                                                                 source=split.name)
    if small_parts:
      small_outputs, small_plan = shuffles[SMALL_MODEL_KEY + split.name]
      _ = (small_parts | f"SmallModelSamples[{split.name}]" >> beam.Flatten()
           | f"ShuffleSmallModel[{split.name}]" >> se.ShuffleExamples(
               small_plan, small_outputs, source=f"{split.name} small-model examples"))
    if cfg.keep_unshuffled:
      _ = records | f"KeepUnshuffled[{split.name}]" >> beam.io.WriteToTFRecord(
          os.path.join(cfg.split_dir(split.name), "unshuffled", split.name),
          file_name_suffix=".tfrecord.gz")


def run(cfg: config_lib.MakeDatasetConfig, beam_args: Sequence[str],
        argv: Sequence[str] = (), preset: Optional[Dict] = None) -> Dict[str, Any]:
  t0 = time.time()
  split_list, jobs, shuffles = _plan(cfg, beam_args)
  channels = list(jobs[0][4].channels)
  units = sum(len(j[3].units) for j in jobs)
  print(f"{PROG}: {len(split_list)} split(s) x {len(cfg.samples)} sample(s): {units} work "
        f"units over {sum(s.total_bp for s in split_list):,} bp", file=sys.stderr, flush=True)
  t1 = time.time()
  command = " ".join([PROG] + [shlex.quote(a) for a in argv])
  results: Dict[str, Any] = {}
  output_paths.claim_dir(cfg.output_dir, PROG)
  try:
    with beam.Pipeline(options=flags.pipeline_options(beam_args)) as p:
      build_pipeline(p, cfg, split_list, jobs, shuffles)
    t2 = time.time()
    checked = {}
    for split in split_list:  # every split passes its checks before any is committed
      outputs, _ = shuffles[split.name]
      summary = outputs.read_summary()
      shape = se.check_summary_shapes(summary)
      try:
        qa = se.run_label_qa(summary, require_labels=True,
                             allow_imbalance=cfg.allow_label_imbalance)
      except se.LabelQaFailure as e:
        raise flags.UsageError(f"split {split.name!r}: {e}") from None
      checked[split.name] = (summary, shape, qa)
      if cfg.write_small_model_examples:
        small_summary = shuffles[SMALL_MODEL_KEY + split.name][0].read_summary()
        # Hom-ref candidates are rare in clean data: imbalance is expected here, so it warns.
        checked[SMALL_MODEL_KEY + split.name] = (
            small_summary, se.check_summary_shapes(small_summary),
            se.run_label_qa(small_summary, require_labels=False, allow_imbalance=True))
    for split in split_list:
      outputs, plan = shuffles[split.name]
      summary, shape, qa = checked[split.name]
      shards = outputs.shard_infos()
      outputs.commit_shards(shards)
      example_info.write_example_info(
          example_info.dataset_example_info_path(outputs.prefix), shape, channels)
      samples = " ".join(f"{s.name}:{','.join(s.reads)}" for s in cfg.samples)
      manifest = se.write_dataset_files(
          name=split.name, config_path=cfg.config_path(split.name),
          manifest_path=_manifest_path(cfg, split.name), input_pattern_list=samples,
          outputs=outputs, shards=shards, summary=summary, image_shape=shape,
          channels=channels, seed=cfg.seed, command_line=command, qa=qa,
          shuffle_info={"num_buckets": plan.num_buckets,
                        "buckets_per_shard": plan.buckets_per_shard,
                        "bucket_budget_bytes": plan.bucket_budget_bytes,
                        "regions": list(split.literals())})
      results[split.name] = manifest
      if cfg.write_small_model_examples:
        results[split.name]["small_model"] = _commit_small_model(
            cfg, split, shuffles[SMALL_MODEL_KEY + split.name],
            checked[SMALL_MODEL_KEY + split.name], command)
  finally:
    for outputs, _ in shuffles.values():
      outputs.abort()
  t3 = time.time()
  summary = {"splits": results, "seconds": {"preflight": round(t1 - t0, 2),
                                            "pipeline": round(t2 - t1, 2),
                                            "commit": round(t3 - t2, 2),
                                            "total": round(t3 - t0, 2)}}
  if preset:
    summary["model_type"] = preset
  fs.write_bytes(os.path.join(cfg.output_dir, "make_dataset.summary.json"),
                 (json.dumps(summary, indent=1, sort_keys=True) + "\n").encode())
  return summary


def _commit_small_model(cfg, split, shuffle, checked, command: str) -> Dict[str, Any]:
  """Commits one split's shuffled small-model examples with their dataset_config.pbtxt and
  manifest; returns what the summary prints about them."""
  outputs, plan = shuffle
  summary, shape, qa = checked
  shards = outputs.shard_infos()
  outputs.commit_shards(shards)
  config_path = cfg.small_model_config_path(split.name)
  from schemas import manifest as manifest_lib
  manifest = se.write_dataset_files(
      name=split.name, config_path=config_path,
      manifest_path=manifest_lib.manifest_path_for_config(config_path),
      input_pattern_list=" ".join(f"{s.name}:{','.join(s.reads)}" for s in cfg.samples),
      outputs=outputs, shards=shards, summary=summary, image_shape=None, channels=None,
      seed=cfg.seed, command_line=command, qa=qa,
      shuffle_info={"num_buckets": plan.num_buckets,
                    "buckets_per_shard": plan.buckets_per_shard,
                    "bucket_budget_bytes": plan.bucket_budget_bytes,
                    "regions": list(split.literals())})
  return {"dataset_config": config_path, "num_examples": manifest["num_examples"],
          "class_counts": manifest["class_counts"], "features": shape[0] if shape else None}


def _manifest_path(cfg, split: str) -> str:
  from schemas import manifest
  return manifest.manifest_path_for_config(cfg.config_path(split))


def _print_summary(summary: Dict[str, Any], cfg: config_lib.MakeDatasetConfig) -> None:
  sec = summary["seconds"]
  print(f"{PROG}: done in {sec['total']:.1f} s (preflight {sec['preflight']}, pipeline "
        f"{sec['pipeline']}, commit {sec['commit']})")
  for name, m in summary["splits"].items():
    total_bytes = sum(s["bytes"] for s in m["shards"])
    classes = ", ".join(f"{k}: {v}" for k, v in m["class_counts"].items())
    types = ", ".join(f"{k}: {v}" for k, v in m["variant_type_counts"].items())
    print(f"{PROG}:   {name}: {m['num_examples']} examples {m['image_shape']} in "
          f"{len(m['shards'])} shards ({total_bytes:,} bytes); classes {classes}; {types}")
    for w in m["label_qa_warnings"]:
      print(f"{PROG}:   {name}: LABEL QA WARNING: {w}")
    print(f"{PROG}:   {name}: {cfg.config_path(name)}")
    small = m.get("small_model")
    if small:
      classes = ", ".join(f"{k}: {v}" for k, v in small["class_counts"].items())
      print(f"{PROG}:   {name}: small model: {small['num_examples']} examples of "
            f"{small['features']} features; classes {classes}; {small['dataset_config']}")


def main(argv: Optional[Sequence[str]] = None) -> int:
  flags.setup_logging()
  parser = flags.OneLineArgumentParser(
      prog=PROG, description="BAMs -> shuffled, training-ready splits, in one Beam pipeline.")
  config_lib.add_flags(parser)
  args, beam_args = flags.parse_known(parser, argv, PROG)
  argv = list(sys.argv[1:] if argv is None else argv)
  preset = model_types.apply(args, model_types.explicit_dests(parser, argv))
  for line in model_types.describe(preset):
    print(f"{PROG}: {line}", file=sys.stderr)
  cfg = flags.run_or_fail(PROG, lambda: config_lib.from_args(args).validate())
  summary = flags.run_or_fail(PROG, lambda: run(cfg, beam_args, argv, preset),
                              inputs.INPUT_ERRORS + (splits.SplitError,))
  _print_summary(summary, cfg)
  return 0


if __name__ == "__main__":
  sys.exit(main())
