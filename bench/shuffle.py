"""Benchmark: the global shuffle's throughput and peak RSS at three sizes, vs DeepVariant's way.

  .venv/bin/python bench/shuffle.py            # 0.2, 0.63 and 2.0 GB compressed (long: ~1 h
                                               # on 2 cores; data is generated once and cached)
  .venv/bin/python bench/shuffle.py --quick    # 1, 3 and 10 MB: a < 1 min smoke test

What runs, per size (same files for every contender):
* ours: ``python -m beam_pipelines.shuffle`` on DirectRunner multi_processing with
  ``--workers`` workers and ``--memory_budget``; peak RSS is the sampled SUM over the whole
  process tree (driver + workers), CPU from getrusage of the tree.
* DeepVariant's approach (spec 8.2), at the two smaller sizes: ReadFromTFRecord -> (sha1, x)
  -> GroupByKey -> values -> WriteToTFRecord on DirectRunner (in-memory, its local default). It is
  killed if its tree RSS passes ``--dv_rss_cap`` (reported as ">cap, killed").
* the floor: ``cat files | zcat | gzip -6`` over the same bytes (decompress + recompress once,
  what any shuffle must at least do).
The fixed overhead is the peak RSS of ours on a ~1 MB dataset; the check printed at the end is
peak <= budget + overhead and largest <= 1.5 x smallest. Figures are printed, never asserted.

Records: real DeepVariant v1.5 golden examples (100x221x6, ~133 KB raw, ~6.3 KB gzipped), made
unique per record (variant start and locus change, image kept), so each record is distinct but
compresses like a real one. To generate GBs fast, each record's image map entry is gzipped once
per pool record and written as its own gzip member (a multi-member gzip file is one valid stream
for zcat, Python and TensorFlow); only the small per-record part is compressed per record.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zlib
from typing import Dict, List

import google_crc32c

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import common  # noqa: E402

DATA = os.path.join(common.ROOT, "..", "shared", "data", "giab-chr20")
GOLDEN = os.path.join(DATA, "golden.training_examples.tfrecord.gz")
FULL_SIZES_MB = (200, 630, 2000)
QUICK_SIZES_MB = (1, 3, 10)


# ---- data --------------------------------------------------------------------------------------
def _varint(n: int) -> bytes:
  out = bytearray()
  while True:
    b = n & 0x7F
    n >>= 7
    out.append(b | (0x80 if n else 0))
    if not n:
      return bytes(out)


class _Pool:
  """Golden records split into (image map entry, gzip member of it, the other features)."""

  def __init__(self):
    from schemas import example_format as ef
    from schemas import tfrecord
    from schemas.protos import tfexample_pb2, variants_pb2
    self._ef, self._tf, self._vpb = ef, tfexample_pb2, variants_pb2
    self.items = []
    for payload in tfrecord.read_records(GOLDEN):
      ex = tfexample_pb2.Example.FromString(payload)
      img = tfexample_pb2.Features()
      img.feature[ef.IMAGE_ENCODED].CopyFrom(ex.features.feature[ef.IMAGE_ENCODED])
      img_entry = img.SerializeToString()
      self.items.append((ex, img_entry, gzip.compress(img_entry, 6, mtime=0)))

  def record(self, i: int):
    """(framed-record prefix, image member, image entry, other-features bytes) of record i."""
    ex, img_entry, img_member = self.items[i % len(self.items)]
    ef = self._ef
    rest = self._tf.Features()
    for key, feature in ex.features.feature.items():
      if key != ef.IMAGE_ENCODED:
        rest.feature[key].CopyFrom(feature)
    variant = self._vpb.Variant.FromString(rest.feature[ef.VARIANT_ENCODED].bytes_list.value[0])
    shift = (i // len(self.items) + 1) * 100_000
    variant.start += shift
    variant.end += shift
    rest.feature[ef.VARIANT_ENCODED].bytes_list.value[0] = variant.SerializeToString()
    rest.feature[ef.LOCUS].bytes_list.value[0] = ef.locus_string(variant).encode()
    rest_bytes = rest.SerializeToString(deterministic=True)
    features_len = len(rest_bytes) + len(img_entry)
    example_head = b"\x0a" + _varint(features_len) + rest_bytes
    length = (len(example_head) + len(img_entry)).to_bytes(8, "little")
    from schemas.tfrecord import masked_crc32c
    head = length + masked_crc32c(length).to_bytes(4, "little") + example_head
    crc = google_crc32c.extend(google_crc32c.value(example_head), img_entry)
    masked = ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    return head, img_member, masked.to_bytes(4, "little")


def make_dataset(work: str, size_mb: int, files: int = 8) -> Dict:
  """Writes ~size_mb MB of gzipped TFRecords under work/in-<size>/ (cached); returns facts."""
  d = os.path.join(work, f"in-{size_mb}mb")
  meta = os.path.join(d, "meta.json")
  if os.path.exists(meta):
    return json.load(open(meta))
  shutil.rmtree(d, ignore_errors=True)
  os.makedirs(d)
  pool = _Pool()
  target = size_mb * 1_000_000
  per_file = target // files
  n = 0
  total = 0
  started = time.time()
  for f in range(files):
    path = os.path.join(d, f"examples.tfrecord-{f:05d}-of-{files:05d}.gz")
    written = 0
    tail = b""
    with open(path, "wb") as out:
      while written < per_file:
        head, img_member, crc = pool.record(n)
        small = gzip.compress(tail + head, 6, mtime=0)
        out.write(small)
        out.write(img_member)
        written += len(small) + len(img_member)
        tail = crc
        n += 1
      last = gzip.compress(tail, 6, mtime=0)
      out.write(last)
      written += len(last)
    total += written
  shutil.copy(GOLDEN + ".example_info.json", os.path.join(d, "examples.tfrecord.example_info.json"))
  facts = {"dir": d, "pattern": os.path.join(d, "examples.tfrecord-*.gz"), "records": n,
           "bytes": total, "gen_s": round(time.time() - started, 1)}
  json.dump(facts, open(meta, "w"))
  return facts


# ---- contenders --------------------------------------------------------------------------------
def run_ours(data: Dict, work: str, budget: str, workers: int, num_shards: int) -> Dict:
  out = os.path.join(work, "out-ours", os.path.basename(data["dir"]))
  shutil.rmtree(out, ignore_errors=True)
  cmd = [common.PY, "-m", "beam_pipelines.shuffle", "--input_pattern_list", data["pattern"],
         "--output_pattern_prefix", os.path.join(out, "shuffled"), "--num_shards",
         str(num_shards), "--memory_budget", budget, "--allow_label_imbalance",
         "--runner", "DirectRunner", "--direct_running_mode=multi_processing",
         f"--direct_num_workers={workers}"]
  r = common.run_sampled(cmd)
  manifest = json.load(open(os.path.join(out, "shuffled.manifest.json")))
  assert manifest["num_examples"] == data["records"], "ours lost or added records"
  r["shuffle"] = manifest["shuffle"]
  shutil.rmtree(out, ignore_errors=True)
  return r


def _dv_pipeline(pattern: str, prefix: str) -> None:
  """DeepVariant v1.5's shuffle (spec 8.2), run on DirectRunner in this process."""
  import apache_beam as beam
  from apache_beam.options.pipeline_options import PipelineOptions
  with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as p:
    _ = (p | beam.io.ReadFromTFRecord(pattern, coder=beam.coders.BytesCoder())
         | beam.Map(lambda x: (hashlib.sha1(x).digest(), x))
         | beam.GroupByKey()
         | beam.FlatMap(lambda kv: kv[1])
         | beam.io.WriteToTFRecord(prefix, coder=beam.coders.BytesCoder(),
                                   file_name_suffix=".tfrecord.gz"))


