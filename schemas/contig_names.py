"""One contig-naming check for every input that names contigs.

Why: a confident BED, truth VCF, region list or call set whose contigs are spelt ``20`` while
the reference says ``chr20`` is not an error htslib reports: every lookup simply finds nothing,
and the run ends with empty shards or an F1 of 0 that look like real results. Every entry point
(make_examples, make_dataset, call, evaluate) asks this one function, with the names the input
actually uses, before any work starts.
"""
from __future__ import annotations

from typing import Collection, Iterable, List, Optional

from schemas.errors import InputError


class ContigNameError(InputError):
  """An input names contigs the reference does not have."""


def _alternate(name: str) -> str:
  if name.startswith("chr"):
    rest = name[3:]
    return "MT" if rest == "M" else rest
  return "chrM" if name == "MT" else "chr" + name


def naming_hint(unknown: Iterable[str], reference: Collection[str]) -> Optional[str]:
  """``'chr'`` hint when adding or removing the prefix would match the reference."""
  unknown = list(unknown)
  matched = [n for n in unknown if _alternate(n) in reference]
  if not matched:
    return None
  n = matched[0]
  which = "without" if n.startswith("chr") else "with"
  return (f"the reference names contigs {which} the 'chr' prefix: use {_alternate(n)}, "
          f"not {n}")


def check_contig_names(used: Iterable[str], reference: Collection[str], what: str,
                       reference_name: str, allow_some_unknown: bool = False) -> List[str]:
  """Raises unless the contigs ``what`` uses are in the reference; returns the unknown ones.

  Args:
    used: contig names the input uses (BED intervals, VCF records, region literals).
    reference: the reference's contig names.
    what: the input as the user gave it, e.g. ``"--confident_regions conf.bed"``.
    reference_name: the reference as the user gave it, e.g. ``"--ref ref.fa"``.
    allow_some_unknown: accept unknown names as long as at least one used name is known
      (a whole-genome BED used on a chromosome-sized reference); the input must still share
      a contig with the reference.

  Raises:
    ContigNameError: naming the input, the first unknown contigs and the chr-prefix hint.
  """
  used = list(dict.fromkeys(used))
  unknown = [c for c in used if c not in reference]
  if not unknown or (allow_some_unknown and len(unknown) < len(used)):
    return unknown
  shown = ", ".join(unknown[:3]) + (f" (+{len(unknown) - 3} more)" if len(unknown) > 3 else "")
  ref_shown = ", ".join(list(reference)[:3]) + (", ..." if len(reference) > 3 else "")
  message = (f"{what}: contig(s) {shown} not in {reference_name} (which has {ref_shown})")
  hint = naming_hint(unknown, reference)
  if hint:
    message += f"; {hint}"
  raise ContigNameError(message)
