"""Benchmark: make_examples core-seconds per Mbp, examples/s per core and peak RSS, with and
without local realignment.

  .venv/bin/python bench/make_examples.py               # simulated 5 Mbp, 30x, 2x150 bp
  .venv/bin/python bench/make_examples.py --data giab   # GIAB chr20 100 kb, ~52x, 2x101 bp
  .venv/bin/python bench/make_examples.py --mbp 0.5     # quick look
  .venv/bin/python bench/make_examples.py --data art    # ART HiSeq 2500 2x150 + bwa mem, 30x

Runs make_examples in training mode with 6 channels on DirectRunner in one process (one core, so
CPU seconds are core-seconds), once with ``--realign_reads=false`` and once with it on (the
default), and reports realignment's cost as the ratio of the two. The same run times ``samtools
view`` decoding the same BAM (the floor). Whole runs include a fixed start-up of ~3 core-s
(interpreter, Beam, pipeline construction), which is most of a run on the 100-kb GIAB window; so
the script also times the pipeline's own per-work-unit code in process, without start-up, which
is what a genome costs per Mbp, and takes realignment's ratio from that. The simulated data is
generated once and cached under --work_dir. ``--profile`` adds a cProfile of one slice. Figures
are printed, never asserted.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import common  # noqa: E402

GIAB = os.path.join(common.ROOT, "..", "shared", "data", "giab-chr20")
GIAB_REGION = ("chr20", 10_000_000, 10_100_000)


def simulate(work: str, mbp: float, coverage: float, seed: int) -> str:
  total = int(mbp * 1e6)
  lengths = [total * 3 // 5, total - total * 3 // 5] if total >= 200_000 else [total]
  contigs = ",".join(f"bench{i + 1}:{n}" for i, n in enumerate(lengths))
  out = os.path.join(work, f"sim-{mbp:g}mbp-{coverage:g}x-s{seed}")
  if not os.path.exists(os.path.join(out, "simulation.json")):
    r = common.run_measured([common.PY, "-m", "beam_pipelines.simulate", "--output_dir", out,
                             "--contigs", contigs, "--coverage", str(coverage),
                             "--seed", str(seed), "--overwrite"])
    print(f"simulated {mbp:g} Mbp at {coverage:g}x in {r['wall_s']:.1f} s -> {out}")
  return out


def art_dataset(args) -> dict:
  """Reads by outside tools, as in the case study (bench/case_study.py, whose steps this
  reuses): a simulated diploid genome of ``--mbp`` (one contig), haplotypes by ``bcftools
  consensus``, ART HiSeq 2500 2x150 bp at 15x per haplotype, ``bwa mem``, ``samtools sort``."""
  from bench import case_study as cs
  bp = int(args.mbp * 1_000_000)
  out = os.path.join(args.work_dir, f"art-{args.mbp:g}mbp-s{args.seed}")
  sz = cs.dataclasses.replace(cs.SMOKE, contigs=f"sim1:{bp}", art_fold=15)
  r = cs.Runner(out)
  genome = cs.make_genome(r, sz, args.seed)
  bams = cs.short_reads(r, sz, genome, args.seed)
  return {"ref": os.path.join(genome, "reference.fa"), "reads": bams["30x"],
          "truth": os.path.join(genome, "truth.vcf.gz"),
          "confident": os.path.join(genome, "confident.bed"), "regions": [], "bp": bp,
          "what": f"ART HiSeq 2500 2x150 bp + bwa mem, 30x, over a simulated {args.mbp:g} Mbp "
                  f"diploid genome"}


def dataset(args) -> dict:
  """Input files, the region(s) to run and a description."""
  if args.data == "art":
    return art_dataset(args)
  if args.data == "giab":
    contig, start, end = GIAB_REGION
    return {"ref": os.path.join(GIAB, "ucsc.hg19.chr20.unittest.fasta.gz"),
            "reads": os.path.join(GIAB, "NA12878_S1.chr20.10_10p1mb.bam"),
            "truth": os.path.join(GIAB, "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"),
            "confident": os.path.join(GIAB, "test_nist.b37_chr20_100kbp_at_10mb.bed"),
            "regions": [f"{contig}:{start + 1}-{end}"],
            "bp": end - start,
            "what": "GIAB NA12878 chr20:10,000,001-10,100,000, ~52x 2x101 bp"}
  sim = simulate(args.work_dir, args.mbp, args.coverage, args.seed)
  meta = json.load(open(os.path.join(sim, "simulation.json")))
  contigs = meta["config"]["contigs"]
  total_bp = sum(c[1] if isinstance(c, list) else c["length"] for c in contigs)
  return {"ref": os.path.join(sim, "reference.fa"), "reads": os.path.join(sim, "reads.bam"),
          "truth": os.path.join(sim, "truth.vcf.gz"),
          "confident": os.path.join(sim, "confident.bed"), "regions": [],
          "bp": total_bp,
          "what": f"simulated {total_bp / 1e6:g} Mbp, {args.coverage:g}x 2x150 bp"}


def me_args(data: dict, examples: str, extra=(), regions=None):
  regions = data["regions"] if regions is None else regions
  return ["--mode", "training", "--ref", data["ref"], "--reads", data["reads"],
          "--truth_variants", data["truth"], "--confident_regions", data["confident"],
          "--examples", examples, *(["--regions", *regions] if regions else []), *extra]


def run_make_examples(args, data: dict, extra):
  """(process-tree figures, summary.json) of one make_examples run."""
  out_dir = os.path.join(args.work_dir, "make_examples-out")
  shutil.rmtree(out_dir, ignore_errors=True)
  fig = common.run_sampled([common.PY, "-m", "beam_pipelines.make_examples",
                            *me_args(data, os.path.join(out_dir, "ex.tfrecord@4.gz"), extra)])
  summary = json.load(open(os.path.join(out_dir, "ex.tfrecord.summary.json")))
  return fig, summary


def _gzip(records) -> int:
  """Compressed size of ``records`` framed and gzipped as a shard is (schemas/tfrecord.py)."""
  import io
  from schemas import tfrecord
  buf = io.BytesIO()
  out = tfrecord.gzip_writer(buf)
  for r in records:
    out.write(tfrecord.frame_record(r))
  out.close()
  return buf.tell()


def unit_fn(data: dict, extra, regions=None):
  """(the pipeline's own per-unit DoFn, set up in this process; the run's plan): what the
  in-process figures time. A ``--model_type`` in ``extra`` is applied as the entry point
  applies it."""
  from beam_pipelines import make_examples, make_examples_config as cfg_lib, model_types
  from beam_pipelines.io import make_examples_inputs as inputs
  from beam_pipelines.transforms.make_examples import _MakeUnitExamplesFn
  argv = me_args(data, "/tmp/unused.tfrecord.gz", extra, regions)
  parser = argparse.ArgumentParser()
  cfg_lib.add_flags(parser)
  ns = parser.parse_args(argv)
  model_types.apply(ns, model_types.explicit_dests(parser, argv))
  cfg = cfg_lib.from_args(ns).validate()
  plan = inputs.plan(cfg)
  opts = make_examples.maker_options(cfg, plan.sample_name)
  fn = _MakeUnitExamplesFn(cfg.ref, tuple(cfg.reads), cfg.truth_variants,
                           cfg.confident_regions, opts, None, len(plan.units))
  fn.setup()
  return fn, plan


def work_cpu(data: dict, extra, repeats: int) -> dict:
  """CPU seconds of make_examples' per-work-unit work, in this process, without start-up.

  Runs the pipeline's own DoFn body (``_MakeUnitExamplesFn._make``: fetch and decode reads,
  filter, realign when asked, count, call, label, draw, encode) over every work unit, plus the
  gzip of the records at the shards' level; that is the work that grows with the genome, so its
  per-Mbp figure is what a whole genome costs beyond the fixed start-up. Best of ``repeats``.
  Also returns the sha256 of every record in output order (hashing not timed): equal digests
  before and after a speed change mean the same examples.
  """
  import contextlib
  import hashlib
  import io
  import time
  fn, plan = unit_fn(data, extra)
  best = None
  with contextlib.redirect_stderr(io.StringIO()):   # the DoFn's per-unit progress lines
    fn._make(plan.units[0])     # warm-up: numba cache load, lazy imports, first file reads
    for _ in range(repeats):
      examples = 0
      digest = hashlib.sha256()
      hashing = 0.0
      t0 = time.process_time()
      for unit in plan.units:
        records = fn._make(unit).records
        _gzip(records)
        examples += len(records)
        h0 = time.process_time()
        for r in records:
          digest.update(r)
        hashing += time.process_time() - h0
      cpu = time.process_time() - t0 - hashing
      best = cpu if best is None else min(best, cpu)
  fn.teardown()
  return {"cpu_s": best, "examples": examples, "sha256": digest.hexdigest()[:16]}


# (stage, module, attribute): the functions whose CPU the stage breakdown charges to a stage.
# The per-partition pipeline calls each of these by module attribute, so wrapping them here
# times exactly those calls (the realigner's own counting pass stays inside realignment).
STAGES = (
    ("decode (BAM query, records to Read)", "beam_pipelines.io.bam", "BamReader.fetch_many"),
    ("reference and truth fetch", "beam_pipelines.io.fasta", "FastaReader.window"),
    ("reference and truth fetch", "beam_pipelines.io.truth", "TruthReader.fetch"),
    ("realignment", "beam_pipelines.core.example_maker", "prepare_reads"),
    ("allele counting", "beam_pipelines.core.example_maker", "count_alleles"),
    ("candidates", "beam_pipelines.core.example_maker", "call_candidates"),
    ("labeling", "beam_pipelines.core.example_maker", "_label"),
    ("images", "beam_pipelines.core.alt_aligned", "build_images"),
    ("encoding (tf.Example protos)", "beam_pipelines.core.example_maker", "_encode"),
)


def stage_breakdown(data: dict, extra) -> list:
  """Rows of (stage, core-s) for one in-process pass over every work unit, by wrapping the
  functions in ``STAGES`` with CPU timers; "the rest" is filtering, downsampling and the
  per-partition glue. Compression is the shards' gzip of the records, as in ``work_cpu``."""
  import contextlib
  import importlib
  import io
  import time
  spent: dict = {}
  restore = []

  def timed(name, fn):
    def call(*a, **k):
      t0 = time.process_time()
      try:
        return fn(*a, **k)
      finally:
        spent[name] = spent.get(name, 0.0) + time.process_time() - t0
    return call

  def timed_iter(name, fn):
    def call(*a, **k):
      it = fn(*a, **k)
      while True:
        t0 = time.process_time()
        try:
          item = next(it)
        except StopIteration:
          spent[name] = spent.get(name, 0.0) + time.process_time() - t0
          return
        spent[name] = spent.get(name, 0.0) + time.process_time() - t0
        yield item
    return call

  for name, module, attr in STAGES:
    owner = importlib.import_module(module)
    holder_name, _, fn_name = attr.rpartition(".")
    holder = getattr(owner, holder_name) if holder_name else owner
    original = getattr(holder, fn_name)
    restore.append((holder, fn_name, original))
    wrap = timed_iter if fn_name == "fetch_many" else timed
    setattr(holder, fn_name, wrap(name, original))
  try:
    fn, plan = unit_fn(data, extra)
    with contextlib.redirect_stderr(io.StringIO()):
      fn._make(plan.units[0])   # warm-up, not counted
      spent.clear()
      t0 = time.process_time()
      for unit in plan.units:
        records = fn._make(unit).records
        c0 = time.process_time()
        _gzip(records)
        spent["compression (gzip)"] = spent.get("compression (gzip)", 0.0) + \
            time.process_time() - c0
      total = time.process_time() - t0
    fn.teardown()
  finally:
    for holder, fn_name, original in restore:
      setattr(holder, fn_name, original)
  rows = [(name, cpu) for name, cpu in spent.items()]
  rows.append(("the rest (filters, downsampling, glue)", total - sum(spent.values())))
  rows.append(("the whole timed pass", total))
  return rows


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--data", choices=("sim", "giab", "art"), default="sim")
  ap.add_argument("--mbp", type=float, default=5.0, help="simulated size (--data sim, art)")
  ap.add_argument("--coverage", type=float, default=30.0, help="simulated coverage")
  ap.add_argument("--seed", type=int, default=1)
  ap.add_argument("--repeats", type=int, default=1,
                  help="runs per setting; the figures use the run with the least CPU")
  ap.add_argument("--work_dir", default=os.path.join(common.ROOT, ".cache", "bench"))
  ap.add_argument("--profile", action="store_true",
                  help="cProfile the first 200 kb of work units (sim only)")
  ap.add_argument("--extra", default="", help="extra make_examples flags, space separated")
  args = ap.parse_args()
  os.makedirs(args.work_dir, exist_ok=True)
  data = dataset(args)
  bam_mb = os.path.getsize(data["reads"]) / 1e6
  mbp = data["bp"] / 1e6
  extra = args.extra.split()

  def best(extra_flags):
    runs = [run_make_examples(args, data, extra_flags) for _ in range(args.repeats)]
    return min(runs, key=lambda r: r[0]["cpu_s"])

  floor = common.run_sampled(["samtools", "view", "-@", "0", "-o", "/dev/null", data["reads"]],
                             interval=0.05)
  settings = [("without realignment", extra + ["--realign_reads=false"]),
              ("with realignment", extra + ["--realign_reads=true"])]
  rows, cpu = [], {}
  floor_row = {"what": "samtools view (decode floor)", "wall_s": f"{floor['wall_s']:.1f}",
               "core_s": f"{floor['cpu_s']:.1f}",
               "core_s_per_Mbp": f"{floor['cpu_s'] / mbp:.2f}",
               "peak_rss_MiB": f"{floor['peak_tree_rss_mib']:.0f}"}
  rows.append(floor_row)
  summary = None
  for name, flags in settings:
    fig, summary = best(flags)
    n = summary["examples"]
    rows.append({"what": f"make_examples, {name}", "wall_s": f"{fig['wall_s']:.1f}",
                 "core_s": f"{fig['cpu_s']:.1f}", "core_s_per_Mbp": f"{fig['cpu_s'] / mbp:.2f}",
                 "peak_rss_MiB": f"{fig['peak_tree_rss_mib']:.0f}",
                 "examples": f"{n:,}", "examples/s/core": f"{n / fig['cpu_s']:.1f}"})
    cpu[name] = fig["cpu_s"]
  print(f"\ndataset: {data['what']}, BAM {bam_mb:.0f} MB, "
        f"{summary['counters'].get('reads_seen', 0):,} reads seen")
  print(common.table(rows, ["what", "wall_s", "core_s", "core_s_per_Mbp", "peak_rss_MiB",
                            "examples", "examples/s/core"]))
  without, with_ = (cpu[name] for name, _ in settings)
  print(f"ratio make_examples without realignment / samtools view (core-seconds): "
        f"{without / floor['cpu_s']:.1f}x")
  print(f"ratio make_examples with realignment / samtools view (core-seconds): "
        f"{with_ / floor['cpu_s']:.1f}x")
  print(f"realignment's cost, whole runs: {with_ / without:.2f}x")
  work = {name: work_cpu(data, flags, max(args.repeats, 3)) for name, flags in settings}
  print("\nper-work-unit work in process (no start-up), best of "
        f"{max(args.repeats, 3)}:")
  wrows = [{"what": name, "core_s": f"{w['cpu_s']:.2f}",
            "core_s_per_Mbp": f"{w['cpu_s'] / mbp:.2f}", "examples": f"{w['examples']:,}",
            "examples/s/core": f"{w['examples'] / w['cpu_s']:.1f}",
            "records_sha256": w["sha256"]} for name, w in work.items()]
  print(common.table(wrows, ["what", "core_s", "core_s_per_Mbp", "examples",
                             "examples/s/core", "records_sha256"]))
  base, realigned = (work[name]["cpu_s"] / mbp for name, _ in settings)
  print(f"realignment's cost per Mbp: {realigned / base:.2f}x "
        f"(+{realigned - base:.2f} core-s/Mbp); target <= 2x")
  stages = stage_breakdown(data, settings[1][1])
  pass_total = stages[-1][1]
  print(f"\nper-stage CPU, {settings[1][0]}: one more in-process pass with a CPU timer around "
        f"each stage (shares of that pass, {pass_total:.2f} core-s):")
  srows = [{"stage": name, "core_s": f"{c:.2f}", "core_s_per_Mbp": f"{c / mbp:.2f}",
            "share": f"{100 * c / pass_total:.0f}%"} for name, c in stages]
  startup = cpu[settings[1][0]] - work[settings[1][0]]["cpu_s"]
  print(common.table(srows, ["stage", "core_s", "core_s_per_Mbp", "share"]))
  print(f"start-up, Beam and shard writing: {startup:.2f} core-s (whole run "
        f"{cpu[settings[1][0]]:.2f} minus the best per-work-unit pass "
        f"{work[settings[1][0]]['cpu_s']:.2f})")
  if args.profile:
    if args.data != "sim":
      print("--profile profiles a slice of the simulated data; run it without --data giab")
    else:
      profile_slice(data)


def profile_slice(data: dict):
  """cProfile of the per-unit work (the pipeline's DoFn body, no Beam) over the first work
  units covering 200 kb (or all of them), top functions by own time."""
  import contextlib
  import io
  fn, plan = unit_fn(data, ())
  units, bp = [], 0
  for unit in plan.units:
    if bp >= 200_000:
      break
    units.append(unit)
    bp += sum(p.end - p.start for p in unit.partitions)

  def work():
    with contextlib.redirect_stderr(io.StringIO()):
      for unit in units:
        fn._make(unit)

  prof = cProfile.Profile()
  prof.runcall(work)
  fn.teardown()
  print(f"\nprofile of the first {bp / 1e3:.0f} kb (top 15 by own time):")
  pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
  main()
