"""Pre-flight for make_examples: open every input once, reconcile contigs, plan the work.

Why before the pipeline: a missing index, a gVCF-style truth set, a region outside the
reference or a BAM aligned to another build should fail in seconds with one line naming the
file, not after workers have spun up (or, on Dataflow, after minutes of provisioning).
The plan it returns (contigs, regions, work units, sample name) is a pure function of the
inputs and flags, so every runner processes the same units.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence

from beam_pipelines.core import contigs as contig_rules
from beam_pipelines.core import regions
from beam_pipelines.core import work_units
from beam_pipelines.core.regions import Range
from beam_pipelines.io import bed
from beam_pipelines.io.bam import BamError, BamReader
from beam_pipelines.io.fasta import FastaError, FastaReader
from beam_pipelines.io.truth import TruthReader, TruthVcfError
from beam_pipelines.make_examples_config import MakeExamplesConfig
from schemas import contig_names

# Errors that mean "bad input", reported as one line with exit code 2.
INPUT_ERRORS = (contig_names.ContigNameError, BamError, FastaError, TruthVcfError, bed.BedError, regions.RegionError,
                contig_rules.ContigMismatchError)


@dataclasses.dataclass(frozen=True)
class MakeExamplesPlan:
  contig_lengths: Dict[str, int]
  sample_name: str
  units: List[work_units.WorkUnit]
  num_partitions: int
  total_bp: int


def _is_bed(item: str) -> bool:
  low = item.lower()
  return low.endswith(".bed") or low.endswith(".bed.gz")


def parse_region_args(items: Sequence[str], contig_lengths: Dict[str, int],
                      flag: str = "--regions", ref_name: str = "--ref") -> List[Range]:
  """``--regions``/``--exclude_regions`` items: region literals or BED files.

  Contig names are checked by the one shared rule (schemas.contig_names), so ``20`` against a
  ``chr20`` reference is refused with the chr-prefix hint, not taken as an empty region.
  """
  out: List[Range] = []
  for item in items:
    if _is_bed(item):
      intervals = bed.read_bed(item)
      contig_names.check_contig_names([r.contig for r in intervals], contig_lengths,
                                      f"{flag} {item}", ref_name)
      for r in intervals:
        if r.end > contig_lengths[r.contig]:
          raise regions.RegionError(
              f"{item}: {r.to_literal()} runs past the end of {r.contig} "
              f"(length {contig_lengths[r.contig]})")
        out.append(r)
    else:
      contig = item.strip().split(":", 1)[0]
      if contig not in contig_lengths:
        contig_names.check_contig_names([contig], contig_lengths, f"{flag} {item}", ref_name)
      out.append(regions.parse_literal(item, contig_lengths))
  return out


def check_confident_regions(path: str, confident: regions.IntervalIndex, todo: List[Range],
                            ref_lengths: Dict[str, int], ref_name: str) -> None:
  """A confident BED must name the reference's contigs and overlap the regions processed.

  Why: training examples are made only inside confident regions, so a BED spelt ``20`` for a
  ``chr20`` reference, or covering other chromosomes only, yields empty shards that look
  finished. Contigs the reference lacks are fine as long as some are shared (a whole-genome
  BED with a one-chromosome reference).
  """
  ranges = confident.ranges()
  contig_names.check_contig_names([r.contig for r in ranges], ref_lengths,
                                  f"--confident_regions {path}", ref_name,
                                  allow_some_unknown=True)
  order = list(ref_lengths)
  known = [r for r in ranges if r.contig in ref_lengths]
  if todo and not regions.intersect(todo, known, order):
    shown = ", ".join(r.to_literal() for r in todo[:2]) + (" ..." if len(todo) > 2 else "")
    raise contig_names.ContigNameError(
        f"--confident_regions {path}: no confident interval overlaps the regions processed "
        f"({shown}); training would make no examples")


def plan(cfg: MakeExamplesConfig) -> MakeExamplesPlan:
  """Opens the inputs, validates them and returns the work plan; raises INPUT_ERRORS."""
  with FastaReader(cfg.ref) as fasta:
    ref_lengths = fasta.contig_lengths()
  with BamReader(cfg.reads, reference=cfg.ref) as bam:
    reads_lengths = bam.contig_lengths()
    sample = cfg.sample_name or bam.sample_name() or "default"
  truth_lengths: Optional[Dict[str, Optional[int]]] = None
  if cfg.training:
    with TruthReader(cfg.truth_variants, cfg.customized_classes_labeler_info_field_name or None,
                     cfg.customized_classes) as truth:
      truth_lengths = truth.contig_lengths()
      truth.check_head()
    confident = bed.read_confident_regions(cfg.confident_regions)  # fails fast if malformed
  excluded = contig_rules.default_excluded_contigs() if cfg.use_default_excluded_contigs \
      else frozenset()
  contig_plan = contig_rules.reconcile(
      ref_lengths, reads_lengths, truth_lengths, excluded=excluded,
      ref_name=cfg.ref, reads_name=",".join(cfg.reads),
      truth_name=cfg.truth_variants or "--truth_variants")
  order = list(ref_lengths)
  calling = [Range(c, 0, n) for c, n in ref_lengths.items()]
  if cfg.regions:
    calling = regions.intersect(
        calling, parse_region_args(cfg.regions, ref_lengths, "--regions", cfg.ref), order)
  if cfg.exclude_regions:
    calling = regions.subtract(
        calling, parse_region_args(cfg.exclude_regions, ref_lengths, "--exclude_regions",
                                   cfg.ref), order)
  todo = regions.intersect(contig_plan.as_ranges(), calling, order)
  if cfg.regions and not todo:
    raise regions.RegionError(
        f"--regions {' '.join(cfg.regions)}: no overlap with the contigs shared by the "
        f"reference and reads ({', '.join(list(contig_plan.contigs)[:5])}...)")
  if cfg.training:
    check_confident_regions(cfg.confident_regions, confident, todo, ref_lengths, cfg.ref)
  parts = regions.partition(todo, cfg.partition_size)
  units = work_units.plan(parts, cfg.partitions_per_unit)
  return MakeExamplesPlan(contig_lengths=dict(contig_plan.contigs), sample_name=sample,
                          units=units, num_partitions=len(parts),
                          total_bp=sum(r.length for r in todo))
