"""The pileup image encoder: one candidate + its reads -> uint8 H x W x C images (spec 7).

Why it is built the way it is: make_examples spends most of its time here, so the per-read Python
work is limited to walking the CIGAR ops (a handful per read) and recording, per drawn segment, a
constant "read offset minus column" delta. Every per-base quantity (base colour, base quality,
match/mismatch, homopolymer runs, ...) is then gathered for all rows of the candidate at once from
the concatenated sequences and qualities with a few numpy operations on an (n_reads, width) index
matrix. The rows are the same for every image of a candidate (spec 7.6), so only the
read-supports-variant channel is recomputed per alt-allele combination.

Coordinates are 0-based half-open everywhere (``Read.start``, ``Candidate.start``,
``RefWindow.start``). The image covers ``[candidate.start - width // 2, ... + width)`` and its
middle column is ``candidate.start``.

Worked example (defaults, 6 channels): a forward read with MAPQ 60 whose base at a column is a
'G' with quality 30 over a reference 'A', in a biallelic image whose alt the read supports, is the
pixel ``(180, 190, 254, 70, 254, 254)``: G colour, BQ colour int(254*30/40), MQ colour capped at
60, forward strand, supports the image's alt, differs from the reference.

Decisions where the spec is silent (documented here, reported to the lead):
  * A deletion that is the first aligned operation of a read (no read base before it) has no
    base quality for its '*' anchor pixel; the anchor is not drawn (DeepVariant would read
    quality[-1]). Such CIGARs do not occur in aligner output.
  * Reads with an empty sequence (SEQ '*') produce no row.
  * Match/mismatch (channel 6) compares characters: a read 'N' over a reference 'N' counts as a
    match (50); over any other base it is a mismatch (254), as is every '*' anchor.
  * read_mapping_percent / identity / gap_compressed_identity / gc_content percentages are
    computed with exact integer floor division instead of float arithmetic (identical except
    for float rounding at exact boundaries of very long reads); gap_compressed_identity counts
    X by total length and I / D by number of operations, and is 0 for a read without M/=/X/I/D.
  * is_homopolymer / homopolymer_weighted runs are computed over the whole read sequence
    (soft clips included) for reads, and over the 221-bp window only for the reference rows.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from beam_pipelines.core.reads import (CIGAR_D, CIGAR_EQ, CIGAR_I, CIGAR_M, CIGAR_N, CIGAR_S,
                                       CIGAR_X, Read)
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.variants import Candidate
from schemas.channels import Channel

# --- Channel ids (DeepVariantChannelEnum, spec 1.5; schemas/ owns the enum) ------------------
CH_READ_BASE = int(Channel.CH_READ_BASE)
CH_BASE_QUALITY = int(Channel.CH_BASE_QUALITY)
CH_MAPPING_QUALITY = int(Channel.CH_MAPPING_QUALITY)
CH_STRAND = int(Channel.CH_STRAND)
CH_READ_SUPPORTS_VARIANT = int(Channel.CH_READ_SUPPORTS_VARIANT)
CH_BASE_DIFFERS_FROM_REF = int(Channel.CH_BASE_DIFFERS_FROM_REF)
CH_READ_MAPPING_PERCENT = int(Channel.CH_READ_MAPPING_PERCENT)
CH_AVG_BASE_QUALITY = int(Channel.CH_AVG_BASE_QUALITY)
CH_IDENTITY = int(Channel.CH_IDENTITY)
CH_GAP_COMPRESSED_IDENTITY = int(Channel.CH_GAP_COMPRESSED_IDENTITY)
CH_GC_CONTENT = int(Channel.CH_GC_CONTENT)
CH_IS_HOMOPOLYMER = int(Channel.CH_IS_HOMOPOLYMER)
CH_HOMOPOLYMER_WEIGHTED = int(Channel.CH_HOMOPOLYMER_WEIGHTED)
CH_BLANK = int(Channel.CH_BLANK)
CH_INSERT_SIZE = int(Channel.CH_INSERT_SIZE)
CH_HAPLOTYPE_TAG = int(Channel.CH_HAPLOTYPE_TAG)

BASE_CHANNELS = (CH_READ_BASE, CH_BASE_QUALITY, CH_MAPPING_QUALITY, CH_STRAND,
                 CH_READ_SUPPORTS_VARIANT, CH_BASE_DIFFERS_FROM_REF)
# --channels names of the optional channels this encoder can draw (spec 1.5 / 7.7).
OPT_CHANNEL_IDS = {
    "mapping_quality": CH_MAPPING_QUALITY,
    "strand": CH_STRAND,
    "read_supports_variant": CH_READ_SUPPORTS_VARIANT,
    "read_mapping_percent": CH_READ_MAPPING_PERCENT,
    "avg_base_quality": CH_AVG_BASE_QUALITY,
    "identity": CH_IDENTITY,
    "gap_compressed_identity": CH_GAP_COMPRESSED_IDENTITY,
    "gc_content": CH_GC_CONTENT,
    "is_homopolymer": CH_IS_HOMOPOLYMER,
    "homopolymer_weighted": CH_HOMOPOLYMER_WEIGHTED,
    "blank": CH_BLANK,
    "insert_size": CH_INSERT_SIZE,
}
# The HP channel is asked for by --add_hp_channel, not by a --channels name (DeepVariant v1.5).
SUPPORTED_OPT_CHANNELS = frozenset(OPT_CHANNEL_IDS.values()) | {CH_HAPLOTYPE_TAG}
HP_VALUES = (0, 1, 2)  # the HP tags the HP channel can draw (DeepVariant aborts on others)

# --- Colour constants (spec 7.2, Appendix B) -------------------------------------------------
MAX_PIXEL = np.float32(254.0)  # kMaxPixelValueAsFloat; never 255.
REFERENCE_BAND_HEIGHT = 5
REFERENCE_BASE_QUALITY = 60
BASE_QUALITY_CAP = 40
MAPPING_QUALITY_CAP = 60
POSITIVE_STRAND_COLOR = 70
NEGATIVE_STRAND_COLOR = 240
ALLELE_SUPPORTING_ALPHA = 1.0
ALLELE_UNSUPPORTING_ALPHA = 0.6
OTHER_ALLELE_SUPPORTING_ALPHA = 0.3  # only with add_supporting_other_alt_color.
REF_MATCHING_ALPHA = 0.2
REF_MISMATCHING_ALPHA = 1.0
INSERT_SIZE_CAP = 1000
AVG_BASE_QUALITY_MAX = 93
HOMOPOLYMER_WEIGHTED_CAP = 30
INDEL_MARKER = ord("*")

MIN_TOTAL_HEIGHT = 75
MAX_TOTAL_HEIGHT = 362


def scale_color(value, max_value) -> np.ndarray:
  """DeepVariant's ScaleColor in float32: ``int(254 * (min(v, max) / max))`` (truncation).

  Vectorised over ``value``; returns int64 so callers can combine before casting to uint8.
  """
  v = np.minimum(np.asarray(value, dtype=np.float32), np.float32(max_value))
  return (MAX_PIXEL * (v / np.float32(max_value))).astype(np.int64)


def _alpha_color(alpha: float) -> int:
  return int(MAX_PIXEL * np.float32(alpha))


SUPPORTS_IMAGE_ALT_COLOR = _alpha_color(ALLELE_SUPPORTING_ALPHA)  # 254
UNSUPPORTING_COLOR = _alpha_color(ALLELE_UNSUPPORTING_ALPHA)  # 152
SUPPORTS_OTHER_ALT_COLOR = _alpha_color(OTHER_ALLELE_SUPPORTING_ALPHA)  # 76
MATCH_COLOR = _alpha_color(REF_MATCHING_ALPHA)  # 50
MISMATCH_COLOR = _alpha_color(REF_MISMATCHING_ALPHA)  # 254


def _base_color_lut() -> np.ndarray:
  """ASCII code -> base colour: A 250, G 180, T 100, C 30, anything else (N, IUPAC, '*') 0."""
  lut = np.zeros(256, dtype=np.uint8)
  for base, color in (("A", 40 + 70 * 3), ("G", 40 + 70 * 2), ("T", 30 + 70 * 1),
                      ("C", 30 + 70 * 0)):
    lut[ord(base)] = color
  return lut


BASE_COLOR_LUT = _base_color_lut()
# Quality value (0..255) -> colour, so a gather replaces per-base float math.
BASE_QUALITY_LUT = scale_color(np.arange(256), BASE_QUALITY_CAP).astype(np.uint8)
MAPPING_QUALITY_LUT = scale_color(np.arange(256), MAPPING_QUALITY_CAP).astype(np.uint8)

_M_LIKE = (CIGAR_M, CIGAR_EQ, CIGAR_X)


class PileupOptionsError(ValueError):
  """An invalid pileup option; the message names the flag."""


@dataclasses.dataclass(frozen=True)
class PileupOptions:
  """Options of the pileup image (DeepVariant v1.5 PileupImageOptions defaults).

  Attributes:
    height: total image height (5 reference rows + read rows); --pileup_image_height.
    width: image width in bp, odd so that the candidate sits in the middle; --pileup_image_width.
    channels: the physical channel list: the 6 base channels 1..6 then the opt channels of
      --channels in order (ids of spec 1.5; see ``channels_from_flag``).
    min_mapping_quality: reads below this MAPQ produce no row.
    min_base_quality: a pixel at the candidate column below this BQ rejects the whole read.
    read_overlap_buffer_bp: reads must overlap ``[start - buf, end + buf)`` of the candidate.
    add_supporting_other_alt_color: colour reads supporting another alt 76 instead of 152.
    random_seed: seed of the per-image RandomState that picks reads when there are too many.
    sort_by_haplotypes: sort read rows by HP tag first, then by start (spec 7.4 step 4).
    hp_tag_for_assembly_polishing: > 0: reads with this HP go on top (and with 2, the HP
      channel swaps 1 and 2).
  """
  height: int = 100
  width: int = 221
  channels: Tuple[int, ...] = BASE_CHANNELS
  min_mapping_quality: int = 5
  min_base_quality: int = 10
  read_overlap_buffer_bp: int = 5
  add_supporting_other_alt_color: bool = False
  random_seed: int = 2101079370
  sort_by_haplotypes: bool = False
  hp_tag_for_assembly_polishing: int = 0

  @property
  def needs_hp(self) -> bool:
    """Whether reads must carry their HP tag (the HP channel or haplotype sorting)."""
    return self.sort_by_haplotypes or CH_HAPLOTYPE_TAG in self.channels

  def __post_init__(self):
    # A list from a flag parser would make the options unhashable (they key a cache).
    object.__setattr__(self, "channels", tuple(self.channels))

  @property
  def num_channels(self) -> int:
    return len(self.channels)

  @property
  def max_reads(self) -> int:
    return self.height - REFERENCE_BAND_HEIGHT

  def validate(self) -> "PileupOptions":
    """Raises PileupOptionsError naming the offending flag; returns self for chaining."""
    if not MIN_TOTAL_HEIGHT <= self.height <= MAX_TOTAL_HEIGHT:
      raise PileupOptionsError(
          f"--pileup_image_height={self.height}: the total pileup height must be between "
          f"{MIN_TOTAL_HEIGHT} and {MAX_TOTAL_HEIGHT}")
    if self.width < 3 or self.width % 2 == 0:
      raise PileupOptionsError(
          f"--pileup_image_width={self.width}: the width must be odd and >= 3 so that the "
          "candidate has a middle column")
    channels = tuple(self.channels)
    if channels[:len(BASE_CHANNELS)] != BASE_CHANNELS:
      raise PileupOptionsError(
          f"--channels: the physical channel list {channels} must start with the base "
          f"channels {BASE_CHANNELS}")
    opt = channels[len(BASE_CHANNELS):]
    bad = [c for c in opt if c not in SUPPORTED_OPT_CHANNELS]
    if bad:
      raise PileupOptionsError(
          f"--channels: channel ids {bad} are not supported by this encoder; supported optional "
          f"channels: {sorted(OPT_CHANNEL_IDS)}")
    if len(set(opt)) != len(opt):
      raise PileupOptionsError(f"--channels: optional channel listed twice in {opt}")
    if self.min_mapping_quality < 0:
      raise PileupOptionsError(
          f"--min_mapping_quality={self.min_mapping_quality}: must be >= 0")
    if self.min_base_quality < 0:
      raise PileupOptionsError(f"--min_base_quality={self.min_base_quality}: must be >= 0")
    if self.hp_tag_for_assembly_polishing < 0:
      raise PileupOptionsError(f"--hp_tag_for_assembly_polishing="
                               f"{self.hp_tag_for_assembly_polishing}: must be >= 0")
    if self.read_overlap_buffer_bp < 0:
      raise PileupOptionsError(
          f"--read_overlap_buffer_bp={self.read_overlap_buffer_bp}: must be >= 0")
    return self


def channels_from_flag(text: str) -> Tuple[int, ...]:
  """'insert_size' / 'insert_size,gc_content' (comma or space separated) -> physical channel ids.

  >>> channels_from_flag('insert_size')
  (1, 2, 3, 4, 5, 6, 19)
  """
  names = [n for n in text.replace(",", " ").split() if n]
  unknown = [n for n in names if n not in OPT_CHANNEL_IDS]
  if unknown:
    raise PileupOptionsError(
        f"--channels: unknown channel name(s) {unknown}; known: {sorted(OPT_CHANNEL_IDS)}")
  return BASE_CHANNELS + tuple(OPT_CHANNEL_IDS[n] for n in names)


@functools.lru_cache(maxsize=16)
def _plan(opts: PileupOptions) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
  """Validates ``opts`` once and returns (channel ids, indices of support channels)."""
  opts.validate()
  chans = tuple(opts.channels)
  support_idx = tuple(i for i, c in enumerate(chans) if c == CH_READ_SUPPORTS_VARIANT)
  return chans, support_idx


def _run_lengths(codes: np.ndarray, breaks: Optional[np.ndarray] = None) -> np.ndarray:
  """Length of the run of identical codes each element belongs to.

  ``breaks`` (bool, same length) forces a new run to start at an element (read boundaries in a
  concatenation of reads).
  """
  n = codes.shape[0]
  if n == 0:
    return np.zeros(0, dtype=np.int64)
  starts = np.empty(n, dtype=bool)
  starts[0] = True
  np.not_equal(codes[1:], codes[:-1], out=starts[1:])
  if breaks is not None:
    starts |= breaks
  run_id = np.cumsum(starts) - 1
  return np.bincount(run_id)[run_id]


@dataclasses.dataclass
class _Row:
  """One accepted read, described by its drawn segments in window columns."""
  read: Read
  # (first column, end column, read offset - column) for each aligned M/=/X stretch.
  segments: List[Tuple[int, int, int]]
  # (column, read offset) of each '*' pixel (insertion / deletion anchor), in drawing order.
  anchors: List[Tuple[int, int]]


def _walk_read(read: Read, win_start: int, width: int, variant_start: int,
               min_base_quality: int) -> Optional[_Row]:
  """Lays the read out on the window's columns (spec 7.5); None if the BQ veto rejects it.

  ``win_start`` and ``variant_start`` are 0-based reference positions. Only the few CIGAR ops
  are walked in Python; the bases are expanded later, all rows at once.
  """
  qual = read.qual
  ref_pos = read.start
  read_pos = 0
  win_end = win_start + width
  # An op starting past this can neither draw (a segment needs ref_pos < win_end, a '*' anchor
  # ref_pos - 1 < win_end) nor veto (at variant_start): a long read stops walking there.
  last_useful = max(win_end, variant_start + 1)
  segments: List[Tuple[int, int, int]] = []
  anchors: List[Tuple[int, int]] = []
  for op, length in read.cigar:
    if ref_pos > last_useful:
      break
    if op in _M_LIKE:
      end = ref_pos + length
      if ref_pos <= variant_start < end:
        if qual[read_pos + variant_start - ref_pos] < min_base_quality:
          return None
      lo = ref_pos if ref_pos > win_start else win_start
      hi = end if end < win_end else win_end
      if lo < hi:
        segments.append((lo - win_start, hi - win_start, read_pos - ref_pos + win_start))
      ref_pos = end
      read_pos += length
    elif op == CIGAR_I or op == CIGAR_D:
      # One '*' pixel at the anchor (previous reference position). Its base quality is the
      # first inserted base's (I) or the base before the deletion's (D).
      offset = read_pos if op == CIGAR_I else read_pos - 1
      anchor = ref_pos - 1
      if 0 <= offset < len(qual):
        if anchor == variant_start and qual[offset] < min_base_quality:
          return None
        if win_start <= anchor < win_end:
          anchors.append((anchor - win_start, offset))
      if op == CIGAR_I:
        read_pos += length
      else:
        ref_pos += length
    elif op == CIGAR_N:
      ref_pos += length
    elif op == CIGAR_S:
      read_pos += length
    # H and P: nothing.
  return _Row(read, segments, anchors)


def _cigar_stats(read: Read) -> Tuple[int, int, int, int]:
  """(M+= bases, X bases, #I ops, #D ops) for the identity-style opt channels."""
  match = mism = ins = dels = 0
  for op, length in read.cigar:
    if op == CIGAR_M or op == CIGAR_EQ:
      match += length
    elif op == CIGAR_X:
      mism += length
    elif op == CIGAR_I:
      ins += 1
    elif op == CIGAR_D:
      dels += 1
  return match, mism, ins, dels


def haplotype_sort_key(read: Read, opts: PileupOptions) -> int:
  """The row's haplotype key (spec 7.4 step 4): 0 unless --sort_by_haplotypes; then the HP tag,
  0 for reads without one or with HP < 0, and -1 (on top) for --hp_tag_for_assembly_polishing."""
  if not opts.sort_by_haplotypes or read.hp is None:
    return 0
  if opts.hp_tag_for_assembly_polishing > 0 and read.hp == opts.hp_tag_for_assembly_polishing:
    return -1
  return max(read.hp, 0)


def hp_channel_value(read: Read, hp_tag_for_assembly_polishing: int) -> int:
  """The HP tag the HP channel draws: 0 when absent; 1 and 2 swapped for polishing HP 2.

  Raises:
    ValueError: an HP other than 0, 1, 2 (DeepVariant aborts there too), naming the read.
  """
  hp = 0 if read.hp is None else read.hp
  if hp not in HP_VALUES:
    raise ValueError(f"read {read.key} at {read.contig}:{read.start + 1}: HP tag {hp}; the HP "
                     "channel (--add_hp_channel) draws only HP 0, 1 or 2")
  if hp_tag_for_assembly_polishing == 2 and hp:
    return 3 - hp
  return hp


def _read_constant(ch: int, rows: Sequence[_Row], quals: Sequence[np.ndarray],
                   hp_tag_for_assembly_polishing: int = 0) -> np.ndarray:
  """Per-read colour of a channel that is constant along the read (spec 7.2 / 7.7)."""
  reads = [r.read for r in rows]
  if ch == CH_HAPLOTYPE_TAG:
    return scale_color([hp_channel_value(r, hp_tag_for_assembly_polishing) for r in reads], 2)
  if ch == CH_MAPPING_QUALITY:
    return MAPPING_QUALITY_LUT[np.minimum([r.mapq for r in reads], 255)].astype(np.int64)
  if ch == CH_STRAND:
    return np.array([NEGATIVE_STRAND_COLOR if r.is_reverse else POSITIVE_STRAND_COLOR
                     for r in reads], dtype=np.int64)
  if ch == CH_INSERT_SIZE:
    return scale_color([min(abs(r.tlen), INSERT_SIZE_CAP) for r in reads], INSERT_SIZE_CAP)
  if ch in (CH_READ_MAPPING_PERCENT, CH_IDENTITY):
    # v1.5's identity accumulates a total it never uses, so it equals read_mapping_percent.
    pct = [100 * _cigar_stats(r)[0] // len(r.seq) for r in reads]
    return scale_color(pct, 100)
  if ch == CH_GAP_COMPRESSED_IDENTITY:
    pct = []
    for r in reads:
      match, mism, ins, dels = _cigar_stats(r)
      denom = match + mism + ins + dels
      pct.append(100 * match // denom if denom else 0)
    return scale_color(pct, 100)
  if ch == CH_AVG_BASE_QUALITY:
    means = []
    for r, q in zip(reads, quals):
      if q.size and int(q.max()) > AVG_BASE_QUALITY_MAX:
        raise ValueError(f"read {r.key} at {r.contig}:{r.start}: base quality "
                         f"{int(q.max())} outside 0..{AVG_BASE_QUALITY_MAX} (avg_base_quality)")
      means.append(int(q.sum()) // q.size if q.size else 0)
    return scale_color(means, AVG_BASE_QUALITY_MAX)
  if ch == CH_GC_CONTENT:
    return scale_color([100 * (r.seq.count("G") + r.seq.count("C")) // len(r.seq)
                        for r in reads], 100)
  if ch == CH_BLANK:
    return np.zeros(len(reads), dtype=np.int64)
  raise AssertionError(f"channel {ch} is not a per-read constant")


def _reference_row(ref_codes: np.ndarray, chans: Sequence[int]) -> np.ndarray:
  """The (width, C) reference row drawn 5 times on top (spec 7.3 and 7.7 'ref' values)."""
  width = ref_codes.shape[0]
  row = np.zeros((width, len(chans)), dtype=np.uint8)
  for ci, ch in enumerate(chans):
    if ch == CH_READ_BASE:
      row[:, ci] = BASE_COLOR_LUT[ref_codes]
    elif ch == CH_BASE_QUALITY:
      row[:, ci] = BASE_QUALITY_LUT[REFERENCE_BASE_QUALITY]
    elif ch == CH_MAPPING_QUALITY:
      # Same for the opt channel, whose ref value is ScaleColor(60, base_quality_cap) = 254.
      row[:, ci] = MAPPING_QUALITY_LUT[REFERENCE_BASE_QUALITY]
    elif ch == CH_STRAND:
      row[:, ci] = POSITIVE_STRAND_COLOR
    elif ch == CH_READ_SUPPORTS_VARIANT:
      row[:, ci] = UNSUPPORTING_COLOR
    elif ch == CH_BASE_DIFFERS_FROM_REF:
      row[:, ci] = MATCH_COLOR
    elif ch in (CH_READ_MAPPING_PERCENT, CH_AVG_BASE_QUALITY, CH_IDENTITY,
                CH_GAP_COMPRESSED_IDENTITY, CH_INSERT_SIZE):
      row[:, ci] = 254
    elif ch == CH_GC_CONTENT:
      gc = int(np.count_nonzero((ref_codes == ord("G")) | (ref_codes == ord("C"))))
      row[:, ci] = scale_color(100 * gc // width, 100)
    elif ch == CH_IS_HOMOPOLYMER:
      row[:, ci] = scale_color((_run_lengths(ref_codes) >= 3).astype(np.int64), 1)
    elif ch == CH_HOMOPOLYMER_WEIGHTED:
      row[:, ci] = scale_color(_run_lengths(ref_codes), HOMOPOLYMER_WEIGHTED_CAP)
    elif ch in (CH_BLANK, CH_HAPLOTYPE_TAG):
      pass  # ref 0
    else:
      raise AssertionError(f"unplanned channel {ch}")
  return row


def select_read_order(n: int, opts: PileupOptions) -> np.ndarray:
  """Order in which the ``n`` overlapping reads are tried (spec 7.4 step 2).

  More than ``height - 5`` reads: indices 0..n-1 shuffled by a fresh
  ``numpy.random.RandomState(random_seed)`` (the same for every image of a candidate, hence
  reproducible on any worker); otherwise the original order.
  """
  order = np.arange(n)
  if n > opts.max_reads:
    np.random.RandomState(opts.random_seed).shuffle(order)
  return order


def build_images(candidate: Candidate, reads: Sequence[Read], ref: RefWindow,
                 opts: PileupOptions,
                 alt_combinations: Sequence[Tuple[int, ...]]) -> Optional[List[np.ndarray]]:
  """Pileup images of one candidate, one per alt-allele combination (spec 7, 2.9).

  Args:
    candidate: the candidate; ``start`` is 0-based and becomes the middle column.
    reads: the partition's reads in partition-list order (after filters / realignment). Reads
      not overlapping ``[start - buf, end + buf)`` (0-based half-open) are ignored here.
    ref: reference bases covering at least the image window
      ``[start - width//2, start - width//2 + width)``.
    opts: pileup options (validated here once per distinct options object).
    alt_combinations: tuples of 0-based indices into ``candidate.alts``, one per image (e.g.
      ``[(0,), (1,), (0, 1)]`` for two alts). The read-supports-variant channel is relative to
      each tuple's alts; every other pixel is the same in all images.

  Returns:
    A list of uint8 arrays of shape (height, width, num_channels), or None when the image window
    is not fully inside the contig (the caller drops the candidate).

  Raises:
    ValueError: the reference base under the middle column is not ``candidate.ref[0]``.
    ReferenceWindowError: ``ref`` does not cover the window.
  """
  _plan(opts)  # validates the options once
  width = opts.width
  half = width // 2
  win_start = candidate.start - half
  if win_start < 0 or win_start + width > ref.contig_length:
    return None
  ref_bases = ref.bases(win_start, win_start + width)
  if ref_bases[half] != candidate.ref[:1].upper():
    raise ValueError(
        f"{candidate.contig}:{candidate.start}: reference base {ref_bases[half]!r} does not "
        f"match the candidate's reference allele {candidate.ref!r}")
  return draw_images(candidate, overlapping_reads(candidate, reads, opts), ref_bases, opts,
                     alt_combinations)


def overlapping_reads(candidate: Candidate, reads: Sequence[Read],
                      opts: PileupOptions) -> List[Read]:
  """7.4 (1): the reads overlapping the candidate +- the buffer, in list order (DeepVariant's
  ``get_reads`` query of the realigned reads)."""
  lo = candidate.start - opts.read_overlap_buffer_bp
  hi = candidate.end + opts.read_overlap_buffer_bp
  return [r for r in reads if r.start < hi and r.end > lo and r.contig == candidate.contig]


def draw_images(candidate: Candidate, reads: Sequence[Read], ref_bases: str,
                opts: PileupOptions,
                alt_combinations: Sequence[Tuple[int, ...]]) -> List[np.ndarray]:
  """The images of ``reads`` (already chosen, in order) over the window whose bases are
  ``ref_bases`` (``opts.width`` long, starting at ``candidate.start - width // 2``).

  ``ref_bases`` is what the reference rows show and what channel 6 compares against: the
  reference for ordinary images, an alternate haplotype for alt-aligned ones
  (core/alt_aligned.py), whose reads are given in that haplotype's coordinates.
  """
  chans, support_idx = _plan(opts)
  width = opts.width
  win_start = candidate.start - width // 2
  ref_codes = np.frombuffer(ref_bases.upper().encode("ascii"), dtype=np.uint8)
  if ref_codes.shape[0] != width:
    raise ValueError(f"{candidate.contig}:{candidate.start}: {ref_codes.shape[0]} window "
                     f"bases for an image {width} wide")
  # 7.4 (2, 3): try them in (possibly shuffled) order until the read rows are full.
  max_reads = opts.max_reads
  rows: List[_Row] = []
  for i in select_read_order(len(reads), opts):
    read = reads[i]
    if read.mapq < opts.min_mapping_quality or not read.seq:
      continue
    row = _walk_read(read, win_start, width, candidate.start, opts.min_base_quality)
    if row is None:
      continue
    rows.append(row)
    if len(rows) == max_reads:
      break
  # 7.4 (4): stable sort by (haplotype key, alignment start); ties keep the order above.
  if opts.sort_by_haplotypes:
    rows.sort(key=lambda r: (haplotype_sort_key(r.read, opts), r.read.start))
  else:
    rows.sort(key=lambda r: r.read.start)

  ref_row = _reference_row(ref_codes, chans)
  image = np.zeros((opts.height, width, len(chans)), dtype=np.uint8)
  image[:REFERENCE_BAND_HEIGHT] = ref_row
  n = len(rows)
  drawn = np.zeros((n, width), dtype=bool)
  if n:
    drawn = _draw_rows(image[REFERENCE_BAND_HEIGHT:REFERENCE_BAND_HEIGHT + n], rows, ref_codes,
                       chans, opts.hp_tag_for_assembly_polishing)

  # Per image only the support channel(s) change (spec 7.5 / 7.6).
  colors = _support_colors(candidate, rows, alt_combinations, opts)
  images = []
  for k, color in enumerate(colors):
    img = image if k == len(colors) - 1 else image.copy()
    if n and support_idx:
      block = np.where(drawn, color[:, None], 0).astype(np.uint8)
      for ci in support_idx:
        img[REFERENCE_BAND_HEIGHT:REFERENCE_BAND_HEIGHT + n, :, ci] = block
    images.append(img)
  return images


def _support_colors(candidate: Candidate, rows: Sequence[_Row],
                    alt_combinations: Sequence[Tuple[int, ...]],
                    opts: PileupOptions) -> List[np.ndarray]:
  """Per image, the read-supports-variant colour of every row (spec 7.2 / 7.5).

  A read supporting one of the image's alts is 254; one supporting only another alt of the
  candidate is 152 (76 with add_supporting_other_alt_color); reads supporting nothing, the
  reference or UNCALLED_ALLELE are 152. All alts are consulted, not only the image's.
  """
  n_alts = len(candidate.alts)
  alt_index = {alt: i for i, alt in enumerate(candidate.alts)}
  supported = np.zeros((len(rows), max(n_alts, 1)), dtype=bool)
  if rows and candidate.allele_support:
    row_of: Dict[str, List[int]] = {}
    for k, row in enumerate(rows):
      row_of.setdefault(row.read.key, []).append(k)
    for alt, keys in candidate.allele_support.items():
      ai = alt_index.get(alt)
      if ai is None:  # UNCALLED_ALLELE or an allele that is not a candidate alt: no support.
        continue
      for key in keys:
        for k in row_of.get(key, ()):
          supported[k, ai] = True
  any_alt = supported.any(axis=1)
  other = SUPPORTS_OTHER_ALT_COLOR if opts.add_supporting_other_alt_color else UNSUPPORTING_COLOR
  out = []
  for combo in alt_combinations:
    bad = [i for i in combo if not 0 <= i < n_alts]
    if bad:
      raise ValueError(f"{candidate.contig}:{candidate.start}: alt indices {bad} out of range "
                       f"for alts {candidate.alts}")
    in_image = supported[:, list(combo)].any(axis=1) if combo else np.zeros(len(rows), bool)
    out.append(np.where(in_image, SUPPORTS_IMAGE_ALT_COLOR,
                        np.where(any_alt, other, UNSUPPORTING_COLOR)).astype(np.int64))
  return out


def _draw_rows(block: np.ndarray, rows: Sequence[_Row], ref_codes: np.ndarray,
               chans: Sequence[int], hp_tag_for_assembly_polishing: int = 0) -> np.ndarray:
  """Fills ``block`` (n, width, C) with the read rows, except the support channel.

  Returns the (n, width) mask of drawn pixels (deleted / skipped / uncovered columns stay all
  zero in every channel).
  """
  n, width = block.shape[:2]
  seqs = [r.read.seq for r in rows]
  quals = [np.asarray(r.read.qual, dtype=np.uint8) for r in rows]
  lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=n)
  for row, seq, q in zip(rows, seqs, quals):
    if q.shape[0] != len(seq):
      raise ValueError(f"read {row.read.key} at {row.read.contig}:{row.read.start}: "
                       f"{q.shape[0]} qualities for {len(seq)} bases")
  offsets = np.zeros(n, dtype=np.int64)
  np.cumsum(lengths[:-1], out=offsets[1:])
  total = int(lengths.sum())
  # Concatenated bases / qualities of all rows, plus one sentinel (code 0, quality 0) that
  # undrawn pixels point to.
  codes_all = np.frombuffer(("".join(seqs) + "\0").encode("ascii"), dtype=np.uint8)
  qual_all = np.concatenate(quals + [np.zeros(1, dtype=np.uint8)])

  # delta[k, c] = global read offset - c for each drawn pixel; a large negative value elsewhere.
  undrawn = -(1 << 40)
  delta = np.full((n, width), undrawn, dtype=np.int64)
  star_cols: List[int] = []
  star_rows: List[int] = []
  for k, row in enumerate(rows):
    base = int(offsets[k])
    drow = delta[k]
    for a, b, d in row.segments:
      drow[a:b] = base + d
    for col, off in row.anchors:
      drow[col] = base + off - col
      star_rows.append(k)
      star_cols.append(col)
  gidx = delta + np.arange(width, dtype=np.int64)
  drawn = gidx >= 0
  gidx[~drawn] = total
  codes = codes_all[gidx]
  if star_rows:
    codes[star_rows, star_cols] = INDEL_MARKER

  per_base_run = None
  for ci, ch in enumerate(chans):
    if ch == CH_READ_BASE:
      block[:, :, ci] = BASE_COLOR_LUT[codes]
    elif ch == CH_BASE_QUALITY:
      block[:, :, ci] = BASE_QUALITY_LUT[qual_all[gidx]]
    elif ch == CH_BASE_DIFFERS_FROM_REF:
      block[:, :, ci] = np.where(drawn, np.where(codes == ref_codes[None, :], MATCH_COLOR,
                                                 MISMATCH_COLOR), 0)
    elif ch in (CH_IS_HOMOPOLYMER, CH_HOMOPOLYMER_WEIGHTED):
      if per_base_run is None:
        breaks = np.zeros(total, dtype=bool)
        breaks[offsets[lengths > 0]] = True
        per_base_run = np.concatenate([_run_lengths(codes_all[:total], breaks), [0]])
      runs = per_base_run[gidx]
      if ch == CH_IS_HOMOPOLYMER:
        block[:, :, ci] = np.where(drawn, scale_color((runs >= 3).astype(np.int64), 1), 0)
      else:
        block[:, :, ci] = np.where(drawn, scale_color(runs, HOMOPOLYMER_WEIGHTED_CAP), 0)
    elif ch == CH_READ_SUPPORTS_VARIANT:
      continue  # per image, filled by the caller.
    else:
      const = _read_constant(ch, rows, quals, hp_tag_for_assembly_polishing)
      block[:, :, ci] = np.where(drawn, const[:, None], 0)
  return drawn
