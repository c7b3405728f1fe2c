"""Benchmark a VCF against a truth VCF in confident regions: ``python -m beam_pipelines.evaluate``.

Local::

  python -m beam_pipelines.evaluate --calls out/calls.vcf.gz --truth truth.vcf.gz \\
      --confident_regions confident.bed --ref ref.fa --regions sim2:50001-100000 \\
      --stratification homopolymers=hp.bed --output_csv out/calls.summary.csv

(On the cloud the same command runs on a VM with the files copied locally; evaluation is
single-threaded and takes seconds for a chromosome-sized region.)

Prints a hap.py-like table (SNP and INDEL rows, one more per stratum) and writes it as CSV
(``--output_csv``, default ``<calls without .vcf.gz>.summary.csv``). The matching rules are in
``beam_pipelines.core.vcf_compare`` (pure). Scoring is hap.py's default: a call with the right allele and the
wrong genotype is a FP and a FN (``FP.gt`` counts them); ``--squash_ploidy`` scores alleles
only. This module reads the files (FASTA and BED through ``beam_pipelines.io``, the VCFs with
``io/vcf_records``) and checks that the inputs belong together:

* every contig the calls use must be in the reference, with the same length where the calls'
  header says one, and calls and truth headers must agree on the length of every contig both
  list: a VCF made against another reference is refused with one line naming both files;
* every input that names contigs (truth VCF, confident BED, ``--regions``, calls) is checked
  against the reference's contig names before anything is scored
  (``schemas.contig_names``): a truth set spelt ``20`` against a ``chr20`` reference would
  otherwise match nothing and score an F1 of 0 that looks like a result. The truth and the BEDs
  may name contigs the reference lacks (a whole-genome truth on a chromosome-sized reference)
  as long as they share one with it; calls and region literals must all be on the reference;
* ``--regions`` (literals ``chr:start-end``, 1-based inclusive, or BED files) restricts the
  evaluation, e.g. to the held-out region the calls were made on, by intersecting it with the
  confident regions.

The CSV path (``--output_csv`` or its default beside ``--calls``) is checked before any work
(``schemas.output_paths``): a folder that cannot be written is refused at once, and an existing
CSV is replaced only with ``--overwrite``. The CSV is written under a temporary name and renamed
when complete, so an interrupted or failed run leaves no CSV behind.

Exit codes (schemas/errors.py): 0 done; 2 bad flags or input (one line on stderr naming the
file or flag); 1 a failure during the run (e.g. an I/O error); 130 interrupted.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('evaluate')

import argparse
import os
import re
import sys
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from schemas import contig_names
from schemas import errors
from schemas import output_paths
from trainer import cli
from beam_pipelines.core import depth_buckets
from beam_pipelines.core import regions as regions_lib
from beam_pipelines.core import vcf_compare
from beam_pipelines.io import bed as bed_io
from beam_pipelines.io import fasta as fasta_io
from beam_pipelines.io import read_depth
from beam_pipelines.io import vcf_records

PROG = "evaluate"
_LITERAL = re.compile(r"^(?P<contig>[^:\s]+)(?::(?P<start>[\d,]+)-(?P<end>[\d,]+))?$")


class EvaluationError(errors.InputError):
  """Inputs that cannot be compared; one line naming the file(s) and why."""


def read_bed(path: str) -> List[regions_lib.Range]:
  try:
    return bed_io.read_bed(path)
  except bed_io.BedError as e:
    raise EvaluationError(str(e)) from None


def open_reference(path: str) -> fasta_io.FastaReader:
  try:
    return fasta_io.FastaReader(path)
  except fasta_io.FastaError as e:
    raise EvaluationError(str(e)) from None


def parse_regions(text: str, ref_contigs: Mapping[str, int],
                  reference_name: str = "the reference",
                  flag: str = "--regions") -> List[regions_lib.Range]:
  """Space/comma-free region list -> 0-based half-open intervals.

  Each item is a BED file path or a literal ``chr``/``chr:start-end`` (1-based, inclusive,
  commas allowed in numbers). A literal must name a reference contig; a BED file must share at
  least one contig with the reference (``schemas.contig_names``, with the chr-prefix hint).
  """
  out: List[regions_lib.Range] = []
  for item in text.split():
    if os.path.exists(item):
      intervals = read_bed(item)
      contig_names.check_contig_names([c for c, _, _ in intervals], ref_contigs,
                                      f"{flag} {item}", reference_name,
                                      allow_some_unknown=True)
      out.extend(intervals)
      continue
    m = _LITERAL.match(item)
    if not m:
      raise EvaluationError(f"{flag} {item!r}: neither a file nor a region (chr or "
                            "chr:start-end)")
    contig = m.group("contig")
    contig_names.check_contig_names([contig], ref_contigs, f"{flag} {item}", reference_name)
    if m.group("start") is None:
      out.append(regions_lib.Range(contig, 0, ref_contigs[contig]))
    else:
      start, end = int(m.group("start").replace(",", "")), int(m.group("end").replace(",", ""))
      if start < 1 or end < start:
        raise EvaluationError(f"{flag} {item!r}: start must be >= 1 and <= end")
      out.append(regions_lib.Range(contig, start - 1, end))
  return out


def check_contigs(calls_path: str, calls: vcf_records.VcfHeader, calls_records: Sequence[vcf_records.VcfRecord],
                  truth_path: str, truth: vcf_records.VcfHeader, truth_contigs: Sequence[str],
                  ref_path: str, ref_contigs: Mapping[str, int]) -> None:
  """Refuses calls and truth that come from different references (module docstring).

  Only contigs that carry records are compared: real headers often disagree on contigs nobody
  uses (GIAB's b37 truth lists chrM at 16,569 bp, an hg19 BAM header at 16,571).

  Raises:
    ContigNameError: calls on a contig the reference lacks (with the chr-prefix hint).
    EvaluationError: a used contig whose length in a VCF header differs from the reference's.
  """
  contig_names.check_contig_names([r.contig for r in calls_records], ref_contigs,
                                  f"--calls {calls_path}", f"--ref {ref_path}")
  used = sorted({r.contig for r in calls_records} | set(truth_contigs))
  for name in used:
    for path, header in ((calls_path, calls), (truth_path, truth)):
      length = header.contigs.get(name)
      if name in ref_contigs and length is not None and length != ref_contigs[name]:
        raise EvaluationError(f"{path}: contig {name} has length {length} but {ref_path} "
                              f"says {ref_contigs[name]}; calls, truth and reference must "
                              "come from the same reference")


def to_records(records: Sequence[vcf_records.VcfRecord]) -> List[vcf_compare.Record]:
  return [vcf_compare.Record(r.contig, r.start, r.ref, r.alts, r.genotype, r.passing)
          for r in records]


# How TruthSet names its inputs in messages: evaluate's flags (the calling-level tune passes
# its --config.calling_tune_* keys instead).
FLAG_NAMES = {"truth": "--truth", "confident_regions": "--confident_regions", "ref": "--ref",
              "regions": "--regions"}


class TruthSet:
  """Truth records, confident regions (optionally cut to ``regions``) and the reference.

  Read once, reusable for many call sets (the trainer's calling-level tune uses it so). Every
  input's contigs are checked against the reference's here (module docstring).
  """

  def __init__(self, truth_vcf: str, confident_bed: str, ref: str,
               regions: Optional[str] = None, flag_names: Optional[Mapping[str, str]] = None,
               genotype_match: bool = True):
    names = {**FLAG_NAMES, **(flag_names or {})}
    self.truth_path, self.ref_path = truth_vcf, ref
    self.genotype_match = genotype_match
    self.reference = open_reference(ref)
    self.ref_contigs = self.reference.contig_lengths()
    ref_name = f"{names['ref']} {ref}"
    self.header, records = vcf_records.read_vcf(truth_vcf)
    contig_names.check_contig_names([r.contig for r in records], self.ref_contigs,
                                    f"{names['truth']} {truth_vcf}", ref_name,
                                    allow_some_unknown=True)
    confident = read_bed(confident_bed)
    contig_names.check_contig_names([c for c, _, _ in confident], self.ref_contigs,
                                    f"{names['confident_regions']} {confident_bed}", ref_name,
                                    allow_some_unknown=True)
    self.confident = regions_lib.IntervalIndex(confident)
    self.regions = (regions_lib.IntervalIndex(parse_regions(regions, self.ref_contigs, ref_name,
                                                 names["regions"]))
                    if regions else None)
    self.records = to_records(records)

  def is_confident(self, contig: str, start: int, end: int) -> bool:
    return (self.confident.covers(contig, start, end) and
            (self.regions is None or self.regions.covers(contig, start, end)))

  def fetch(self, contig: str, start: int, end: int) -> str:
    if contig not in self.ref_contigs:
      return ""
    return self.reference.window(contig, start, end).seq

  def compare(self, query: Sequence[vcf_compare.Record],
              strata: Optional[Mapping[str, Callable[[str, int, int], bool]]] = None
              ) -> List[Dict[str, object]]:
    """hap.py rows; ``strata`` maps a row name to ``in_stratum(contig, start, end)``."""
    comparison = vcf_compare.compare(self.records, query, self.is_confident, self.fetch,
                                     genotype_match=self.genotype_match)
    return vcf_compare.summarize(
        comparison, dict(strata or {}))


def depth_strata(bam: str, buckets_text: str, ref: str, ref_contigs: Mapping[str, int]
                 ) -> Dict[str, object]:
  """One stratum per depth bucket: the alleles whose first base has that read depth in ``bam``
  (``core/depth_buckets.py``, ``io/read_depth.py``)."""
  try:
    buckets = depth_buckets.parse_buckets(buckets_text)
    depth = read_depth.ReadDepth(bam, reference=ref)
  except depth_buckets.DepthBucketError as e:
    raise EvaluationError(str(e)) from None
  except read_depth.ReadDepthError as e:
    raise EvaluationError(f"--depth_bam {e}") from None
  contig_names.check_contig_names(depth.contigs, ref_contigs, f"--depth_bam {bam}",
                                  f"--ref {ref}", allow_some_unknown=True)

  def in_bucket(bucket):
    return lambda contig, start, end: bucket.holds(depth.depth(contig, start))
  return {b.name: in_bucket(b) for b in buckets}


def evaluate_files(calls_vcf: str, truth: TruthSet,
                   strata: Optional[Mapping[str, str]] = None,
                   depth_bam: str = "", depth_buckets_text: str = depth_buckets.DEFAULT_BUCKETS
                   ) -> List[Dict[str, object]]:
  """Reads ``calls_vcf``, checks it against the truth and reference, returns summary rows.

  ``strata`` are NAME -> BED rows; ``depth_bam`` adds one row per read-depth bucket."""
  header, records = vcf_records.read_vcf(calls_vcf)
  check_contigs(calls_vcf, header, records, truth.truth_path, truth.header,
                sorted({r.contig for r in truth.records}), truth.ref_path, truth.ref_contigs)
  strata_sets = {}
  for name, path in (strata or {}).items():
    intervals = read_bed(path)
    contig_names.check_contig_names([c for c, _, _ in intervals], truth.ref_contigs,
                                    f"--stratification {name}={path}", f"--ref {truth.ref_path}",
                                    allow_some_unknown=True)
    strata_sets[name] = regions_lib.IntervalIndex(intervals).overlaps
  if depth_bam:
    strata_sets.update(depth_strata(depth_bam, depth_buckets_text, truth.ref_path,
                                    truth.ref_contigs))
  return truth.compare(to_records(records), strata_sets)


def default_csv_path(calls_vcf: str) -> str:
  base = calls_vcf
  for suffix in (".gz", ".vcf"):
    if base.endswith(suffix):
      base = base[:-len(suffix)]
  return base + ".summary.csv"


def build_parser() -> argparse.ArgumentParser:
  p = cli.OneLineParser(prog=PROG, description=__doc__.split("\n")[0], tool="evaluate")
  p.add_argument("--calls", required=True, help="VCF to benchmark (plain or bgzipped)")
  p.add_argument("--truth", required=True, help="truth VCF (plain or bgzipped)")
  p.add_argument("--confident_regions", required=True, help="BED of confident regions")
  p.add_argument("--ref", required=True,
                 help="reference FASTA with .fai (bgzipped needs .gzi): left-alignment, "
                      "haplotype matching and contig checks")
  p.add_argument("--regions", default="",
                 help="restrict to these regions (literals chr:start-end, 1-based, or BED "
                      "files), e.g. the region the calls were made on")
  p.add_argument("--stratification", action="append", default=[],
                 help="NAME=BED: add rows for the alleles overlapping BED (repeatable)")
  p.add_argument("--depth_bam", default="",
                 help="BAM/CRAM of the reads the calls were made from: add rows per read-depth "
                      "bucket (depth at an allele's first base, counted as samtools depth "
                      "counts it)")
  p.add_argument("--depth_buckets", default=depth_buckets.DEFAULT_BUCKETS,
                 help="with --depth_bam: buckets a-b (inclusive), a- (open) or a, comma-"
                      "separated, increasing; alleles at depths in no bucket get no depth row "
                      f"(default {depth_buckets.DEFAULT_BUCKETS}, the PacBio RNA study's)")
  p.add_argument("--squash_ploidy", action="store_true",
                 help="score alleles only (vcfeval --squash-ploidy): a right allele with the "
                      "wrong genotype counts as a TP; by default it is a FP and a FN, as hap.py "
                      "counts it (FP.gt counts these either way)")
  p.add_argument("--output_csv", default="", help="CSV summary (default <calls>.summary.csv)")
  p.add_argument("--overwrite", action="store_true",
                 help="replace an existing CSV (only that file is replaced)")
  return p


def _parse_strata(items: Sequence[str], parser) -> Dict[str, str]:
  out = {}
  for item in items:
    name, sep, path = item.partition("=")
    if not sep or not name or not path:
      parser.error(f"--stratification {item!r}: expected NAME=BED")
    out[name] = path
  return out


def check_csv_output(args) -> str:
  """The CSV path this run writes, checked before any work (module docstring)."""
  csv_path = args.output_csv or default_csv_path(args.calls)
  default = not args.output_csv
  inputs = [args.calls, args.truth, args.confident_regions, args.ref, *args.regions.split(),
            *([args.depth_bam] if args.depth_bam else [])]
  if os.path.realpath(csv_path) in {os.path.realpath(p) for p in inputs}:
    raise output_paths.OutputPathError(
        f"--output_csv={csv_path}: is also an input of this run; choose another path")
  try:
    output_paths.check_file_outputs([csv_path], "--output_csv", args.overwrite, shown=csv_path)
  except output_paths.OutputPathError as e:
    if not default:
      raise
    raise output_paths.OutputPathError(
        f"{e} (the default --output_csv, beside --calls; pass --output_csv to choose another "
        "path)") from None
  return csv_path


def write_csv(path: str, text: str) -> None:
  """Writes ``text`` to ``path`` under a temporary name, renamed when complete."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp-{os.getpid()}"
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def run(args) -> Dict[str, float]:
  """The whole evaluation of parsed flags ``args``: checks, scoring, CSV; returns the scores."""
  strata = dict(args.strata)
  csv_path = check_csv_output(args)
  truth = TruthSet(args.truth, args.confident_regions, args.ref, args.regions or None,
                   genotype_match=not args.squash_ploidy)
  rows = evaluate_files(args.calls, truth, strata, args.depth_bam, args.depth_buckets)
  write_csv(csv_path, vcf_compare.to_csv(rows))
  print(vcf_compare.format_table(rows))
  scores = vcf_compare.overall_scores(rows)
  print(f"{PROG}: SNP+INDEL recall {scores['recall']:.4f} precision {scores['precision']:.4f} "
        f"F1 {scores['f1']:.4f}; wrote {csv_path}", flush=True)
  return scores


def main(argv: Optional[List[str]] = None) -> int:
  """Returns 0 when done; bad flags or input, failures and interrupts exit (module docstring)."""
  parser = build_parser()
  args = parser.parse_args(argv)
  args.strata = _parse_strata(args.stratification, parser)
  cli.run_main(PROG, lambda: run(args))
  return errors.EXIT_OK


if __name__ == "__main__":
  sys.exit(main())
