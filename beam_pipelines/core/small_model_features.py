"""The small model's feature vector of one candidate, from the allele counts (pure).

DeepVariant's small model (make_small_model_examples.py) reads one integer vector per biallelic
candidate; its names and order are in ``schemas.small_model.feature_names``. Everything comes
from the counting pass that made the candidate (``count_alleles(..., support_stats=True)``):
no second walk over the reads, no image.

Definitions (integer arithmetic, floor division, as DeepVariant's encoder):
  * ``num_reads_supports_ref``: reads showing the reference base at the candidate's start, low
    quality included (``SupportStats.ref_reads``); ``num_reads_supports_alt``: the reads in the
    candidate's ``allele_support`` for its alt, low quality included.
  * ``alt_indices_depth`` = ref + alt; ``total_depth`` = ref + every read in
    ``allele_support`` (other alleles and UNCALLED_ALLELE included).
  * ``variant_allele_frequency`` = 100 * alt // total_depth; the ``alt_indices_`` one divides
    by alt_indices_depth (0 when the depth is 0).
  * ``*_mapping_quality`` / ``*_base_quality``: floor mean MAPQ / base quality of the ref or alt
    reads (0 with none); ``*_reverse_strand_ratio`` = 100 * reverse reads // reads.
  * variant features: is_snp (1-base ref and alt), is_insertion (alt longer), is_deletion (ref
    longer), insertion_length / deletion_length (length difference, else 0), is_multiallelic
    (the candidate has several alts) and is_multiple_alt_alleles (the vector is for a pair).
  * A multi-allelic candidate gets one vector per alt-index set of its CNN images ((0,), (1,),
    (0, 1), ...), "alt" meaning the reads of any alt of the set, as DeepVariant's encoder.
  * ``variant_allele_frequency_at_{minus,plus}_k``: at position start + offset, with
    non-ref = every non-reference read allele there (low quality included) and
    depth = ``ref_supporting_read_count`` + non-ref, 100 * non-ref // depth; 0 outside the
    counted partition or at depth 0 (DeepVariant's window stops at its allele counter's
    interval the same way).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from beam_pipelines.core.allele_counter import AlleleCounts
from beam_pipelines.core.variants import Candidate
from schemas import small_model as contract


def _mean(total: int, n: int, multiplier: int = 1) -> int:
  return (multiplier * int(total)) // n if n else 0


def is_small_model_candidate(candidate: Candidate) -> bool:
  """Biallelic candidates: what the cascade calls unless ``--small_model_call_multiallelics``
  (multi-allelic sites go to the CNN by default, as in DeepVariant)."""
  return len(candidate.alts) == 1


def context_vafs(counts: AlleleCounts, start: int, offsets: Sequence[int]) -> List[int]:
  out = []
  for off in offsets:
    pos = start + off
    if not counts.start <= pos < counts.end:
      out.append(0)
      continue
    nonref = len(counts.read_alleles.get(pos, ()))
    depth = int(counts.ref_support[pos - counts.start]) + nonref
    out.append(100 * nonref // depth if depth else 0)
  return out


def candidate_features(counts: AlleleCounts, candidate: Candidate,
                       window_size: int = contract.DEFAULT_VAF_CONTEXT_WINDOW_SIZE,
                       alt_indices: Optional[Sequence[int]] = None) -> Optional[List[int]]:
  """The feature vector of ``candidate`` for the alts ``alt_indices`` (0-based into its alts).

  Without ``alt_indices``: the vector of a biallelic candidate, None for a multi-allelic one.
  With them (DeepVariant's vector per alt-index set, one per CNN image): "alt" reads are the
  reads of any of those alts, the type and length features look at those alts only, and
  ``is_multiallelic`` / ``is_multiple_alt_alleles`` say whether the candidate has several alts
  and whether the set does.
  """
  if alt_indices is None:
    if not is_small_model_candidate(candidate):
      return None
    alt_indices = (0,)
  stats = counts.support
  if stats is None:
    raise ValueError("candidate_features needs count_alleles(..., support_stats=True)")
  pos = candidate.start
  i = pos - counts.start
  alts = [candidate.alts[k] for k in alt_indices]
  ref_n = int(stats.ref_reads[i])
  alt_keys = [key for a in alts for key in candidate.allele_support.get(a, ())]
  alt_n = len(alt_keys)
  by_key = stats.alt.get(pos, {})
  alt_stats = [by_key[k] for k in alt_keys]
  total = ref_n + sum(len(v) for v in candidate.allele_support.values())
  pair = ref_n + alt_n
  ref_len = len(candidate.ref)
  lens = [len(a) for a in alts]
  base = [
      ref_n, alt_n, pair, total,
      100 * alt_n // total if total else 0,
      100 * alt_n // pair if pair else 0,
      _mean(stats.ref_mapq_sum[i], ref_n), _mean(sum(s[0] for s in alt_stats), alt_n),
      _mean(stats.ref_bq_sum[i], ref_n), _mean(sum(s[1] for s in alt_stats), alt_n),
      _mean(stats.ref_reverse[i], ref_n, 100), _mean(sum(s[2] for s in alt_stats), alt_n, 100),
  ]
  variant = [
      int(ref_len == 1 and all(n == 1 for n in lens)), int(all(n > ref_len for n in lens)),
      int(all(n < ref_len for n in lens)), max(0, max(n - ref_len for n in lens)),
      max(0, max(ref_len - n for n in lens)), int(len(candidate.alts) > 1),
      int(len(alt_indices) > 1),
  ]
  return base + variant + context_vafs(counts, pos, contract.context_offsets(window_size))


def feature_matrix(counts: AlleleCounts, rows: Sequence[Tuple[Candidate, Sequence[int]]],
                   window_size: int = contract.DEFAULT_VAF_CONTEXT_WINDOW_SIZE) -> np.ndarray:
  """(n, features) int64 matrix of (candidate, alt indices) ``rows``."""
  width = len(contract.feature_names(window_size))
  vecs = [candidate_features(counts, c, window_size, idx) for c, idx in rows]
  return np.asarray(vecs, dtype=np.int64).reshape(len(vecs), width)


def label_class(genotype: Sequence[int]) -> Optional[int]:
  """Small-model class of a biallelic truth genotype: 0 hom-ref, 1 het, 2 hom-alt (None for a
  genotype it cannot express, e.g. no call)."""
  alts = sum(1 for g in genotype if g > 0)
  if any(g < 0 for g in genotype) or len(genotype) not in (1, 2):
    return None
  if len(genotype) == 1:
    return 2 if alts else 0
  return alts
