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
An existing ``--outfile`` is refused without ``--overwrite``.

gVCF: with make_examples' ``--gvcf`` records as ``--nonvariant_site_tfrecord_path`` and a
``--gvcf_outfile``, the calls are merged with the reference blocks as DeepVariant does
(core/gvcf.py ``merge_gvcf``: blocks are cut around calls; calls gain the ``<*>`` allele).
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('postprocess_variants')

import heapq
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam

from beam_pipelines import flags
from beam_pipelines import postprocess_variants_config as config_lib
from beam_pipelines.core import call_outputs
from beam_pipelines.core import gvcf
from beam_pipelines.core import postprocess
from beam_pipelines.io import filesystem as fs
from beam_pipelines.io import vcf_output
from beam_pipelines.io.fasta import FastaError, FastaReader
from beam_pipelines.transforms import postprocess_calls as pc
from schemas import output_paths
from schemas import sharding
from schemas import tfrecord
from schemas.protos import variants_pb2

PROG = "postprocess_variants"
log = logging.getLogger("pileflow.postprocess_variants")
DEFAULT_SAMPLE_NAME = "default"


def resolve_infile(spec: str, flag: str = "--infile") -> List[str]:
  """Files of ``flag``: comma-separated paths, globs or sharded specs (``x@N.gz``)."""
  try:
    return sharding.resolve_files(spec, flag, fs.exists, fs.glob)
  except ValueError as e:
    raise flags.UsageError(str(e)) from None


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
      files, cfg.ref, cfg.options, contig_order, bin_folder, cfg.bin_size)


def _bin_rows(paths: Sequence[str]) -> Iterator[Tuple[int, Tuple]]:
  """(contig index, parsed bin row) of every call, in reference order."""
  for path in paths:
    contig_index = int(os.path.basename(path).split("-")[1])
    with open(path) as f:
      for line in f:
        yield contig_index, pc.parse_bin_row(line)


def _vcf_lines(paths: Sequence[str], only_keep_pass: bool, by_filter: Dict[str, int]):
  for _, (_, _, filt, line, _) in _bin_rows(paths):
    if only_keep_pass and filt != postprocess.FILTER_PASS:
      continue
    by_filter[filt] = by_filter.get(filt, 0) + 1
    yield line


def read_blocks(files: Sequence[str], contig_order: Dict[str, int]
                ) -> Iterator[Tuple[int, variants_pb2.Variant]]:
  """make_examples' gVCF records of every shard, merged into reference order."""
  def one(path):
    try:
      for blob in tfrecord.read_records(path):
        v = _block(blob, path)
        if v.reference_name not in contig_order:
          raise pc.PostprocessInputError(
              f"{path}: gVCF record at {v.reference_name}:{v.start + 1} is on a contig the "
              "reference lacks; --nonvariant_site_tfrecord_path and --ref differ")
        if not v.calls or list(v.alternate_bases) != [gvcf.GVCF_ALT]:
          raise pc.PostprocessInputError(
              f"{path}: record at {v.reference_name}:{v.start + 1} is not a gVCF reference "
              "block (make_examples --gvcf output)")
        yield contig_order[v.reference_name], v
    except tfrecord.TFRecordError as e:
      raise pc.PostprocessInputError(f"{e} (not a complete TFRecord file of gVCF records)") \
          from None
  return heapq.merge(*(one(f) for f in files), key=lambda cv: (cv[0], cv[1].start, cv[1].end))


def _gvcf_lines(paths: Sequence[str], blocks, fasta: FastaReader, counts: Dict[str, int]):
  calls = (gvcf.CallSpan(ci, start, end, line)
           for ci, (start, end, _, _, line) in _bin_rows(paths))
  fetch = lambda contig, pos: fasta.window(contig, pos, pos + 1).seq  # noqa: E731
  for line in gvcf.merge_gvcf(calls, blocks, fetch):
    counts["records"] = counts.get("records", 0) + 1
    yield line


