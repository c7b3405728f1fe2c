"""DeepVariant's ``CallVariantsOutput`` records <-> pileflow's per-candidate calls (pure).

Why a module of its own: call_variants writes one ``CallVariantsOutput`` per image (the
candidate's ``Variant``, the image's alt indices, its three class probabilities) and
postprocess_variants groups them back per candidate before ``postprocess.call_candidate``
turns each group into a VCF record. Both directions, the grouping key and the reference check
are here, so the Beam pipelines, ``beam_pipelines.call`` and the trainer's calling tune share one copy.

**Grouping key.** Images of one candidate carry the same ``Variant``; they are grouped by
(contig, start, end, REF, ALTs), not by the serialized bytes, because two writers may order a
proto's map entries (INFO, DP/AD/VAF) differently for the same message.

**Sample values.** DP, AD come from the candidate's first call's INFO (``DP``, ``AD``), as
make_examples stored them; VAF is recomputed from AD and DP for the alts that are kept.
Coordinates are 0-based half-open (``Variant.start``/``end``), as in the protos.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from beam_pipelines.core import postprocess
from schemas import example_format as ef
from schemas.protos import deepvariant_pb2
from schemas.protos import variants_pb2

CandidateKey = Tuple[str, int, int, str, Tuple[str, ...]]


@dataclasses.dataclass(frozen=True)
class PostprocessOptions:
  """The thresholds of DeepVariant's postprocess_variants (its flag names and defaults)."""
  qual_filter: float = postprocess.DEFAULT_QUAL_FILTER
  multi_allelic_qual_filter: float = postprocess.DEFAULT_MULTI_ALLELIC_QUAL_FILTER
  cnn_homref_call_min_gq: float = postprocess.DEFAULT_CNN_HOMREF_CALL_MIN_GQ


def candidate_key(variant: variants_pb2.Variant) -> CandidateKey:
  return (variant.reference_name, int(variant.start), int(variant.end),
          variant.reference_bases, tuple(variant.alternate_bases))


def encode_output(variant: variants_pb2.Variant, alt_indices: Sequence[int],
                  probabilities: Sequence[float]) -> bytes:
  """One serialized ``CallVariantsOutput`` (what DeepVariant's call_variants writes).

  Serialized deterministically (map entries such as the call's INFO sorted by key): protobuf
  otherwise writes maps in an order that can differ between processes, and the same call
  must give the same bytes on every worker.
  """
  out = deepvariant_pb2.CallVariantsOutput()
  out.variant.CopyFrom(variant)
  out.alt_allele_indices.indices.extend(int(i) for i in alt_indices)
  out.genotype_probabilities.extend(float(p) for p in probabilities)
  return out.SerializeToString(deterministic=True)


def decode_output(blob: bytes, source: str = "call_variants output"
                  ) -> Tuple[variants_pb2.Variant, postprocess.ImagePrediction]:
  """(candidate, image prediction) of one serialized ``CallVariantsOutput``.

  Raises ValueError naming ``source`` when the record is not one (no variant, not three
  probabilities, an alt index outside the candidate's alts).
  """
  out = deepvariant_pb2.CallVariantsOutput()
  try:
    out.ParseFromString(blob)
  except Exception as e:  # protobuf's DecodeError has no stable import path across versions
    raise ValueError(f"{source}: a record is not a CallVariantsOutput proto ({e})") from None
  v = out.variant
  where = f"{source}: record at {v.reference_name or '?'}:{v.start + 1}"
  if not v.reference_name or not v.reference_bases:
    raise ValueError(f"{source}: a record has no variant (not a CallVariantsOutput?)")
  probs = tuple(float(p) for p in out.genotype_probabilities)
  if len(probs) != 3:
    raise ValueError(f"{where} has {len(probs)} genotype probabilities, expected 3")
  indices = tuple(int(i) for i in out.alt_allele_indices.indices)
  if not indices or any(i < 0 or i >= len(v.alternate_bases) for i in indices):
    raise ValueError(f"{where} has alt_allele_indices {list(indices)} for "
                     f"{len(v.alternate_bases)} alt(s)")
  return v, postprocess.ImagePrediction(indices, probs)


def _info_values(call: variants_pb2.VariantCall, key: str) -> List:
  if key not in call.info:
    return []
  out = []
  for value in call.info[key].values:
    kind = value.WhichOneof("kind")
    out.append(getattr(value, kind) if kind else None)
  return out


def sample_name(variant: variants_pb2.Variant) -> str:
  """The sample the candidate was made for ('' when make_examples did not name one)."""
  return variant.calls[0].call_set_name if variant.calls else ""


def call_variant(variant: variants_pb2.Variant, images: Sequence[postprocess.ImagePrediction],
                 options: PostprocessOptions = PostprocessOptions(),
                 source: str = "call_variants output") -> Optional[postprocess.Call]:
  """The VCF call of one candidate from all its images; None for a reference-site candidate.

  Raises ValueError naming ``source`` and the candidate when the images do not fit it (a
  duplicate image, alts no image shows).
  """
  alts = list(variant.alternate_bases)
  if not alts or alts == [ef.REFERENCE_SITE_ALT]:
    return None
  vcall = variant.calls[0] if variant.calls else variants_pb2.VariantCall()
  dp = (_info_values(vcall, ef.INFO_DP) or [0])[0]
  ad = _info_values(vcall, ef.INFO_AD)
  try:
    return postprocess.call_candidate(
        variant.reference_name, int(variant.start), variant.reference_bases, alts, images,
        dp=int(dp or 0), ad=[int(c) for c in ad], qual_filter=options.qual_filter,
        multi_allelic_qual_filter=options.multi_allelic_qual_filter,
        min_homref_gq=options.cnn_homref_call_min_gq)
  except ValueError as e:
    raise ValueError(f"{source}: {variant.reference_name}:{variant.start + 1}: {e}") from None


def reference_mismatch(variant: variants_pb2.Variant, lengths: Dict[str, int],
                       fetch: Callable[[str, int, int], str]) -> Optional[str]:
  """Why ``variant`` cannot come from the reference (contig, bounds, REF bases), or None.

  ``lengths`` is the reference's contig -> length; ``fetch(contig, start, end)`` its bases.
  """
  where = f"candidate {variant.reference_name}:{variant.start + 1}"
  length = lengths.get(variant.reference_name)
  if length is None:
    return f"{where} is on contig {variant.reference_name!r}, which the reference lacks"
  if variant.end > length:
    return f"{where} ends at {variant.end} past the contig length {length}"
  bases = fetch(variant.reference_name, int(variant.start), int(variant.end)).upper()
  if bases != variant.reference_bases.upper():
    return f"{where} has REF {variant.reference_bases} but the reference has {bases}"
  return None


def sort_key(call: postprocess.Call, contig_order: Dict[str, int]) -> Tuple:
  """Reference order: contig as in the FASTA, then start, end and alts."""
  return (contig_order.get(call.contig, len(contig_order)), call.contig, call.start, call.end,
          call.alts)
