"""call_variants: calling examples -> DeepVariant ``CallVariantsOutput`` records, with RunInference.

DeepVariant's command line, with only the command name changed:

  python -m beam_pipelines.call_variants --examples examples.tfrecord@8.gz \\
    --checkpoint model_dir --outfile call_variants_output.tfrecord.gz

then ``python -m beam_pipelines.postprocess_variants --infile ...`` (or DeepVariant's own)
makes the VCF. ``--checkpoint`` takes whatever ``beam_pipelines.call`` takes: a pileflow experiment
dir (its best checkpoint), a SavedModel, a pileflow checkpoint prefix, or DeepVariant's
tf.keras ``model.ckpt`` (InceptionV3). The model's example_info must match the examples'
(channels, shape), as DeepVariant checks.

Local, two processes (each loads the model once):

  python -m beam_pipelines.call_variants ... \\
    --direct_running_mode=multi_processing --direct_num_workers=2

A dask.distributed cluster (``--runner DaskRunner --dask_client_address HOST:PORT``) or
Dataflow with GPU workers (``launch/``) run the same pipeline. Output shards
(``--outfile x@N.tfrecord.gz`` or one file) are the same bytes on every runner
(transforms/call_examples.py); they appear only when the run succeeds, and existing ones are
refused without ``--overwrite``.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('call_variants')

import logging
import os
import sys
import time
import uuid
from typing import Dict, List, Optional, Sequence

import apache_beam as beam

from beam_pipelines import call_variants_config as config_lib
from beam_pipelines import flags
from beam_pipelines.transforms import call_examples as ce
from schemas import output_paths
from schemas import sharding
from schemas import tfrecord

PROG = "call_variants"
log = logging.getLogger("pileflow.call_variants")


def output_names(spec: str) -> List[str]:
  return sharding.sharded_filenames(spec) if sharding.is_sharded(spec) else [spec]


def run(cfg: config_lib.CallVariantsConfig, beam_args: Sequence[str]) -> Dict[str, object]:
  """Checks inputs and model, runs the pipeline, commits the shards; returns a summary."""
  from beam_pipelines import call as call_lib  # TensorFlow: only once the flags are known good
  t0 = time.time()
  finals = output_names(cfg.outfile)
  if output_paths.is_remote(cfg.outfile):
    raise flags.UsageError(f"--outfile {cfg.outfile}: write to a local path (shards are "
                           "committed by renaming on this machine), then copy")
  output_paths.check_file_outputs(finals, "--outfile", cfg.overwrite, shown=cfg.outfile)
  files = call_lib.resolve_examples(cfg.examples)
  data_info, data_info_path = call_lib.examples_info(files)
  source = call_lib.locate_model(cfg.checkpoint, cfg.model_type)
  model_info = call_lib._read_info(source.info_path)
  call_lib.check_model_against_examples(model_info, source.info_path, data_info,
                                        data_info_path)
  shape = tuple(data_info.shape or model_info.shape)
  run_id = uuid.uuid4().hex[:8]
  temps = [ce.temp_name(f, run_id) for f in finals]
  for f in finals:
    os.makedirs(os.path.dirname(os.path.abspath(f)), exist_ok=True)
  try:
    t1 = time.time()
    if data_info.shape is not None:
      with beam.Pipeline(options=flags.pipeline_options(beam_args)) as p:
        _ = p | "Call" >> ce.CallExamples(files, shape, cfg.checkpoint, cfg.model_type,
                                          cfg.batch_size, temps)
    t2 = time.time()
    for temp in temps:  # a shard no candidate hashed to is still written, empty
      if not os.path.exists(temp):
        tfrecord.write_records(temp, [])
    n = sum(sum(1 for _ in tfrecord.read_records(t)) for t in temps)
    for temp, final in zip(temps, finals):
      os.replace(temp, final)
  finally:
    for temp in temps:
      if os.path.exists(temp):
        os.remove(temp)
  t3 = time.time()
  return {"outfile": cfg.outfile, "files": len(files), "shards": len(finals), "records": n,
          "model": source.path,
          "seconds": {"preflight": round(t1 - t0, 2), "pipeline": round(t2 - t1, 2),
                      "commit": round(t3 - t2, 2), "total": round(t3 - t0, 2)}}


def main(argv: Optional[Sequence[str]] = None) -> int:
  flags.setup_logging()
  parser = flags.OneLineArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
  config_lib.add_flags(parser)
  args, beam_args = flags.parse_known(parser, argv, PROG)
  cfg = flags.run_or_fail(PROG, lambda: config_lib.from_args(args).validate())
  from trainer import cli as trainer_cli
  trainer_cli.quiet_tensorflow()  # before TensorFlow loads: its start-up chatter off stderr
  result = flags.run_or_fail(PROG, lambda: run(cfg, beam_args), (ce.CallExamplesInputError,))
  sec = result["seconds"]
  rate = result["records"] / sec["pipeline"] if sec["pipeline"] else 0.0
  print(f"{PROG}: {result['files']} examples file(s) -> {result['records']} CallVariantsOutput "
        f"records in {result['shards']} shard(s), {sec['total']:.1f} s (pipeline "
        f"{sec['pipeline']} s, {rate:.0f} examples/s); model {result['model']}; wrote "
        f"{cfg.outfile}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