def _block(blob: bytes, path: str) -> variants_pb2.Variant:
  try:
    return variants_pb2.Variant.FromString(blob)
  except Exception:  # protobuf's DecodeError has no stable import path across versions
    raise pc.PostprocessInputError(f"{path}: a record is not a nucleus Variant proto, so not "
                                   "a gVCF reference block (make_examples --gvcf output)") \
        from None


def first_block_sample(files: Sequence[str]) -> str:
  for path in files:
    try:
      for blob in tfrecord.read_records(path):
        v = _block(blob, path)
        return v.calls[0].call_set_name if v.calls else ""
    except tfrecord.TFRecordError as e:
      raise pc.PostprocessInputError(f"{e} (not a complete TFRecord file of gVCF records)") \
          from None
  return ""


def run(cfg: config_lib.PostprocessConfig, beam_args: Sequence[str]) -> Dict[str, object]:
  """Checks inputs, runs the pipeline, writes the VCF (and gVCF); returns a summary."""
  t0 = time.time()
  for flag, path in (("--outfile", cfg.outfile), ("--gvcf_outfile", cfg.gvcf_outfile)):
    if not path:
      continue
    if output_paths.is_remote(path):
      raise flags.UsageError(f"{flag} {path}: write the VCF to a local path (the bins and the "
                             "bgzip/tabix step run on this machine), then copy it")
    outputs = [path] + ([vcf_output.index_path(path)] if vcf_output.index_path(path) else [])
    output_paths.check_file_outputs(outputs, flag, cfg.overwrite, shown=path)
  files = resolve_infile(cfg.infile)
  if cfg.small_model_cvo_records:
    # The cascade's calls are whole candidates the CNN never saw: the same records as
    # call_variants', grouped with them per candidate.
    files = files + resolve_infile(cfg.small_model_cvo_records, "--small_model_cvo_records")
  block_files = (resolve_infile(cfg.nonvariant_site_tfrecord_path,
                                "--nonvariant_site_tfrecord_path")
                 if cfg.nonvariant_site_tfrecord_path else [])
  try:
    fasta = FastaReader(cfg.ref)
  except FastaError as e:
    raise flags.UsageError(f"--ref {e}") from None
  with fasta:
    contigs = list(fasta.contig_lengths().items())
    contig_order = {name: i for i, (name, _) in enumerate(contigs)}
    sample = (first_sample_name(files) or first_block_sample(block_files) or cfg.sample_name
              or DEFAULT_SAMPLE_NAME)
    folder = os.path.dirname(os.path.abspath(cfg.outfile))
    os.makedirs(folder, exist_ok=True)
    bin_folder = tempfile.mkdtemp(prefix=f".{os.path.basename(cfg.outfile)}.bins-", dir=folder)
    by_filter: Dict[str, int] = {}
    gvcf_counts: Dict[str, int] = {}
    try:
      t1 = time.time()
      with beam.Pipeline(options=flags.pipeline_options(beam_args)) as p:
        build_pipeline(p, cfg, files, contig_order, bin_folder)
      t2 = time.time()
      bins = sorted(os.path.join(bin_folder, n) for n in os.listdir(bin_folder)
                    if n.startswith("bin-") and n.endswith(".txt"))
      header = postprocess.vcf_header(contigs, sample,
                                      ["##source=pileflow.postprocess_variants"])
      if cfg.gvcf_outfile:  # first: a bad block file must not leave a finished VCF behind
        vcf_output.write_vcf(cfg.gvcf_outfile, header, [_gvcf_lines(
            bins, read_blocks(block_files, contig_order), fasta, gvcf_counts)])
      n = vcf_output.write_vcf(cfg.outfile, header,
                               [_vcf_lines(bins, cfg.only_keep_pass, by_filter)])
    finally:
      shutil.rmtree(bin_folder, ignore_errors=True)
  t3 = time.time()
  return {"outfile": cfg.outfile, "files": len(files), "records": n,
          "by_filter": dict(sorted(by_filter.items())), "sample": sample,
          "gvcf_records": gvcf_counts.get("records", 0),
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
  if cfg.gvcf_outfile:
    print(f"{PROG}: wrote {cfg.gvcf_outfile} ({result['gvcf_records']} gVCF records)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
