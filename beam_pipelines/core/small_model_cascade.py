"""The small-model cascade inside make_examples: training examples, and easy calls made before
any pileup is drawn (pure).

DeepVariant 1.8+ runs a small fully connected network over one feature vector per biallelic
candidate (``core/small_model_features.py``), right after candidate finding. In training mode
make_examples writes those vectors with their labels (``--write_small_model_examples``, and
make_dataset always); in calling mode with ``--call_small_model_examples`` and a
``--trained_small_model_path``, a candidate whose called genotype has GQ >= the threshold of
its type becomes a ``CallVariantsOutput`` at once and gets no image, no encoding and no CNN
pass. Only the others go the usual way. A threshold of -1 turns the small model off for that
type (DeepVariant's convention); multi-allelic candidates go to the CNN unless
``--small_model_call_multiallelics``. Vectors follow the CNN's images: one per alt-index set.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from beam_pipelines.core import call_outputs
from beam_pipelines.core import small_model_features as features
from beam_pipelines.core.allele_counter import AlleleCounts
from beam_pipelines.core.variants import Candidate
from schemas import example_format
from schemas import labels as label_rules
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
  call_multiallelics: bool = False  # --small_model_call_multiallelics

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


def _combos(candidate: Candidate, exclude_het_alt_images: bool) -> List[Tuple[int, ...]]:
  """The alt-index sets of the candidate's CNN images: one small-model vector each."""
  return label_rules.alt_allele_combinations(len(candidate.alts),
                                             exclude_het_alt_images=exclude_het_alt_images)


def training_examples(counts: AlleleCounts,
                      labeled: Sequence[Tuple[Candidate, Tuple[int, ...]]],
                      opts: SmallModelOptions,
                      exclude_het_alt_images: bool = False) -> List[bytes]:
  """Serialized small-model examples of the labeled candidates, in their order: one per
  alt-index set of each candidate's images (one for a biallelic candidate), labeled as the
  image is."""
  out = []
  for cand, genotype in labeled:
    biallelic = features.is_small_model_candidate(cand)
    if biallelic and features.label_class(genotype) is None:
      continue
    for combo in _combos(cand, exclude_het_alt_images):
      label = features.label_class(genotype) if biallelic else \
          label_rules.label_for_image(genotype, combo)
      vec = features.candidate_features(counts, cand, opts.vaf_context_window_size, combo)
      ids = (cand.contig, str(cand.start), str(cand.end), cand.ref,
             "|".join(cand.alts[k] for k in combo))
      out.append(contract.encode_example(vec, ids, label, genotype))
  return out


@dataclasses.dataclass
class CascadeResult:
  accepted: List[bytes]          # serialized CallVariantsOutput, in candidate order
  remaining: List[Candidate]     # candidates left for the CNN, in order
  scored: int                    # candidates the small model saw


def call_easy_candidates(counts: AlleleCounts, candidates: Sequence[Candidate],
                         opts: SmallModelOptions, sample_name: str,
                         exclude_het_alt_images: bool = False) -> CascadeResult:
  """Splits ``candidates`` into small-model calls and the rest.

  A candidate is called when the GQ of every one of its vectors (one per image's alt set)
  clears its type's threshold; its calls are one ``CallVariantsOutput`` per alt set, as
  call_variants writes per image, so postprocess_variants merges them the same way.
  Multi-allelic candidates take part only with ``call_multiallelics``.
  """
  model = opts.model
  if model is None:
    return CascadeResult([], list(candidates), 0)
  rows, owner = [], []
  for i, c in enumerate(candidates):
    if opts.threshold(c) < 0:
      continue
    if not (features.is_small_model_candidate(c) or opts.call_multiallelics):
      continue
    for combo in _combos(c, exclude_het_alt_images):
      rows.append((c, combo))
      owner.append(i)
  accepted_at: Dict[int, List[Tuple[Tuple[int, ...], np.ndarray]]] = {}
  if rows:
    probs = model.predict_proba(features.feature_matrix(counts, rows,
                                                        opts.vaf_context_window_size))
    gqs = contract.gq_of(probs)
    refused = set()
    for row, i in enumerate(owner):
      if gqs[row] < opts.threshold(candidates[i]):
        refused.add(i)
      accepted_at.setdefault(i, []).append((rows[row][1], probs[row]))
    for i in refused:
      del accepted_at[i]
  accepted, remaining = [], []
  for i, cand in enumerate(candidates):
    calls = accepted_at.get(i)
    if calls is None:
      remaining.append(cand)
      continue
    variant = example_format.variant_to_proto(
        cand.contig, cand.start, cand.ref, cand.alts, sample_name=sample_name, dp=cand.dp,
        ad=cand.ad, genotype=(-1, -1), bam_fname=None)
    for combo, p in calls:
      accepted.append(call_outputs.encode_output(variant, combo, np.asarray(p).tolist()))
  return CascadeResult(accepted, remaining, len(set(owner)))
