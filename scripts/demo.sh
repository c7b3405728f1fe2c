#!/usr/bin/env bash
# README command 1: set up (idempotent), then run pileflow end to end on its embedded default:
# a dataset the simulator makes from a seed, processed with Beam's DirectRunner.
# Outputs land in pileflow-out/ (git-ignored); rerunning replaces them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
py=.venv/bin/python
out=${PILEFLOW_OUT:-pileflow-out}
workers=${PILEFLOW_WORKERS:-$(nproc)}
mkdir -p "$out"

echo
echo "== 1/2 simulate a small dataset (2 contigs, 300 kb, 30x, 2x150 bp) =="
$py -m beam_pipelines.simulate --output_dir "$out/simulated" --overwrite --seed 1

echo
echo "== 2/2 make_examples: labeled pileup examples (training mode, insert_size channel, 2 downsample fractions) =="
sim="$out/simulated"
$py -m beam_pipelines.make_examples --mode training \
  --ref "$sim/reference.fa" --reads "$sim/reads.bam" \
  --truth_variants "$sim/truth.vcf.gz" --confident_regions "$sim/confident.bed" \
  --channels insert_size --downsample_fraction 1.0,0.5 \
  --examples "$out/examples/train.tfrecord@4.gz" \
  --direct_running_mode=multi_processing --direct_num_workers="$workers" 2> "$out/make_examples.log" \
  || { cat "$out/make_examples.log" >&2; exit 1; }

echo
echo "== outputs in $out/ =="
echo "  simulated/       reference.fa, reads.bam(+.bai), truth.vcf.gz(+.tbi), confident.bed, simulation.json"
echo "  examples/        train.tfrecord-0000N-of-00004.gz shards of tf.Examples [100, 221, 7],"
echo "                   each with .example_info.json; train.tfrecord.summary.json has every counter"
echo "  make_examples.log  per-unit progress"
$py - "$out/examples/train.tfrecord.summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["counters"]
print(f"  {s['examples']} examples of shape {s['shape']} in {len(s['shards'])} shards, "
      f"{s['seconds']} s; classes: " + ", ".join(
          f"{k.rsplit('_', 1)[1]}={v}" for k, v in c.items() if k.startswith("examples_class_"))
      + "; downsample fractions: " + ", ".join(
          f"{k.rsplit('_', 1)[1]}={v}" for k, v in c.items() if k.startswith("examples_downsample_")))
PY
