"""Calling throughput: beam_pipelines.call (one process) vs beam_pipelines.call_variants (RunInference).

Usage::

    .venv/bin/python bench/call_variants.py --examples 'OUT/calling/short30x/test.tfrecord@4.gz' \\
        --checkpoint OUT/models/base-s1 [--ref OUT/genome/reference.fa]

(the case study's calling examples and base model, ``bash bench/case_study.sh OUT``). Every
path runs the same model over the same examples; printed per path: wall s, CPU s of the
process tree, examples/s, examples/s per CPU-second (one core busy for one second), peak RSS,
and the ratio to the single-process path. The two Beam runs must also write the same bytes
(checked here; the test suite checks it on small data).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import common  # noqa: E402
from schemas import tfrecord  # noqa: E402


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--examples", required=True)
  p.add_argument("--checkpoint", required=True)
  p.add_argument("--ref", default="", help="reference (for the beam_pipelines.call path's VCF)")
  p.add_argument("--batch_size", type=int, default=256)
  args = p.parse_args(argv)
  ref = args.ref or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
      args.examples.split("@")[0]))), "genome", "reference.fa")
  tmp = tempfile.mkdtemp(prefix="bench-call-")
  rows = []
  try:
    paths = [
        ("beam_pipelines.call (1 process, examples -> VCF)",
         [common.PY, "-m", "beam_pipelines.call", "--examples", args.examples, "--model",
          args.checkpoint, "--ref", ref, "--outfile", f"{tmp}/call.vcf.gz",
          "--batch_size", str(args.batch_size)]),
        ("call_variants, DirectRunner 1 worker",
         [common.PY, "-m", "beam_pipelines.call_variants", "--examples", args.examples,
          "--checkpoint", args.checkpoint, "--outfile", f"{tmp}/one@2.tfrecord.gz",
          "--batch_size", str(args.batch_size)]),
        ("call_variants, DirectRunner 2 processes",
         [common.PY, "-m", "beam_pipelines.call_variants", "--examples", args.examples,
          "--checkpoint", args.checkpoint, "--outfile", f"{tmp}/two@2.tfrecord.gz",
          "--batch_size", str(args.batch_size), "--direct_running_mode=multi_processing",
          "--direct_num_workers=2"]),
    ]
    n = None
    for name, cmd in paths:
      r = common.run_sampled(cmd)
      if n is None:
        files = [f for part in args.examples.split(",") for f in _expand(part)]
        n = sum(1 for f in files for _ in tfrecord.read_records(f))
      rows.append({"path": name, "wall s": f"{r['wall_s']:.1f}", "CPU s": f"{r['cpu_s']:.1f}",
                   "examples/s": f"{n / r['wall_s']:.0f}",
                   "examples per CPU-s": f"{n / max(r['cpu_s'], 1e-9):.0f}",
                   "peak RSS MiB": f"{r['peak_tree_rss_mib']:.0f}", "_wall": r["wall_s"]})
    for k in range(2):
      one = open(f"{tmp}/one-{k:05d}-of-00002.tfrecord.gz", "rb").read()
      two = open(f"{tmp}/two-{k:05d}-of-00002.tfrecord.gz", "rb").read()
      if one != two:
        print("call_variants: 1-worker and 2-process outputs DIFFER", file=sys.stderr)
        return 1
    base = rows[0]["_wall"]
    for row in rows:
      row["wall vs beam_pipelines.call"] = f"{row.pop('_wall') / base:.2f}x"
    print(f"{n} calling examples, model {args.checkpoint}, batch {args.batch_size}, "
          f"{os.cpu_count()} cores")
    print(common.table(rows, ["path", "wall s", "CPU s", "examples/s", "examples per CPU-s",
                              "peak RSS MiB", "wall vs beam_pipelines.call"]))
    print("the two call_variants runs wrote byte-identical shards")
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return 0


def _expand(spec: str):
  from schemas import sharding
  import glob
  return sharding.sharded_filenames(spec) if sharding.is_sharded(spec) else sorted(glob.glob(spec))


if __name__ == "__main__":
  sys.exit(main())
