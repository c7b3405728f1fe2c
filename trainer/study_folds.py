"""Cross-validation folds grouped by genomic region (pure: loci in, fold per example out).

Why grouped: two candidates a few bases apart share reads, so their pileups share pixels. A
random split puts one in training and its neighbour in the test fold, and the test score
measures memory of those reads, not the model. Here examples are cut into blocks of at least
``region_size`` bp, a new block starting only where the gap to the previous example is at
least ``min_gap`` bp (default 1,000: more than a short read plus a pileup's half width; raise it
for long reads), so no read reaches two blocks; whole blocks go to folds.

Blocks are taken in a seeded random order and each goes to the fold with the fewest examples so
far, so folds are about equal in size and the plan is the same for the same loci and seed.
Inside each fold the first blocks of that order, about ``tune_fraction`` of its examples (at
least one block when the fold has two), are its tune part: when fold k is the test fold, the
model trains on the other folds' remaining blocks and selects its checkpoint on their tune
parts, never on fold k.
"""
from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

import numpy as np


@dataclasses.dataclass(frozen=True)
class FoldPlan:
  fold: Tuple[int, ...]        # per example, 0..folds-1
  is_tune: Tuple[bool, ...]    # per example: in its fold's tune part
  num_blocks: int
  folds: int


def blocks_of(loci: Sequence[Tuple[str, int]], region_size: int, min_gap: int) -> List[int]:
  """Block index per example (module docstring); blocks numbered in genome order."""
  order = sorted(range(len(loci)), key=lambda i: (loci[i][0], loci[i][1], i))
  block = [0] * len(loci)
  current, block_start, prev = -1, None, None
  for i in order:
    contig, pos = loci[i]
    if (prev is None or contig != prev[0] or
        (pos - block_start >= region_size and pos - prev[1] >= min_gap)):
      current += 1
      block_start = pos
    block[i] = current
    prev = (contig, pos)
  return block


def plan_folds(loci: Sequence[Tuple[str, int]], folds: int, *, region_size: int = 100_000,
               min_gap: int = 1_000, tune_fraction: float = 0.1, seed: int = 1) -> FoldPlan:
  """The fold and tune flag of every example (module docstring).

  Raises:
    ValueError: fewer than 2 folds, or fewer blocks than folds (say how many there are).
  """
  if folds < 2:
    raise ValueError(f"--folds={folds}: a cross-validation needs at least 2 folds")
  block = blocks_of(loci, region_size, min_gap)
  n_blocks = max(block) + 1 if block else 0
  if n_blocks < folds:
    raise ValueError(f"--folds={folds}: the examples form only {n_blocks} separate regions at "
                     f"--region_size={region_size} --min_gap={min_gap}; lower them or the folds")
  sizes = np.bincount(block, minlength=n_blocks)
  order = np.random.default_rng(seed).permutation(n_blocks)
  fold_of_block = np.zeros(n_blocks, np.int64)
  filled = np.zeros(folds, np.int64)
  for b in order:
    k = int(np.argmin(filled))
    fold_of_block[b] = k
    filled[k] += sizes[b]
  tune_block = np.zeros(n_blocks, bool)
  for k in range(folds):
    mine = [b for b in order if fold_of_block[b] == k]
    taken = 0
    for b in mine[:-1]:  # the fold keeps at least one non-tune block
      if taken >= tune_fraction * filled[k] and taken > 0:
        break
      tune_block[b] = True
      taken += sizes[b]
  return FoldPlan(fold=tuple(int(fold_of_block[b]) for b in block),
                  is_tune=tuple(bool(tune_block[b]) for b in block),
                  num_blocks=n_blocks, folds=folds)
