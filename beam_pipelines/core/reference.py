"""A slice of reference sequence with its offset: what the core needs from a FASTA.

Why not pass the FASTA handle: the core stays file-free and a partition's worker fetches one
window (partition plus margins, clipped to the contig) once and hands it to the allele counter,
the candidate caller and the pileup encoder.

Coordinates are 0-based half-open.
"""
from __future__ import annotations

import dataclasses


class ReferenceWindowError(IndexError):
  """A request for reference bases outside the fetched window."""


@dataclasses.dataclass(frozen=True)
class RefWindow:
  """Upper-case reference bases ``seq`` covering ``[start, start + len(seq))`` of ``contig``."""
  contig: str
  start: int
  seq: str
  contig_length: int

  @property
  def end(self) -> int:
    return self.start + len(self.seq)

  def covers(self, start: int, end: int) -> bool:
    return self.start <= start and end <= self.end

  def bases(self, start: int, end: int) -> str:
    """Reference bases of ``[start, end)``; raises if outside the window."""
    if not self.covers(start, end) or end < start:
      raise ReferenceWindowError(
          f"{self.contig}:[{start},{end}) is outside the fetched window "
          f"[{self.start},{self.end})")
    return self.seq[start - self.start:end - self.start]

  def base(self, pos: int) -> str:
    return self.bases(pos, pos + 1)
