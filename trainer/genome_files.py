"""Plain-Python readers and writers of the genome files calling and evaluation touch.

Why not pysam: the trainer half must import without pysam (tests/unit/test_packaging.py), and
calling/evaluation need only a small, well-defined part of each format:

* FASTA with its ``.fai`` (plain, or bgzipped with ``.gzi``): contig names/lengths for a VCF
  header, and random access to bases for checks and indel left-alignment.
* VCF (plain or bgzipped) records: CHROM, POS, REF, ALT, FILTER and the first sample's GT;
  header ``##contig`` lines and sample names.
* BED intervals.
* Writing a sorted VCF as BGZF with a ``.tbi`` index (``trainer.bgzf``), atomically.

Coordinates are 0-based, half-open inside; VCF POS and region literals are 1-based at the edge.
"""
from __future__ import annotations

import dataclasses
import gzip
import io
import os
from bisect import bisect_right
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from schemas import errors
from trainer import bgzf


class GenomeFileError(errors.InputError):
  """Bad input file; one line naming the file (and line) and what is wrong."""


# ---- FASTA ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FaiEntry:
  name: str
  length: int
  offset: int
  line_bases: int
  line_width: int


def read_fai(path: str) -> List[FaiEntry]:
  """Entries of a ``.fai`` index, in reference order."""
  entries = []
  with open(path, "r", encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
      if not line.strip():
        continue
      parts = line.rstrip("\n").split("\t")
      try:
        entries.append(FaiEntry(parts[0], int(parts[1]), int(parts[2]), int(parts[3]),
                                int(parts[4])))
      except (IndexError, ValueError):
        raise GenomeFileError(f"{path}:{n}: not a .fai line (name, length, offset, "
                              "line bases, line width)") from None
  return entries


class FastaReader:
  """Random access to an indexed FASTA (plain, or bgzipped with ``.gzi``); bases upper-cased."""

  def __init__(self, path: str):
    self.path = path
    fai = path + ".fai"
    if not os.path.exists(path):
      raise GenomeFileError(f"{path}: reference FASTA does not exist")
    if not os.path.exists(fai):
      raise GenomeFileError(f"{path}: reference needs its {fai} index (samtools faidx)")
    self.entries = read_fai(fai)
    self._by_name = {e.name: e for e in self.entries}
    with open(path, "rb") as f:
      magic = f.read(2)
    self._bgzf = bgzf.BgzfRandomReader(path) if magic == b"\x1f\x8b" else None
    self._plain = None if self._bgzf else open(path, "rb")

  @property
  def contigs(self) -> List[Tuple[str, int]]:
    """(name, length) in reference order."""
    return [(e.name, e.length) for e in self.entries]

  def length(self, contig: str) -> Optional[int]:
    e = self._by_name.get(contig)
    return None if e is None else e.length

  def fetch(self, contig: str, start: int, end: int) -> str:
    """Bases of [start, end) (0-based), clipped to the contig, upper case.

    Raises:
      GenomeFileError: unknown contig.
    """
    e = self._by_name.get(contig)
    if e is None:
      raise GenomeFileError(f"{self.path}: no contig {contig!r} in the reference")
    start, end = max(0, start), min(end, e.length)
    if end <= start:
      return ""
    first = e.offset + (start // e.line_bases) * e.line_width + start % e.line_bases
    last = e.offset + ((end - 1) // e.line_bases) * e.line_width + (end - 1) % e.line_bases
    if self._bgzf is not None:
      raw = self._bgzf.read(first, last - first + 1)
    else:
      self._plain.seek(first)
      raw = self._plain.read(last - first + 1)
    return raw.replace(b"\n", b"").replace(b"\r", b"").decode("ascii").upper()

  def close(self) -> None:
    if self._bgzf is not None:
      self._bgzf.close()
    if self._plain is not None:
      self._plain.close()


# ---- VCF -----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class VcfRecord:
  """One VCF line as evaluation needs it. ``start`` is 0-based (POS - 1).

  ``genotype`` holds allele indices of the first sample, None for a missing allele ('.');
  ``()`` when the file has no sample column.
  """
  contig: str
  start: int
  ref: str
  alts: Tuple[str, ...]
  filters: Tuple[str, ...]
  genotype: Tuple[Optional[int], ...]
  line: int = 0

  @property
  def passing(self) -> bool:
    return not self.filters or self.filters in (("PASS",), (".",))


@dataclasses.dataclass(frozen=True)
class VcfHeader:
  contigs: Dict[str, Optional[int]]   # name -> length (None when the line has no length)
  samples: Tuple[str, ...]
  lines: Tuple[str, ...]


def _open_text(path: str):
  with open(path, "rb") as f:
    magic = f.read(2)
  if magic == b"\x1f\x8b":
    return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
  return open(path, "r", encoding="utf-8")


def _parse_contig_line(line: str) -> Tuple[str, Optional[int]]:
  body = line[len("##contig=<"):].rstrip(">")
  fields = {}
  for part in body.split(","):
    if "=" in part:
      k, v = part.split("=", 1)
      fields[k.strip()] = v.strip()
  length = fields.get("length")
  return fields.get("ID", ""), (int(length) if length and length.isdigit() else None)


def _parse_gt(text: str) -> Tuple[Optional[int], ...]:
  gt = text.split(":", 1)[0]
  if not gt or gt == ".":
    return (None,)
  return tuple(None if a == "." else int(a) for a in gt.replace("|", "/").split("/"))


def read_vcf(path: str) -> Tuple[VcfHeader, List[VcfRecord]]:
  """Header and records of a VCF (plain or gzip/BGZF). GT comes from the first sample.

  Raises:
    GenomeFileError: missing file, no #CHROM line, or a malformed record (names the line).
  """
  if not os.path.exists(path):
    raise GenomeFileError(f"{path}: VCF does not exist")
  contigs: Dict[str, Optional[int]] = {}
  header_lines: List[str] = []
  samples: Tuple[str, ...] = ()
  records: List[VcfRecord] = []
  seen_chrom = False
  try:
    with _open_text(path) as f:
      for n, line in enumerate(f, 1):
        line = line.rstrip("\n")
        if line.startswith("##"):
          header_lines.append(line)
          if line.startswith("##contig=<"):
            name, length = _parse_contig_line(line)
            contigs[name] = length
          continue
        if line.startswith("#CHROM"):
          seen_chrom = True
          cols = line.split("\t")
          samples = tuple(cols[9:])
          continue
        if not line.strip():
          continue
        if not seen_chrom:
          raise GenomeFileError(f"{path}:{n}: data line before the #CHROM header line")
        cols = line.split("\t")
        if len(cols) < 8:
          raise GenomeFileError(f"{path}:{n}: {len(cols)} columns; a VCF record needs 8+")
        try:
          pos = int(cols[1])
          gt = _parse_gt(cols[9]) if len(cols) > 9 else ()
        except ValueError:
          raise GenomeFileError(f"{path}:{n}: bad POS or GT ({cols[1]!r}, "
                                f"{cols[9] if len(cols) > 9 else ''!r})") from None
        alts = tuple(a for a in cols[4].split(",") if a not in (".", ""))
        filters = tuple(cols[6].split(";")) if cols[6] not in ("", ".") else ()
        records.append(VcfRecord(cols[0], pos - 1, cols[3].upper(),
                                 tuple(a.upper() for a in alts), filters, gt, n))
  except (OSError, EOFError, UnicodeDecodeError) as e:
    raise GenomeFileError(f"{path}: unreadable VCF ({e})") from None
  if not seen_chrom:
    raise GenomeFileError(f"{path}: no #CHROM header line; not a VCF")
  return VcfHeader(contigs, samples, tuple(header_lines)), records


# ---- BED -----------------------------------------------------------------------------------------
def read_bed(path: str) -> List[Tuple[str, int, int]]:
  """(contig, start, end) intervals of a BED file (0-based half-open), in file order."""
  if not os.path.exists(path):
    raise GenomeFileError(f"{path}: BED file does not exist")
  out = []
  with _open_text(path) as f:
    for n, line in enumerate(f, 1):
      if not line.strip() or line.startswith(("#", "track", "browser")):
        continue
      cols = line.split()
      try:
        start, end = int(cols[1]), int(cols[2])
      except (IndexError, ValueError):
        raise GenomeFileError(f"{path}:{n}: not a BED line (contig, start, end)") from None
      if end < start or start < 0:
        raise GenomeFileError(f"{path}:{n}: bad interval {start}-{end}")
      out.append((cols[0], start, end))
  return out


class IntervalSet:
  """Merged intervals per contig with containment / overlap queries (0-based half-open)."""

  def __init__(self, intervals: Sequence[Tuple[str, int, int]]):
    by_contig: Dict[str, List[Tuple[int, int]]] = {}
    for contig, s, e in intervals:
      by_contig.setdefault(contig, []).append((s, e))
    self._starts: Dict[str, List[int]] = {}
    self._ends: Dict[str, List[int]] = {}
    for contig, items in by_contig.items():
      merged: List[List[int]] = []
      for s, e in sorted(items):
        if merged and s <= merged[-1][1]:
          merged[-1][1] = max(merged[-1][1], e)
        else:
          merged.append([s, e])
      self._starts[contig] = [m[0] for m in merged]
      self._ends[contig] = [m[1] for m in merged]

  def contains(self, contig: str, start: int, end: int) -> bool:
    """[start, end) lies inside one interval (an empty span counts as its start base)."""
    starts = self._starts.get(contig)
    if not starts:
      return False
    end = max(end, start + 1)
    i = bisect_right(starts, start) - 1
    return i >= 0 and self._ends[contig][i] >= end

  def overlaps(self, contig: str, start: int, end: int) -> bool:
    starts = self._starts.get(contig)
    if not starts:
      return False
    end = max(end, start + 1)
    i = bisect_right(starts, end - 1) - 1
    return i >= 0 and self._ends[contig][i] > start

  @property
  def total_bp(self) -> int:
    return sum(e - s for c in self._starts for s, e in zip(self._starts[c], self._ends[c]))


# ---- Writing an indexed VCF ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class VcfLine:
  """A data line to write: its text (no newline) and its 0-based [beg, end) for the index."""
  contig: str
  beg: int
  end: int
  text: str


def write_indexed_vcf(path: str, header_text: str, lines: Sequence[VcfLine]) -> Tuple[str, str]:
  """Writes ``path`` (BGZF) and ``path.tbi`` atomically; lines must already be sorted.

  Both files are written under temporary names and renamed only when complete, the index
  first, so a crash leaves no finished-looking VCF without its index.
  Returns (vcf path, index path).
  """
  tmp_vcf, tmp_tbi = path + ".tmp", path + ".tbi.tmp"
  records = []
  try:
    with open(tmp_vcf, "wb") as f:
      writer = bgzf.BgzfWriter(f)
      writer.write(header_text.encode("utf-8"))
      for line in lines:
        start = writer.tell
        writer.write(line.text.encode("utf-8") + b"\n")
        records.append((line, start, writer.tell))
      writer.close()
    index = bgzf.build_tabix_index(
        [bgzf.IndexedRecord(l.contig, l.beg, l.end, s, e) for l, s, e in records],
        writer.virtual_offset)
    bgzf.write_bgzf(tmp_tbi, index)
    os.replace(tmp_tbi, path + ".tbi")
    os.replace(tmp_vcf, path)
  finally:
    for tmp in (tmp_vcf, tmp_tbi):
      if os.path.exists(tmp):
        os.remove(tmp)
  return path, path + ".tbi"
