"""Reads the records of a VCF as benchmarking and calling checks need them (plain text parse).

What is read: CHROM, POS, REF, ALT, FILTER and the first sample's GT; the header's ``##contig``
lines and sample names. Why a text parse and not ``pysam.VariantFile``: the VCFs scored here
come from any caller (bcftools, DeepVariant, GATK, hand-made truth sets), often without
``##contig`` or ``##FORMAT`` lines, which htslib rejects or warns about per record; a benchmark
must read them all and name the file and line of one it cannot. Writing goes through pysam
(``io/vcf_output.py``); BED through ``io/bed.py``.

Coordinates are 0-based inside (``VcfRecord.start`` is POS - 1).
"""
from __future__ import annotations

import dataclasses
import gzip
import io
import os
from typing import Dict, List, Optional, Tuple

from schemas import errors


class VcfReadError(errors.InputError):
  """Bad VCF; one line naming the file (and line) and what is wrong."""


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
    VcfReadError: missing file, no #CHROM line, or a malformed record (names the line).
  """
  if not os.path.exists(path):
    raise VcfReadError(f"{path}: VCF does not exist")
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
          raise VcfReadError(f"{path}:{n}: data line before the #CHROM header line")
        cols = line.split("\t")
        if len(cols) < 8:
          raise VcfReadError(f"{path}:{n}: {len(cols)} columns; a VCF record needs 8+")
        try:
          pos = int(cols[1])
          gt = _parse_gt(cols[9]) if len(cols) > 9 else ()
        except ValueError:
          raise VcfReadError(f"{path}:{n}: bad POS or GT ({cols[1]!r}, "
                                f"{cols[9] if len(cols) > 9 else ''!r})") from None
        alts = tuple(a for a in cols[4].split(",") if a not in (".", ""))
        filters = tuple(cols[6].split(";")) if cols[6] not in ("", ".") else ()
        records.append(VcfRecord(cols[0], pos - 1, cols[3].upper(),
                                 tuple(a.upper() for a in alts), filters, gt, n))
  except (OSError, EOFError, UnicodeDecodeError) as e:
    raise VcfReadError(f"{path}: unreadable VCF ({e})") from None
  if not seen_chrom:
    raise VcfReadError(f"{path}: no #CHROM header line; not a VCF")
  return VcfHeader(contigs, samples, tuple(header_lines)), records


