"""The read value type shared by the allele counter, the pileup encoder and the simulator.

Why a type of our own instead of ``pysam.AlignedSegment``: the core must be testable without
files, picklable for Beam, and cheap to build by hand in unit tests. The pysam adapter
(``beam_pipelines.io.bam``) converts records once per partition.

Coordinates are 0-based, half-open, as everywhere inside pileflow.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

# CIGAR operation codes as used by htslib / pysam (BAM_CMATCH=0 ... BAM_CDIFF=8).
CIGAR_M, CIGAR_I, CIGAR_D, CIGAR_N, CIGAR_S, CIGAR_H, CIGAR_P, CIGAR_EQ, CIGAR_X = range(9)
CIGAR_CHARS = "MIDNSHP=X"
# Operations that consume reference bases (define the aligned span).
REF_CONSUMING = frozenset((CIGAR_M, CIGAR_D, CIGAR_N, CIGAR_EQ, CIGAR_X))
READ_CONSUMING = frozenset((CIGAR_M, CIGAR_I, CIGAR_S, CIGAR_EQ, CIGAR_X))

# SAM flag bits.
FLAG_PAIRED = 0x1
FLAG_PROPER_PAIR = 0x2
FLAG_UNMAPPED = 0x4
FLAG_MATE_UNMAPPED = 0x8
FLAG_REVERSE = 0x10
FLAG_MATE_REVERSE = 0x20
FLAG_READ1 = 0x40
FLAG_READ2 = 0x80
FLAG_SECONDARY = 0x100
FLAG_QCFAIL = 0x200
FLAG_DUPLICATE = 0x400
FLAG_SUPPLEMENTARY = 0x800


@dataclasses.dataclass(frozen=True, slots=True)
class Read:
  """One aligned read record.

  Slotted, with ``end`` computed once at construction: a 30x work unit builds ~5,000 of these,
  and the lazily locked ``cached_property`` alone cost ~3 us per read (profiled; bench/
  RESULTS.md, make_examples round 2).

  Attributes:
    name: query name (fragment name).
    flag: SAM flag bits.
    contig: reference name the read is aligned to.
    start: 0-based leftmost aligned reference position.
    mapq: mapping quality.
    cigar: tuple of (op, length) with htslib op codes (see CIGAR_*).
    seq: upper-case read bases, including soft-clipped bases.
    qual: per-base qualities, uint8 array of len(seq).
    tlen: SAM TLEN (signed template length), 0 when unpaired.
    mate_contig: contig of the mate, or None when unpaired / mate unplaced.
    mate_start: 0-based mate position, or -1.
    hp: the integer HP (haplotype) tag, or None when absent, not an integer, or not parsed
      (only ``--parse_sam_aux_fields`` reads it; spec 7.4 / 7.7).
    end: 0-based exclusive end of the aligned reference span (``start`` plus the reference
      bases the CIGAR consumes); not an argument: computed from ``start`` and ``cigar``, so
      ``dataclasses.replace`` with a new CIGAR gets a new end.
    end_hint: the same end when the caller already knows it (the BAM adapter takes htslib's),
      to skip the CIGAR walk; never stored.
  """
  name: str
  flag: int
  contig: str
  start: int
  mapq: int
  cigar: Tuple[Tuple[int, int], ...]
  seq: str
  qual: np.ndarray
  tlen: int = 0
  mate_contig: str | None = None
  mate_start: int = -1
  hp: Optional[int] = None
  end: int = dataclasses.field(init=False, repr=False, compare=False)
  end_hint: dataclasses.InitVar[Optional[int]] = None

  def __post_init__(self, end_hint: Optional[int]) -> None:
    if end_hint is None:
      end_hint = self.start
      for op, n in self.cigar:
        if op in REF_CONSUMING:
          end_hint += n
    object.__setattr__(self, "end", end_hint)

  @property
  def is_reverse(self) -> bool:
    return bool(self.flag & FLAG_REVERSE)

  @property
  def is_paired(self) -> bool:
    return bool(self.flag & FLAG_PAIRED)

  @property
  def read_number(self) -> int:
    """0 for READ1 or unpaired, 1 for READ2 (Nucleus convention)."""
    return 1 if (self.flag & FLAG_READ2) else 0

  @property
  def key(self) -> str:
    """Read key used for allele support: ``fragment_name/read_number``."""
    return f"{self.name}/{self.read_number}"

  def cigar_string(self) -> str:
    return "".join(f"{n}{CIGAR_CHARS[op]}" for op, n in self.cigar)

  def __eq__(self, other):  # numpy field breaks the generated __eq__.
    if not isinstance(other, Read):
      return NotImplemented
    return (self.name, self.flag, self.contig, self.start, self.mapq, self.cigar, self.seq,
            self.tlen, self.mate_contig, self.mate_start, self.hp) == (
                other.name, other.flag, other.contig, other.start, other.mapq, other.cigar,
                other.seq, other.tlen, other.mate_contig, other.mate_start,
                other.hp) and np.array_equal(
                    self.qual, other.qual)

  def __hash__(self):
    return hash((self.name, self.flag, self.contig, self.start, self.cigar))


def parse_cigar(text: str) -> Tuple[Tuple[int, int], ...]:
  """'10M2I5M' -> ((0, 10), (1, 2), (0, 5)). For tests and the simulator."""
  out = []
  num = ""
  for ch in text:
    if ch.isdigit():
      num += ch
    else:
      if not num or ch not in CIGAR_CHARS:
        raise ValueError(f"malformed CIGAR {text!r}")
      out.append((CIGAR_CHARS.index(ch), int(num)))
      num = ""
  if num:
    raise ValueError(f"malformed CIGAR {text!r}")
  return tuple(out)
