"""Alt-aligned pileups (``--alt_aligned_pileup``): the candidate's reads drawn against each alt.

Why: in a pileup aligned to the reference, the reads carrying a large insertion or deletion are
soft-clipped or misplaced, so the network sees noise where the evidence is. DeepVariant (1.1+,
and every long-read model) therefore also aligns the same reads to each alternate haplotype and
shows the model that second view. What this module does, as DeepVariant v1.5 does it:

1. Which candidates: indels only by default (``--types_to_alt_align indels``: the reference
   allele or any alt longer than 1 bp), every candidate with ``all``. The others get all-zero
   alt views.
2. The reads: those the ordinary image considers (``pileup.overlapping_reads``), each trimmed to
   ``[start - width//2, start + len(ref) + width//2)`` (clipped to the contig; leading soft
   clips of a trimmed read go with the trim); reads shorter than 15 bp after trimming are
   dropped.
3. Per alt allele, the haplotype ``prefix + alt + suffix`` (prefix/suffix: the reference half a
   width either side of the reference allele) and the reads aligned to it by the fast pass
   aligner with ``force_alignment`` (core/realigner/fast_pass.py), reported in that haplotype's
   coordinates so that its window starts where the reference image's does.
4. Per alt, an ordinary pileup (``pileup.draw_images``) of those reads over the haplotype's
   window ``prefix[-width//2:] + alt + suffix``, cut to ``width`` (a shorter window, at a contig
   end, drops the candidate as DeepVariant does).
5. Combined per image (one or two alts; one alt is used twice): ``diff_channels`` appends
   channel 6 (base differs from ref) of both alt views, ``base_channels`` channel 1 (read base),
   ``rows`` stacks the three whole pileups (height x 3).

Coordinates are 0-based half-open.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import numpy as np

from beam_pipelines.core import pileup
from beam_pipelines.core import read_trim
from beam_pipelines.core.reads import Read
from beam_pipelines.core.realigner.fast_pass import FastPassAligner
from beam_pipelines.core.realigner.options import AlignerOptions
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.variants import Candidate
from schemas import channels as channel_rules

NONE, ROWS = channel_rules.ALT_ALIGNED_NONE, channel_rules.ALT_ALIGNED_ROWS
DIFF_CHANNELS, BASE_CHANNELS = (channel_rules.ALT_ALIGNED_DIFF_CHANNELS,
                                channel_rules.ALT_ALIGNED_BASE_CHANNELS)
REPRESENTATIONS = (NONE, ROWS, DIFF_CHANNELS, BASE_CHANNELS)
TYPES = ("indels", "all")
MIN_TRIMMED_READ_LENGTH = 15
# Bases of reference each side of the reference allele that anchor the alignments (DeepVariant
# pads the haplotypes with up to 100 bp of margin on each side; the rest only sets where a
# non-reference haplotype may be discarded, which never happens to this single haplotype).
_CENTRAL_MARGIN = 100
# Channel of the alt views that diff_channels / base_channels keep, by channel id.
_KEPT_CHANNEL = {DIFF_CHANNELS: pileup.CH_BASE_DIFFERS_FROM_REF,
                 BASE_CHANNELS: pileup.CH_READ_BASE}


@dataclasses.dataclass(frozen=True)
class AltAlignedOptions:
  """``--alt_aligned_pileup`` and ``--types_to_alt_align``, plus the aligner's scores."""
  representation: str = NONE
  types: str = "indels"
  aligner: AlignerOptions = AlignerOptions()

  def __post_init__(self):
    if self.representation not in REPRESENTATIONS:
      raise ValueError(f"--alt_aligned_pileup={self.representation}: must be one of "
                       f"{', '.join(REPRESENTATIONS)}")
    if self.types not in TYPES:
      raise ValueError(f"--types_to_alt_align={self.types}: must be one of {', '.join(TYPES)}")

  @property
  def enabled(self) -> bool:
    return self.representation != NONE


def is_indel(candidate: Candidate) -> bool:
  """Nucleus' ``is_indel`` for a candidate: the reference or an alt is longer than 1 bp."""
  return len(candidate.ref) > 1 or any(len(a) > 1 for a in candidate.alts)


def _alt_views(candidate: Candidate, reads: Sequence[Read], ref: RefWindow,
               opts: pileup.PileupOptions, combos: Sequence[Tuple[int, ...]],
               aligner: AlignerOptions) -> Optional[List[List[np.ndarray]]]:
  """Per alt allele, its pileups (one per combo); None when a haplotype window is short."""
  half = opts.width // 2
  ref_end = candidate.start + len(candidate.ref)
  lo = max(candidate.start - half, 0)
  hi = min(ref.contig_length, ref_end + half)
  trimmed = [read_trim.trim_read(r, lo, hi) for r in pileup.overlapping_reads(candidate, reads, opts)]
  trimmed = [r for r in trimmed if len(r.seq) >= MIN_TRIMMED_READ_LENGTH]
  prefix = ref.bases(lo, candidate.start)
  suffix = ref.bases(ref_end, hi)
  margin = min(len(prefix), len(suffix), _CENTRAL_MARGIN)
  aln = dataclasses.replace(aligner, force_alignment=True)
  views = []
  for alt in candidate.alts:
    haplotype = prefix + alt + suffix
    aligned = FastPassAligner(haplotype, lo, len(prefix) - margin, len(suffix) - margin,
                              [haplotype], aln).align_reads(trimmed) if trimmed else []
    window = (prefix[-half:] + alt + suffix[:max(half + 1 - len(alt), 0)])[:opts.width]
    if len(window) != opts.width:
      return None
    views.append(pileup.draw_images(candidate, aligned, window, opts, combos))
  return views


def combine(representation: str, ref_image: np.ndarray, alt_images: Sequence[np.ndarray],
            chans: Sequence[int]) -> np.ndarray:
  """One image from the reference view and one or two alt views (one is used twice)."""
  if len(alt_images) == 1:
    alt_images = [alt_images[0], alt_images[0]]
  if len(alt_images) != 2:
    raise ValueError("alt-aligned pileups combine one or two alt views")
  if representation == ROWS:
    return np.concatenate([ref_image, *alt_images], axis=0)
  ci = list(chans).index(_KEPT_CHANNEL[representation])
  return np.concatenate([ref_image] + [a[:, :, ci:ci + 1] for a in alt_images], axis=2)


def build_images(candidate: Candidate, reads: Sequence[Read], ref: RefWindow,
                 opts: pileup.PileupOptions, combos: Sequence[Tuple[int, ...]],
                 alt: AltAlignedOptions) -> Optional[List[np.ndarray]]:
  """``pileup.build_images`` with the alt-aligned views of ``alt`` added (module docstring)."""
  images = pileup.build_images(candidate, reads, ref, opts, combos)
  if images is None or not alt.enabled:
    return images
  if alt.types == "all" or is_indel(candidate):
    views = _alt_views(candidate, reads, ref, opts, combos, alt.aligner)
    if views is None:
      return None
  else:
    blank = np.zeros_like(images[0])
    views = [[blank] * len(combos) for _ in candidate.alts]
  return [combine(alt.representation, image, [views[a][k] for a in combo], opts.channels)
          for k, (image, combo) in enumerate(zip(images, combos))]
