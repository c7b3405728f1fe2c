"""Read depth at single positions of a BAM/CRAM, as ``samtools depth`` counts it (pysam).

Used by the benchmark's depth buckets (``core/depth_buckets.py``): only the first base of
each scored allele is asked for, so the reads are counted per 64 kbp chunk that holds such a
position, never over a whole genome.

What counts, as in ``samtools depth`` without options: reads that are mapped, primary, not
QC-failed and not duplicates, with any base (an ``N`` too) and any base quality at the position;
a deletion or a skipped (N) reference base does not count. Why aligned blocks and not
``count_coverage``: that counts only A/C/G/T, so a read with an ``N`` there would be missed
(seen on the GIAB reads: 63 against samtools' 64).
"""
from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np
import pysam

CHUNK = 1 << 16
# samtools depth's default exclusions (-G UNMAP,SECONDARY,QCFAIL,DUP).
_SKIPPED_FLAGS = 0x4 | 0x100 | 0x200 | 0x400


class ReadDepthError(IOError):
  """The reads cannot be used for depth; the message names the file."""


class ReadDepth:
  """``depth(contig, pos)`` (0-based) of one BAM/CRAM; chunks are counted once and cached."""

  def __init__(self, path: str, reference: Optional[str] = None, cache_chunks: int = 64):
    if not os.path.exists(path):
      raise ReadDepthError(f"{path}: no such file")
    try:
      self._reads = pysam.AlignmentFile(path, reference_filename=reference)
    except (OSError, ValueError) as e:
      raise ReadDepthError(f"{path}: cannot open as BAM/CRAM: {e}") from None
    if not self._reads.has_index():
      raise ReadDepthError(f"{path}: no index (.bai/.csi/.crai); run samtools index {path}")
    self.path = path
    self._lengths = dict(zip(self._reads.references, self._reads.lengths))
    self._cache: Dict[tuple, np.ndarray] = {}
    self._memo: Dict[tuple, int] = {}  # scoring asks for each allele once per row
    self._cache_chunks = cache_chunks

  @property
  def contigs(self):
    return list(self._lengths)

  def _chunk(self, contig: str, index: int) -> np.ndarray:
    key = (contig, index)
    chunk = self._cache.get(key)
    if chunk is None:
      start = index * CHUNK
      end = min(start + CHUNK, self._lengths[contig])
      diff = np.zeros(end - start + 1, dtype=np.int64)
      try:
        for read in self._reads.fetch(contig, start, end):
          if read.flag & _SKIPPED_FLAGS:
            continue
          for b_start, b_end in read.get_blocks():  # M/=/X runs: no D, no N
            lo, hi = max(b_start, start), min(b_end, end)
            if lo < hi:
              diff[lo - start] += 1
              diff[hi - start] -= 1
      except (OSError, ValueError) as e:
        raise ReadDepthError(f"{self.path}: reading {contig}:{start + 1}-{end} failed: {e}") \
            from None
      chunk = np.cumsum(diff[:-1])
      if len(self._cache) >= self._cache_chunks:
        self._cache.pop(next(iter(self._cache)))
      self._cache[key] = chunk
    return chunk

  def depth(self, contig: str, pos: int) -> int:
    """Reads covering 0-based ``pos``; 0 off the contig or on a contig the reads lack."""
    key = (contig, pos)
    value = self._memo.get(key)
    if value is None:
      length = self._lengths.get(contig)
      value = (0 if length is None or not 0 <= pos < length
               else int(self._chunk(contig, pos // CHUNK)[pos % CHUNK]))
      self._memo[key] = value
    return value

  def close(self) -> None:
    self._reads.close()
