"""Writes a sorted VCF (plain ``.vcf``, or ``.vcf.gz`` bgzipped with a ``.tbi``) with pysam.

Why pysam: htslib's own BGZF writer and tabix indexer (``pysam.tabix_compress`` and
``pysam.tabix_index``), so the files are what ``bcftools``/``tabix`` expect, byte for byte,
with no hand-written compression here.

Atomic: everything is written under temporary names beside the output and renamed at the
end, the index before the VCF, so a VCF that exists is complete and its index matches. A
failure leaves neither.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Iterable

import pysam


class VcfOutputError(IOError):
  """The output could not be written; the message names the file."""


def is_compressed(path: str) -> bool:
  return path.endswith(".gz") or path.endswith(".bgz")


def index_path(path: str) -> str:
  """The sidecar a ``.vcf.gz`` gets; '' for a plain VCF (it has none)."""
  return path + ".tbi" if is_compressed(path) else ""


def write_vcf(path: str, header: str, line_chunks: Iterable[Iterable[str]]) -> int:
  """Writes ``header`` then every line of ``line_chunks`` (already in reference order).

  Lines carry no newline. Returns the number of data lines written.
  """
  folder = os.path.dirname(os.path.abspath(path)) or "."
  os.makedirs(folder, exist_ok=True)
  tmp_dir = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=folder)
  try:
    text_path = os.path.join(tmp_dir, "calls.vcf")
    n = 0
    with open(text_path, "w") as f:
      f.write(header)
      for chunk in line_chunks:
        for line in chunk:
          f.write(line)
          f.write("\n")
          n += 1
    if not is_compressed(path):
      os.replace(text_path, path)
      return n
    gz_path = os.path.join(tmp_dir, "calls.vcf.gz")
    try:
      pysam.tabix_compress(text_path, gz_path, force=True)
      pysam.tabix_index(gz_path, preset="vcf", force=True)
    except (OSError, ValueError) as e:
      raise VcfOutputError(f"{path}: bgzip/tabix failed: {e}") from e
    os.replace(gz_path + ".tbi", path + ".tbi")
    os.replace(gz_path, path)
    return n
  finally:
    shutil.rmtree(tmp_dir, ignore_errors=True)
