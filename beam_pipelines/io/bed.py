"""BED files: confident regions for labeling and ``--regions`` / ``--exclude_regions`` files.

Why strict: a confident-regions BED silently read as empty (or half-read) would label every
candidate as non-confident or hom-ref and still produce a plausible-looking dataset, so every
malformed line fails the run with ``file:line: what is wrong``, and an empty BED is an error.

BED coordinates are already 0-based half-open, the same as pileflow's ``Range``: no
conversion happens here. Plain or gzip/bgzip-compressed files are accepted.
"""
from __future__ import annotations

import gzip
import os
from typing import List

from beam_pipelines.core.regions import IntervalIndex, Range

_SKIP_PREFIXES = ("track", "browser", "#")


class BedError(ValueError):
  """A BED file that cannot be used; the message names the file (and line)."""


def _open_text(path: str):
  with open(path, "rb") as fh:
    magic = fh.read(2)
  if magic == b"\x1f\x8b":
    return gzip.open(path, "rt", encoding="utf-8", newline="")
  return open(path, "rt", encoding="utf-8", newline="")


def read_bed(path: str) -> List[Range]:
  """Reads the first three columns of every interval line as ``Range`` (0-based half-open).

  Lines starting with ``track``, ``browser`` or ``#`` and blank lines are skipped. Columns are
  tab-separated (any whitespace is accepted when a line has no tab); extra columns are ignored.
  Intervals are returned in file order, not merged (``regions.merge`` / ``IntervalIndex`` do
  that). A zero-length interval (start == end) is accepted and covers nothing.

  Raises:
    BedError: missing file, fewer than 3 columns, non-integer or negative coordinates,
      end < start, undecodable text, or no interval at all.
  """
  if not os.path.exists(path):
    raise BedError(f"{path}: BED file does not exist")
  out: List[Range] = []
  try:
    with _open_text(path) as fh:
      for lineno, raw in enumerate(fh, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith(_SKIP_PREFIXES):
          continue
        cols = line.split("\t") if "\t" in line else line.split()
        if len(cols) < 3:
          raise BedError(f"{path}:{lineno}: expected at least 3 columns (contig, start, end), "
                         f"got {len(cols)}: {line!r}")
        contig, start_s, end_s = cols[0].strip(), cols[1].strip(), cols[2].strip()
        if not contig:
          raise BedError(f"{path}:{lineno}: empty contig name: {line!r}")
        try:
          start, end = int(start_s), int(end_s)
        except ValueError:
          raise BedError(f"{path}:{lineno}: start and end must be integers, got "
                         f"{start_s!r} and {end_s!r}") from None
        if start < 0:
          raise BedError(f"{path}:{lineno}: negative start {start}")
        if end < start:
          raise BedError(f"{path}:{lineno}: end {end} is before start {start}")
        out.append(Range(contig, start, end))
  except UnicodeDecodeError as e:
    raise BedError(f"{path}: not a text BED file ({e.reason})") from None
  except (OSError, EOFError) as e:
    raise BedError(f"{path}: cannot read BED file ({e})") from None
  if not out:
    raise BedError(f"{path}: BED file has no intervals")
  return out


def read_confident_regions(bed_path: str) -> IntervalIndex:
  """Confident regions for labeling: the BED's intervals merged into a point-query index.

  A variant is "confident" iff its 0-based start lies inside one of them (spec 4.1).
  """
  return IntervalIndex(read_bed(bed_path))