def run_dv(data: Dict, work: str, cap_bytes: int) -> Dict:
  out = os.path.join(work, "out-dv", os.path.basename(data["dir"]))
  shutil.rmtree(out, ignore_errors=True)
  os.makedirs(out)
  r = common.run_sampled([common.PY, os.path.abspath(__file__), "--_dv", data["pattern"],
                          os.path.join(out, "shuffled")], cap_bytes=cap_bytes)
  shutil.rmtree(out, ignore_errors=True)
  return r


def run_floor(data: Dict) -> Dict:
  files = " ".join(sorted(os.path.join(data["dir"], f) for f in os.listdir(data["dir"])
                          if f.endswith(".gz")))
  return common.run_measured(["bash", "-c", f"cat {files} | zcat | gzip -6 > /dev/null"])


# ---- main --------------------------------------------------------------------------------------
def main() -> int:
  ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  ap.add_argument("--quick", action="store_true",
                  help="1, 3, 10 MB (smoke test, < 1 min; overhead = the 1 MB run's peak)")
  ap.add_argument("--sizes_mb", default="", help="comma-separated compressed sizes in MB")
  ap.add_argument("--work_dir", default="/tmp/pileflow-bench-shuffle")
  ap.add_argument("--memory_budget", default="", help="default 512M (64M with --quick)")
  ap.add_argument("--workers", type=int, default=2)
  ap.add_argument("--num_shards", type=int, default=4)
  ap.add_argument("--dv_rss_cap_gb", type=float, default=0.0,
                  help="kill DeepVariant's run above this tree RSS (default 60%% of RAM)")
  ap.add_argument("--_dv", nargs=2, help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args._dv:
    _dv_pipeline(*args._dv)
    return 0
  sizes = [int(s) for s in args.sizes_mb.split(",") if s] or \
      list(QUICK_SIZES_MB if args.quick else FULL_SIZES_MB)
  budget = args.memory_budget or ("64M" if args.quick else "512M")
  from beam_pipelines.core.shuffle_plan import parse_memory
  budget_b = parse_memory(budget)
  import psutil
  cap = int(args.dv_rss_cap_gb * 2**30) if args.dv_rss_cap_gb else \
      int(psutil.virtual_memory().total * 0.6)
  os.makedirs(args.work_dir, exist_ok=True)
  print(f"# shuffle bench: sizes {sizes} MB, budget {budget}, {args.workers} workers, "
        f"{args.num_shards} shards, {os.cpu_count()} CPUs, DV cap {cap / 2**30:.1f} GiB")
  overhead_mib = None
  if not args.quick:
    tiny = make_dataset(args.work_dir, 1)
    overhead = run_ours(tiny, args.work_dir, budget, args.workers, args.num_shards)
    overhead_mib = overhead["peak_tree_rss_mib"]
    print(f"# fixed overhead (ours on {tiny['records']} records, 1 MB): "
          f"{overhead_mib:.0f} MiB peak tree RSS")
  rows = []
  for i, size in enumerate(sizes):
    data = make_dataset(args.work_dir, size)
    n = data["records"]
    print(f"# {size} MB: {n} records, {data['bytes'] / 1e6:.0f} MB, "
          f"{data['bytes'] / n / 1e3:.1f} KB/record (generated in {data['gen_s']} s)",
          flush=True)
    floor = run_floor(data)
    ours = run_ours(data, args.work_dir, budget, args.workers, args.num_shards)
    row = {"size_MB": round(data["bytes"] / 1e6), "records": n,
           "ours_ex/s": round(n / ours["wall_s"]),
           "ours_ex/s/core": round(n / max(ours["cpu_s"], 1e-9)),
           "ours_peak_MiB": round(ours["peak_tree_rss_mib"]),
           "buckets": ours["shuffle"]["num_buckets"],
           "max_bucket_MiB": round(ours["shuffle"]["max_bucket_bytes"] / 2**20, 1),
           "floor_ex/s": round(n / floor["wall_s"]),
           "floor_ex/s/core": round(n / max(floor["cpu_s"], 1e-9)),
           "ours/floor": round(floor["wall_s"] / ours["wall_s"], 2),
           "ours/floor_per_core": round(floor["cpu_s"] / ours["cpu_s"], 2)}
    if i < 2:
      dv = run_dv(data, args.work_dir, cap)
      row["dv_ex/s"] = "killed" if dv["killed"] else round(n / dv["wall_s"])
      row["dv_peak_MiB"] = (f">{cap / 2**20:.0f} (killed)" if dv["killed"]
                            else round(dv["peak_tree_rss_mib"]))
    rows.append(row)
    print(common.table([row], list(row)), flush=True)
  cols = ["size_MB", "records", "ours_ex/s", "ours_ex/s/core", "ours_peak_MiB", "buckets",
          "max_bucket_MiB", "dv_ex/s", "dv_peak_MiB", "floor_ex/s", "floor_ex/s/core",
          "ours/floor", "ours/floor_per_core"]
  print()
  print(common.table(rows, cols))
  peaks = [r["ours_peak_MiB"] for r in rows]
  if overhead_mib is None:  # --quick: the smallest run stands in for the fixed overhead
    overhead_mib = peaks[0]
  limit = budget_b / 2**20 + overhead_mib
  print(f"\nours peak RSS largest/smallest = {peaks[-1] / peaks[0]:.2f} (want <= 1.5); "
        f"max peak {max(peaks)} MiB vs budget {budget_b / 2**20:.0f} MiB + overhead "
        f"{overhead_mib:.0f} MiB = {limit:.0f} MiB ({'OK' if max(peaks) <= limit else 'OVER'})")
  dv_peaks = [r["dv_peak_MiB"] for r in rows if "dv_peak_MiB" in r]
  if len(dv_peaks) == 2 and all(isinstance(p, int) for p in dv_peaks):
    print(f"DeepVariant's approach: peak RSS grows {dv_peaks[1] / dv_peaks[0]:.2f}x for "
          f"{rows[1]['records'] / rows[0]['records']:.2f}x the records")
  return 0


if __name__ == "__main__":
  sys.exit(main())
