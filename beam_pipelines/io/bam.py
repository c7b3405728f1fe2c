"""Thin pysam adapter: BAM/CRAM records in, core ``Read`` values out.

Why an adapter: the core (filters, allele counter, pileup) must not see pysam, so that it runs
in unit tests without files and its values pickle across Beam workers. This module converts each
record once per partition query and does nothing else: read filters (spec 3.1), downsampling and
the per-partition reservoir live in ``beam_pipelines.core``.

Coordinates are 0-based half-open, as everywhere inside pileflow (pysam uses the same
convention, so no conversion happens here).

Errors are strict and name the file: a missing index or a truncated/corrupt file fails the
query with one line saying which file, which region and what is wrong (CONVENTIONS habit 7).
"""
from __future__ import annotations

import os
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pysam

from beam_pipelines.core.reads import FLAG_UNMAPPED, Read
from beam_pipelines.core.regions import Range

# htslib prints its own "[E::bgzf_read] ..." lines for corrupt blocks; our exceptions already
# name the file and region in one line, so its messages are turned off.
pysam.set_verbosity(0)


class BamError(IOError):
  """A BAM/CRAM file that cannot be used; the message names the file."""


class BamIndexError(BamError):
  """The alignment file has no index, so region queries are impossible."""


class BamReadError(BamError):
  """Decoding records failed (truncated or corrupt file); names the file and region."""


def hp_tag(seg: pysam.AlignedSegment) -> Optional[int]:
  """The record's HP tag as DeepVariant reads it: an integer, else None (absent, a string or
  an array: DeepVariant treats a read with several HP values as untagged)."""
  if not seg.has_tag("HP"):
    return None
  value = seg.get_tag("HP")
  return value if isinstance(value, int) else None


def read_from_segment(seg: pysam.AlignedSegment, contig_name: str,
                      parse_hp: bool = False) -> Read:
  """Converts one pysam record to a core ``Read``.

  ``contig_name`` is passed in (rather than looked up per record) because every record of a
  region query lies on the queried contig, and the header lookup is a measurable cost at 50x.

  Choices, documented because the spec leaves them open:
    * SEQ ``*`` becomes ``''`` and QUAL with it an empty array (the allele counter skips such
      reads; they only occur on secondary records, filtered by default).
    * QUAL ``*`` (htslib stores 0xff) becomes an array of 255 of the sequence length: the raw
      bytes htslib holds, so such bases count as high quality, as when Nucleus copies them.
    * ``mate_contig``/``mate_start`` come from RNEXT/PNEXT whenever RNEXT is set, even when the
      mate-unmapped flag is set; the read filter decides what that means (spec 3.1).
    * The HP tag is kept only with ``parse_hp`` (``--parse_sam_aux_fields``): a tag lookup per
      record is a cost runs without the HP channel or haplotype sorting need not pay.
  """
  seq = seg.query_sequence or ""
  quals = seg.query_qualities
  if seq and quals is None:
    qual = np.full(len(seq), 255, dtype=np.uint8)
  elif quals is None:
    qual = np.zeros(0, dtype=np.uint8)
  else:
    # array('B') exposes the buffer protocol: one copy, no per-base Python work.
    qual = np.frombuffer(quals, dtype=np.uint8).copy()
  if seg.next_reference_id >= 0:
    mate_contig = seg.next_reference_name
    mate_start = seg.next_reference_start
  else:
    mate_contig = None
    mate_start = -1
  start = seg.reference_start
  # htslib's end, when it is the CIGAR's: it reports start + 1 for a span of no reference
  # bases (and None for unmapped or CIGAR-less records), where Read.end is start + 0.
  end = seg.reference_end
  if end is not None and end <= start + 1:
    end = None
  # Positional, in field order (name, flag, contig, start, mapq, cigar, seq, qual, tlen,
  # mate_contig, mate_start, hp, end_hint): keywords cost ~1 us more per record.
  return Read(seg.query_name, seg.flag, contig_name, start, seg.mapping_quality,
              tuple(seg.cigartuples or ()),
              seq,  # htslib decodes bases through "=ACMGRSVTWYHKDBN": already upper case
              qual, seg.template_length, mate_contig, mate_start,
              hp_tag(seg) if parse_hp else None, end)


# Regions closer than the BAI linear-index window share one query. A judgement, not tuned: a
# shared query decodes the gap's reads, a query of its own a seek and up to a window of reads.
_SHARED_QUERY_GAP = 16_384


def _nearby_runs(regions: Sequence[Range]) -> List[List[Range]]:
  """Consecutive regions of one contig whose gaps are under ``_SHARED_QUERY_GAP``."""
  runs: List[List[Range]] = []
  for region in regions:
    last = runs[-1][-1] if runs else None
    if (last is not None and last.contig == region.contig
        and region.start - last.end < _SHARED_QUERY_GAP
        and last.start - region.end < _SHARED_QUERY_GAP):
      runs[-1].append(region)
    else:
      runs.append([region])
  return runs


def _split_paths(paths) -> List[str]:
  if isinstance(paths, str):
    items = [p.strip() for p in paths.split(",")]
  else:
    items = [str(p).strip() for p in paths]
  items = [p for p in items if p]
  if not items:
    raise BamError("no alignment file given")
  return items


