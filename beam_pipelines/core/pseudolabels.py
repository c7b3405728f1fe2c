"""Pseudolabels: a base model's most confident calls as the truth where no truth set exists.

Why: a new species, or a sample without a GIAB-grade truth set, has no labels to fine-tune on.
Helixer's fine-tuning guide fine-tunes on the base model's own confident predictions instead;
for a variant caller the predictions are its calls (``beam_pipelines.call``), each candidate
called hom-ref (FILTER RefCall), het or hom-alt with a GQ.

Selection, per class (hom-ref, het, hom-alt), so the labels keep the calls' class balance
(one global GQ cut would keep mostly easy hom-alts and almost no hard hom-refs): the calls with
GQ >= ``min_gq``, and of those the ``top_fraction`` with the highest GQ (ties broken by
position, so the choice is deterministic). A RefCall is a hom-ref call even when written
``./.``; any other no-call is never a label.

What it writes is what make_examples' training mode reads: the kept het and hom-alt calls as
the truth VCF, and the spans of every kept call (hom-ref ones included) as the confident
regions. A candidate inside them is labeled from the pseudo truth (a kept RefCall becomes a
hom-ref example); a candidate the model was unsure of is outside and gets no example. The real
truth, where one exists, is only for scoring the fine-tuned model afterwards.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

HOM_REF, HET, HOM_ALT = 0, 1, 2
CLASS_NAMES = {HOM_REF: "hom_ref", HET: "het", HOM_ALT: "hom_alt"}


@dataclasses.dataclass(frozen=True)
class CalledSite:
  """One record of the base model's VCF (0-based start; ``line`` is the text written back)."""
  contig: str
  start: int
  end: int
  genotype: Tuple[Optional[int], ...]
  gq: Optional[int]
  line: str
  refcall: bool = False   # FILTER RefCall: the model's call is hom-ref, whatever GT says


def site_class(site: CalledSite) -> Optional[int]:
  """The model's call: a RefCall is hom-ref even when written ``./.`` (DeepVariant writes a
  RefCall with GQ < 20 as ``./.``; it is still the model's best guess, with its GQ)."""
  return HOM_REF if site.refcall else genotype_class(site.genotype)


def genotype_class(genotype: Sequence[Optional[int]]) -> Optional[int]:
  """0 hom-ref, 1 het, 2 hom-alt; None for a no-call or a haploid/odd genotype."""
  if len(genotype) != 2 or any(a is None for a in genotype):
    return None
  a, b = genotype
  if a == b == 0:
    return HOM_REF
  if a == b:
    return HOM_ALT
  return HET


@dataclasses.dataclass(frozen=True)
class Selection:
  kept: Tuple[CalledSite, ...]        # in input order
  counts_in: Dict[str, int]           # per class name, callable sites offered
  counts_kept: Dict[str, int]
  min_gq_kept: Dict[str, Optional[int]]  # the lowest GQ kept per class


def select(sites: Sequence[CalledSite], *, min_gq: int = 0,
           top_fraction: float = 1.0) -> Selection:
  """The pseudolabels (module docstring).

  Raises:
    ValueError: ``top_fraction`` outside (0, 1] or a negative ``min_gq``.
  """
  if not 0 < top_fraction <= 1:
    raise ValueError(f"--top_fraction={top_fraction}: must be in (0, 1]")
  if min_gq < 0:
    raise ValueError(f"--min_gq={min_gq}: must be >= 0")
  by_class: Dict[int, List[int]] = {c: [] for c in CLASS_NAMES}
  for i, s in enumerate(sites):
    c = site_class(s)
    if c is not None:
      by_class[c].append(i)
  keep = set()
  counts_in, counts_kept, lowest = {}, {}, {}
  for c, members in by_class.items():
    name = CLASS_NAMES[c]
    counts_in[name] = len(members)
    passing = [i for i in members if (sites[i].gq or 0) >= min_gq]
    passing.sort(key=lambda i: (-(sites[i].gq or 0), sites[i].contig, sites[i].start, i))
    n = int(round(top_fraction * len(passing))) if passing else 0
    chosen = passing[:max(1, n)] if passing else []
    keep.update(chosen)
    counts_kept[name] = len(chosen)
    lowest[name] = min((sites[i].gq or 0) for i in chosen) if chosen else None
  kept = tuple(s for i, s in enumerate(sites) if i in keep)
  return Selection(kept, counts_in, counts_kept, lowest)


def confident_spans(kept: Sequence[CalledSite], contig_order: Sequence[str]
                    ) -> List[Tuple[str, int, int]]:
  """Merged [start, end) spans of the kept calls, in reference order."""
  rank = {c: i for i, c in enumerate(contig_order)}
  spans = sorted(((s.contig, s.start, s.end) for s in kept),
                 key=lambda t: (rank.get(t[0], len(rank)), t[0], t[1], t[2]))
  out: List[List] = []
  for contig, start, end in spans:
    if out and out[-1][0] == contig and start <= out[-1][2]:
      out[-1][2] = max(out[-1][2], end)
    else:
      out.append([contig, start, end])
  return [tuple(x) for x in out]
