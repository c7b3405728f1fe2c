"""File operations through Beam's FileSystems, so the same code writes to local disk and gs://.

Why a wrapper: the pipelines write temporary chunks, assemble shards and commit them by rename;
on Dataflow those paths are on GCS, locally on disk. Beam's FileSystems picks the right
implementation by scheme; this module keeps the handful of calls we need in one place.
"""
from __future__ import annotations

import os
from typing import BinaryIO, Iterable, List

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from schemas import tfrecord

_COPY_BUFFER = 4 << 20


def join(base: str, *parts: str) -> str:
  return FileSystems.join(base, *parts)


def dirname(path: str) -> str:
  return FileSystems.split(path)[0]


def basename(path: str) -> str:
  return FileSystems.split(path)[1]


def exists(path: str) -> bool:
  return FileSystems.exists(path)


def makedirs(path: str) -> None:
  if "://" not in path:
    os.makedirs(path, exist_ok=True)
  elif not FileSystems.exists(path):
    FileSystems.mkdirs(path)


def create(path: str) -> BinaryIO:
  """A raw (uncompressed) writable file; the caller adds compression if it wants it."""
  if "://" not in path:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  return FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)


def open_read(path: str) -> BinaryIO:
  return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def write_bytes(path: str, data: bytes) -> None:
  with create(path) as f:
    f.write(data)


def read_bytes(path: str) -> bytes:
  with open_read(path) as f:
    return f.read()


def concatenate(sources: Iterable[str], dest: str, gzip_output: bool) -> int:
  """Streams the raw bytes of ``sources`` in order into ``dest``; returns bytes copied.

  Memory stays at one copy buffer whatever the sizes. gzip output uses mtime=0 so that the
  same input gives byte-identical files on every run.
  """
  copied = 0
  with create(dest) as raw:
    out: BinaryIO = tfrecord.gzip_writer(raw) if gzip_output else raw
    try:
      for src in sources:
        with open_read(src) as f:
          while True:
            block = f.read(_COPY_BUFFER)
            if not block:
              break
            out.write(block)
            copied += len(block)
    finally:
      if out is not raw:
        out.close()
  return copied


def rename(sources: List[str], dests: List[str]) -> None:
  """Moves files into place, replacing existing *files*: the commit step of an atomic output.

  A destination that is a directory is never removed (it would take the user's files with it):
  that is an error the output-path preflight reports before any work; reaching it here means
  the directory appeared during the run.
  """
  for src, dst in zip(sources, dests):
    if "://" not in dst:
      if os.path.isdir(dst):
        raise IsADirectoryError(21, "is a directory; not replaced", dst)
      os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
      os.replace(src, dst)
      continue
    if dst.endswith("/"):
      raise IsADirectoryError(21, "is a directory prefix; not replaced", dst)
    if FileSystems.exists(dst):
      FileSystems.delete([dst])
    FileSystems.rename([src], [dst])


def delete_tree(path: str) -> None:
  """Removes a directory (or prefix) and everything under it, if present."""
  if "://" not in path:
    import shutil
    shutil.rmtree(path, ignore_errors=True)
    return
  matches = FileSystems.match([path.rstrip("/") + "/**"])[0].metadata_list
  if matches:
    FileSystems.delete([m.path for m in matches])


def glob(pattern: str) -> List[str]:
  return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def size(path: str) -> int:
  return FileSystems.match([path])[0].metadata_list[0].size_in_bytes


__all__ = ["join", "dirname", "basename", "exists", "makedirs", "create", "open_read",
           "write_bytes", "read_bytes", "concatenate", "rename", "delete_tree", "glob", "size"]
