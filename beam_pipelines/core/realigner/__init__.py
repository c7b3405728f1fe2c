"""Local realignment around candidate variants, as DeepVariant v1.5 does it (spec 6).

Modules: ``options`` (parameters), ``window_selector`` (where to assemble), ``debruijn``
(haplotype assembly) with ``kmer_ids`` (exact integer k-mer ids), ``smith_waterman``
(SSW-compatible local alignment) with ``ssw_traceback`` (gap placement) and ``sw_lanes``
(batched SIMD search), ``fast_pass`` (reads -> haplotypes -> reference), ``cigar_compose``
(CIGAR composition), ``realigner`` (the per-partition flow). Pure core: numpy, and numba
compiling the inner loops (``core/jit.py``).
"""
from beam_pipelines.core.realigner.options import (AlignerOptions, DeBruijnOptions,
                                                   RealignerOptions, WindowSelectorOptions)
from beam_pipelines.core.realigner.realigner import (AssembledWindow, RealignmentResult,
                                                     realign_reads)

__all__ = ["AlignerOptions", "DeBruijnOptions", "RealignerOptions", "WindowSelectorOptions",
           "AssembledWindow", "RealignmentResult", "realign_reads"]
