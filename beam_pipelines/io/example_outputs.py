"""Where make_examples writes: temporary chunks and shards, then an all-or-nothing commit.

Why this shape: work units finish in any order on any worker, but every output shard must hold
its examples in genome order and appear only when complete. Each unit writes its examples to
one uncompressed chunk file; each shard is then assembled by streaming its units' chunks in
unit order into a gzip file inside the run's temporary directory (memory: one copy buffer);
only after the whole pipeline succeeded does the driver move the shards into place and write
``example_info.json`` beside each. A failed run leaves no shard that looks finished; before
any work, :meth:`ExampleOutputs.preflight` applies the output-path policy
(schemas.output_paths): a directory is never taken for a file, and an earlier run's files are
replaced, file by file, only with ``--overwrite``. Paths go through Beam FileSystems, so the
same layout works on gs:// with Dataflow.
"""
from __future__ import annotations

import dataclasses
import json
import os
import uuid
from typing import Dict, List, Optional, Sequence

from beam_pipelines.io import filesystem as fs
from schemas import example_info
from schemas import output_paths
from schemas import sharding
from schemas import tfrecord


@dataclasses.dataclass(frozen=True)
class ExampleOutputs:
  """The run's output files and its private temporary directory."""
  spec: str
  final_paths: Sequence[str]
  tmp_dir: str
  # False for shards that are not examples (the gVCF records): no example_info.json, no
  # summary beside them.
  examples: bool = True

  @classmethod
  def for_spec(cls, spec: str, run_id: Optional[str] = None,
               examples: bool = True) -> "ExampleOutputs":
    finals = sharding.sharded_filenames(spec) if sharding.is_sharded(spec) else [spec]
    out_dir = fs.dirname(finals[0]) or "."
    run_id = run_id or uuid.uuid4().hex[:12]
    return cls(spec=spec, final_paths=tuple(finals),
               tmp_dir=fs.join(out_dir, f".pileflow-tmp-{fs.basename(finals[0])}-{run_id}"),
               examples=examples)

  def all_paths(self) -> List[str]:
    """Every file a finished run leaves: shards, their example_info.json, the summary."""
    if not self.examples:
      return list(self.final_paths)
    return (list(self.final_paths)
            + [example_info.example_info_path(p) for p in self.final_paths]
            + [self.summary_path()])

  def preflight(self, overwrite: bool, flag: str = "--examples") -> None:
    """Refuses directories and (without ``overwrite``) earlier outputs; probes the folder."""
    output_paths.check_file_outputs(self.all_paths(), flag, overwrite, shown=self.spec)

  @property
  def num_shards(self) -> int:
    return len(self.final_paths)

  def chunk_path(self, unit_index: int) -> str:
    return fs.join(self.tmp_dir, "chunks", f"unit-{unit_index:09d}.tfrecord")

  def tmp_shard_path(self, shard: int) -> str:
    return fs.join(self.tmp_dir, "shards", fs.basename(self.final_paths[shard]))

  def shard_info_path(self, shard: int) -> str:
    return self.tmp_shard_path(shard) + ".info.json"

  def gzip(self, shard: int) -> bool:
    return tfrecord.is_gzip_path(self.final_paths[shard])

  def summary_path(self) -> str:
    prefix = sharding.parse_sharded_spec(self.spec).prefix if sharding.is_sharded(self.spec) \
        else self.spec
    return prefix + ".summary.json"

  # ---- steps run on workers -------------------------------------------------------------------
  def write_chunk(self, unit_index: int, records: Sequence[bytes]) -> str:
    path = self.chunk_path(unit_index)
    with fs.create(path) as f:
      for payload in records:
        f.write(tfrecord.frame_record(payload))
    return path

  def assemble_shard(self, shard: int, chunks: Sequence[str], info: Dict) -> None:
    """Concatenates ``chunks`` (already in unit order) into the shard's temporary file."""
    fs.concatenate(chunks, self.tmp_shard_path(shard), gzip_output=self.gzip(shard))
    fs.write_bytes(self.shard_info_path(shard), json.dumps(info, sort_keys=True).encode())

  # ---- driver steps ---------------------------------------------------------------------------
  def shard_infos(self) -> List[Optional[Dict]]:
    out = []
    for shard in range(self.num_shards):
      path = self.shard_info_path(shard)
      out.append(json.loads(fs.read_bytes(path)) if fs.exists(path) else None)
    return out

  def commit(self, channels: Sequence[int]) -> List[Dict]:
    """Moves every shard into place, writes example_info.json beside each; returns infos.

    Shards that received no unit (more shards than units) are written empty, as DeepVariant's
    tasks do, so a sharded spec always resolves to N files.
    """
    infos = self.shard_infos()
    for shard, info in enumerate(infos):
      if info is None:
        fs.concatenate([], self.tmp_shard_path(shard), gzip_output=self.gzip(shard))
        infos[shard] = {"examples": 0, "shape": None, "units": 0}
    fs.rename([self.tmp_shard_path(s) for s in range(self.num_shards)], list(self.final_paths))
    for final, info in zip(self.final_paths, infos):
      if not self.examples:
        continue
      fs.write_bytes(example_info.example_info_path(final),
                     example_info.example_info_json(info["shape"], channels).encode())
    fs.delete_tree(self.tmp_dir)
    return infos

  def abort(self, remove_empty_dir: bool = False) -> None:
    """Removes the run's temporary files; ``remove_empty_dir``: also the output folder if the
    run created it and it is still empty (a failed run leaves nothing behind)."""
    fs.delete_tree(self.tmp_dir)
    out_dir = fs.dirname(self.final_paths[0])
    if remove_empty_dir and out_dir and not output_paths.is_remote(out_dir):
      try:
        os.rmdir(out_dir)
      except OSError:
        pass  # not empty, or not ours to remove
