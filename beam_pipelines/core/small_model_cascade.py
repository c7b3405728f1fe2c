"""The small-model cascade inside make_examples: training examples, and easy calls made before
any pileup is drawn (pure).

DeepVariant 1.8+ runs a small fully connected network over one feature vector per biallelic
candidate (``core/small_model_features.py``), right after candidate finding. In training mode
make_examples writes those vectors with their labels (``--write_small_model_examples``, and
make_dataset always); in calling mode with ``--call_small_model_examples`` and a
``--trained_small_model_path``, a candidate whose called genotype has GQ >= the threshold of
its type becomes a ``CallVariantsOutput`` at once and gets no image, no encoding and no CNN
pass. Only the others go the usual way. A threshold of -1 turns the small model off for that
type (DeepVariant's convention); multi-allelic candidates always go to the CNN.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import numpy as np

from beam_pipelines.core import call_outputs
from beam_pipelines.core import small_model_features as features
from beam_pipelines.core.allele_counter import AlleleCounts
from beam_pipelines.core.variants import Candidate
from schemas import example_format
from schemas import small_model as contract


@dataclasses.dataclass(frozen=True, eq=False)
class SmallModelOptions:
  """What make_examples does with the small model in this run.

  ``write_examples``: emit labeled small-model examples (training). ``model``: the loaded
  model when calling (None: no cascade). Thresholds are GQ values; < 0 means off.
  """
  write_examples: bool = False
  model: Optional[contract.SmallModel] = None
  snp_gq_threshold: float = contract.DEFAULT_SNP_GQ_THRESHOLD
  indel_gq_threshold: float = contract.DEFAULT_INDEL_GQ_THRESHOLD
  vaf_context_window_size: int = contract.DEFAULT_VAF_CONTEXT_WINDOW_SIZE

  def __post_init__(self):
    contract.context_offsets(self.vaf_context_window_size)  # validates
    if self.model is not None and \
        self.model.vaf_context_window_size != self.vaf_context_window_size:
      raise ValueError(
          f"--small_model_vaf_context_window_size {self.vaf_context_window_size} differs from "
          f"the trained small model's {self.model.vaf_context_window_size}")

  @property
  def calling(self) -> bool:
    return self.model is not None

  def threshold(self, candidate: Candidate) -> float:
    snp = len(candidate.ref) == 1 and all(len(a) == 1 for a in candidate.alts)
    return self.snp_gq_threshold if snp else self.indel_gq_threshold


def training_examples(counts: AlleleCounts,
                      labeled: Sequence[Tuple[Candidate, Tuple[int, ...]]],
                      opts: SmallModelOptions) -> List[bytes]:
  """Serialized small-model examples of the labeled biallelic candidates, in their order."""
  out = []
  for cand, genotype in labeled:
    if not features.is_small_model_candidate(cand):
      continue
    label = features.label_class(genotype)
    if label is None:
      continue
    vec = features.candidate_features(counts, cand, opts.vaf_context_window_size)
    ids = (cand.contig, str(cand.start), str(cand.end), cand.ref, cand.alts[0])
    out.append(contract.encode_example(vec, ids, label, genotype))
  return out


@dataclasses.dataclass
class CascadeResult:
  accepted: List[bytes]          # serialized CallVariantsOutput, in candidate order
  remaining: List[Candidate]     # candidates left for the CNN, in order
  scored: int                    # candidates the small model saw


def call_easy_candidates(counts: AlleleCounts, candidates: Sequence[Candidate],
                         opts: SmallModelOptions, sample_name: str) -> CascadeResult:
  """Splits ``candidates`` into small-model calls (GQ >= threshold) and the rest."""
  model = opts.model
  if model is None:
    return CascadeResult([], list(candidates), 0)
  eligible = [i for i, c in enumerate(candidates)
              if features.is_small_model_candidate(c) and opts.threshold(c) >= 0]
  accepted_at = {}
  if eligible:
    mat = features.feature_matrix(counts, [candidates[i] for i in eligible],
                                  opts.vaf_context_window_size)
    probs = model.predict_proba(mat)
    gqs = contract.gq_of(probs)
    for row, i in enumerate(eligible):
      if gqs[row] >= opts.threshold(candidates[i]):
        accepted_at[i] = probs[row]
  accepted, remaining = [], []
  for i, cand in enumerate(candidates):
    probs = accepted_at.get(i)
    if probs is None:
      remaining.append(cand)
      continue
    variant = example_format.variant_to_proto(
        cand.contig, cand.start, cand.ref, cand.alts, sample_name=sample_name, dp=cand.dp,
        ad=cand.ad, genotype=(-1, -1), bam_fname=None)
    accepted.append(call_outputs.encode_output(variant, (0,), np.asarray(probs).tolist()))
  return CascadeResult(accepted, remaining, len(eligible))
