"""Realigner parameters (spec 6, Appendix A ``RealignerOptions``), DeepVariant v1.5 defaults.

Why dataclasses of our own rather than the proto: the core stays free of generated code, the
values are hashable/picklable for Beam, and each group maps one-to-one onto the proto's
``ws_config`` / ``dbg_config`` / ``aln_config`` so a run_info writer can copy them field by
field.
"""
from __future__ import annotations

import dataclasses

# DeepVariant realigns only reads of at most this many bases (make_examples_core, v1.5).
MAX_READ_LENGTH_TO_REALIGN = 500
# Reference margin added around a window's reads for the read/haplotype aligner
# (realigner.py ``_REF_ALIGN_MARGIN``).
REF_ALIGN_MARGIN = 20


@dataclasses.dataclass(frozen=True)
class WindowSelectorOptions:
  """``ws_config``: which stretches of the partition get assembled (VARIANT_READS model)."""
  min_num_supporting_reads: int = 2
  max_num_supporting_reads: int = 300
  min_mapq: int = 20
  min_base_quality: int = 20
  min_windows_distance: int = 80
  max_window_size: int = 1000
  region_expansion_in_bp: int = 20


@dataclasses.dataclass(frozen=True)
class DeBruijnOptions:
  """``dbg_config``: de Bruijn graph assembly of candidate haplotypes."""
  min_k: int = 10
  max_k: int = 101
  step_k: int = 1
  min_mapq: int = 14
  min_base_quality: int = 15
  min_edge_weight: int = 2
  max_num_paths: int = 256


@dataclasses.dataclass(frozen=True)
class AlignerOptions:
  """``aln_config``: read -> haplotype alignment (fast k-mer pass, then Smith-Waterman).

  ``k`` and ``error_rate`` are recorded for run_info compatibility only: v1.5's fast pass
  aligner does not read them. ``force_alignment`` is DeepVariant's setting for alt-aligned
  pileups (core/alt_aligned.py): every read unplaced by the fast pass is Smith-Waterman aligned
  to the reference haplotype whatever its score, and a read placed nowhere is dropped instead
  of keeping its alignment.
  """
  match: int = 4
  mismatch: int = 6
  gap_open: int = 8
  gap_extend: int = 2
  k: int = 23
  error_rate: float = 0.01
  kmer_size: int = 32
  max_num_of_mismatches: int = 2
  realignment_similarity_threshold: float = 0.16934
  force_alignment: bool = False


@dataclasses.dataclass(frozen=True)
class RealignerOptions:
  """Everything the realigner needs; ``enabled`` is what ``--realign_reads`` sets.

  ``RealignerOptions()`` is DeepVariant's default configuration with realignment on;
  ``RealignerOptions(enabled=False)`` (or passing ``False`` to ``prepare_reads``) turns it off.
  """
  enabled: bool = True
  ws: WindowSelectorOptions = WindowSelectorOptions()
  dbg: DeBruijnOptions = DeBruijnOptions()
  aln: AlignerOptions = AlignerOptions()
  max_read_length: int = MAX_READ_LENGTH_TO_REALIGN
  ref_align_margin: int = REF_ALIGN_MARGIN
