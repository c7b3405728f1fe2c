"""The very sensitive caller (VSC): allele counts -> candidate variants (spec 3.5).

For each position p with an A/C/G/T reference base, an observed allele becomes a candidate alt
when, counting only non-low-quality reads:
  * it is not REFERENCE and not SOFT_CLIP (soft clips never become candidates, though they do
    count in DP);
  * count >= min_count (``min_count_snps`` for substitutions, ``min_count_indels`` otherwise);
  * count / DP >= min_fraction (``min_fraction_snps`` / ``min_fraction_indels``), compared in
    double precision against the float32-rounded threshold, because v1.5 stores the flag in a
    float proto field: 0.12 becomes 0.11999999731779099, so 3/25 = 0.12 passes.

Building the variant (no MNPs are ever produced):
  * reference_bases R = ref_base, or ref_base + D.bases[1:] with D the longest candidate deletion;
  * substitution b -> ``b + R[1:]``; insertion x... -> ``x... + R[1:]``; deletion a+deleted(L) ->
    ``a + R[L+1:]`` (the read's anchor base a is kept, so a deletion whose anchor differs from the
    reference is a combined SNP+deletion allele);
  * alts sorted by byte value; AD = (ref count, count per sorted alt); DP as in ``AlleleCounts``;
  * allele_support: every read allele at p, low-quality ones included, goes to the alt it equals
    (same bases and type) or else to "UNCALLED_ALLELE".

Worked example: R = ``ACGT`` (a 3-bp deletion ``ACGT`` was called at p) with a SNP ``C`` and an
insertion ``ATTT`` also called: alts are ``A`` (deletion), ``ATTTCGT``, ``CCGT``.

Not implemented here: ``--training_random_emit_ref_sites`` reference-site candidates (they need
the caller's persistent mt19937_64 stream, see spec 3.5) and multi-sample rescue (a no-op for one
sample).
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Set, Tuple

import numpy as np

from beam_pipelines.core.allele_counter import (DELETION, REFERENCE, SOFT_CLIP, SUBSTITUTION,
                                                AlleleCounts)
from beam_pipelines.core.variants import Candidate

UNCALLED_ALLELE = "UNCALLED_ALLELE"
_ACGT = frozenset("ACGT")


def _f32(x: float) -> float:
  """The value a float proto field holds for ``x``, widened back to double."""
  return float(np.float32(x))


@dataclasses.dataclass(frozen=True)
class VscOptions:
  """VariantCallerOptions thresholds (flags ``--vsc_min_count_*`` / ``--vsc_min_fraction_*``)."""
  min_count_snps: int = 2
  min_count_indels: int = 2
  min_fraction_snps: float = 0.12
  min_fraction_indels: float = 0.06

  def __post_init__(self):
    for name in ("min_count_snps", "min_count_indels"):
      if getattr(self, name) < 0:
        raise ValueError(f"--vsc_{name} must be >= 0, got {getattr(self, name)}")
    for name in ("min_fraction_snps", "min_fraction_indels"):
      if not 0.0 <= getattr(self, name) <= 1.0:
        raise ValueError(f"--vsc_{name} must be in [0, 1], got {getattr(self, name)}")

  @property
  def snp_fraction_f32(self) -> float:
    return _f32(self.min_fraction_snps)

  @property
  def indel_fraction_f32(self) -> float:
    return _f32(self.min_fraction_indels)


def _alt_string(bases: str, allele_type: int, ref: str) -> str:
  if allele_type == DELETION:
    return bases[0] + ref[len(bases):]
  return bases + ref[1:]


def call_candidates(counts: AlleleCounts, opts: VscOptions, contig: str) -> List[Candidate]:
  """Candidates of one partition, in position order (0-based ``start``, spec 3.5).

  ``contig`` must be the counted contig; it is passed explicitly so the caller states what it
  expects (a mismatch is a programming error and raises).
  """
  if contig != counts.contig:
    raise ValueError(f"call_candidates: contig {contig!r} != counted contig {counts.contig!r}")
  snp_frac = opts.snp_fraction_f32
  indel_frac = opts.indel_fraction_f32
  out: List[Candidate] = []
  # No allele can reach its count threshold where fewer reads show anything. On the long-read
  # bench data 82% of the positions with alleles hold a single read's allele (measured), and
  # are skipped before any counting.
  fewest = min(opts.min_count_snps, opts.min_count_indels)
  for pos in counts.positions_with_alleles():
    read_alleles = counts.read_alleles[pos]
    if len(read_alleles) < fewest:
      continue
    ref_base = counts.ref_base(pos)
    if ref_base not in _ACGT:
      continue
    ref_count = counts.ref_supporting_read_count(pos)
    sums: Dict[Tuple[int, str], int] = {}
    for a in read_alleles.values():
      if not a.is_low_quality:
        k = (a.type, a.bases)
        sums[k] = sums.get(k, 0) + 1
    dp = ref_count + sum(sums.values())
    chosen: List[Tuple[int, str, int]] = []
    # (type, bases) order, as v1.5's allele map iterates; only matters for ties below.
    for (atype, bases), count in sorted(sums.items()):
      if atype == REFERENCE or atype == SOFT_CLIP:
        continue
      if atype == SUBSTITUTION:
        min_count, min_frac = opts.min_count_snps, snp_frac
      else:
        min_count, min_frac = opts.min_count_indels, indel_frac
      if count >= min_count and count / dp >= min_frac:
        chosen.append((atype, bases, count))
    if not chosen:
      continue
    longest = None
    for atype, bases, _ in chosen:  # first of the longest wins, like std::max_element
      if atype == DELETION and (longest is None or len(bases) > len(longest)):
        longest = bases
    ref = ref_base + longest[1:] if longest is not None else ref_base
    alt_of: Dict[Tuple[int, str], str] = {}
    alt_count: Dict[str, int] = {}
    for atype, bases, count in chosen:
      alt = _alt_string(bases, atype, ref)
      alt_of[(atype, bases)] = alt
      alt_count[alt] = count
    alts = tuple(sorted(alt_count))  # Python str order == byte order for ASCII
    support: Dict[str, Set[str]] = {}
    for key, a in read_alleles.items():
      if a.type == REFERENCE:
        continue
      label = alt_of.get((a.type, a.bases), UNCALLED_ALLELE)
      support.setdefault(label, set()).add(key)
    out.append(Candidate(
        contig=contig, start=pos, ref=ref, alts=alts, dp=dp,
        ad=(ref_count,) + tuple(alt_count[a] for a in alts),
        allele_support={k: frozenset(v) for k, v in support.items()}))
  return out

