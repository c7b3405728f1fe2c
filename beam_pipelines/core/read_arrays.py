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


def bases_and_quals(reads: Sequence[Read], upper: bool = False):
  """(ASCII bases of ``reads`` concatenated as uint8, their qualities aligned with them, read
  start offsets with a final end offset), in order; ``upper`` upper-cases the bases.

  Qualities are joined as bytes, which is exact for the documented uint8 ``Read.qual`` and much
  cheaper than concatenating arrays; any other shape or dtype shows up as a length mismatch or a
  buffer error and takes the general numpy path, which names the offending read.
  """
  n = len(reads)
  offsets = np.zeros(n + 1, dtype=np.int64)
  np.cumsum(np.fromiter((len(r.seq) for r in reads), dtype=np.int64, count=n), out=offsets[1:])
  text = "".join(r.seq for r in reads).encode("ascii")
  seq = np.frombuffer(text.upper() if upper else text, dtype=np.uint8)
  try:
    qual = np.frombuffer(b"".join([r.qual for r in reads]), dtype=np.uint8)
  except (TypeError, BufferError):
    qual = None
  if qual is None or qual.shape[0] != seq.shape[0]:
    quals = [np.asarray(r.qual) for r in reads]
    for r, q in zip(reads, quals):
      if q.shape != (len(r.seq),):
        raise ValueError(f"read {r.key}: qualities of shape {q.shape} for {len(r.seq)} bases")
    qual = (np.concatenate(quals).astype(np.uint8, copy=False) if n
            else np.zeros(0, dtype=np.uint8))
  return seq, qual, offsets


def pack(reads: Sequence[Read]) -> ReadArrays:
  """Flattens ``reads`` (in order) into one ``ReadArrays``."""
  n = len(reads)
  starts = np.fromiter((r.start for r in reads), dtype=np.int64, count=n)
  ends = np.fromiter((r.end for r in reads), dtype=np.int64, count=n)
  mapq = np.fromiter((r.mapq for r in reads), dtype=np.int64, count=n)
  seq, qual, seq_offsets = bases_and_quals(reads)
  cig_lens = np.fromiter((len(r.cigar) for r in reads), dtype=np.int64, count=n)
  cigar_offsets = np.zeros(n + 1, dtype=np.int64)
  np.cumsum(cig_lens, out=cigar_offsets[1:])
  flat = np.array([x for r in reads for op_len in r.cigar for x in op_len],
                  dtype=np.int64).reshape(-1, 2)
  return ReadArrays(starts=starts, ends=ends, mapq=mapq, seq=seq, qual=qual,
                    seq_offsets=seq_offsets, cigar_ops=np.ascontiguousarray(flat[:, 0]),
                    cigar_lens=np.ascontiguousarray(flat[:, 1]), cigar_offsets=cigar_offsets)
