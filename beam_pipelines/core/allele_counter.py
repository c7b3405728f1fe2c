"""The allele counter: per-position read evidence over one partition (spec 3.4).

What it computes, for every position p of the partition ``[s, e)`` (0-based half-open):
  * ``ref_base``: the reference base at p;
  * ``ref_supporting_read_count``: reads showing the reference base at p with base quality
    >= ``min_base_quality``;
  * ``read_alleles``: read key -> ``ReadAllele(bases, type, is_low_quality)`` for every read
    showing something other than the reference at p (substitution, insertion, deletion or soft
    clip anchored at p), low-quality ones included.
From these the caller derives DP, AD and the candidate alleles (``candidates.py``).

How each read becomes "read alleles" (DeepVariant v1.5 AlleleCounter, reproduced exactly):
  * M/=/X base at reference position p: no allele if the read base is not A/C/G/T; else
    REFERENCE when it equals the reference base, SUBSTITUTION otherwise; low quality iff its
    base quality < min_base_quality.
  * I and S of length L: one INSERTION / SOFT_CLIP allele anchored at p-1 (VCF convention; p is
    the reference position the operation sits before), bases = previous base + the L read bases.
    The previous base is the read base before the operation, or the reference base at p-1 when
    the operation is the first read base (leading clips, leading insertions). Dropped when the
    previous base or any of the L bases is not A/C/G/T. Low quality iff the sum of the L
    qualities < min_base_quality * L.
  * D of length L: DELETION anchored at p-1, bases = previous base (from the read, so it may
    differ from the reference) + the L deleted reference bases. Dropped when the previous base is
    not A/C/G/T, the deleted span runs off the contig, or it contains a non-ACGT reference base.
    Never low quality.
  * N, P advance the reference only; H does nothing. Zero-length operations are ignored
    (v1.5 would crash on a zero-length D and invent a 1-base "insertion" for a zero-length I).
  * Walking the read's allele list in order, **when two consecutive alleles share a position the
    first is dropped**, so an indel or soft clip replaces the base allele of its anchor. A
    dropped indel still sits in that list as a positionless placeholder (as in v1.5, where it is
    a ReadAllele with an invalid position): ``5M 2I 3D`` with an unusable insertion keeps the
    anchor base AND adds the deletion at the same position. Alleles outside ``[s, e)`` are
    ignored.
  * Accepted alleles: REFERENCE and not low quality -> ref count + 1 (low-quality REFERENCE ->
    nothing); any other allele, low quality or not -> ``read_alleles[read.key] = allele``. When a
    read key repeats, the last write wins (reads in list order, alleles in read order).
  * Reads with MAPQ < min_mapping_quality are ignored, as are reads with no stored sequence.

Worked example (reference ``ACGTACGT`` at 100..107, partition [100, 108)): a read at 100 with
CIGAR ``3M2I3M`` and sequence ``ACGTTTAC`` gives REFERENCE at 100, 101, then INSERTION ``GTT``
anchored at 102 (replacing the REFERENCE G at 102), then REFERENCE at 103, 104, 105.

Why this shape (``AlleleCounts``): at 50x, ~99% of (read, position) observations are high-quality
reference matches. Those are counted with one numpy ``bincount`` over all reads of the partition
(``ref_support`` array); only the rare non-reference observations become Python objects, in a
dict keyed by position. The per-read CIGAR walk is compiled (``cigar_walk``); Python touches
a read only to pack it and for its indel/clip alleles, and there is no per-base Python loop.
"""
from __future__ import annotations

import dataclasses
import operator
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from beam_pipelines.core.cigar_walk import (ERROR_NONE, IS_ACGT, expand_blocks,
                                            raise_walk_error, walk)
from beam_pipelines.core.read_arrays import pack
from beam_pipelines.core.reads import CIGAR_D, CIGAR_I, Read
from beam_pipelines.core.reference import RefWindow, ReferenceWindowError
from beam_pipelines.core.regions import Range

