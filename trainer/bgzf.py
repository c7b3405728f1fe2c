"""BGZF (blocked gzip) writing and reading, and a tabix (.tbi) index for VCF, in pure Python.

Why pure Python here: ``trainer.call`` must write a bgzipped, tabix-indexed VCF, yet the trainer
half installs and imports without pysam (tests/unit/test_packaging.py), and the ``tabix`` binary
is not there on a trainer-only machine (a Vertex AI / TPU VM image). BGZF is a few lines over
``zlib``, and a tabix index is a plain binary layout (SAM/tabix specification, "The tabix index
format"), so pileflow writes both itself; the tests check the result against htslib (``tabix``,
``bcftools`` and pysam read our files and answer region queries exactly as with htslib's own
index). Reading BGZF is needed for bgzipped FASTA references (``.fai`` + ``.gzi``).

Coordinates in this module are 0-based, half-open ``[beg, end)``.

BGZF layout (SAM spec 4.1): a series of gzip members, each <= 64 KiB, whose header carries the
``BC`` extra field with the member's total size - 1, closed by a fixed 28-byte empty member.
A *virtual offset* is ``compressed offset of the member << 16 | offset inside its uncompressed
data``.
"""
from __future__ import annotations

import dataclasses
import io
import os
import struct
import zlib
from bisect import bisect_right
from typing import BinaryIO, Dict, List, Optional, Sequence, Tuple

# Uncompressed bytes per block: htslib's BGZF_BLOCK_SIZE (0xff00), leaves room for incompressible
# data to fit the 64 KiB member limit.
BLOCK_DATA_SIZE = 0xFF00
EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_HEADER = struct.Struct("<4BI2BH2BHH")  # magic.., mtime, xfl, os, xlen, 'B', 'C', slen, bsize
_TBI_MIN_SHIFT = 14
_TBI_DEPTH = 5
_TBI_META_BIN = 37450  # htslib's pseudo-bin with per-reference offsets and record counts
TBI_FORMAT_VCF = 2


class BgzfError(ValueError):
  """A file that is not valid BGZF (one line naming the file and the offset)."""


def compress_block(data: bytes, level: int = 6) -> bytes:
  """One BGZF member holding ``data`` (len <= 65280)."""
  if len(data) > BLOCK_DATA_SIZE:
    raise ValueError(f"BGZF block data is {len(data)} bytes; at most {BLOCK_DATA_SIZE}")
  comp = zlib.compressobj(level, zlib.DEFLATED, -15)
  cdata = comp.compress(data) + comp.flush()
  bsize = len(cdata) + 25  # 18-byte header + 8-byte trailer, minus 1
  header = _HEADER.pack(0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, ord("B"), ord("C"), 2, bsize)
  return header + cdata + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))


class BgzfWriter:
  """Writes BGZF to a binary file object and remembers where each block starts.

  ``virtual_offset(u)`` maps an uncompressed offset written so far to its virtual offset (what
  a tabix index stores). Call ``close()`` to flush and append the EOF marker.
  """

  def __init__(self, fileobj: BinaryIO, level: int = 6):
    self._out = fileobj
    self._level = level
    self._buffer = bytearray()
    self._coffset = 0
    self._uoffset = 0             # uncompressed bytes handed to write()
    self._block_u: List[int] = []  # uncompressed start of each flushed block
    self._block_c: List[int] = []  # compressed start of each flushed block
    self.closed = False

  @property
  def tell(self) -> int:
    """Uncompressed bytes written so far."""
    return self._uoffset

  def write(self, data: bytes) -> None:
    self._buffer += data
    self._uoffset += len(data)
    while len(self._buffer) >= BLOCK_DATA_SIZE:
      self._flush_block(bytes(self._buffer[:BLOCK_DATA_SIZE]))
      del self._buffer[:BLOCK_DATA_SIZE]

  def _flush_block(self, data: bytes) -> None:
    block = compress_block(data, self._level)
    self._block_u.append(self._uoffset - len(self._buffer))
    self._block_c.append(self._coffset)
    self._out.write(block)
    self._coffset += len(block)

  def close(self) -> None:
    if self.closed:
      return
    if self._buffer:
      self._flush_block(bytes(self._buffer))
      self._buffer.clear()
    self._out.write(EOF_BLOCK)
    self._end_c = self._coffset
    self._coffset += len(EOF_BLOCK)
    self.closed = True

  def virtual_offset(self, uoffset: int) -> int:
    """Virtual offset of uncompressed position ``uoffset`` (after ``close()``).

    A position at a block boundary is given as offset 0 of the next block, and the end of the
    data as the start of the EOF block (the forms htslib produces).
    """
    if not self.closed:
      raise RuntimeError("virtual_offset() needs the writer closed (block starts are final)")
    if not 0 <= uoffset <= self._uoffset:
      raise ValueError(f"offset {uoffset} outside the {self._uoffset} bytes written")
    if uoffset == self._uoffset:
      return self._end_c << 16
    i = bisect_right(self._block_u, uoffset) - 1
    return (self._block_c[i] << 16) | (uoffset - self._block_u[i])


