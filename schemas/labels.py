"""Which images a candidate yields, and the training label of each (spec 2.9, 4.6).

Why in schemas/: the image order and the label meaning are part of the dataset contract. The
pipeline writes images in this order and labels them this way; the trainer's three softmax
classes mean exactly these three labels.

Worked example, candidate with alts [A1, A2] (indices 0 and 1) and label genotype (1, 2):

    alt_allele_combinations(2)          -> [(0,), (1,), (0, 1)]
    label_for_image((1, 2), (0,))       -> 1   # one copy of A1
    label_for_image((1, 2), (1,))       -> 1   # one copy of A2
    label_for_image((1, 2), (0, 1))     -> 2   # both haplotypes carry one of {A1, A2}
"""
from __future__ import annotations

import itertools
from typing import List, Sequence, Tuple

NUM_CLASSES = 3
LABEL_HOM_REF = 0
LABEL_HET = 1
LABEL_HOM_ALT = 2
CLASS_NAMES: Tuple[str, ...] = ("hom_ref", "het", "hom_alt")


def alt_allele_combinations(n_alts: int,
                            exclude_het_alt_images: bool = False) -> List[Tuple[int, ...]]:
  """Alt-index sets of a candidate's images, in DeepVariant's image order (spec 2.9).

  The order is that of ``itertools.combinations([ref, a1, .., an], 2)`` with the ref dropped
  from each pair: all single alts first, then every alt pair. ``n_alts`` counts the
  candidate's ``alternate_bases`` (a reference-site candidate with alt ``"."`` has 1).
  With ``exclude_het_alt_images`` (``--multi_allelic_mode=exclude_het_alt_images``) only the
  single-alt images are made.

  >>> alt_allele_combinations(3)
  [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2)]
  """
  if n_alts < 0:
    raise ValueError(f"n_alts must be >= 0, got {n_alts}")
  singles = [(i,) for i in range(n_alts)]
  if exclude_het_alt_images:
    return singles
  return singles + list(itertools.combinations(range(n_alts), 2))


def label_for_image(genotype: Sequence[int], alt_indices: Sequence[int]) -> int:
  """Number of genotype entries naming one of the image's alts (spec 4.6).

  ``genotype`` holds allele indices (0 = ref, i = alternate_bases[i-1], -1 = missing, counted
  as not-alt); ``alt_indices`` are 0-based indices into alternate_bases. For a biallelic
  candidate (0,0) -> 0, (0,1) -> 1, (1,1) -> 2.
  """
  wanted = set(alt_indices)
  label = sum(1 for g in genotype if g > 0 and (g - 1) in wanted)
  if label >= NUM_CLASSES:
    raise ValueError(f"genotype {tuple(genotype)} gives label {label}; only diploid genotypes "
                     f"(labels 0..{NUM_CLASSES - 1}) are supported")
  return label
