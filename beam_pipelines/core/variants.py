"""Value types for candidate and truth variants, and DeepVariant's variant-type rule.

Coordinates are 0-based half-open: ``start`` is the position of the first reference base,
``end = start + len(ref)``. Alleles are VCF-style with the anchor base kept for indels
(e.g. deletion ``TAAAACTATGC -> T``).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Tuple

# Symbolic alleles that are not "real" alternates (spec 2.8).
SYMBOLIC_ALTS = frozenset(("<*>", "<NON_REF>", "."))

VARIANT_TYPE_UNKNOWN = 0
VARIANT_TYPE_SNP = 1
VARIANT_TYPE_INDEL = 2
VARIANT_TYPE_NAMES = {VARIANT_TYPE_UNKNOWN: "unknown", VARIANT_TYPE_SNP: "snp",
                      VARIANT_TYPE_INDEL: "indel"}


def real_alts(alts) -> Tuple[str, ...]:
  return tuple(a for a in alts if a not in SYMBOLIC_ALTS)


def variant_type(ref: str, alts) -> int:
  """DeepVariant's variant_type feature: 1 SNP, 2 INDEL, 0 otherwise.

  >>> variant_type('A', ['G']), variant_type('A', ['AT']), variant_type('A', ['.'])
  (1, 2, 0)
  """
  real = real_alts(alts)
  if not real:
    return VARIANT_TYPE_UNKNOWN
  if len(ref) == 1 and all(len(a) == 1 for a in real):
    return VARIANT_TYPE_SNP
  return VARIANT_TYPE_INDEL


@dataclasses.dataclass(frozen=True)
class Candidate:
  """A candidate variant from the very sensitive caller (spec 3.5).

  Attributes:
    contig: reference name.
    start: 0-based position of reference_bases[0].
    ref: reference bases (longer than 1 when a deletion is among the alts).
    alts: alternate alleles, sorted lexicographically (byte order).
    dp: total usable depth at ``start`` (spec 3.4).
    ad: (ref_supporting_read_count, count(alt_1), ...), in ``alts`` order.
    allele_support: alt string (or "UNCALLED_ALLELE") -> read keys supporting it.
  """
  contig: str
  start: int
  ref: str
  alts: Tuple[str, ...]
  dp: int
  ad: Tuple[int, ...]
  allele_support: Mapping[str, frozenset] = dataclasses.field(default_factory=dict)

  @property
  def end(self) -> int:
    return self.start + len(self.ref)

  @property
  def vaf(self) -> Tuple[float, ...]:
    return tuple((c / self.dp) if self.dp else 0.0 for c in self.ad[1:])

  @property
  def variant_type(self) -> int:
    return variant_type(self.ref, self.alts)

  def __hash__(self):
    return hash((self.contig, self.start, self.ref, self.alts))


@dataclasses.dataclass(frozen=True)
class TruthVariant:
  """A truth VCF record reduced to what labeling needs.

  Attributes:
    contig, start, ref, alts: as in Candidate (alts in VCF order, not re-sorted).
    genotype: GT allele indices, -1 for missing ('.').
    filtered: True when FILTER is set to something other than PASS/'.'.
    info_class: the value of the customized-classes INFO field (``--customized_classes_
      labeler_info_field_name``) when the reader was asked for one and the record has it.
  """
  contig: str
  start: int
  ref: str
  alts: Tuple[str, ...]
  genotype: Tuple[int, ...]
  filtered: bool = False
  info_class: Optional[str] = None

  @property
  def end(self) -> int:
    return self.start + len(self.ref)
