"""Local realignment of one partition's reads (spec 6): windows -> haplotypes -> new alignments.

The flow of DeepVariant v1.5's ``Realigner.realign_reads`` for a partition ``region``:

1. ``select_windows`` over the reads (window_selector.py).
2. For each window no wider than ``max_window_size`` and inside the contig: the reads whose
   aligned span overlaps it (all MAPQs; the graph applies its own MAPQ cut) assemble candidate
   haplotypes (debruijn.py); windows whose haplotypes are only the reference, or none, are
   dropped.
3. Each read goes to the kept window its aligned span overlaps most (the first on ties); reads
   overlapping none stay as they are.
4. Per window: the reference from ``min(read span start, window start) - 20`` to
   ``max(read span end, window end) + 20`` (clipped to the contig) is the alignment target,
   each haplotype gets the same margins, and ``FastPassAligner`` realigns the window's reads
   (fast_pass.py). A window whose right margin would be empty (contig end) keeps its reads.
5. Output: the unassigned reads in input order, then each window's reads in window order.

Positions are 0-based half-open. ``ref`` must cover every window and margin: the partition
+/- 100 bp and every read's aligned span +/- 20 bp; a window or margin outside ``ref`` is
skipped (its reads keep their alignment) and counted in ``RealignmentResult.skipped_windows``.
"""
from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

import numpy as np
from beam_pipelines.core.reads import Read
from beam_pipelines.core.realigner import debruijn
from beam_pipelines.core.realigner.fast_pass import FastPassAligner
from beam_pipelines.core.realigner.options import RealignerOptions
from beam_pipelines.core.realigner.window_selector import select_windows
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import Range


@dataclasses.dataclass(frozen=True)
class AssembledWindow:
  """A window with its candidate haplotypes (sorted; at least one differs from the ref)."""
  window: Range
  haplotypes: Tuple[str, ...]


@dataclasses.dataclass
class RealignmentResult:
  """Realigned reads of a partition plus what happened (for counters and tests)."""
  reads: List[Read]
  windows: List[Range]
  assembled: List[AssembledWindow]
  reads_realigned: int = 0
  skipped_windows: int = 0


def assign_reads(reads: Sequence[Read],
                 windows: Sequence[Range]) -> Tuple[List[List[Read]], List[Read]]:
  """Step 3: each read's window is the one its aligned span overlaps most (the first on ties);
  returns (reads per window, reads overlapping none), both in input order."""
  n = len(reads)
  starts = np.fromiter((r.start for r in reads), dtype=np.int64, count=n)
  ends = np.fromiter((r.end for r in reads), dtype=np.int64, count=n)
  w_starts = np.array([w.start for w in windows], dtype=np.int64)
  w_ends = np.array([w.end for w in windows], dtype=np.int64)
  overlap = np.maximum(0, np.minimum(ends[:, None], w_ends[None, :])
                       - np.maximum(starts[:, None], w_starts[None, :]))
  best = overlap.argmax(axis=1)          # first maximum: the first window on ties
  has = overlap[np.arange(n), best] > 0
  assigned: List[List[Read]] = [[] for _ in windows]
  unassigned: List[Read] = []
  for r, b, h in zip(reads, best.tolist(), has.tolist()):
    if h:
      assigned[b].append(r)
    else:
      unassigned.append(r)
  return assigned, unassigned


def assemble_windows(reads: Sequence[Read], ref: RefWindow, windows: Sequence[Range],
                     opts: RealignerOptions) -> Tuple[List[AssembledWindow], int]:
  """Haplotypes per window (step 2); also returns how many windows fell outside ``ref``."""
  out: List[AssembledWindow] = []
  skipped = 0
  spans = [(r.start, r.end) for r in reads]
  for w in windows:
    if w.end - w.start > opts.ws.max_window_size:
      continue
    if w.start < 0 or w.end > ref.contig_length:
      continue
    if not ref.covers(w.start, w.end):
      skipped += 1
      continue
    seq = ref.bases(w.start, w.end)
    window_reads = [r for r, (s, e) in zip(reads, spans) if s < w.end and e > w.start]
    haplotypes = debruijn.candidate_haplotypes(seq, window_reads, opts.dbg)
    if haplotypes and haplotypes != [seq]:
      out.append(AssembledWindow(w, tuple(haplotypes)))
  return out, skipped


def realign_short_reads(reads: Sequence[Read], region: Range, ref: RefWindow,
                        opts: RealignerOptions = RealignerOptions()) -> RealignmentResult:
  """Realigns ``reads`` (all assumed short enough) of partition ``region``; steps 1-5."""
  windows = select_windows(reads, ref, region, opts.ws)
  assembled, skipped = assemble_windows(reads, ref, windows, opts)
  if not assembled:
    return RealignmentResult(list(reads), windows, assembled, 0, skipped)
  assigned, unassigned = assign_reads(reads, [aw.window for aw in assembled])
  out = list(unassigned)
  realigned = 0
  margin = opts.ref_align_margin
  for aw, group in zip(assembled, assigned):
    if not group:
      continue
    w = aw.window
    span_start = min(r.start for r in group)
    span_end = max(r.end for r in group)
    ref_start = max(0, min(span_start, w.start) - margin)
    ref_end = min(ref.contig_length, max(span_end, w.end) + margin)
    if ref_end <= w.end:
      out.extend(group)
      continue
    if not ref.covers(ref_start, ref_end):
      skipped += 1
      out.extend(group)
      continue
    prefix = ref.bases(ref_start, w.start)
    suffix = ref.bases(w.end, ref_end)
    reference = prefix + ref.bases(w.start, w.end) + suffix
    aligner = FastPassAligner(reference, ref_start, len(prefix), len(suffix),
                              [prefix + h + suffix for h in aw.haplotypes], opts.aln)
    new = aligner.align_reads(group)
    realigned += sum(1 for a, b in zip(group, new) if a is not b)
    out.extend(new)
  return RealignmentResult(out, windows, assembled, realigned, skipped)


def realign_reads(reads: Sequence[Read], region: Range, ref: RefWindow,
                  opts: RealignerOptions = RealignerOptions()) -> RealignmentResult:
  """The partition's reads after realignment: ``[reads longer than opts.max_read_length, in
  input order] + realigned short reads`` (spec 2.3 step 2). Positions 0-based."""
  long_reads = [r for r in reads if len(r.seq) > opts.max_read_length]
  short_reads = [r for r in reads if len(r.seq) <= opts.max_read_length]
  result = realign_short_reads(short_reads, region, ref, opts)
  result.reads = long_reads + result.reads
  return result
