"""TFRecord framing (spec 1.1): read and write record streams without TensorFlow.

Why here: Beam workers, tests and tools need to read and write DeepVariant-compatible files,
and the trainer needs to peek at them, but only the trainer has TensorFlow. The framing is
tiny and fixed, so one implementation serves everyone:

    uint64 LE length | uint32 LE masked_crc32c(length bytes) | payload | uint32 LE masked_crc32c(payload)

with ``masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32)``. A file whose base name
contains ``.gz`` is one gzip stream around the whole record stream (DeepVariant shards look like
``x.tfrecord-00000-of-00016.gz``).

Reading is strict: a bad CRC or a truncated record raises ``TFRecordError`` naming the file and
the byte offset of the broken record (in the decompressed stream for gzip files). Writing is
atomic: records go to a temporary file in the target directory that is renamed over the target
only after the last record is flushed, so a failed run leaves no file that looks finished.
"""
from __future__ import annotations

import gzip
import os
import struct
import tempfile
from typing import BinaryIO, Iterable, Iterator, Optional

import google_crc32c
from isal import igzip

_MASK_DELTA = 0xA282EAD8
_LEN = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_HEADER_SIZE = _LEN.size + _CRC.size

# Written gzip files go through ISA-L's deflate (python-isal's igzip) at its default level 2.
# Measured on 89 MB of 30x pileup records (bench dataset): zlib level 6 (TensorFlow's default)
# 69 MB/s, ratio 17.9; ISA-L level 2 1,806 MB/s, ratio 14.0; zlib level 1 325 MB/s, ratio 13.0.
# zlib 6 was a quarter of make_examples' CPU; ISA-L costs ~2% of it for files ~29% larger. The
# stream is ordinary gzip: TensorFlow, DeepVariant and Python's gzip read it unchanged.
GZIP_LEVEL = 2

def gzip_writer(raw: BinaryIO) -> BinaryIO:
  """A gzip stream over ``raw`` as every pileflow gzip file is written (see ``GZIP_LEVEL``).

  mtime=0 keeps the header free of wall-clock time, so reruns give identical bytes. Closing it
  ends the gzip member; ``raw`` stays open.
  """
  return igzip.IGzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                         compresslevel=GZIP_LEVEL)


COMPRESSION_AUTO = "auto"
COMPRESSION_GZIP = "gzip"
COMPRESSION_NONE = "none"


class TFRecordError(ValueError):
  """A TFRecord file is corrupt or truncated; the message names the file and byte offset."""


def masked_crc32c(data: bytes) -> int:
  """TFRecord's masked CRC32C of ``data`` (spec 1.1)."""
  crc = google_crc32c.value(data)
  return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(payload: bytes) -> bytes:
  """One framed record: header, payload and footer, ready to append to a stream."""
  length = _LEN.pack(len(payload))
  return (length + _CRC.pack(masked_crc32c(length)) + payload +
          _CRC.pack(masked_crc32c(payload)))


def is_gzip_path(path: str) -> bool:
  """True when ``path``'s base name contains ``.gz`` (DeepVariant's rule for compression)."""
  return ".gz" in os.path.basename(path)


def _resolve_compression(path: str, compression: str) -> bool:
  if compression == COMPRESSION_AUTO:
    return is_gzip_path(path)
  if compression in (COMPRESSION_GZIP, COMPRESSION_NONE):
    return compression == COMPRESSION_GZIP
  raise ValueError(f"compression must be one of auto, gzip, none; got {compression!r}")


