"""Truth VCF reader: a thin pysam adapter that turns records into ``TruthVariant`` values.

Why its own checks: every way a truth VCF can be unusable (no index, plain gzip, no sample,
a gVCF given by mistake) would otherwise surface as an obscure htslib message deep inside a
worker or, worse, as a dataset whose labels are all hom-ref. Each raises one ``TruthVcfError``
naming the file and the fix.

Coordinates: records come out 0-based (``start = POS - 1``); ``fetch`` takes a 0-based
half-open ``Range`` and returns the records tabix reports as overlapping it (a deletion
starting before the region but reaching into it is included).

A worker opens one reader per partition batch (in a DoFn's ``setup``) and closes it in
``teardown``; only the path travels with the DoFn.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

import pysam

from beam_pipelines.core.regions import Range
from beam_pipelines.core.variants import TruthVariant

# ALT alleles that only gVCFs carry (reference blocks); see _check_not_gvcf.
GVCF_ALTS = frozenset(("<NON_REF>", "<*>"))
_PASS_FILTERS = frozenset(("PASS", "."))


class TruthVcfError(ValueError):
  """A truth VCF that cannot be used for labeling; the message names the file."""


def _is_bgzf(path: str) -> bool:
  """BGZF = gzip member with the FEXTRA flag and a 'BC' extra subfield (SAM spec 4.1)."""
  with open(path, "rb") as fh:
    head = fh.read(18)
  return (len(head) >= 18 and head[:2] == b"\x1f\x8b" and head[3] & 4 == 4
          and head[12:14] == b"BC")


def _has_index(path: str) -> bool:
  return any(os.path.exists(path + ext) for ext in (".tbi", ".csi"))


class TruthReader:
  """Reads a bgzipped, tabix-indexed truth VCF; genotypes come from its first sample.

  Raises TruthVcfError at construction for: a missing file, a file that is not bgzipped, no
  .tbi/.csi index, no sample column, or a header that declares gVCF content (a ``##GVCFBlock``
  line or an ``<NON_REF>`` ALT definition). ``fetch`` also raises on any record whose ALT holds
  ``<NON_REF>`` or ``<*>``: in a gVCF nearly every record is such a reference block, and
  labeling against it would make every candidate hom-ref.

  Decision: ``##ALT=<ID=*>`` alone is *not* taken as gVCF, because ``bcftools call`` declares
  it in ordinary VCFs; records are checked instead (every fetched record, which costs nothing
  as they are converted anyway).
  """

  def __init__(self, path: str, info_field: Optional[str] = None,
               classes: Sequence[str] = ()):
    """``info_field``: also read this INFO field as each record's class (customized-classes
    labeling); a value outside ``classes`` (when given) is an error naming the record."""
    self.path = path
    self.info_field = info_field
    self.classes = tuple(classes)
    if not os.path.exists(path):
      raise TruthVcfError(f"{path}: truth VCF does not exist")
    if not _is_bgzf(path):
      raise TruthVcfError(f"{path}: not bgzipped; compress it with bgzip (not gzip) and index "
                          f"it with tabix -p vcf")
    if not _has_index(path):
      raise TruthVcfError(f"{path}: no tabix index (.tbi/.csi); run tabix -p vcf {path}")
    try:
      self._vf = pysam.VariantFile(path)
    except (OSError, ValueError) as e:
      raise TruthVcfError(f"{path}: cannot open as VCF ({e})") from None
    if self._vf.index is None:
      self.close()
      raise TruthVcfError(f"{path}: no tabix index (.tbi/.csi); run tabix -p vcf {path}")
    samples = list(self._vf.header.samples)
    if not samples:
      self.close()
      raise TruthVcfError(f"{path}: the truth VCF has no sample column, so no genotypes to "
                          f"label with")
    self.sample = samples[0]
    self._check_header_not_gvcf()

  def _check_header_not_gvcf(self):
    header = self._vf.header
    gvcf_lines = [r.key for r in header.records if r.key and r.key.startswith("GVCFBlock")]
    if gvcf_lines or "NON_REF" in header.alts:
      self.close()
      raise TruthVcfError(
          f"{self.path}: this looks like a gVCF (header declares "
          f"{'##GVCFBlock' if gvcf_lines else '<NON_REF>'}); labels would all be hom-ref. "
          f"Use a regular (non-gVCF) truth VCF")

  def contig_lengths(self) -> Dict[str, Optional[int]]:
    """Contigs of the VCF header with their lengths (None where ##contig has no length)."""
    return {name: self._vf.header.contigs[name].length for name in self._vf.header.contigs}

  def fetch(self, region: Range) -> List[TruthVariant]:
    """Records overlapping 0-based half-open ``region`` (tabix semantics), in file order.

    A contig the VCF does not know returns no records (a truth set may simply have no
    variants there). GT: phased or not, '.' -> -1, haploid kept as a 1-tuple, a missing GT
    field -> (-1, -1). ``filtered`` = FILTER set to anything but PASS / '.'. Alleles are
    upper-cased so they compare with the (upper-case) reference.
    """
    vf = self._vf
    if region.contig not in vf.header.contigs and region.contig not in vf.index:
      return []
    try:
      records = vf.fetch(region.contig, region.start, region.end)
      out = []
      for rec in records:
        out.append(self._convert(rec))
    except TruthVcfError:
      raise
    except ValueError as e:
      raise TruthVcfError(f"{self.path}: cannot read {region.to_literal()} ({e})") from None
    return out

  def check_head(self, limit: int = 10_000) -> int:
    """Converts the first ``limit`` records, so a gVCF-style or unreadable truth set fails
    before any work starts rather than in the middle of a run; returns how many were read."""
    n = 0
    try:
      for rec in self._vf.fetch():
        self._convert(rec)
        n += 1
        if n >= limit:
          break
    except TruthVcfError:
      raise
    except ValueError as e:
      raise TruthVcfError(f"{self.path}: cannot read record {n + 1} ({e})") from None
    return n

  def _convert(self, rec) -> TruthVariant:
    alts = tuple(a.upper() if not a.startswith("<") else a for a in (rec.alts or ()))
    gvcf = [a for a in alts if a in GVCF_ALTS]
    if gvcf:
      raise TruthVcfError(
          f"{self.path}: record {rec.chrom}:{rec.pos} has ALT {gvcf[0]}: this looks like a "
          f"gVCF and labels would all be hom-ref. Use a regular (non-gVCF) truth VCF")
    call = rec.samples[0]
    if "GT" in rec.format:
      gt = call["GT"]
      genotype = tuple(-1 if g is None else int(g) for g in gt) if gt is not None else (-1, -1)
    else:
      genotype = (-1, -1)
    filters = list(rec.filter.keys())
    filtered = any(f not in _PASS_FILTERS for f in filters)
    info_class = None
    if self.info_field and self.info_field in rec.info:
      value = rec.info[self.info_field]
      if isinstance(value, tuple):
        value = value[0] if value else None
      info_class = None if value is None else str(value)
      if info_class is not None and self.classes and info_class not in self.classes:
        raise TruthVcfError(
            f"{self.path}: record {rec.chrom}:{rec.pos} has {self.info_field}={info_class}, "
            f"not one of --customized_classes_labeler_classes_list {','.join(self.classes)}")
    return TruthVariant(contig=rec.chrom, start=rec.start, ref=rec.ref.upper(), alts=alts,
                        genotype=genotype, filtered=filtered, info_class=info_class)

  def close(self):
    vf = getattr(self, "_vf", None)
    if vf is not None:
      vf.close()
      self._vf = None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
    return False