def write_bgzf(path: str, data: bytes, level: int = 6) -> None:
  with open(path, "wb") as f:
    w = BgzfWriter(f, level)
    w.write(data)
    w.close()


# ---- Reading -------------------------------------------------------------------------------------
def read_block(f: BinaryIO, coffset: int, name: str = "<bgzf>") -> Tuple[bytes, int]:
  """(uncompressed data, compressed size) of the BGZF member at ``coffset``."""
  f.seek(coffset)
  header = f.read(18)
  if len(header) < 18:
    raise BgzfError(f"{name}: truncated BGZF block header at byte {coffset}")
  fields = _HEADER.unpack(header)
  if fields[0] != 0x1F or fields[1] != 0x8B or fields[3] != 4 or fields[8] != ord("B"):
    raise BgzfError(f"{name}: not a BGZF block at byte {coffset} (plain gzip? recompress "
                    "with bgzip)")
  bsize = fields[11] + 1
  rest = f.read(bsize - 18)
  if len(rest) != bsize - 18:
    raise BgzfError(f"{name}: truncated BGZF block at byte {coffset}")
  data = zlib.decompress(rest[:-8], -15)
  return data, bsize


def read_gzi(path: str) -> Tuple[List[int], List[int]]:
  """A ``.gzi`` index: (compressed offsets, uncompressed offsets) of block starts, with (0, 0)."""
  with open(path, "rb") as f:
    raw = f.read()
  if len(raw) < 8:
    raise BgzfError(f"{path}: truncated .gzi index")
  (n,) = struct.unpack_from("<Q", raw, 0)
  if len(raw) < 8 + 16 * n:
    raise BgzfError(f"{path}: .gzi index says {n} entries but is {len(raw)} bytes")
  pairs = struct.unpack_from(f"<{2 * n}Q", raw, 8)
  comp = [0] + list(pairs[0::2])
  uncomp = [0] + list(pairs[1::2])
  return comp, uncomp


class BgzfRandomReader:
  """Reads uncompressed byte ranges of a BGZF file through its ``.gzi`` block index."""

  def __init__(self, path: str, gzi_path: Optional[str] = None):
    self.path = path
    gzi_path = gzi_path or path + ".gzi"
    if not os.path.exists(gzi_path):
      raise BgzfError(f"{path}: bgzipped file needs its {gzi_path} index "
                      "(make it with `samtools faidx` or `bgzip -r`)")
    self._comp, self._uncomp = read_gzi(gzi_path)
    self._f = open(path, "rb")
    self._cache: Dict[int, Tuple[bytes, int]] = {}

  def close(self) -> None:
    self._f.close()

  def read(self, uoffset: int, length: int) -> bytes:
    """``length`` uncompressed bytes from ``uoffset`` (fewer at the end of the file)."""
    out = bytearray()
    i = bisect_right(self._uncomp, uoffset) - 1
    coffset, ustart = self._comp[i], self._uncomp[i]
    pos = uoffset
    while len(out) < length:
      data, bsize = self._block(coffset)
      if not data:  # the EOF block
        break
      if pos < ustart + len(data):
        piece = data[pos - ustart:pos - ustart + length - len(out)]
        out += piece
        pos += len(piece)
      ustart += len(data)
      coffset += bsize
    return bytes(out)

  def _block(self, coffset: int) -> Tuple[bytes, int]:
    hit = self._cache.get(coffset)
    if hit is None:
      hit = read_block(self._f, coffset, self.path)
      if len(self._cache) >= 64:  # reads go forward through one contig: a small cache is enough
        self._cache.clear()
      self._cache[coffset] = hit
    return hit


def decompress_all(path: str) -> bytes:
  """Whole uncompressed content of a BGZF (or any multi-member gzip) file."""
  import gzip
  with gzip.open(path, "rb") as f:
    return f.read()


