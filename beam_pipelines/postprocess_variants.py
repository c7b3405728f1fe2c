"""postprocess_variants: call_variants output -> the VCF DeepVariant writes, as a Beam pipeline.

DeepVariant's command line, with only the command name changed:

  python -m beam_pipelines.postprocess_variants --ref ref.fa \\
    --infile call_variants_output.tfrecord.gz --outfile sample.vcf.gz

It reads ``CallVariantsOutput`` records (DeepVariant's call_variants output, or pileflow's),
groups each candidate's images, applies DeepVariant's rule (core/postprocess.py: multi-allelic
merging, GT, GQ, QUAL, PL, FILTER PASS/RefCall/LowQual/NoCall, DP, AD, VAF) and writes the
records in reference order with DeepVariant's header lines. Grouping and sorting run in
parallel per ``--bin_size`` bp of genome (transforms/postprocess_calls.py); the driver only
concatenates the sorted bins, bgzips and indexes (pysam).

Local, two processes:

  python -m beam_pipelines.postprocess_variants ... \\
    --direct_running_mode=multi_processing --direct_num_workers=2

Every candidate is checked against ``--ref`` (contig, bounds, REF bases). Exit 2: bad flags or
input (one line naming the file and record); nothing is written unless the run succeeds.
An existing ``--outfile`` is refused without ``--overwrite``. gVCF output
(``--nonvariant_site_tfrecord_path``, ``--gvcf_outfile``) is not implemented yet and refused
by name.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('postprocess_variants')

import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import apache_beam as beam

from beam_pipelines import flags
from beam_pipelines import postprocess_variants_config as config_lib
from beam_pipelines.core import call_outputs
from beam_pipelines.core import postprocess
from beam_pipelines.io import filesystem as fs
from beam_pipelines.io import vcf_output
from beam_pipelines.io.fasta import FastaError, FastaReader
from beam_pipelines.transforms import postprocess_calls as pc
from schemas import output_paths
from schemas import sharding
from schemas import tfrecord

PROG = "postprocess_variants"
log = logging.getLogger("pileflow.postprocess_variants")
DEFAULT_SAMPLE_NAME = "default"


def resolve_infile(spec: str) -> List[str]:
  """Files of ``--infile``: comma-separated paths, globs or sharded specs (``x@N.gz``)."""
  files: List[str] = []
  for part in (p.strip() for p in spec.split(",")):
    if not part:
      continue
    if sharding.is_sharded(part):
      names = sharding.sharded_filenames(part)
      missing = [n for n in names if not fs.exists(n)]
      if missing:
        raise flags.UsageError(f"--infile {part}: {len(missing)} of {len(names)} shards "
                               f"missing, e.g. {missing[0]}")
      files.extend(names)
    else:
      matched = sorted(fs.glob(part))
      if not matched:
        raise flags.UsageError(f"--infile {part}: no such file")
      files.extend(matched)
  if not files:
    raise flags.UsageError("--infile: empty")
  return list(dict.fromkeys(files))


def first_sample_name(files: Sequence[str]) -> str:
  """The sample named by the first record of the first non-empty file ('' if none)."""
  for path in files:
    try:
      for blob in tfrecord.read_records(path):
        variant, _ = call_outputs.decode_output(blob, path)
        return call_outputs.sample_name(variant)
    except tfrecord.TFRecordError as e:
      raise pc.PostprocessInputError(f"{e} (not a complete TFRecord file of "
                                     "CallVariantsOutput)") from None
    except ValueError as e:
      raise pc.PostprocessInputError(str(e)) from None
  return ""


def build_pipeline(p: beam.Pipeline, cfg: config_lib.PostprocessConfig, files: Sequence[str],
                   contig_order: Dict[str, int], bin_folder: str):
  """The pipeline, identical for every runner."""
  return p | "Postprocess" >> pc.PostprocessCalls(
      files, cfg.ref, cfg.options, cfg.only_keep_pass, contig_order, bin_folder, cfg.bin_size)


def _bin_lines(paths: Sequence[str], by_filter: Dict[str, int]):
  for path in paths:
    with open(path) as f:
      lines = f.read().splitlines()
    for line in lines:
      filt = line.split("\t", 7)[6]
      by_filter[filt] = by_filter.get(filt, 0) + 1
    yield lines


def run(cfg: config_lib.PostprocessConfig, beam_args: Sequence[str]) -> Dict[str, object]:
  """Checks inputs, runs the pipeline, writes the VCF; returns a summary."""
  t0 = time.time()
  outputs = [cfg.outfile] + ([vcf_output.index_path(cfg.outfile)]
                             if vcf_output.index_path(cfg.outfile) else [])
  if output_paths.is_remote(cfg.outfile):
    raise flags.UsageError(f"--outfile {cfg.outfile}: write the VCF to a local path (the bins "
                           "and the bgzip/tabix step run on this machine), then copy it")
  output_paths.check_file_outputs(outputs, "--outfile", cfg.overwrite, shown=cfg.outfile)
  files = resolve_infile(cfg.infile)
  try:
    with FastaReader(cfg.ref) as fasta:
      contigs = list(fasta.contig_lengths().items())
  except FastaError as e:
    raise flags.UsageError(f"--ref {e}") from None
  contig_order = {name: i for i, (name, _) in enumerate(contigs)}
  sample = first_sample_name(files) or cfg.sample_name or DEFAULT_SAMPLE_NAME
  folder = os.path.dirname(os.path.abspath(cfg.outfile))
  os.makedirs(folder, exist_ok=True)
  bin_folder = tempfile.mkdtemp(prefix=f".{os.path.basename(cfg.outfile)}.bins-", dir=folder)
  try:
    t1 = time.time()
    with beam.Pipeline(options=flags.pipeline_options(beam_args)) as p:
      build_pipeline(p, cfg, files, contig_order, bin_folder)
    t2 = time.time()
    bins = sorted(os.path.join(bin_folder, n) for n in os.listdir(bin_folder)
                  if n.startswith("bin-") and n.endswith(".txt"))
    header = postprocess.vcf_header(contigs, sample, ["##source=pileflow.postprocess_variants"])
    by_filter: Dict[str, int] = {}
    n = vcf_output.write_vcf(cfg.outfile, header, _bin_lines(bins, by_filter))
  finally:
    shutil.rmtree(bin_folder, ignore_errors=True)
  t3 = time.time()
  return {"outfile": cfg.outfile, "files": len(files), "records": n,
          "by_filter": dict(sorted(by_filter.items())), "sample": sample,
          "seconds": {"preflight": round(t1 - t0, 2), "pipeline": round(t2 - t1, 2),
                      "write": round(t3 - t2, 2), "total": round(t3 - t0, 2)}}


def main(argv: Optional[Sequence[str]] = None) -> int:
  flags.setup_logging()
  parser = flags.OneLineArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
  config_lib.add_flags(parser)
  args, beam_args = flags.parse_known(parser, argv, PROG)
  cfg = flags.run_or_fail(PROG, lambda: config_lib.from_args(args).validate())
  result = flags.run_or_fail(PROG, lambda: run(cfg, beam_args),
                             (pc.PostprocessInputError, FastaError))
  filters = ", ".join(f"{k} {v}" for k, v in result["by_filter"].items()) or "none"
  sec = result["seconds"]
  print(f"{PROG}: {result['files']} file(s) -> {result['records']} records ({filters}), "
        f"sample {result['sample']}, in {sec['total']:.1f} s (pipeline {sec['pipeline']} s); "
        f"wrote {cfg.outfile}" + (" (+.tbi)" if vcf_output.index_path(cfg.outfile) else ""))
  return 0


if __name__ == "__main__":
  sys.exit(main())