# AlleleType enum values of DeepVariant's deepvariant.proto (spec 1.4).
ALLELE_UNSPECIFIED = 0
REFERENCE = 1
SUBSTITUTION = 2
INSERTION = 3
DELETION = 4
SOFT_CLIP = 5
ALLELE_TYPE_NAMES = {ALLELE_UNSPECIFIED: "UNSPECIFIED", REFERENCE: "REFERENCE",
                     SUBSTITUTION: "SUBSTITUTION", INSERTION: "INSERTION",
                     DELETION: "DELETION", SOFT_CLIP: "SOFT_CLIP"}

DEFAULT_MIN_BASE_QUALITY = 10
DEFAULT_MIN_MAPPING_QUALITY = 5



class ReadAllele(NamedTuple):
  """What one read shows at one position (DeepVariant's ``Allele`` with count 1)."""
  bases: str
  type: int
  is_low_quality: bool


# The eight substitution alleles (a canonical base, low quality or not), shared: long reads
# make ~150k of them per 500-kb work unit.
_SUBSTITUTIONS = {(b, low): ReadAllele(chr(b), SUBSTITUTION, low)
                  for b in b"ACGT" for low in (False, True)}
_RECORD_ORDER = operator.itemgetter(0, 1, 2)


@dataclasses.dataclass(frozen=True, eq=False)
class AlleleCounts:
  """Allele counts of one partition ``[start, end)`` (0-based half-open) of ``contig``.

  Attributes:
    ref_bases: reference bases of ``[start, end)`` (upper case); ``ref_bases[p - start]`` is the
      ref_base of position p.
    ref_support: int32 array, ``ref_support[p - start]`` = ref_supporting_read_count(p).
    read_alleles: absolute position -> {read key -> ReadAllele}; positions with no
      non-reference observation are absent (an empty mapping is implied).
  """
  contig: str
  start: int
  end: int
  ref_bases: str
  ref_support: np.ndarray
  read_alleles: Mapping[int, Mapping[str, ReadAllele]]
  # Only with count_alleles(..., support_stats=True): what the small model's features need.
  support: "Optional[SupportStats]" = None

  def _offset(self, pos: int) -> int:
    if not self.start <= pos < self.end:
      raise IndexError(f"{self.contig}:{pos} is outside the counted interval "
                       f"[{self.start}, {self.end})")
    return pos - self.start

  def ref_base(self, pos: int) -> str:
    return self.ref_bases[self._offset(pos)]

  def ref_supporting_read_count(self, pos: int) -> int:
    return int(self.ref_support[self._offset(pos)])

  def alleles_at(self, pos: int) -> Mapping[str, ReadAllele]:
    """read key -> ReadAllele at ``pos`` (non-reference only, low-quality included)."""
    self._offset(pos)
    return self.read_alleles.get(pos, {})

  def positions_with_alleles(self) -> List[int]:
    """Sorted positions that carry at least one non-reference read allele."""
    return sorted(self.read_alleles)

  def depth(self, pos: int) -> int:
    """DP (``TotalAlleleCounts``): good non-reference alleles (soft clips included) + ref count.

    Spanning deletions add nothing under the deleted bases: a read with a deletion over p has no
    allele at p.
    """
    good = sum(1 for a in self.alleles_at(pos).values() if not a.is_low_quality)
    return good + self.ref_supporting_read_count(pos)

  def depths(self) -> np.ndarray:
    """DP of every position of the interval, as an int32 array."""
    out = self.ref_support.astype(np.int32, copy=True)
    for pos, alleles in self.read_alleles.items():
      out[pos - self.start] += sum(1 for a in alleles.values() if not a.is_low_quality)
    return out

  def sum_allele_counts(self, pos: int) -> Dict[Tuple[str, int], int]:
    """(bases, type) -> number of reads, over non-low-quality alleles (``SumAlleleCounts``).

    Includes the synthetic ``(ref_base, REFERENCE)`` entry with the ref count when it is > 0.
    """
    sums: Dict[Tuple[str, int], int] = {}
    for a in self.alleles_at(pos).values():
      if not a.is_low_quality:
        k = (a.bases, a.type)
        sums[k] = sums.get(k, 0) + 1
    ref_count = self.ref_supporting_read_count(pos)
    if ref_count > 0:
      sums[(self.ref_base(pos), REFERENCE)] = ref_count
    return sums


