"""What local realignment costs, in core-seconds per Mbp, on the GIAB chr20 test data.

    .venv/bin/python bench/realign.py [--region chr20:10,000,000-10,100,000] [--repeats 1]

Per 1000-bp partition it times, in process CPU seconds (one core): the whole per-partition recipe
without realignment (``make_partition_examples``, training mode, as make_examples runs it), and
the realigner on the same filtered, capped reads (``realign_reads``). The realignment-on cost is
their sum (downstream work changes little with realigned reads). Reads and reference are fetched
before timing; numba compilation is warmed up first. Prints one line per figure; never part of
the test run.

This isolates the realigner; its ratio is against a recipe that leaves out reading the reads
(BAM decoding and conversion) and the shards' gzip, so it is larger than realignment's cost to
a real run, which ``bench/make_examples.py`` reports (with and without realignment, whole runs
and per-work-unit work).
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from beam_pipelines.core import example_maker, read_filters  # noqa: E402
from beam_pipelines.core.realigner import RealignerOptions, realign_reads  # noqa: E402
from beam_pipelines.core.regions import Range, parse_literal, partition  # noqa: E402
from beam_pipelines.io.bam import BamReader  # noqa: E402
from beam_pipelines.io.bed import read_confident_regions  # noqa: E402
from beam_pipelines.io.fasta import FastaReader  # noqa: E402
from beam_pipelines.io.truth import TruthReader  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data",
                    "giab-chr20")


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--region", default="chr20:10,000,000-10,100,000")
  ap.add_argument("--data", default=DATA)
  ap.add_argument("--repeats", type=int, default=1)
  args = ap.parse_args(argv)
  ref_path = os.path.join(args.data, "ucsc.hg19.chr20.unittest.fasta.gz")
  fasta = FastaReader(ref_path)
  bam = BamReader([os.path.join(args.data, "NA12878_S1.chr20.10_10p1mb.bam")], reference=ref_path)
  truth = TruthReader(os.path.join(args.data, "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz"))
  confident = read_confident_regions(os.path.join(args.data,
                                                  "test_nist.b37_chr20_100kbp_at_10mb.bed"))
  lengths = fasta.contig_lengths()
  region = parse_literal(args.region, lengths)
  opts = example_maker.ExampleMakerOptions(training=True, sample_name="NA12878",
                                           bam_fname="NA12878_S1.chr20.10_10p1mb.bam")
  ropts = RealignerOptions()
  work = []
  for part in partition([region], 1000):
    raw = list(bam.fetch(part))
    span = example_maker.reference_span(part, raw, opts.pileup.width, lengths[part.contig])
    # The realigner needs every read's span - 20 bp (see realign_seam.prepare_reads).
    span = Range(span.contig, max(0, min([span.start] + [r.start - 21 for r in raw])), span.end)
    ref = fasta.window(part.contig, span.start, span.end)
    kept = example_maker.filter_reads(raw, opts.read_filter, collections.Counter())
    if len(kept) > opts.max_reads_per_partition:
      kept = read_filters.reservoir_sample(kept, opts.max_reads_per_partition)
    work.append((part, raw, kept, ref, truth.fetch(part)))
  # Warm-up (numba compilation or cache load) outside the timings.
  realign_reads(work[0][2], work[0][0], work[0][3], ropts)

  base = realign = 0.0
  windows = assembled = realigned = reads = 0
  for _ in range(args.repeats):
    for part, raw, kept, ref, truths in work:
      t0 = time.process_time()
      example_maker.make_partition_examples(part, raw, ref, opts, truths, confident)
      t1 = time.process_time()
      result = realign_reads(kept, part, ref, ropts)
      t2 = time.process_time()
      base += t1 - t0
      realign += t2 - t1
      windows += len(result.windows)
      assembled += len(result.assembled)
      realigned += result.reads_realigned
      reads += len(kept)
  mbp = region.length * args.repeats / 1e6
  print(f"region {region.to_literal()} ({region.length} bp, {len(work)} partitions, "
        f"x{args.repeats})")
  print(f"reads {reads}, windows {windows}, assembled {assembled}, "
        f"reads moved (start or CIGAR changed) {realigned}")
  print(f"without realignment: {base / mbp:.1f} core-s/Mbp")
  print(f"realignment alone:   {realign / mbp:.1f} core-s/Mbp")
  print(f"with realignment:    {(base + realign) / mbp:.1f} core-s/Mbp "
        f"({(base + realign) / base:.2f}x)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
