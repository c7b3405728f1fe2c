"""A partition's reads as flat numpy arrays, for compiled kernels.

Why: numba kernels cannot take ``Read`` objects, and per-read Python work is what makes the
realigner slow. Packing costs one pass over the reads (a few microseconds each, mostly the
CIGAR flattening); every kernel after that walks plain arrays.

Layout (``n`` reads, read ``i``):
  * ``seq[seq_offsets[i]:seq_offsets[i + 1]]``: the read's bases as ASCII codes (upper case,
    soft clips included); ``qual`` is aligned with ``seq``.
  * ``cigar_ops[cigar_offsets[i]:cigar_offsets[i + 1]]`` / ``cigar_lens[...]``: its CIGAR with
    htslib op codes.
  * ``starts``, ``ends`` (0-based half-open aligned span), ``mapq``: one value per read.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from beam_pipelines.core.reads import Read


@dataclasses.dataclass(frozen=True, eq=False)
class ReadArrays:
  """See the module docstring for the layout."""
  starts: np.ndarray
  ends: np.ndarray
  mapq: np.ndarray
  seq: np.ndarray
  qual: np.ndarray
  seq_offsets: np.ndarray
  cigar_ops: np.ndarray
  cigar_lens: np.ndarray
  cigar_offsets: np.ndarray

  def __len__(self) -> int:
    return len(self.starts)


def pack(reads: Sequence[Read]) -> ReadArrays:
  """Flattens ``reads`` (in order) into one ``ReadArrays``."""
  n = len(reads)
  starts = np.fromiter((r.start for r in reads), dtype=np.int64, count=n)
  ends = np.fromiter((r.end for r in reads), dtype=np.int64, count=n)
  mapq = np.fromiter((r.mapq for r in reads), dtype=np.int64, count=n)
  seq_lens = np.fromiter((len(r.seq) for r in reads), dtype=np.int64, count=n)
  seq_offsets = np.zeros(n + 1, dtype=np.int64)
  np.cumsum(seq_lens, out=seq_offsets[1:])
  seq = np.frombuffer("".join(r.seq for r in reads).encode("ascii"), dtype=np.uint8)
  qual = (np.concatenate([np.asarray(r.qual, dtype=np.uint8) for r in reads]) if n
          else np.zeros(0, dtype=np.uint8))
  cig_lens = np.fromiter((len(r.cigar) for r in reads), dtype=np.int64, count=n)
  cigar_offsets = np.zeros(n + 1, dtype=np.int64)
  np.cumsum(cig_lens, out=cigar_offsets[1:])
  flat = np.array([x for r in reads for op_len in r.cigar for x in op_len],
                  dtype=np.int64).reshape(-1, 2)
  return ReadArrays(starts=starts, ends=ends, mapq=mapq, seq=seq, qual=qual,
                    seq_offsets=seq_offsets, cigar_ops=np.ascontiguousarray(flat[:, 0]),
                    cigar_lens=np.ascontiguousarray(flat[:, 1]), cigar_offsets=cigar_offsets)