@dataclasses.dataclass(frozen=True, eq=False)
class SupportStats:
  """Per-read evidence behind the counts, for the small model's features (DeepVariant's
  ``ReadSupport``: mapping quality, average base quality, strand of every supporting read).

  Attributes:
    ref_reads: int32 per position, reads showing the reference base there, low-quality ones
      included (DeepVariant's ``ref_support_ext`` counts them; ``ref_support`` does not).
    ref_mapq_sum, ref_bq_sum, ref_reverse: int64 per position, sums over those reads of MAPQ,
      base quality and "is on the reverse strand".
    alt: absolute position -> {read key -> (mapq, base quality, is_reverse)} for every read
      allele of ``read_alleles`` (same keys). The base quality of a substitution is its base's;
      of an insertion or soft clip, the floor mean of the inserted bases'; of a deletion, the
      anchor base's (0 when the deletion opens the read).
  """
  ref_reads: np.ndarray
  ref_mapq_sum: np.ndarray
  ref_bq_sum: np.ndarray
  ref_reverse: np.ndarray
  alt: Mapping[int, Mapping[str, Tuple[int, int, bool]]]


def counting_span(reads: Iterable[Read], region: Range, contig_length: int) -> Range:
  """The reference interval ``count_alleles`` needs for ``reads`` over ``region`` (0-based).

  Deletions anchored inside the region read reference bases up to the read's end, which may lie
  past the region's end; everything else needs only the region itself. Clipped to the contig.
  """
  end = region.end
  for r in reads:
    if r.start < region.end:
      end = max(end, r.end)
  return Range(region.contig, max(0, region.start), min(end, contig_length))


def check_covers(ref: RefWindow, region: Range) -> None:
  """Raises ReferenceWindowError unless ``ref`` covers ``region`` (0-based half-open): the
  counter reads reference bases at every position of it."""
  if ref.contig != region.contig or not ref.covers(region.start, region.end):
    raise ReferenceWindowError(
        f"reference window {ref.contig}:[{ref.start},{ref.end}) does not cover the partition "
        f"{region.contig}:[{region.start},{region.end})")


