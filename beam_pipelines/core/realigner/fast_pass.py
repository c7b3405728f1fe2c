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

How it is made fast (same results as the per-read Python formulation, which is kept as
``_index`` / ``_fast_align`` for the cases the kernel does not cover):

* Step 2 runs in one compiled kernel per window (``_fast_pass_kernel``). The k-mer index is
  built on the haplotype side: every distinct haplotype k-mer (2 bits per base, so k <= 32 fits
  a uint64) gets an id in a small open-addressing hash table; each read k-mer is looked up once,
  and the read occurrences are bucketed by k-mer id with a stable counting sort. A bucket then
  lists exactly the (read, offset) pairs that the dict index of the Python formulation lists
  for that k-mer, in the same order (reads in order, offsets in order), so hits are visited in
  the same order and every tie, ``tried`` de-duplication and early discard comes out the same.
* **Non-ACGT bases.** The index matches k-mers by exact string equality, so a k-mer containing
  a non-ACGT character (``N``, IUPAC codes, lower case) matches only a haplotype k-mer with the
  same character at the same place. A haplotype made only of upper-case ACGT therefore has no
  k-mer equal to a read k-mer containing anything else: the kernel drops such read k-mers and
  loses no hit. A haplotype containing any other character cannot be 2-bit encoded, so it goes
  through the Python formulation (exact by definition). Neither case touches the mismatch
  count, which compares raw bytes with ``N`` matching anything, exactly as before.
* Steps 5 and 6 are numpy expressions over (haplotype x read) score arrays. A fast-pass
  placement is an all-M alignment of the whole read; when it lies inside one M run of the
  haplotype's CIGAR, ``cigar_compose.compose`` provably returns ``[M, len]`` (the trimmed
  haplotype CIGAR starts with an M run at least as long as the read) and no indel can be
  un-normalized, so those reads skip the composition. Reads crossing a haplotype indel and
  Smith-Waterman placements still go through ``compose`` / ``is_normalized``.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from beam_pipelines.core.jit import njit
from beam_pipelines.core.reads import CIGAR_D, CIGAR_I, CIGAR_M, CIGAR_S, Read
from beam_pipelines.core.realigner import cigar_compose
from beam_pipelines.core.realigner import smith_waterman
from beam_pipelines.core.realigner.options import AlignerOptions

_OP_CODES = {"M": CIGAR_M, "I": CIGAR_I, "D": CIGAR_D, "S": CIGAR_S}
_N = ord("N")

# 2-bit codes of the bytes a k-mer may hold in the compiled index; -1 for every other byte
# (lower case included: the index compares k-mers as exact strings).
_TWO_BIT = np.full(256, -1, dtype=np.int64)
for _i, _b in enumerate(b"ACGT"):
  _TWO_BIT[_b] = _i
_IS_ACGT = _TWO_BIT >= 0
_MAX_PACKED_K = 32  # 2 bits per base in a uint64

def _moved(read: Read, start: int, cigar: Tuple[Tuple[int, int], ...]) -> Read:
  """``read`` with a new alignment, or ``read`` itself when neither start nor CIGAR changes, so
  ``is not`` tells which reads realignment moved (and unmoved reads cost no copy)."""
  if start == read.start and cigar == read.cigar:
    return read
  return dataclasses.replace(read, start=start, cigar=cigar)


@dataclasses.dataclass
class _Placement:
  position: int = -1
  score: int = 0
  cigar: Tuple = ()


@dataclasses.dataclass
class _HaplotypeAlignment:
  """A haplotype's alignment to the reference and what step 6 needs from it."""
  index: int
  score: int
  cigar: List[List] = dataclasses.field(default_factory=list)
  ref_pos: int = 0
  is_reference: bool = False
  shifts: Optional[np.ndarray] = None
  run_ends: Optional[np.ndarray] = None  # see run_ends()


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


def run_ends(hap_len: int, cigar: Sequence[Sequence]) -> np.ndarray:
  """Per haplotype offset (0-based), the end (exclusive) of the M run of the normalized
  haplotype->reference CIGAR that holds it; 0 outside M runs.

  Offsets advance on M, S, I and H, as ``cigar_compose.left_trim`` counts them. An all-M read
  placed at offset t with ``t + len <= run_ends[t]`` composes to ``[M, len]``. An op that
  ``left_trim`` does not know leaves everything 0, so ``compose`` decides for every read.
  """
  ends = np.zeros(hap_len, dtype=np.int64)
  pos = 0
  for op, n in cigar:
    if op == cigar_compose.M:
      ends[pos:pos + n] = pos + n
      pos += n
    elif op in (cigar_compose.S, cigar_compose.I, "H"):
      pos += n
    elif op != cigar_compose.D:
      return np.zeros(hap_len, dtype=np.int64)
  return ends