class RecordWriter:
  """Streams records into ``path`` atomically; use as a context manager.

  The target appears only when the ``with`` block exits normally; on an exception the
  temporary file is removed and any previous file at ``path`` is left untouched.

  >>> with RecordWriter('/tmp/x.tfrecord.gz') as w:   # doctest: +SKIP
  ...   w.write(b'payload')
  """

  def __init__(self, path: str, compression: str = COMPRESSION_AUTO):
    self.path = path
    self._gzip = _resolve_compression(path, compression)
    self._tmp_path: Optional[str] = None
    self._raw: Optional[BinaryIO] = None
    self._stream: Optional[BinaryIO] = None
    self.count = 0

  def __enter__(self) -> "RecordWriter":
    directory = os.path.dirname(os.path.abspath(self.path))
    os.makedirs(directory, exist_ok=True)
    fd, self._tmp_path = tempfile.mkstemp(
        prefix="." + os.path.basename(self.path) + ".tmp-", dir=directory)
    self._raw = os.fdopen(fd, "wb")
    if self._gzip:
      self._stream = gzip_writer(self._raw)
    else:
      self._stream = self._raw
    return self

  def write(self, payload: bytes) -> None:
    if self._stream is None:
      raise RuntimeError("RecordWriter.write called outside its `with` block")
    self._stream.write(frame_record(payload))
    self.count += 1

  def __exit__(self, exc_type, exc, tb) -> None:
    try:
      if self._stream is not self._raw:
        self._stream.close()
      self._raw.close()
      if exc_type is None:
        os.replace(self._tmp_path, self.path)
    finally:
      if os.path.exists(self._tmp_path):
        os.unlink(self._tmp_path)
      self._stream = self._raw = None


def write_records(path: str, records: Iterable[bytes],
                  compression: str = COMPRESSION_AUTO) -> int:
  """Writes every payload of ``records`` to ``path`` atomically; returns the record count.

  gzip-compressed when the base name contains ``.gz`` (override with ``compression``).
  """
  with RecordWriter(path, compression) as writer:
    for payload in records:
      writer.write(payload)
  return writer.count


def _read_exact(stream: BinaryIO, n: int) -> bytes:
  chunks = []
  remaining = n
  while remaining:
    chunk = stream.read(remaining)
    if not chunk:
      break
    chunks.append(chunk)
    remaining -= len(chunk)
  return b"".join(chunks)


def iter_stream(stream: BinaryIO, name: str = "<stream>") -> Iterator[bytes]:
  """Yields the verified payloads of an already-decompressed record stream."""
  offset = 0
  where = lambda: f"{name}: record at byte offset {offset}"  # noqa: E731
  while True:
    try:
      header = _read_exact(stream, _HEADER_SIZE)
    except (EOFError, OSError, gzip.BadGzipFile) as e:
      raise TFRecordError(f"{where()}: compressed stream is damaged ({e})") from e
    if not header:
      return
    if len(header) < _HEADER_SIZE:
      raise TFRecordError(
          f"{where()}: truncated header ({len(header)} of {_HEADER_SIZE} bytes)")
    length_bytes = header[:_LEN.size]
    (length_crc,) = _CRC.unpack_from(header, _LEN.size)
    if masked_crc32c(length_bytes) != length_crc:
      raise TFRecordError(f"{where()}: length CRC mismatch (corrupt header)")
    (length,) = _LEN.unpack(length_bytes)
    try:
      body = _read_exact(stream, length + _CRC.size)
    except (EOFError, OSError, gzip.BadGzipFile) as e:
      raise TFRecordError(f"{where()}: compressed stream is damaged ({e})") from e
    if len(body) < length + _CRC.size:
      raise TFRecordError(
          f"{where()}: truncated record (expected {length} payload bytes + 4 CRC bytes, "
          f"found {len(body)})")
    payload = body[:length]
    (payload_crc,) = _CRC.unpack_from(body, length)
    if masked_crc32c(payload) != payload_crc:
      raise TFRecordError(f"{where()}: payload CRC mismatch ({length} bytes)")
    yield payload
    offset += _HEADER_SIZE + length + _CRC.size


def read_records(path: str, compression: str = COMPRESSION_AUTO) -> Iterator[bytes]:
  """Yields the payloads of the TFRecord file ``path``, verifying both CRCs of every record.

  Raises:
    TFRecordError: bad CRC, truncated record or damaged gzip stream; the message names the
      file and the (decompressed) byte offset of the record that failed.
  """
  use_gzip = _resolve_compression(path, compression)
  with open(path, "rb") as raw:
    if use_gzip:
      stream = gzip.GzipFile(filename=path, mode="rb", fileobj=raw)
      name = f"{path} (gzip; offsets are in the decompressed stream)"
    else:
      stream = raw
      name = path
    yield from iter_stream(stream, name)
