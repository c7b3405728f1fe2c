"""Thin pysam adapter over an indexed FASTA (plain or bgzipped): windows of reference bases.

Why windows: a partition's worker fetches one ``RefWindow`` (partition plus margins, clipped to
the contig) and hands it to the pure core; the FASTA handle never leaves this module.

Coordinates are 0-based half-open. Bases are upper-cased on read (spec 2.1: "Reference bases are
upper-cased on read"), so soft-masked repeats compare equal to read bases.

The index is required up front: pysam would otherwise try to build a missing ``.fai`` next to the
FASTA (failing on read-only storage with an obscure message, or silently writing files on
shared storage). A bgzipped FASTA also needs its ``.gzi``.
"""
from __future__ import annotations

import os
from typing import Dict, Optional

import pysam

from beam_pipelines.core.reference import RefWindow


class FastaError(IOError):
  """A reference FASTA that cannot be used; the message names the file."""


def _is_gzip(path: str) -> bool:
  """True for any gzip container; only its BGZF flavour is indexable, and that needs a .gzi."""
  with open(path, "rb") as f:
    return f.read(2) == b"\x1f\x8b"


class FastaReader:
  """Indexed reference FASTA. Open in ``DoFn.setup``, ``close`` in ``teardown``."""

  def __init__(self, path: str):
    self._path = path
    if not os.path.exists(path):
      raise FastaError(f"{path}: no such file")
    if not os.path.exists(path + ".fai"):
      raise FastaError(f"{path}: no index {path}.fai found; run samtools faidx {path}")
    if _is_gzip(path) and not os.path.exists(path + ".gzi"):
      raise FastaError(f"{path}: compressed FASTA without {path}.gzi; it must be bgzipped "
                       f"(bgzip, not gzip) and indexed with samtools faidx")
    try:
      self._fasta = pysam.FastaFile(path)
    except (OSError, ValueError) as e:
      raise FastaError(f"{path}: cannot open as an indexed FASTA: {e}") from e
    self._lengths = dict(zip(self._fasta.references, self._fasta.lengths))

  @property
  def path(self) -> str:
    return self._path

  def contig_lengths(self) -> Dict[str, int]:
    """Contig name -> length, in FASTA (index) order, which is the processing order (2.2.6)."""
    return dict(self._lengths)

  def length(self, contig: str) -> Optional[int]:
    """The contig's length; None when the reference lacks it."""
    return self._lengths.get(contig)

  def window(self, contig: str, start: int, end: int) -> RefWindow:
    """Upper-case bases of ``[start, end)`` (0-based half-open), clipped to the contig.

    Clipping instead of failing lets callers ask for "partition plus margin" without checking
    contig ends; the returned window's ``start``/``end`` say what was actually covered.
    """
    if contig not in self._lengths:
      raise FastaError(f"{self._path}: contig {contig!r} is not in the reference")
    length = self._lengths[contig]
    lo = min(max(0, start), length)
    hi = max(lo, min(end, length))
    try:
      seq = self._fasta.fetch(contig, lo, hi) if hi > lo else ""
    except (OSError, ValueError) as e:
      raise FastaError(f"{self._path}: failed reading {contig}:{lo + 1}-{hi}: {e}") from e
    if len(seq) != hi - lo:
      raise FastaError(f"{self._path}: {contig}:{lo + 1}-{hi} returned {len(seq)} bases, "
                       f"expected {hi - lo} (index out of date?)")
    return RefWindow(contig=contig, start=lo, seq=seq.upper(), contig_length=length)

  def close(self) -> None:
    self._fasta.close()

  def __enter__(self) -> "FastaReader":
    return self

  def __exit__(self, *exc) -> None:
    self.close()
