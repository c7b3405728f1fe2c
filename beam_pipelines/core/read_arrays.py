"""A partition's reads as flat numpy arrays, for compiled kernels.

Why: numba kernels cannot take ``Read`` objects, and per-read Python work is what makes the
counter and the realigner slow. Packing costs one pass over the reads (a few microseconds each,
mostly the CIGAR flattening); every kernel after that walks plain arrays.

Layout (``n`` reads, read ``i``):
  * ``seq[seq_offsets[i]:seq_offsets[i + 1]]``: the read's bases as ASCII codes (upper case,
    soft clips included); ``qual`` is aligned with ``seq``.
  * ``cigar_ops[cigar_offsets[i]:cigar_offsets[i + 1]]`` / ``cigar_lens[...]``: its CIGAR with
    htslib op codes.
  * ``starts``, ``ends`` (0-based half-open aligned span), ``mapq``, ``qual_lens`` (the length of
    the read's own QUAL, which ``pack(..., pad_quals=True)`` may have cut or padded to fit):
    one value per read.
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
  qual_lens: np.ndarray

  def __len__(self) -> int:
    return len(self.starts)


def _joined_quals(reads: Sequence[Read], seq_lens: np.ndarray, qual_lens: np.ndarray,
                  seq_offsets: np.ndarray, pad: bool) -> np.ndarray:
  """Qualities of ``reads`` concatenated as uint8, aligned with their bases.

  Joined as bytes when every read has a uint8 QUAL of its SEQ's length, which is exact and much
  cheaper than concatenating arrays; anything else takes the per-read path, which names the
  offending read, or with ``pad`` cuts or zero-pads its qualities to its SEQ length (for a
  caller that reports such reads itself and must not let one shift the others').
  """
  total = int(seq_offsets[-1])
  if np.array_equal(seq_lens, qual_lens):
    try:
      qual = np.frombuffer(b"".join([r.qual for r in reads]), dtype=np.uint8)
    except (TypeError, BufferError):
      qual = None
    if qual is not None and qual.shape[0] == total:
      return qual
  qual = np.zeros(total, dtype=np.uint8)
  for i, r in enumerate(reads):
    q = np.asarray(r.qual)
    if q.shape != (len(r.seq),):
      if not pad:
        raise ValueError(f"read {r.key}: qualities of shape {q.shape} for {len(r.seq)} bases")
      q = q.ravel()[:len(r.seq)]
    qual[seq_offsets[i]:seq_offsets[i] + len(q)] = q.astype(np.uint8, copy=False)
  return qual


def _offsets(lengths: np.ndarray) -> np.ndarray:
  out = np.zeros(len(lengths) + 1, dtype=np.int64)
  np.cumsum(lengths, out=out[1:])
  return out


def bases_and_quals(reads: Sequence[Read], upper: bool = False):
  """(ASCII bases of ``reads`` concatenated as uint8, their qualities aligned with them, read
  start offsets with a final end offset), in order; ``upper`` upper-cases the bases. A QUAL whose
  shape is not its SEQ's raises, naming the read."""
  n = len(reads)
  seq_lens = np.fromiter((len(r.seq) for r in reads), dtype=np.int64, count=n)
  qual_lens = np.fromiter((len(r.qual) for r in reads), dtype=np.int64, count=n)
  offsets = _offsets(seq_lens)
  text = "".join(r.seq for r in reads).encode("ascii")
  seq = np.frombuffer(text.upper() if upper else text, dtype=np.uint8)
  return seq, _joined_quals(reads, seq_lens, qual_lens, offsets, pad=False), offsets


def pack(reads: Sequence[Read], pad_quals: bool = False) -> ReadArrays:
  """Flattens ``reads`` (in order) into one ``ReadArrays``.

  A QUAL whose shape is not its SEQ's raises, naming the read; with ``pad_quals`` it is cut or
  zero-padded instead (``qual_lens`` keeps its own length), for the allele counter, which
  reports such a read only if it counts it.
  """
  n = len(reads)
  rows = np.array([(r.start, r.end, r.mapq, len(r.seq), len(r.qual), len(r.cigar))
                   for r in reads], dtype=np.int64).reshape(n, 6)
  seq_offsets = _offsets(rows[:, 3])
  seq = np.frombuffer("".join([r.seq for r in reads]).encode("ascii"), dtype=np.uint8)
  qual = _joined_quals(reads, rows[:, 3], rows[:, 4], seq_offsets, pad=pad_quals)
  flat = np.array([x for r in reads for op_len in r.cigar for x in op_len],
                  dtype=np.int64).reshape(-1, 2)
  return ReadArrays(starts=np.ascontiguousarray(rows[:, 0]),
                    ends=np.ascontiguousarray(rows[:, 1]),
                    mapq=np.ascontiguousarray(rows[:, 2]), seq=seq, qual=qual,
                    seq_offsets=seq_offsets, cigar_ops=np.ascontiguousarray(flat[:, 0]),
                    cigar_lens=np.ascontiguousarray(flat[:, 1]),
                    cigar_offsets=_offsets(rows[:, 5]),
                    qual_lens=np.ascontiguousarray(rows[:, 4]))
