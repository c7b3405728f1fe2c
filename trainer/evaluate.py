"""Benchmark a VCF against a truth VCF in confident regions: ``python -m trainer.evaluate``.

Local::

  python -m trainer.evaluate --calls out/calls.vcf.gz --truth truth.vcf.gz \\
      --confident_regions confident.bed --ref ref.fa --regions sim2:50001-100000 \\
      --stratification homopolymers=hp.bed --output_csv out/calls.summary.csv

(On the cloud the same command runs on a VM with the files copied locally; evaluation is
single-threaded and takes seconds for a chromosome-sized region.)

Prints a hap.py-like table (SNP and INDEL rows, one more per stratum) and writes it as CSV
(``--output_csv``, default ``<calls without .vcf.gz>.summary.csv``). The matching rules are in
``trainer.vcf_compare``. Scoring is hap.py's default: a call with the right allele and the
wrong genotype is a FP and a FN (``FP.gt`` counts them); ``--squash_ploidy`` scores alleles
only. This module only reads files (pure Python, no pysam: the trainer half
must run without it) and checks that the inputs belong together:

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
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from schemas import contig_names
from schemas import errors
from schemas import output_paths
from trainer import cli
from trainer import genome_files as gf
from trainer import vcf_compare

PROG = "evaluate"
_LITERAL = re.compile(r"^(?P<contig>[^:\s]+)(?::(?P<start>[\d,]+)-(?P<end>[\d,]+))?$")


class EvaluationError(errors.InputError):
  """Inputs that cannot be compared; one line naming the file(s) and why."""


def parse_regions(text: str, ref_contigs: Mapping[str, int],
                  reference_name: str = "the reference",
                  flag: str = "--regions") -> List[Tuple[str, int, int]]:
  """Space/comma-free region list -> 0-based half-open intervals.

  Each item is a BED file path or a literal ``chr``/``chr:start-end`` (1-based, inclusive,
  commas allowed in numbers). A literal must name a reference contig; a BED file must share at
  least one contig with the reference (``schemas.contig_names``, with the chr-prefix hint).
  """
  out: List[Tuple[str, int, int]] = []
  for item in text.split():
    if os.path.exists(item):
      intervals = gf.read_bed(item)
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
      out.append((contig, 0, ref_contigs[contig]))
    else:
      start, end = int(m.group("start").replace(",", "")), int(m.group("end").replace(",", ""))
      if start < 1 or end < start:
        raise EvaluationError(f"{flag} {item!r}: start must be >= 1 and <= end")
      out.append((contig, start - 1, end))
  return out


def check_contigs(calls_path: str, calls: gf.VcfHeader, calls_records: Sequence[gf.VcfRecord],
                  truth_path: str, truth: gf.VcfHeader, truth_contigs: Sequence[str],
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


def to_records(records: Sequence[gf.VcfRecord]) -> List[vcf_compare.Record]:
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
    self.reference = gf.FastaReader(ref)
    self.ref_contigs = dict(self.reference.contigs)
    ref_name = f"{names['ref']} {ref}"
    self.header, records = gf.read_vcf(truth_vcf)
    contig_names.check_contig_names([r.contig for r in records], self.ref_contigs,
                                    f"{names['truth']} {truth_vcf}", ref_name,
                                    allow_some_unknown=True)
    confident = gf.read_bed(confident_bed)
    if not confident:
      raise EvaluationError(f"{confident_bed}: no intervals; nothing is confident")
    contig_names.check_contig_names([c for c, _, _ in confident], self.ref_contigs,
                                    f"{names['confident_regions']} {confident_bed}", ref_name,
                                    allow_some_unknown=True)
    self.confident = gf.IntervalSet(confident)
    self.regions = (gf.IntervalSet(parse_regions(regions, self.ref_contigs, ref_name,
                                                 names["regions"]))
                    if regions else None)
    self.records = to_records(records)

  def is_confident(self, contig: str, start: int, end: int) -> bool:
    return (self.confident.contains(contig, start, end) and
            (self.regions is None or self.regions.contains(contig, start, end)))

  def fetch(self, contig: str, start: int, end: int) -> str:
    if contig not in self.ref_contigs:
      return ""
    return self.reference.fetch(contig, start, end)

  def compare(self, query: Sequence[vcf_compare.Record],
              strata: Optional[Mapping[str, gf.IntervalSet]] = None
              ) -> List[Dict[str, object]]:
    comparison = vcf_compare.compare(self.records, query, self.is_confident, self.fetch,
                                     genotype_match=self.genotype_match)
    return vcf_compare.summarize(
        comparison, {name: s.overlaps for name, s in (strata or {}).items()})


def evaluate_files(calls_vcf: str, truth: TruthSet,
                   strata: Optional[Mapping[str, str]] = None) -> List[Dict[str, object]]:
  """Reads ``calls_vcf``, checks it against the truth and reference, returns summary rows."""
  header, records = gf.read_vcf(calls_vcf)
  check_contigs(calls_vcf, header, records, truth.truth_path, truth.header,
                sorted({r.contig for r in truth.records}), truth.ref_path, truth.ref_contigs)
  strata_sets = {}
  for name, path in (strata or {}).items():
    intervals = gf.read_bed(path)
    contig_names.check_contig_names([c for c, _, _ in intervals], truth.ref_contigs,
                                    f"--stratification {name}={path}", f"--ref {truth.ref_path}",
                                    allow_some_unknown=True)
    strata_sets[name] = gf.IntervalSet(intervals)
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
  inputs = [args.calls, args.truth, args.confident_regions, args.ref, *args.regions.split()]
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
  rows = evaluate_files(args.calls, truth, strata)
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
