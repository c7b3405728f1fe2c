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
    and is_multiple_alt_alleles (0: only biallelic candidates get a vector).
  * ``variant_allele_frequency_at_{minus,plus}_k``: at position start + offset, with
    non-ref = every non-reference read allele there (low quality included) and
    depth = ``ref_supporting_read_count`` + non-ref, 100 * non-ref // depth; 0 outside the
    counted partition or at depth 0 (DeepVariant's window stops at its allele counter's
    interval the same way).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from beam_pipelines.core.allele_counter import AlleleCounts
from beam_pipelines.core.variants import Candidate
from schemas import small_model as contract


def _mean(total: int, n: int, multiplier: int = 1) -> int:
  return (multiplier * int(total)) // n if n else 0


def is_small_model_candidate(candidate: Candidate) -> bool:
  """Biallelic candidates only: multi-allelic sites go to the CNN (as DeepVariant's default
  ``--small_model_call_multiallelics=false``)."""
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
                       window_size: int = contract.DEFAULT_VAF_CONTEXT_WINDOW_SIZE
                       ) -> Optional[List[int]]:
  """The feature vector of ``candidate`` (None for a multi-allelic one)."""
  if not is_small_model_candidate(candidate):
    return None
  stats = counts.support
  if stats is None:
    raise ValueError("candidate_features needs count_alleles(..., support_stats=True)")
  pos = candidate.start
  i = pos - counts.start
  alt = candidate.alts[0]
  ref_n = int(stats.ref_reads[i])
  alt_keys = candidate.allele_support.get(alt, ())
  alt_n = len(alt_keys)
  by_key = stats.alt.get(pos, {})
  alt_stats = [by_key[k] for k in alt_keys]
  total = ref_n + sum(len(v) for v in candidate.allele_support.values())
  pair = ref_n + alt_n
  ref_len, alt_len = len(candidate.ref), len(alt)
  base = [
      ref_n, alt_n, pair, total,
      100 * alt_n // total if total else 0,
      100 * alt_n // pair if pair else 0,
      _mean(stats.ref_mapq_sum[i], ref_n), _mean(sum(s[0] for s in alt_stats), alt_n),
      _mean(stats.ref_bq_sum[i], ref_n), _mean(sum(s[1] for s in alt_stats), alt_n),
      _mean(stats.ref_reverse[i], ref_n, 100), _mean(sum(s[2] for s in alt_stats), alt_n, 100),
  ]
  variant = [
      int(ref_len == 1 and alt_len == 1), int(alt_len > ref_len), int(ref_len > alt_len),
      max(0, alt_len - ref_len), max(0, ref_len - alt_len), 0, 0,
  ]
  return base + variant + context_vafs(counts, pos, contract.context_offsets(window_size))


def feature_matrix(counts: AlleleCounts, candidates: Sequence[Candidate],
                   window_size: int = contract.DEFAULT_VAF_CONTEXT_WINDOW_SIZE) -> np.ndarray:
  """(n, features) int64 matrix of biallelic ``candidates`` (callers filter first)."""
  width = len(contract.feature_names(window_size))
  rows = [candidate_features(counts, c, window_size) for c in candidates]
  if any(r is None for r in rows):
    raise ValueError("feature_matrix: multi-allelic candidates have no small-model vector")
  return np.asarray(rows, dtype=np.int64).reshape(len(rows), width)


def label_class(genotype: Sequence[int]) -> Optional[int]:
  """Small-model class of a biallelic truth genotype: 0 hom-ref, 1 het, 2 hom-alt (None for a
  genotype it cannot express, e.g. no call)."""
  alts = sum(1 for g in genotype if g > 0)
  if any(g < 0 for g in genotype) or len(genotype) not in (1, 2):
    return None
  if len(genotype) == 1:
    return 2 if alts else 0
  return alts
