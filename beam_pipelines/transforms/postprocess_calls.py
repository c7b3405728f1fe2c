"""PostprocessCalls: CallVariantsOutput files in, sorted call files (one per genome bin) out.

    files -> ReadOutputs (candidate key, image) -> GroupByKey ByCandidate -> CallCandidate
          -> KeyByBin -> GroupByKey ByBin -> WriteBin (sorted lines, one file per bin)

Why bins: a WGS has millions of candidates; grouping them per candidate and sorting them per
``bin_size`` bp of genome spreads both over the workers, and the driver only concatenates the
bins' files in name order (``bin-<contig index>-<bin>.txt`` sorts as the reference does). The
DoFn that calls checks every candidate against the reference, opened once per worker in
``setup()``. The logic is core/postprocess.py and core/call_outputs.py.
"""
from __future__ import annotations

import json
import os
from typing import Dict, Iterable, Tuple

import apache_beam as beam

from beam_pipelines.core import call_outputs
from beam_pipelines.core import postprocess
from beam_pipelines.io.fasta import FastaReader
from schemas import errors
from schemas import tfrecord
from schemas.protos import variants_pb2

DEFAULT_BIN_SIZE = 1_000_000


class PostprocessInputError(errors.InputError):
  """A call_variants output that cannot be postprocessed; the message names file and record."""


def bin_file_name(contig_index: int, bin_index: int) -> str:
  return f"bin-{contig_index:06d}-{bin_index:08d}.txt"


def _read_outputs(path: str) -> Iterable[Tuple[call_outputs.CandidateKey, Tuple]]:
  """(candidate key, (serialized variant, image)) for every record of one file."""
  try:
    for blob in tfrecord.read_records(path):
      try:
        variant, image = call_outputs.decode_output(blob, path)
      except ValueError as e:
        raise PostprocessInputError(str(e)) from None
      yield call_outputs.candidate_key(variant), (variant.SerializeToString(), image)
  except tfrecord.TFRecordError as e:
    raise PostprocessInputError(f"{e} (not a complete TFRecord file of CallVariantsOutput)") \
        from None


class _CallCandidateFn(beam.DoFn):
  """One candidate's images -> (bin key, (sort key, bin row)); see ``bin_row``."""

  def __init__(self, ref: str, options: call_outputs.PostprocessOptions,
               contig_order: Dict[str, int], bin_size: int):
    self._ref, self._options = ref, options
    self._contig_order, self._bin_size = contig_order, bin_size

  def setup(self):
    self._fasta = FastaReader(self._ref)
    self._lengths = self._fasta.contig_lengths()

  def teardown(self):
    self._fasta.close()

  def _fetch(self, contig: str, start: int, end: int) -> str:
    return self._fasta.window(contig, start, end).seq

  def process(self, element):
    key, items = element
    items = sorted(items, key=lambda item: item[1].alt_indices)  # input order never matters
    variant = variants_pb2.Variant.FromString(items[0][0])
    problem = call_outputs.reference_mismatch(variant, self._lengths, self._fetch)
    if problem:
      raise PostprocessInputError(f"--infile: {problem} in --ref {self._ref}; the calls and "
                                  "--ref come from different references")
    try:
      call = call_outputs.call_variant(variant, [image for _, image in items], self._options,
                                       "--infile")
    except ValueError as e:
      raise PostprocessInputError(str(e)) from None
    if call is None:
      return
    contig_index = self._contig_order[call.contig]
    yield ((contig_index, call.start // self._bin_size),
           (call_outputs.sort_key(call, self._contig_order), bin_row(call)))


def bin_row(call: postprocess.Call) -> str:
  """One line of a bin file: the call's span and FILTER, its VCF line and its gVCF line."""
  return json.dumps([call.start, call.end, call.filter, postprocess.vcf_line(call),
                     postprocess.gvcf_line(call)])


def parse_bin_row(text: str):
  """(start, end, FILTER, VCF line, gVCF line) of a ``bin_row`` line."""
  start, end, filt, vcf, gvcf = json.loads(text)
  return start, end, filt, vcf, gvcf


class _WriteBinFn(beam.DoFn):
  """Sorts one bin's lines and writes them to ``<folder>/bin-....txt`` (temp name, rename)."""

  def __init__(self, folder: str):
    self._folder = folder

  def process(self, element):
    (contig_index, bin_index), rows = element
    rows = sorted(rows, key=lambda row: row[0])
    path = os.path.join(self._folder, bin_file_name(contig_index, bin_index))
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      for _, line in rows:
        f.write(line)
        f.write("\n")
    os.replace(tmp, path)
    yield path


class PostprocessCalls(beam.PTransform):
  """CallVariantsOutput files -> per-bin sorted files of ``bin_row`` lines in ``bin_folder``."""

  def __init__(self, files, ref: str, options: call_outputs.PostprocessOptions,
               contig_order: Dict[str, int], bin_folder: str,
               bin_size: int = DEFAULT_BIN_SIZE):
    super().__init__()
    self._files, self._ref, self._options = list(files), ref, options
    self._contig_order = dict(contig_order)
    self._bin_folder, self._bin_size = bin_folder, bin_size

  def expand(self, pbegin):
    return (pbegin
            | "Files" >> beam.Create(self._files)
            | "ReadOutputs" >> beam.FlatMap(_read_outputs)
            | "ByCandidate" >> beam.GroupByKey()
            | "CallCandidate" >> beam.ParDo(_CallCandidateFn(
                self._ref, self._options, self._contig_order, self._bin_size))
            | "ByBin" >> beam.GroupByKey()
            | "WriteBin" >> beam.ParDo(_WriteBinFn(self._bin_folder)))