class BamReader:
  """One sample's reads, from one or more BAM/CRAM files queried together.

  ``paths`` is a comma-separated string (the ``--reads`` flag) or a sequence of paths; all files
  are treated as one sample (spec 2.1). CRAM needs ``reference`` (the FASTA path).

  ``fetch`` yields every record the htslib region query returns for each file, in file order,
  files concatenated in the given order; no filter is applied here. That includes unmapped
  records placed at their mate's position (flag 0x4 with a POS): htslib returns them, and the
  read filter drops them as ``unmapped`` so they can be counted.

  Open handles are not picklable: in Beam, build the reader in ``DoFn.setup`` and ``close`` it
  in ``teardown``.
  """

  def __init__(self, paths, reference: str | None = None, parse_hp: bool = False):
    self._paths = _split_paths(paths)
    self._reference = reference
    self._parse_hp = parse_hp  # --parse_sam_aux_fields: keep each record's HP tag
    self._files: List[pysam.AlignmentFile] = []
    try:
      for path in self._paths:
        self._files.append(self._open(path))
    except BamError:
      try:
        self.close()
      except BamError:
        pass  # the open failure is the error worth reporting
      raise

  def _open(self, path: str) -> pysam.AlignmentFile:
    if not os.path.exists(path):
      raise BamError(f"{path}: no such file")
    is_cram = path.lower().endswith(".cram")
    if is_cram and not self._reference:
      raise BamError(f"{path}: reading CRAM needs the reference FASTA (--ref)")
    try:
      handle = pysam.AlignmentFile(
          path, "rc" if is_cram else "rb",
          reference_filename=self._reference if is_cram else None)
    except (OSError, ValueError) as e:
      raise BamError(f"{path}: cannot open as {'CRAM' if is_cram else 'BAM'} "
                     f"(truncated or corrupt file?): {e}") from e
    if not handle.has_index():
      handle.close()
      raise BamIndexError(f"{path}: no index (.bai/.csi/.crai) found; run samtools index")
    return handle

  @property
  def paths(self) -> Sequence[str]:
    return tuple(self._paths)

  def fetch(self, region: Range) -> Iterator[Read]:
    """Yields the records overlapping ``region`` (0-based half-open), file by file.

    A contig missing from one of the files is an error (the caller is expected to iterate only
    over ``contig_lengths()``), as is any decoding failure.
    """
    for path, handle in zip(self._paths, self._files):
      if region.contig not in handle.references:
        raise BamError(f"{path}: contig {region.contig!r} is not in the header "
                       f"(querying {region.to_literal()})")
      try:
        for seg in handle.fetch(region.contig, region.start, region.end):
          yield read_from_segment(seg, region.contig, self._parse_hp)
      except (OSError, ValueError) as e:
        raise BamReadError(
            f"{path}: failed reading {region.to_literal()} (truncated or corrupt file?): {e}"
        ) from e

  def fetch_many(self, regions: Sequence[Range]) -> Iterator[Tuple[Range, List[Read]]]:
    """Yields ``(region, list(fetch(region)))`` for each region, in the given order, decoding
    each record once.

    Why: a work unit's partitions are ~1 kb, and every htslib region query starts decoding at
    the index's linear offset for its first 16-kb window, so one query per partition parsed
    records of up to a whole window to return one partition's, and decoded reads spanning a
    partition boundary twice (bench/RESULTS.md, make_examples round 2). Here nearby regions of
    one contig (gaps under one linear-index window) share one query over their hull, and each
    region takes, in file order, the records htslib's own overlap rule would return for it:
    ``start < region.end`` and ``end > region.start`` with htslib's end (``bam_endpos``: the
    CIGAR's reference span, at least one base, one base for an unmapped record); tests hold it
    to per-region queries. CRAM keeps one query per region: its decoder's range filtering has
    not been checked against that rule.
    """
    if any(p.lower().endswith(".cram") for p in self._paths):
      for region in regions:
        yield region, list(self.fetch(region))
      return
    for run in _nearby_runs(regions):
      hull = Range(run[0].contig, min(r.start for r in run), max(r.end for r in run))
      reads = list(self.fetch(hull))
      if len(run) == 1:
        yield run[0], reads
        continue
      starts = np.fromiter((r.start for r in reads), dtype=np.int64, count=len(reads))
      ends = np.fromiter((r.start + 1 if r.flag & FLAG_UNMAPPED else max(r.end, r.start + 1)
                          for r in reads), dtype=np.int64, count=len(reads))
      for region in run:
        hits = np.flatnonzero((starts < region.end) & (ends > region.start))
        yield region, [reads[i] for i in hits.tolist()]

  def contig_lengths(self) -> Dict[str, int]:
    """Contigs present in every file with the same name AND length, in the first header's order.

    Spec 2.2 step 2: a contig whose length differs between files is not common.
    """
    first = self._files[0]
    common = dict(zip(first.references, first.lengths))
    for handle in self._files[1:]:
      other = dict(zip(handle.references, handle.lengths))
      common = {c: n for c, n in common.items() if other.get(c) == n}
    return common

  def sample_name(self) -> str | None:
    """SM of the first read group of the first file, or None when it has none."""
    read_groups = self._files[0].header.to_dict().get("RG") or []
    if not read_groups:
      return None
    return read_groups[0].get("SM")

  def close(self) -> None:
    """Closes every file; a failure to close (htslib reports one after a corrupt block) is
    raised once all handles are closed, naming the file."""
    failure = None
    for path, handle in zip(self._paths, self._files):
      try:
        handle.close()
      except OSError as e:
        failure = failure or BamError(f"{path}: error while closing: {e}")
    self._files = []
    if failure is not None:
      raise failure

  def __enter__(self) -> "BamReader":
    return self

  def __exit__(self, exc_type, exc, tb) -> None:
    try:
      self.close()
    except BamError:
      if exc_type is None:
        raise  # otherwise keep the original error, which says what went wrong first
