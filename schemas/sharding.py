"""Sharded file specs ``name@N.suffix`` (spec 1.2).

Why: every make_examples task k of N writes its own file, and the same spec names examples,
candidates, gVCF and runtime files. DeepVariant's naming must be reproduced exactly so its
tools (and ours) find the shards:

    foo.tfrecord@16.gz -> foo.tfrecord-00000-of-00016.gz ... foo.tfrecord-00015-of-00016.gz
    foo.gz@3           -> foo.gz-00000-of-00003 (nothing after @N: empty suffix)

Shard index and count are zero-padded to ``max(5, digits(N))``. A name without ``@`` is one
unsharded file. A file name with an ``@`` that is not a valid ``@N`` (``out@x.gz``, ``out@0.gz``,
``out@.gz``) is refused: taking it as a literal file name would silently write one file where
the user asked for shards.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Callable, Iterable, List, Optional

from schemas.errors import InputError

_SPEC_RE = re.compile(r"^(.*)@(\d*[1-9]\d*)(?:\.(.+))?$")


class ShardSpecError(InputError):
  """A file name with an ``@`` that is not a valid ``name@N[.suffix]`` sharded spec."""


@dataclasses.dataclass(frozen=True)
class ShardedSpec:
  """A parsed ``prefix@N.suffix``; ``suffix`` includes its leading dot (or is empty)."""
  prefix: str
  num_shards: int
  suffix: str

  @property
  def width(self) -> int:
    return max(5, len(str(self.num_shards)))

  def filename(self, task: int) -> str:
    """Name of shard ``task`` (0-based)."""
    if not 0 <= task < self.num_shards:
      raise ValueError(f"shard {task} out of range for {self.num_shards} shards")
    w = self.width
    return f"{self.prefix}-{task:0{w}d}-of-{self.num_shards:0{w}d}{self.suffix}"

  def glob(self) -> str:
    """Glob matching every shard: ``foo.tfrecord-?????-of-00016.gz``."""
    return f"{self.prefix}-{'?' * self.width}-of-{self.num_shards:0{self.width}d}{self.suffix}"


def parse_sharded_spec(spec: str) -> Optional[ShardedSpec]:
  """The parsed spec, or None when ``spec`` names a single unsharded file.

  Raises:
    ShardSpecError: the file name has an ``@`` but no valid shard count after it.
  """
  m = _SPEC_RE.match(spec)
  if not m:
    if "@" in spec.rsplit("/", 1)[-1]:
      raise ShardSpecError(f"{spec}: malformed sharded file spec; expected NAME@N or "
                           "NAME@N.SUFFIX with N >= 1 (e.g. out/examples.tfrecord@4.gz)")
    return None
  prefix, count, suffix = m.groups()
  return ShardedSpec(prefix, int(count), "." + suffix if suffix else "")


def is_sharded(spec: str) -> bool:
  """True for ``name@N[.suffix]``; raises ShardSpecError for a malformed ``@``."""
  return parse_sharded_spec(spec) is not None


def num_shards(spec: str) -> int:
  """N of ``x@N``; 1 for an unsharded name (one task writes it)."""
  parsed = parse_sharded_spec(spec)
  return parsed.num_shards if parsed else 1


def sharded_filename(spec: str, task: int) -> str:
  """The file task ``task`` writes; an unsharded name is returned as is (task must be 0)."""
  parsed = parse_sharded_spec(spec)
  if parsed is None:
    if task != 0:
      raise ValueError(f"{spec!r} is not sharded; only task 0 exists, got task {task}")
    return spec
  return parsed.filename(task)


def sharded_filenames(spec: str) -> List[str]:
  """All files of ``spec`` in shard order; ``[spec]`` when unsharded."""
  parsed = parse_sharded_spec(spec)
  if parsed is None:
    return [spec]
  return [parsed.filename(k) for k in range(parsed.num_shards)]


def glob_pattern(spec: str) -> str:
  """Glob matching every shard of ``spec`` (the name itself when unsharded)."""
  parsed = parse_sharded_spec(spec)
  return parsed.glob() if parsed else spec


def resolve_files(spec: str, flag: str, exists: Callable[[str], bool],
                  glob: Callable[[str], Iterable[str]]) -> List[str]:
  """Files of a file flag: comma-separated paths, globs or sharded specs (``x@N.gz``), in the
  order given, each once. Raises ValueError naming ``flag`` when a sharded spec lacks a shard,
  a path or glob matches nothing, or the whole is empty.

  ``exists`` / ``glob`` are the caller's filesystem (local, GCS, ...), so this stays pure and
  every entry point that takes such a flag shares one rule.
  """
  files: List[str] = []
  for part in (p.strip() for p in spec.split(",")):
    if not part:
      continue
    if is_sharded(part):
      names = sharded_filenames(part)
      missing = [n for n in names if not exists(n)]
      if missing:
        raise ValueError(f"{flag} {part}: {len(missing)} of {len(names)} shards missing, "
                         f"e.g. {missing[0]}")
      files.extend(names)
    else:
      matched = sorted(glob(part))
      if not matched:
        raise ValueError(f"{flag} {part}: no such file")
      files.extend(matched)
  if not files:
    raise ValueError(f"{flag}: empty")
  return list(dict.fromkeys(files))