@njit
def _mismatches(a, b):
  """Positions where equal-length byte arrays differ, an ``N`` (78) on either side matching.

  A function of its own because LLVM vectorises this loop when it sees the two arguments as
  whole arrays (slices passed in); indexing the big concatenated arrays in the caller's loop
  instead runs about 3x slower.
  """
  total = 0
  for q in range(a.shape[0]):
    total += (a[q] != b[q]) & (a[q] != 78) & (b[q] != 78)
  return total


@njit
def _fast_pass_kernel(hap_bytes, hap_off, hap_fast, hap_is_ref, read_bytes, read_off, two_bit,
                      k, max_mm, match, mismatch, prefix_len, suffix_len):
  """Step 2 for every haplotype with ``hap_fast`` set (see the module docstring).

  ``hap_bytes``/``read_bytes``: concatenated ASCII bytes, sequence j at
  ``[off[j], off[j + 1])``; fast haplotypes must be upper-case ACGT only and 1 <= k <= 32.
  Returns (haplotype scores, placement positions (haplotype x read, -1 = none), placement
  scores (0 = none)); rows of haplotypes without ``hap_fast`` are left empty. Positions are
  0-based haplotype offsets.
  """
  nh = hap_off.shape[0] - 1
  nr = read_off.shape[0] - 1
  positions = np.full((nh, nr), -1, dtype=np.int64)
  scores = np.zeros((nh, nr), dtype=np.int64)
  hap_scores = np.zeros(nh, dtype=np.int64)
  if k == 32:
    mask = np.uint64(0xFFFFFFFFFFFFFFFF)
  else:
    mask = (np.uint64(1) << np.uint64(2 * k)) - np.uint64(1)
  two = np.uint64(2)

  # Haplotype k-mers -> ids (open addressing, linear probing).
  hap_base = np.zeros(nh + 1, dtype=np.int64)
  max_len = 0
  for h in range(nh):
    n = 0
    hl = hap_off[h + 1] - hap_off[h]
    if hap_fast[h]:
      n = max(0, hl - k + 1)
      max_len = max(max_len, hl)
    hap_base[h + 1] = hap_base[h] + n
  total = hap_base[nh]
  size = 16
  while size < 2 * total:
    size *= 2
  slot_mask = np.uint64(size - 1)
  keys = np.zeros(size, dtype=np.uint64)
  ids = np.full(size, -1, dtype=np.int64)
  hap_ids = np.empty(total, dtype=np.int64)
  n_ids = 0
  for h in range(nh):
    if not hap_fast[h]:
      continue
    s = hap_off[h]
    hl = hap_off[h + 1] - s
    code = np.uint64(0)
    for j in range(hl):
      code = ((code << two) | np.uint64(two_bit[hap_bytes[s + j]])) & mask
      if j >= k - 1:
        x = code ^ (code >> np.uint64(29))
        x = x ^ (x >> np.uint64(17))
        slot = np.int64(x & slot_mask)
        while True:
          if ids[slot] < 0:
            keys[slot] = code
            ids[slot] = n_ids
            n_ids += 1
            break
          if keys[slot] == code:
            break
          slot = (slot + 1) & (size - 1)
        hap_ids[hap_base[h] + j - k + 1] = ids[slot]

  # Read k-mers found among them, bucketed by id (stable: reads in order, offsets in order).
  n_read_kmers = 0
  for r in range(nr):
    length = read_off[r + 1] - read_off[r]
    if length > k:
      n_read_kmers += length - k + 1
  hit_id = np.empty(n_read_kmers, dtype=np.int64)
  hit_read = np.empty(n_read_kmers, dtype=np.int64)
  hit_off = np.empty(n_read_kmers, dtype=np.int64)
  counts = np.zeros(n_ids + 1, dtype=np.int64)
  n_hits = 0
  if n_ids > 0:
    for r in range(nr):
      s = read_off[r]
      length = read_off[r + 1] - s
      if length <= k:
        continue
      code = np.uint64(0)
      last_bad = -1
      for j in range(length):
        c = two_bit[read_bytes[s + j]]
        if c < 0:
          last_bad = j
          c = 0
        code = ((code << two) | np.uint64(c)) & mask
        if j >= k - 1 and last_bad <= j - k:
          x = code ^ (code >> np.uint64(29))
          x = x ^ (x >> np.uint64(17))
          slot = np.int64(x & slot_mask)
          while ids[slot] >= 0 and keys[slot] != code:
            slot = (slot + 1) & (size - 1)
          if ids[slot] >= 0:
            hit_id[n_hits] = ids[slot]
            hit_read[n_hits] = r
            hit_off[n_hits] = j - k + 1
            counts[ids[slot] + 1] += 1
            n_hits += 1
  for i in range(n_ids):
    counts[i + 1] += counts[i]
  bucket_read = np.empty(n_hits, dtype=np.int64)
  bucket_off = np.empty(n_hits, dtype=np.int64)
  fill = counts[:n_ids].copy()
  for e in range(n_hits):
    b = hit_id[e]
    bucket_read[fill[b]] = hit_read[e]
    bucket_off[fill[b]] = hit_off[e]
    fill[b] += 1

  # The walk along each haplotype.
  tried = np.zeros((nr, max_len + 1), dtype=np.int32)  # == h + 1: (read, t) tried on h
  diff = np.zeros(max_len + 1, dtype=np.int64)
  last_t = np.empty(nr, dtype=np.int64)
  for h in range(nh):
    if not hap_fast[h]:
      continue
    s = hap_off[h]
    hl = hap_off[h + 1] - s
    diff[:hl + 1] = 0
    acc = 0          # coverage contributed by placements starting before i
    score = 0
    hi = hl - suffix_len
    stamp = h + 1
    last_t[:] = -1   # the last t tried per read on this haplotype (a subset of ``tried``)
    discarded = False
    for i in range(hl - k + 1):
      kid = hap_ids[hap_base[h] + i]
      for e in range(counts[kid], counts[kid + 1]):
        r = bucket_read[e]
        p = bucket_off[e]
        t = i - p if i > p else 0
        if t == last_t[r]:  # the usual repeat: the next k-mer on the same diagonal
          continue
        rs = read_off[r]
        length = read_off[r + 1] - rs
        if t + length > hl or tried[r, t] == stamp:
          continue
        tried[r, t] = stamp
        last_t[r] = t
        mm = _mismatches(hap_bytes[s + t:s + t + length], read_bytes[rs:rs + length])
        if mm > max_mm:
          continue
        diff[t] += 1
        diff[t + length] -= 1
        if t < i:
          acc += 1
        new_score = (length - mm) * match - mm * mismatch
        if scores[h, r] < new_score:
          score += new_score - scores[h, r]
          scores[h, r] = new_score
          positions[h, r] = t
      if not hap_is_ref[h] and prefix_len <= i < hi and acc + diff[i] == 0:
        discarded = True
        break
      acc += diff[i]
    if discarded:
      score = 0
      positions[h, :] = -1
      scores[h, :] = 0
    hap_scores[h] = score
  return hap_scores, positions, scores


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

  # -- step 2, Python formulation (haplotypes the kernel cannot encode) -------------------------
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

  # -- step 2 -----------------------------------------------------------------------------------
  def fast_pass(self, seqs: Sequence[str]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 2 for all haplotypes: (haplotype scores, positions, scores).

    ``positions[h, r]`` is read r's accepted 0-based offset in haplotype h (-1: none) and
    ``scores[h, r]`` its score (0: none); every accepted placement is ``len(seqs[r])`` M.
    ``seqs`` are the upper-cased read sequences.
    """
    opts = self.opts
    k = opts.kmer_size
    nr = len(seqs)
    lens = np.fromiter(map(len, seqs), dtype=np.int64, count=nr)
    read_off = np.zeros(nr + 1, dtype=np.int64)
    np.cumsum(lens, out=read_off[1:])
    read_bytes = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    hap_enc = [h.encode("ascii") for h in self.haplotypes]
    nh = len(hap_enc)
    hap_off = np.zeros(nh + 1, dtype=np.int64)
    np.cumsum([len(h) for h in hap_enc], out=hap_off[1:])
    hap_bytes = np.frombuffer(b"".join(hap_enc), dtype=np.uint8)
    packable = 1 <= k <= _MAX_PACKED_K
    if packable:
      bad = np.concatenate(([0], np.cumsum(~_IS_ACGT[hap_bytes])))
      hap_fast = bad[hap_off[1:]] == bad[hap_off[:-1]]
    else:
      hap_fast = np.zeros(nh, dtype=np.bool_)
    hap_is_ref = np.array([h == self.reference for h in self.haplotypes], dtype=np.bool_)
    hap_scores, positions, scores = _fast_pass_kernel(
        hap_bytes, hap_off, hap_fast, hap_is_ref, read_bytes, read_off, _TWO_BIT, k,
        opts.max_num_of_mismatches, opts.match, opts.mismatch, self.prefix_len, self.suffix_len)
    slow = np.flatnonzero(~hap_fast)
    if slow.size:
      arrays = [np.frombuffer(s.encode("ascii"), dtype=np.uint8) for s in seqs]
      index = self._index(seqs)
      for h in slow.tolist():
        score, placements = self._fast_align(self.haplotypes[h], seqs, arrays, index)
        hap_scores[h] = score
        positions[h] = [pl.position for pl in placements]
        scores[h] = [pl.score for pl in placements]
    return hap_scores, positions, scores

  # -- steps 3-6 ------------------------------------------------------------------------------
  def _haplotypes_to_reference(self, hap_scores: np.ndarray) -> List[_HaplotypeAlignment]:
    """Step 3: each haplotype's CIGAR against the reference, its start there and shifts."""
    opts = self.opts
    ref_codes = smith_waterman.encode(self.reference)
    to_align = [h for h, hap in enumerate(self.haplotypes) if hap != self.reference]
    alignments = dict(zip(to_align, smith_waterman.align_many(
        [smith_waterman.encode(self.haplotypes[h]) for h in to_align], ref_codes, opts.match,
        opts.mismatch, opts.gap_open, opts.gap_extend)))
    haps = []
    for h, hap in enumerate(self.haplotypes):
      ha = _HaplotypeAlignment(h, int(hap_scores[h]))
      if h not in alignments:
        ha.is_reference = True
        cigar = (("=", len(hap)),)
        ha.ref_pos = 0
      else:
        aln = alignments[h]
        cigar = aln.cigar if aln.score > 0 else ()
        ha.is_reference = aln.score > 0 and cigar == (("=", len(hap)),)
        ha.ref_pos = aln.ref_begin if aln.score > 0 else 0
      ha.cigar = cigar_compose.normalize_ops(cigar)
      ha.shifts = position_shifts(len(hap), cigar)
      ha.run_ends = run_ends(len(hap), ha.cigar)
      haps.append(ha)
    return haps

  def _smith_waterman_fallback(self, seqs: Sequence[str], haps: Sequence[_HaplotypeAlignment],
                               unplaced: np.ndarray, positions: np.ndarray, scores: np.ndarray
                               ) -> Dict[Tuple[int, int], Tuple]:
    """Step 4 for the reads ``unplaced`` (indices of reads the fast pass placed nowhere), in
    place on ``positions``/``scores``; returns {(haplotype, read): Smith-Waterman CIGAR}.

    The reads to align are collected first and then aligned haplotype by haplotype (each
    (read, haplotype) alignment is independent of the others), so the inner loop is one batch.
    """
    opts = self.opts
    unplaced = unplaced.tolist()
    cigars: Dict[Tuple[int, int], Tuple] = {}
    if not unplaced:
      return cigars
    force = opts.force_alignment
    targets = [ha for ha in haps if ha.score != 0 or (force and ha.is_reference)]
    if not targets:
      return cigars
    threshold = score_threshold(len(seqs[0]), opts)
    read_codes = [smith_waterman.encode(seqs[rid]) for rid in unplaced]
    for ha in targets:
      h = ha.index
      forced = force and ha.is_reference
      hap_codes = smith_waterman.encode(self.haplotypes[h])
      alignments = smith_waterman.align_many(read_codes, hap_codes, opts.match, opts.mismatch,
                                             opts.gap_open, opts.gap_extend)
      for rid, aln in zip(unplaced, alignments):
        if aln.score > 0 and (aln.score >= threshold or forced):
          positions[h, rid] = aln.ref_begin
          scores[h, rid] = aln.score
          cigars[h, rid] = aln.cigar
    return cigars

  def align_reads(self, reads: Sequence[Read]) -> List[Read]:
    """The reads, realigned where a better alignment was found, in input order.

    With ``force_alignment`` a read placed on no haplotype is left out.
    """
    if not reads:
      return []
    out, best = self._align(reads)
    if self.opts.force_alignment:
      return [r for r, b in zip(out, best.tolist()) if b >= 0]
    return out

  def _align(self, reads: Sequence[Read]) -> Tuple[List[Read], np.ndarray]:
    """(reads realigned or as they were, index of each read's best haplotype or -1)."""
    seqs = [r.seq.upper() for r in reads]
    hap_scores, positions, scores = self.fast_pass(seqs)
    haps = self._haplotypes_to_reference(hap_scores)
    unplaced = np.flatnonzero(~(scores > 0).any(axis=0))
    sw_cigars = self._smith_waterman_fallback(seqs, haps, unplaced, positions, scores)

    # Step 5: ascending stable order by score; a read's best so far is replaced by a higher
    # score, or by an equal positive score on a non-reference haplotype.
    nr = len(reads)
    best = np.full(nr, -1, dtype=np.int64)
    best_score = np.zeros(nr, dtype=np.int64)
    for ha in sorted(haps, key=lambda ha: ha.score):  # stable, like libstdc++'s small sorts
      s = scores[ha.index]
      better = s > best_score
      if not ha.is_reference:
        better |= (best_score > 0) & (s == best_score)
      best[better] = ha.index
      best_score[better] = s[better]

    # Step 6, vectorized over the reads that have a best haplotype with a CIGAR.
    out = list(reads)
    has_cigar = np.array([bool(ha.cigar) for ha in haps], dtype=np.bool_)
    rows = np.flatnonzero(best >= 0)
    rows = rows[has_cigar[best[rows]]]
    if not rows.size:
      return out, best
    hap = best[rows]
    t = positions[hap, rows]
    hap_off = np.zeros(len(haps) + 1, dtype=np.int64)
    np.cumsum([ha.shifts.size for ha in haps], out=hap_off[1:])
    at = hap_off[hap] + t
    ref_pos = np.array([ha.ref_pos for ha in haps], dtype=np.int64)
    new_start = self.ref_start + ref_pos[hap] + t + np.concatenate([ha.shifts for ha in haps])[at]
    lens = np.fromiter(map(len, seqs), dtype=np.int64, count=nr)
    # All-M (fast-pass) placements inside one M run of the haplotype: compose gives [M, len]
    # (see the module docstring), always normalized, at the usual start.
    from_sw = np.zeros(nr, dtype=np.bool_)
    from_sw[unplaced] = True
    shortcut = ((np.concatenate([ha.run_ends for ha in haps])[at] >= t + lens[rows])
                & ~from_sw[rows])
    cigar_cache: Dict[int, Tuple[Tuple[int, int], ...]] = {}
    for rid, start, n in zip(rows[shortcut].tolist(), new_start[shortcut].tolist(),
                             lens[rows[shortcut]].tolist()):
      cigar = cigar_cache.get(n)
      if cigar is None:
        cigar = cigar_cache[n] = ((CIGAR_M, n),)
      out[rid] = _moved(reads[rid], start, cigar)
    slow = ~shortcut
    for rid, h, ti in zip(rows[slow].tolist(), hap[slow].tolist(), t[slow].tolist()):
      read_cigar = sw_cigars[h, rid] if from_sw[rid] else (("M", len(seqs[rid])),)
      out[rid] = self._to_reference(reads[rid], seqs[rid], haps[h], ti, read_cigar)
    return out, best

  def _to_reference(self, read: Read, seq: str, ha: _HaplotypeAlignment, position: int,
                    read_cigar: Sequence[Tuple[str, int]]) -> Read:
    """Step 6 by composition, for a read placed at haplotype offset ``position`` (0-based)."""
    offset = ha.ref_pos + position + int(ha.shifts[position])
    cigar = cigar_compose.compose(len(seq), cigar_compose.normalize_ops(read_cigar), position,
                                  ha.cigar)
    if not cigar or not cigar_compose.is_normalized(cigar, offset, self.reference, seq):
      return read
    if sum(n for op, n in cigar if op != cigar_compose.D) != len(seq):
      # v1.5 would emit a CIGAR that disagrees with the sequence (a truncated composition);
      # we keep the original alignment instead so downstream code never sees a broken read.
      return read
    new_cigar = tuple((_OP_CODES[op], n) for op, n in cigar)
    return _moved(read, self.ref_start + offset, new_cigar)