# ---- Tabix ---------------------------------------------------------------------------------------
def reg2bin(beg: int, end: int) -> int:
  """The smallest UCSC/tabix bin holding [beg, end) (end exclusive; min shift 14, 5 levels)."""
  end -= 1
  if beg >> 14 == end >> 14:
    return ((1 << 15) - 1) // 7 + (beg >> 14)
  if beg >> 17 == end >> 17:
    return ((1 << 12) - 1) // 7 + (beg >> 17)
  if beg >> 20 == end >> 20:
    return ((1 << 9) - 1) // 7 + (beg >> 20)
  if beg >> 23 == end >> 23:
    return ((1 << 6) - 1) // 7 + (beg >> 23)
  if beg >> 26 == end >> 26:
    return ((1 << 3) - 1) // 7 + (beg >> 26)
  return 0


@dataclasses.dataclass(frozen=True)
class IndexedRecord:
  """One data line for the index: contig, 0-based [beg, end), uncompressed [ustart, uend)."""
  contig: str
  beg: int
  end: int
  ustart: int
  uend: int


def build_tabix_index(records: Sequence[IndexedRecord], virtual_offset,
                      fmt: int = TBI_FORMAT_VCF, meta_char: str = "#") -> bytes:
  """Uncompressed bytes of a ``.tbi`` for ``records`` (sorted by contig block, then beg).

  ``virtual_offset`` maps an uncompressed offset of the data file to its virtual offset
  (``BgzfWriter.virtual_offset``). Chunks: consecutive records of one bin form one chunk.
  Linear index: per 16 kb window, the virtual offset of the first record overlapping it;
  windows before a contig's first record get that record's offset, gaps get the previous
  window's (both are lower bounds, which is all a reader needs). Each reference also gets
  htslib's pseudo-bin 37450 (first/last offsets, mapped/unmapped counts) so ``bcftools index
  -s`` can report counts.

  Raises:
    ValueError: records of one contig not contiguous or not sorted by ``beg``.
  """
  names: List[str] = []
  per_ref: Dict[str, List[IndexedRecord]] = {}
  for r in records:
    if not names or names[-1] != r.contig:
      if r.contig in per_ref:
        raise ValueError(f"records of contig {r.contig} are not contiguous")
      names.append(r.contig)
      per_ref[r.contig] = []
    elif r.beg < per_ref[r.contig][-1].beg:
      raise ValueError(f"records of contig {r.contig} are not sorted by position "
                       f"({r.beg + 1} after {per_ref[r.contig][-1].beg + 1})")
    per_ref[r.contig].append(r)

  out = io.BytesIO()
  blob = b"".join(n.encode() + b"\0" for n in names)
  out.write(b"TBI\1")
  out.write(struct.pack("<8i", len(names), fmt, 1, 2, 0, ord(meta_char), 0, len(blob)))
  out.write(blob)
  for name in names:
    recs = per_ref[name]
    bins: Dict[int, List[List[int]]] = {}
    order: List[int] = []
    last_bin, last_end = None, None
    linear: Dict[int, int] = {}
    for r in recs:
      vbeg, vend = virtual_offset(r.ustart), virtual_offset(r.uend)
      b = reg2bin(r.beg, max(r.end, r.beg + 1))
      if b == last_bin and bins[b][-1][1] == last_end:
        bins[b][-1][1] = vend
      else:
        if b not in bins:
          bins[b] = []
          order.append(b)
        bins[b].append([vbeg, vend])
      last_bin, last_end = b, vend
      for w in range(r.beg >> _TBI_MIN_SHIFT, (max(r.end, r.beg + 1) - 1 >> _TBI_MIN_SHIFT) + 1):
        if w not in linear:
          linear[w] = vbeg
    out.write(struct.pack("<i", len(bins) + 1))
    for b in sorted(order):
      chunks = bins[b]
      out.write(struct.pack("<Ii", b, len(chunks)))
      for cb, ce in chunks:
        out.write(struct.pack("<QQ", cb, ce))
    first, last = virtual_offset(recs[0].ustart), virtual_offset(recs[-1].uend)
    out.write(struct.pack("<Ii", _TBI_META_BIN, 2))
    out.write(struct.pack("<QQQQ", first, last, len(recs), 0))
    n_intv = max(linear) + 1
    ioff = []
    prev = first
    for w in range(n_intv):
      prev = linear.get(w, prev)
      ioff.append(prev)
    out.write(struct.pack("<i", n_intv))
    out.write(struct.pack(f"<{n_intv}Q", *ioff))
  out.write(struct.pack("<Q", 0))  # n_no_coor
  return out.getvalue()
