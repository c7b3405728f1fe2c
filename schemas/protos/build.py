"""Compiles schemas/protos/*.proto into *_pb2.py modules with grpcio-tools' protoc.

Why generate instead of committing the *_pb2.py files: generated code is tied to the protoc
version that made it (protobuf checks gencode against its runtime at import), so the modules are
built where they run, from the .proto sources, which are the single source of truth.

Two callers:

* the packaging step: setup.py's custom ``build_py`` calls ``compile_protos(self.build_lib)``
  so wheels ship the generated modules. This module imports nothing outside the standard
  library at module level (grpc_tools only inside ``compile_protos``), so setup.py may load it
  by file path (``importlib.util.spec_from_file_location``) without importing ``schemas``;
* ``schemas/__init__.py`` calls ``ensure_compiled()`` on first import, which compiles only when
  a generated module is missing or older than its .proto (a source checkout or editable
  install). It writes into the package directory when that is writable, else into a per-user
  cache directory that it appends to ``schemas.protos.__path__``.

The .proto files are compiled with the repository root as the proto path and import each other
as ``import "schemas/protos/struct.proto"``, so the generated modules import each other as
``from schemas.protos import struct_pb2``: they resolve wherever the ``schemas`` package does.

Concurrency: every compilation writes into a private temporary directory next to its target
and then moves each finished module into place with ``os.replace`` (atomic on POSIX), so a
process importing at the same moment sees either no module or a complete one, never a partial
file. Two processes compiling at once both produce identical files; the last rename wins.
"""
from __future__ import annotations

import glob
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from typing import List, Optional

# Directory holding the .proto sources (and, normally, the generated modules).
PROTO_DIR = os.path.dirname(os.path.abspath(__file__))
# Proto path root: the directory that contains the `schemas` package.
_PROTO_ROOT = os.path.dirname(os.path.dirname(PROTO_DIR))
# Package-relative location of the protos under a proto root / output root.
_REL_DIR = os.path.join("schemas", "protos")

# Overrides the fallback directory used when the package directory is read-only.
CACHE_DIR_ENV = "PILEFLOW_SCHEMAS_CACHE_DIR"


class ProtoCompileError(RuntimeError):
  """protoc failed or is unavailable; the message carries protoc's own output."""


def proto_files() -> List[str]:
  """Sorted absolute paths of the .proto sources shipped in schemas/protos/."""
  return sorted(glob.glob(os.path.join(PROTO_DIR, "*.proto")))


def _module_name(proto_path: str) -> str:
  return os.path.splitext(os.path.basename(proto_path))[0] + "_pb2.py"


def compile_protos(out_dir: str) -> List[str]:
  """Compiles every .proto into ``<out_dir>/schemas/protos/<name>_pb2.py``; returns the paths.

  ``out_dir`` is an output *root* (a build_lib, a site-packages, the repository root), not the
  protos directory itself, because protoc places modules at their package-relative path.

  Raises:
    ProtoCompileError: grpcio-tools is not installed or protoc rejected a file.
  """
  protos = proto_files()
  if not protos:
    raise ProtoCompileError(f"no .proto files found in {PROTO_DIR}")
  target_dir = os.path.join(out_dir, _REL_DIR)
  os.makedirs(target_dir, exist_ok=True)
  init_path = os.path.join(target_dir, "__init__.py")
  if not os.path.exists(init_path):
    # Only happens for a bare output root (cache dir); a real package already has one.
    _atomic_write(init_path, b'"""Generated protobuf modules (see schemas/protos/build.py)."""\n')
  tmp_root = tempfile.mkdtemp(prefix=".protoc-tmp-", dir=target_dir)
  try:
    rel_sources = [os.path.relpath(p, _PROTO_ROOT) for p in protos]
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"--proto_path={_PROTO_ROOT}",
           f"--python_out={tmp_root}"] + rel_sources
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
      detail = (result.stderr or result.stdout).strip()
      if "No module named grpc_tools" in detail:
        detail += " (pip install grpcio-tools to compile schemas/protos/*.proto)"
      raise ProtoCompileError(
          f"protoc failed compiling {', '.join(rel_sources)} (exit {result.returncode}): {detail}")
    written = []
    for proto in protos:
      name = _module_name(proto)
      produced = os.path.join(tmp_root, _REL_DIR, name)
      if not os.path.exists(produced):
        raise ProtoCompileError(f"protoc reported success but did not write {name}")
      final = os.path.join(target_dir, name)
      os.replace(produced, final)
      written.append(final)
    return written
  finally:
    shutil.rmtree(tmp_root, ignore_errors=True)


def _atomic_write(path: str, data: bytes) -> None:
  fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def _is_current(module_dir: str) -> bool:
  """True when every .proto has a generated module at least as new as the .proto."""
  for proto in proto_files():
    module = os.path.join(module_dir, _module_name(proto))
    try:
      if os.path.getmtime(module) < os.path.getmtime(proto):
        return False
    except FileNotFoundError:
      return False
  return True


def _all_present(module_dir: str) -> bool:
  return all(os.path.exists(os.path.join(module_dir, _module_name(p))) for p in proto_files())


def _is_writable(path: str) -> bool:
  return os.access(path, os.W_OK)


def _cache_root() -> str:
  """Per-user cache root, keyed by the proto sources' content so edits never reuse stale code."""
  digest = hashlib.sha1()
  for proto in proto_files():
    with open(proto, "rb") as f:
      digest.update(os.path.basename(proto).encode() + b"\0" + f.read())
  base = os.environ.get(CACHE_DIR_ENV) or os.path.join(
      os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
      "pileflow", "schemas")
  return os.path.join(base, digest.hexdigest()[:16])


def ensure_compiled(package_writable: Optional[bool] = None) -> str:
  """Makes ``schemas.protos.<name>_pb2`` importable; returns the directory holding the modules.

  A no-op (a few stat calls) when the generated modules are present and current, which is the
  case in an installed wheel. ``package_writable`` overrides the writability check (tests).

  Raises:
    ProtoCompileError: modules are missing and cannot be compiled (no grpcio-tools).
  """
  if _is_current(PROTO_DIR):
    return PROTO_DIR
  writable = _is_writable(PROTO_DIR) if package_writable is None else package_writable
  if writable:
    try:
      compile_protos(_PROTO_ROOT)
    except ProtoCompileError as e:
      if not _all_present(PROTO_DIR):
        raise
      # Modules exist but look older than their .proto and protoc is unavailable here: use
      # them, loudly, rather than make an installed package unimportable.
      warnings.warn(f"schemas/protos: could not regenerate stale *_pb2.py ({e}); using them")
    importlib.invalidate_caches()
    return PROTO_DIR
  if _all_present(PROTO_DIR):
    # Read-only install whose mtimes look stale (e.g. unpacked in odd order): trust it.
    return PROTO_DIR
  cache_root = _cache_root()
  cache_dir = os.path.join(cache_root, _REL_DIR)
  if not _is_current(cache_dir):
    compile_protos(cache_root)
  import schemas.protos  # pylint: disable=g-import-not-at-top  (the package exists by now)
  if cache_dir not in schemas.protos.__path__:
    schemas.protos.__path__.append(cache_dir)
  importlib.invalidate_caches()
  return cache_dir


if __name__ == "__main__":
  # `python schemas/protos/build.py [OUT_ROOT]`: compile by hand (default: in place).
  for written_path in compile_protos(sys.argv[1] if len(sys.argv) > 1 else _PROTO_ROOT):
    print(written_path)