def count_alleles(reads: Sequence[Read], ref: RefWindow, region: Range,
                  min_base_quality: int = DEFAULT_MIN_BASE_QUALITY,
                  min_mapping_quality: int = DEFAULT_MIN_MAPPING_QUALITY,
                  support_stats: bool = False) -> AlleleCounts:
  """Counts alleles of ``reads`` at every position of ``region`` (0-based half-open).

  ``ref`` must cover ``region`` and, for deletions anchored inside it, the deleted bases (see
  ``counting_span``); a deletion running past the window but not past the contig end raises
  ``ReferenceWindowError`` (a caller bug, not a data problem). See the module docstring for the
  exact rules. ``support_stats`` adds ``AlleleCounts.support`` (a few more array passes; only
  the small model needs it).
  """
  check_covers(ref, region)
  s, e = region.start, region.end
  n = e - s
  ref_seq = ref.seq
  ref_start = ref.start

  # Accepted non-reference alleles: (ri, k, offset, pos, ReadAllele, base quality); ri indexes
  # ``reads``, k the read's allele list (cigar_walk), offset the base within a match block.
  records: List[tuple] = []
  packed = pack(reads, pad_quals=True)
  seq_buf, qual_buf = packed.seq, packed.qual
  blocks, indels, error, ref_arr = walk(packed, ref, s, e, min_base_quality,
                                        min_mapping_quality)
  if error[0] != ERROR_NONE:
    raise_walk_error(error, reads, ref)
  alleles: Dict[Tuple[str, int, int], ReadAllele] = {}  # equal indels share one value
  for ri, k, anchor, op, q, length, low, bq, rpos in indels.tolist():
    read_seq = reads[ri].seq
    prev = read_seq[q - 1] if q > 0 else ref_seq[anchor - ref_start]
    if op == CIGAR_D:
      bases = prev + ref_seq[rpos - ref_start:rpos + length - ref_start]
    else:
      bases = prev + read_seq[q:q + length]
    allele = alleles.get((bases, op, low))
    if allele is None:
      allele = alleles[bases, op, low] = ReadAllele(
          bases, DELETION if op == CIGAR_D else INSERTION if op == CIGAR_I else SOFT_CLIP,
          bool(low))
    records.append((ri, k, 0, anchor, allele, bq))
  b_ri = blocks[:, 0]
  b_k = blocks[:, 1]
  b_r = blocks[:, 2]

  ref_support = np.zeros(n, dtype=np.int32)
  support = None
  if support_stats:
    zeros = np.zeros(n, dtype=np.int64)
    support = dict(ref_reads=np.zeros(n, dtype=np.int32), ref_mapq_sum=zeros,
                   ref_bq_sum=zeros.copy(), ref_reverse=zeros.copy())
  if len(blocks):
    bid, rp, qg = expand_blocks(blocks, s, e)
    read_b = seq_buf[qg]
    low = qual_buf[qg] < min_base_quality
    canonical = IS_ACGT[read_b]
    same = read_b == ref_arr[rp - ref_start]
    good_ref = canonical & same & ~low
    ref_support = np.bincount(rp[good_ref] - s, minlength=n).astype(np.int32)
    if support is not None:
      any_ref = canonical & same
      at = rp[any_ref] - s
      obs_ri = b_ri[bid[any_ref]]
      mapq_of = packed.mapq
      rev_of = np.fromiter((r.is_reverse for r in reads), dtype=np.int64, count=len(reads))
      support["ref_reads"] = np.bincount(at, minlength=n).astype(np.int32)
      support["ref_mapq_sum"] = np.bincount(at, weights=mapq_of[obs_ri],
                                            minlength=n).astype(np.int64)
      support["ref_bq_sum"] = np.bincount(at, weights=qual_buf[qg[any_ref]],
                                          minlength=n).astype(np.int64)
      support["ref_reverse"] = np.bincount(at, weights=rev_of[obs_ri],
                                           minlength=n).astype(np.int64)
    sub_idx = np.flatnonzero(canonical & ~same)
    if len(sub_idx):
      sub_bid = bid[sub_idx]
      s_ri = b_ri[sub_bid].tolist()
      s_k = b_k[sub_bid].tolist()
      s_off = (rp[sub_idx] - b_r[sub_bid]).tolist()
      s_pos = rp[sub_idx].tolist()
      s_base = read_b[sub_idx].tolist()
      s_low = low[sub_idx].tolist()
      s_bq = qual_buf[qg[sub_idx]].tolist()
      for ri, k, o, pos, b, lq, bq in zip(s_ri, s_k, s_off, s_pos, s_base, s_low, s_bq):
        records.append((ri, k, o, pos, _SUBSTITUTIONS[b, lq], bq))

  # Apply in (read, allele-list) order so that a repeated read key's last write wins. Both
  # parts are already in that order, so the sort is one merge.
  records.sort(key=_RECORD_ORDER)
  keys: Dict[int, str] = {}
  read_alleles: Dict[int, Dict[str, ReadAllele]] = {}
  for ri, _, _, pos, allele, _ in records:
    by_key = read_alleles.get(pos)
    if by_key is None:
      by_key = read_alleles[pos] = {}
    key = keys.get(ri)
    if key is None:
      key = keys[ri] = reads[ri].key
    by_key[key] = allele
  stats = None
  if support is not None:
    alt: Dict[int, Dict[str, Tuple[int, int, bool]]] = {}
    for ri, _, _, pos, _, bq in records:
      read = reads[ri]
      alt.setdefault(pos, {})[keys[ri]] = (read.mapq, int(bq), read.is_reverse)
    stats = SupportStats(alt=alt, **support)

  return AlleleCounts(contig=region.contig, start=s, end=e, ref_bases=ref.bases(s, e),
                      ref_support=ref_support, read_alleles=read_alleles, support=stats)
