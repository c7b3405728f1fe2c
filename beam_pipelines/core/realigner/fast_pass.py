"""Aligning a window's reads to its haplotypes and back to the reference (spec 6 step 3).

The algorithm of DeepVariant v1.5's ``FastPassAligner``, which decides every realigned read:

1. **Sequences.** ``reference`` is the window's reference with margins (see ``realigner.py``);
   each haplotype carries the same prefix and suffix margins.
2. **Fast pass.** Every read longer than ``kmer_size`` (32) is indexed by its k-mers. For each
   haplotype, walking its k-mer positions i left to right, every read occurrence (read r at read
   offset p) proposes the placement ``t = max(0, i - p)``; a placement that fits inside the
   haplotype is accepted when it has at most ``max_num_of_mismatches`` (2) mismatches (``N``
   matches anything), with score ``4 * matches - 6 * mismatches``; a read keeps its best
   placement (first found on ties). A non-reference haplotype whose k-mer position i (outside
   the margins) is covered by no accepted placement found so far is discarded (score 0, all its
   placements dropped).
3. **Haplotypes to reference** with Smith-Waterman (``smith_waterman.py``); a haplotype equal
   to the reference gets ``len=`` at 0.
4. **Smith-Waterman fallback.** A read placed on no haplotype is aligned with Smith-Waterman to
   each haplotype that kept a non-zero score, keeping alignments scoring at least the
   threshold ``match*L*s - mismatch*L*(1-s)`` (L = first read's length, s = 0.16934; 1 when
   negative, as it is for 101-bp reads).
5. **Best haplotype.** Haplotypes are stably ordered by total score (ascending); a read takes
   the highest-scoring one, a later non-reference haplotype winning ties.
6. **Back to the reference.** New start = margin start + haplotype start in the reference +
   read offset in the haplotype + the haplotype's position shift at that offset; new CIGAR =
   composition (``cigar_compose.py``). A composed CIGAR whose indels could shift left is
   discarded, and so is any read with no placement: those reads keep their alignment.
   (pileflow addition: a composed CIGAR whose query length differs from the read's is
   discarded too; v1.5 would emit the malformed record.)

Reads come back in input order. Positions are 0-based.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from beam_pipelines.core.reads import CIGAR_D, CIGAR_I, CIGAR_M, CIGAR_S, Read
from beam_pipelines.core.realigner import cigar_compose
from beam_pipelines.core.realigner import smith_waterman
from beam_pipelines.core.realigner.options import AlignerOptions

_OP_CODES = {"M": CIGAR_M, "I": CIGAR_I, "D": CIGAR_D, "S": CIGAR_S}
_N = ord("N")


@dataclasses.dataclass
class _Placement:
  position: int = -1
  score: int = 0
  cigar: Tuple = ()


@dataclasses.dataclass
class _HaplotypeAlignment:
  index: int
  score: int
  placements: List[_Placement]
  cigar: List[List] = dataclasses.field(default_factory=list)
  ref_pos: int = 0
  is_reference: bool = False
  shifts: Optional[np.ndarray] = None


def score_threshold(read_size: int, opts: AlignerOptions) -> int:
  """Minimum Smith-Waterman score for a fallback read alignment (1 when the formula is < 0)."""
  s = opts.realignment_similarity_threshold
  value = int(opts.match * read_size * s - opts.mismatch * read_size * (1 - s))
  return 1 if value < 0 else value


def position_shifts(hap_len: int, cigar: Sequence[Tuple[str, int]]) -> np.ndarray:
  """Per haplotype offset, the shift to add to get the reference offset (v1.5 position map)."""
  shifts = np.zeros(hap_len, dtype=np.int64)
  shift = 0
  pos = 0
  for op, n in cigar:
    if op in ("=", "X", "M"):
      shifts[pos:pos + n] = shift
      pos += n
    elif op == "S":
      shift -= n
      shifts[pos:pos + n] = shift
      pos += n
    elif op == "D":
      shift += n
    elif op == "I":
      shifts[pos:pos + n] = shift - np.arange(n)
      shift -= n
      pos += n
  return shifts


class FastPassAligner:
  """Realigns the reads of one window to its haplotypes (see module docstring)."""

  def __init__(self, reference: str, ref_start: int, prefix_len: int, suffix_len: int,
               haplotypes: Sequence[str], opts: AlignerOptions = AlignerOptions()):
    """``reference``: margin-padded window reference starting at contig position ``ref_start``
    (0-based); ``haplotypes``: the candidate haplotypes with the same margins added."""
    self.reference = reference
    self.ref_start = ref_start
    self.prefix_len = prefix_len
    self.suffix_len = suffix_len
    self.haplotypes = list(haplotypes)
    self.opts = opts

  # -- step 2 ---------------------------------------------------------------------------------
  def _index(self, seqs: Sequence[str]) -> Dict[str, List[Tuple[int, int]]]:
    k = self.opts.kmer_size
    index: Dict[str, List[Tuple[int, int]]] = {}
    for rid, seq in enumerate(seqs):
      if len(seq) <= k:
        continue
      for p in range(len(seq) - k + 1):
        index.setdefault(seq[p:p + k], []).append((rid, p))
    return index

  def _fast_align(self, hap: str, seqs: Sequence[str], arrays: Sequence[np.ndarray],
                  index) -> Tuple[int, List[_Placement]]:
    k = self.opts.kmer_size
    max_mm = self.opts.max_num_of_mismatches
    match, mismatch = self.opts.match, self.opts.mismatch
    placements = [_Placement() for _ in seqs]
    is_ref = hap == self.reference
    hap_len = len(hap)
    hap_arr = np.frombuffer(hap.encode("ascii"), dtype=np.uint8)
    diff = np.zeros(hap_len + 1, dtype=np.int64)
    acc = 0          # coverage contributed by placements starting before i
    score = 0
    tried: Set[Tuple[int, int]] = set()
    lo, hi = self.prefix_len, hap_len - self.suffix_len
    for i in range(hap_len - k + 1):
      hits = index.get(hap[i:i + k])
      if hits:
        for rid, p in hits:
          t = i - p if i > p else 0
          length = len(seqs[rid])
          if t + length > hap_len:
            continue
          pl = placements[rid]
          if pl.position == t or (rid, t) in tried:
            continue
          tried.add((rid, t))
          a = hap_arr[t:t + length]
          b = arrays[rid]
          mm = int(np.count_nonzero((a != b) & (a != _N) & (b != _N)))
          if mm > max_mm:
            continue
          diff[t] += 1
          diff[t + length] -= 1
          if t < i:
            acc += 1
          new_score = (length - mm) * match - mm * mismatch
          if pl.score < new_score:
            score += new_score - pl.score
            pl.score = new_score
            pl.position = t
            pl.cigar = (("M", length),)
      if not is_ref and lo <= i < hi and acc + diff[i] == 0:
        return 0, [_Placement() for _ in seqs]
      acc += diff[i]
    return score, placements

  # -- steps 3-6 ------------------------------------------------------------------------------
  def align_reads(self, reads: Sequence[Read]) -> List[Read]:
    """The reads, realigned where a better alignment was found, in input order."""
    if not reads:
      return []
    seqs = [r.seq.upper() for r in reads]
    arrays = [np.frombuffer(s.encode("ascii"), dtype=np.uint8) for s in seqs]
    index = self._index(seqs)
    opts = self.opts
    haps: List[_HaplotypeAlignment] = []
    for h, hap in enumerate(self.haplotypes):
      score, placements = self._fast_align(hap, seqs, arrays, index)
      haps.append(_HaplotypeAlignment(h, score, placements))

    ref_codes = smith_waterman.encode(self.reference)
    for ha in haps:
      hap = self.haplotypes[ha.index]
      if hap == self.reference:
        ha.is_reference = True
        cigar = (("=", len(hap)),)
        ha.ref_pos = 0
      else:
        aln = smith_waterman.align_codes(smith_waterman.encode(hap), ref_codes, opts.match,
                                         opts.mismatch, opts.gap_open, opts.gap_extend)
        cigar = aln.cigar if aln.score > 0 else ()
        ha.is_reference = aln.score > 0 and cigar == (("=", len(hap)),)
        ha.ref_pos = aln.ref_begin if aln.score > 0 else 0
      ha.cigar = cigar_compose.normalize_ops(cigar)
      ha.shifts = position_shifts(len(hap), cigar)

    threshold = score_threshold(len(seqs[0]), opts)
    hap_codes = None
    for rid, seq in enumerate(seqs):
      if any(ha.placements[rid].score > 0 for ha in haps):
        continue
      if hap_codes is None:
        hap_codes = [smith_waterman.encode(h) for h in self.haplotypes]
      read_codes = smith_waterman.encode(seq)
      for ha in haps:
        if ha.score == 0:
          continue
        aln = smith_waterman.align_codes(read_codes, hap_codes[ha.index], opts.match,
                                         opts.mismatch, opts.gap_open, opts.gap_extend)
        if aln.score > 0 and aln.score >= threshold:
          ha.placements[rid] = _Placement(aln.ref_begin, aln.score, aln.cigar)

    order = sorted(haps, key=lambda ha: ha.score)  # stable, like libstdc++'s small sorts
    out = []
    for rid, read in enumerate(reads):
      best: Optional[_HaplotypeAlignment] = None
      best_score = 0
      for ha in order:
        s = ha.placements[rid].score
        if s > best_score or (best_score > 0 and s == best_score and not ha.is_reference):
          best_score = s
          best = ha
      if best is None or not best.cigar:
        out.append(read)
        continue
      out.append(self._to_reference(read, seqs[rid], best, best.placements[rid]))
    return out

  def _to_reference(self, read: Read, seq: str, ha: _HaplotypeAlignment,
                    pl: _Placement) -> Read:
    offset = ha.ref_pos + pl.position + int(ha.shifts[pl.position])
    read_cigar = cigar_compose.normalize_ops(pl.cigar)
    cigar = cigar_compose.compose(len(seq), read_cigar, pl.position, ha.cigar)
    if not cigar or not cigar_compose.is_normalized(cigar, offset, self.reference, seq):
      return read
    if sum(n for op, n in cigar if op != cigar_compose.D) != len(seq):
      # v1.5 would emit a CIGAR that disagrees with the sequence (a truncated composition);
      # we keep the original alignment instead so downstream code never sees a broken read.
      return read
    new_cigar = tuple((_OP_CODES[op], n) for op, n in cigar)
    return dataclasses.replace(read, start=self.ref_start + offset, cigar=new_cigar)
