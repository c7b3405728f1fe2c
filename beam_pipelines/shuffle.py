"""shuffle: DeepVariant's global shuffle of training examples, in bounded memory, deterministic.

Local (DirectRunner; the memory budget is split across the workers):

  python -m beam_pipelines.shuffle \\
    --input_pattern_list "out/train.tfrecord-?????-of-00016.gz" \\
    --output_pattern_prefix out/train.shuffled \\
    --output_dataset_config_pbtxt out/train.dataset_config.pbtxt --output_dataset_name HG001 \\
    --num_shards 16 --seed 7 --memory_budget 2G \\
    --direct_running_mode=multi_processing --direct_num_workers=2

Dataflow (the same pipeline; --memory_budget then applies per worker harness):

  python -m beam_pipelines.shuffle ... --output_pattern_prefix gs://bucket/ds/train.shuffled \\
    --runner DataflowRunner --project P --region R --temp_location gs://bucket/tmp \\
    --setup_file ./setup.py

Outputs: ``<prefix>-SSSSS-of-NNNNN.tfrecord.gz``, ``<dirname(prefix)>/example_info.json``
(copied from the inputs as DeepVariant does, spec 8.2), the dataset config (spec 8.3) and the
JSON manifest (schemas/manifest.py). Exit 2: bad flags or inputs (one line); exit 1: an input's
bytes are corrupt (one line naming file and offset; ``--skip_corrupt`` skips and counts).
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('shuffle')

import logging
import os
import shlex
import sys
import time
from typing import Any, Dict, Optional, Sequence

import apache_beam as beam

from beam_pipelines import flags
from beam_pipelines import shuffle_config as config_lib
from beam_pipelines.core import shuffle_plan
from beam_pipelines.transforms import shuffle_examples as se
from schemas import output_paths

PROG = "shuffle"
log = logging.getLogger("pileflow.shuffle")


def worker_count(beam_args: Sequence[str]) -> int:
  """How many shards may be written at once on this machine: --direct_num_workers or 1."""
  from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions
  n = PipelineOptions(list(beam_args)).view_as(DirectOptions).direct_num_workers
  if n is None or n < 0:
    return 1
  return n or (os.cpu_count() or 1)


def build_pipeline(p: beam.Pipeline, cfg: config_lib.ShuffleConfig, files, plan, outputs,
                   check: se.InputCheck):
  """The pipeline, identical for every runner."""
  return (p
          | "InputFiles" >> beam.Create([f.path for f in files])
          | "Shuffle" >> se.ShuffleExampleFiles(plan, outputs, cfg.skip_corrupt,
                                                check.shape, check.shape_source))


def run(cfg: config_lib.ShuffleConfig, beam_args: Sequence[str],
        argv: Sequence[str] = ()) -> Dict[str, Any]:
  """Checks inputs, runs the pipeline, QA, commits; returns the manifest plus timings."""
  t0 = time.time()
  files = se.expand_inputs(cfg.input_pattern_list)
  outputs = se.ShuffleOutputs.for_prefix(cfg.output_pattern_prefix, cfg.num_shards)
  outputs.preflight(cfg.overwrite)
  for flag, path in (("--output_dataset_config_pbtxt", cfg.output_dataset_config_pbtxt),
                     ("--output_manifest", cfg.manifest_path)):
    if path:
      output_paths.check_file_outputs([path], flag, cfg.overwrite)
  check = se.check_inputs(files)
  se.check_existing_example_info(cfg.output_pattern_prefix, check)
  workers = worker_count(beam_args)
  budget = cfg.memory_budget_bytes
  estimated = shuffle_plan.estimate_bucket_data_bytes([(f.path, f.size) for f in files])
  plan = shuffle_plan.plan_shuffle(cfg.seed, cfg.num_shards, estimated,
                                   max(1, budget // workers))
  log.info("%s: %d input file(s), %s bytes -> %d shard(s) x %d bucket(s), %s bytes per bucket "
           "(budget %s / %d worker(s))", PROG, len(files), f"{sum(f.size for f in files):,}",
           plan.num_shards, plan.buckets_per_shard, f"{plan.bucket_budget_bytes:,}",
           f"{budget:,}", workers)
  t1 = time.time()
  try:
    with beam.Pipeline(options=flags.pipeline_options(beam_args)) as p:
      build_pipeline(p, cfg, files, plan, outputs, check)
    t2 = time.time()
    summary = outputs.read_summary()
    shape = se.check_summary_shapes(summary) or check.shape
    qa = se.run_label_qa(summary, require_labels=bool(cfg.output_dataset_config_pbtxt),
                         allow_imbalance=cfg.allow_label_imbalance)
    shards = outputs.shard_infos()
    outputs.commit_shards(shards)
    se.copy_example_info(cfg.input_patterns[0], cfg.output_pattern_prefix)
    manifest = se.write_dataset_files(
        name=cfg.output_dataset_name, config_path=cfg.output_dataset_config_pbtxt,
        manifest_path=cfg.manifest_path, input_pattern_list=cfg.input_pattern_list,
        outputs=outputs, shards=shards, summary=summary, image_shape=shape,
        channels=check.channels, seed=cfg.seed,
        command_line=" ".join([PROG] + [shlex.quote(a) for a in argv]), qa=qa,
        shuffle_info={"num_buckets": plan.num_buckets,
                      "buckets_per_shard": plan.buckets_per_shard,
                      "bucket_budget_bytes": plan.bucket_budget_bytes,
                      "memory_budget_bytes": budget, "workers": workers,
                      "max_bucket_bytes": max((s.get("max_bucket_bytes", 0) for s in shards),
                                              default=0)})
  finally:
    outputs.abort()
  t3 = time.time()
  return {"manifest": manifest, "seconds": {
      "preflight": round(t1 - t0, 2), "pipeline": round(t2 - t1, 2),
      "scatter_worker_seconds": summary.scatter_seconds,
      "write_worker_seconds": round(sum(s.get("seconds", 0.0) for s in shards), 2),
      "commit": round(t3 - t2, 2), "total": round(t3 - t0, 2)}}


def _print_summary(result: Dict[str, Any], cfg: config_lib.ShuffleConfig) -> None:
  m, sec = result["manifest"], result["seconds"]
  total_bytes = sum(s["bytes"] for s in m["shards"])
  print(f"{PROG}: {m['num_examples']} examples {m['image_shape']} -> {len(m['shards'])} "
        f"shard(s), {total_bytes:,} bytes, in {sec['total']:.1f} s")
  print(f"{PROG}:   by class: " + (", ".join(f"class {k}: {v}" for k, v in
                                             m["class_counts"].items()) or "none") +
        (f", unlabeled: {m['unlabeled_examples']}" if m["unlabeled_examples"] else ""))
  print(f"{PROG}:   by type: " + ", ".join(f"{k}: {v}" for k, v in
                                           m["variant_type_counts"].items()))
  print(f"{PROG}:   seconds: preflight {sec['preflight']}, pipeline {sec['pipeline']} "
        f"(scatter {sec['scatter_worker_seconds']:.1f}, write {sec['write_worker_seconds']:.1f} "
        f"worker-s), commit {sec['commit']}")
  for c in m["corrupt_inputs"]:
    print(f"{PROG}:   SKIPPED corrupt input rest: {c['error']}")
  for w in m["label_qa_warnings"]:
    print(f"{PROG}:   LABEL QA WARNING: {w}")
  print(f"{PROG}:   shards {m['shard_pattern']}")
  if cfg.output_dataset_config_pbtxt:
    print(f"{PROG}:   config {cfg.output_dataset_config_pbtxt}")
  print(f"{PROG}:   manifest {cfg.manifest_path}")


def main(argv: Optional[Sequence[str]] = None) -> int:
  flags.setup_logging()
  parser = flags.OneLineArgumentParser(
      prog=PROG, description="Global shuffle of TFRecord examples in bounded memory.")
  config_lib.add_flags(parser)
  args, beam_args = flags.parse_known(parser, argv, PROG)
  argv = list(sys.argv[1:] if argv is None else argv)
  cfg = flags.run_or_fail(PROG, lambda: config_lib.from_args(args).validate())
  result = flags.run_or_fail(PROG, lambda: run(cfg, beam_args, argv), (se.ShuffleDataError,))
  _print_summary(result, cfg)
  return 0


if __name__ == "__main__":
  sys.exit(main())
