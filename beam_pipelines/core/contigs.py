"""Contig reconciliation between reference, reads and truth (DeepVariant's 90% rule, spec 2.2).

Why: a BAM aligned to another build (``1`` vs ``chr1``, or GRCh37 vs GRCh38 lengths) silently
yields no candidates on the missing contigs. DeepVariant refuses to run when the contigs shared
by all inputs cover less than 90% of the reference; pileflow does the same, and its message
names the contigs that differ so the user can see which file is off.
"""
from __future__ import annotations

import dataclasses
import importlib.resources
import os
from typing import Dict, FrozenSet, List, Mapping, Optional, Sequence

from beam_pipelines.core.regions import Range
from schemas import contig_names

MIN_SHARED_CONTIGS_FRACTION = 0.9


class ContigMismatchError(contig_names.ContigNameError):
  """Inputs do not share enough of the reference; the message says which contigs differ."""


def default_excluded_contigs() -> FrozenSet[str]:
  """DeepVariant v1.5's default exclude list (decoys, alts, HLA, unplaced; not chrM/MT)."""
  text = importlib.resources.files("beam_pipelines.core").joinpath(
      "data/excluded_contigs.txt").read_text()
  return frozenset(line.strip() for line in text.splitlines()
                   if line.strip() and not line.startswith("#"))


@dataclasses.dataclass(frozen=True)
class ContigPlan:
  """The contigs pileflow will process, in reference order, with their lengths."""
  contigs: Dict[str, int]
  excluded: List[str]
  missing_in_reads: List[str]
  missing_in_truth: List[str]

  def as_ranges(self) -> List[Range]:
    return [Range(c, 0, n) for c, n in self.contigs.items()]


def _describe(names: Sequence[str], limit: int = 5) -> str:
  shown = ", ".join(names[:limit])
  return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def reconcile(ref: Mapping[str, int], reads: Mapping[str, int],
              truth: Optional[Mapping[str, Optional[int]]] = None,
              excluded: FrozenSet[str] = frozenset(),
              min_fraction: float = MIN_SHARED_CONTIGS_FRACTION,
              ref_name: str = "--ref", reads_name: str = "--reads",
              truth_name: str = "--truth_variants") -> ContigPlan:
  """Contigs common to reference, reads (name and length) and truth (name; length if known).

  Args:
    ref: reference contig -> length, in FASTA order (the processing order).
    reads: contigs shared by all read files -> length.
    truth: truth VCF header contig -> length (None when the header gives none); None when not
      labeling.
    excluded: contig names never processed (e.g. ``default_excluded_contigs()``).
    min_fraction: the shared contigs must cover at least this fraction of the (non-excluded)
      reference bases.

  Raises:
    ContigMismatchError: naming the files and the contigs that differ.
  """
  kept_ref = {c: n for c, n in ref.items() if c not in excluded}
  missing_in_reads = [c for c, n in kept_ref.items() if reads.get(c) != n]
  common = {c: n for c, n in kept_ref.items() if reads.get(c) == n}
  missing_in_truth: List[str] = []
  if truth is not None:
    missing_in_truth = [c for c in common if c not in truth or
                        (truth[c] is not None and truth[c] != common[c])]
    common = {c: n for c, n in common.items() if c not in missing_in_truth}
  total = sum(kept_ref.values())
  shared = sum(common.values())
  if total == 0:
    raise ContigMismatchError(f"{ref_name}: no reference contigs left after exclusions")
  if shared < min_fraction * total:
    parts = [f"contigs shared by {ref_name}, {reads_name}"
             + (f" and {truth_name}" if truth is not None else "")
             + f" cover {shared:,} of {total:,} reference bp ({100.0 * shared / total:.1f}%, "
             f"need >= {100 * min_fraction:.0f}%)"]
    if missing_in_reads:
      examples = []
      for c in missing_in_reads[:3]:
        examples.append(f"{c} (ref {kept_ref[c]:,} bp, reads "
                        + (f"{reads[c]:,} bp" if c in reads else "absent") + ")")
      parts.append(f"{reads_name} lacks or differs on {len(missing_in_reads)} contig(s): "
                   + ", ".join(examples)
                   + (f"; reads have {_describe(sorted(set(reads) - set(kept_ref)))}"
                      if set(reads) - set(kept_ref) else ""))
    if missing_in_truth:
      parts.append(f"{truth_name} lacks {_describe(missing_in_truth)}")
    for name, names in ((reads_name, reads), (truth_name, truth or {})):
      hint = contig_names.naming_hint([c for c in names if c not in ref], ref)
      if hint:
        parts.append(f"{name}: {hint}")
        break
    raise ContigMismatchError("; ".join(parts))
  return ContigPlan(contigs=common, excluded=sorted(set(ref) & excluded),
                    missing_in_reads=missing_in_reads, missing_in_truth=missing_in_truth)
