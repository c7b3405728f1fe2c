#!/usr/bin/env bash
# README command 1: set up (idempotent), then run pileflow end to end on its embedded default:
# a dataset the simulator makes from a seed -> make_dataset (make examples + global shuffle
# into train/tune/test splits, Beam DirectRunner) -> a short training run on CPU -> calls on
# the held-out test region -> a benchmark of those calls against the truth.
# Outputs land in pileflow-out/ (git-ignored); rerunning replaces them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
py=.venv/bin/python
out=${PILEFLOW_OUT:-pileflow-out}
workers=${PILEFLOW_WORKERS:-$(nproc)}
mkdir -p "$out"
sim="$out/simulated"

echo
echo "== 1/5 simulate a small dataset (2 contigs, 300 kb, 30x, 2x150 bp) =="
$py -m beam_pipelines.simulate --output_dir "$sim" --overwrite --seed 1

echo
echo "== 2/5 make_dataset: labeled examples (insert_size channel, 2 downsample fractions), shuffled into splits =="
$py -m beam_pipelines.make_dataset --ref "$sim/reference.fa" \
  --sample "name=SIM reads=$sim/reads.bam truth=$sim/truth.vcf.gz confident=$sim/confident.bed" \
  --split train=sim1 --split tune=sim2:1-50000 --split test=sim2:50001-100000 \
  --channels insert_size --downsample_fraction 1.0,0.5 --num_shards 4 --seed 1 \
  --output_dir "$out/dataset" --overwrite \
  --direct_running_mode=multi_processing --direct_num_workers="$workers" \
  2> "$out/make_dataset.log" || { cat "$out/make_dataset.log" >&2; exit 1; }

echo
echo "== dataset report and a few pileup pictures =="
$py -m beam_pipelines.report --dataset_dir "$out/dataset"
rm -rf "$out/pictures"
$py -m beam_pipelines.show_examples --output_dir "$out/pictures" --num 6 \
  --examples "$out/dataset/train/train-?????-of-?????.tfrecord.gz"

echo
echo "== 3/5 train: a tiny CNN for 3 epochs on CPU, best checkpoint chosen on tune/f1_weighted =="
rm -rf "$out/train"
$py -m trainer.train --config=tiny --experiment_dir="$out/train" \
  --config.train_dataset_pbtxt="$out/dataset/train/dataset_config.pbtxt" \
  --config.tune_dataset_pbtxt="$out/dataset/tune/dataset_config.pbtxt" \
  --config.num_epochs=3 > "$out/train.log" 2>&1 || { cat "$out/train.log" >&2; exit 1; }
grep -E "^train: (best|done)" "$out/train.log"

echo
echo "== 4/5 call the held-out test region (sim2:50001-100000) with the best model =="
rm -rf "$out/calling" "$out/calls"
$py -m beam_pipelines.make_examples --mode calling --ref "$sim/reference.fa" --reads "$sim/reads.bam" \
  --regions sim2:50001-100000 --channels insert_size --examples "$out/calling/test.tfrecord@4.gz" \
  --direct_running_mode=multi_processing --direct_num_workers="$workers" \
  2> "$out/make_examples_calling.log" || { cat "$out/make_examples_calling.log" >&2; exit 1; }
$py -m beam_pipelines.call --examples "$out/calling/test.tfrecord@4.gz" --model "$out/train" \
  --ref "$sim/reference.fa" --outfile "$out/calls/test.vcf.gz" > "$out/call.log" 2>&1 \
  || { cat "$out/call.log" >&2; exit 1; }
grep "^call:" "$out/call.log"

echo
echo "== 5/5 evaluate the calls against the truth in the confident regions =="
$py -m beam_pipelines.evaluate --calls "$out/calls/test.vcf.gz" --truth "$sim/truth.vcf.gz" \
  --confident_regions "$sim/confident.bed" --ref "$sim/reference.fa" \
  --regions sim2:50001-100000 --output_csv "$out/calls/test.summary.csv"

echo
echo "== outputs in $out/ =="
echo "  simulated/        reference.fa, reads.bam(+.bai), truth.vcf.gz(+.tbi), confident.bed, simulation.json"
echo "  dataset/<split>/  <split>-0000N-of-00004.tfrecord.gz (shuffled tf.Examples), dataset_config.pbtxt,"
echo "                    dataset_config.manifest.json, example_info.json  (splits: train, tune, test)"
echo "  train/            best_checkpoint.json, checkpoints/, export/saved_model, export/deepvariant/model.ckpt, log.txt"
echo "  dataset/report.html  dataset report (class balance, variant types, indel lengths, reads, label QA)"
echo "  pictures/         pileup pictures of 6 training examples (show_examples)"
echo "  train/report.html training report (curves, confusion matrices, why the best checkpoint won)"
echo "  calling/          test.tfrecord-0000N-of-00004.gz (calling-mode examples of sim2:50001-100000)"
echo "  calls/            test.vcf.gz(+.tbi) (the model's calls), test.summary.csv (the table above)"
echo "  make_dataset.log, train.log, make_examples_calling.log, call.log"
$py - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
for split in ("train", "tune", "test"):
  m = json.load(open(os.path.join(out, "dataset", split, "dataset_config.manifest.json")))
  classes = ", ".join(f"{k}={v}" for k, v in sorted(m["class_counts"].items()))
  fractions = ", ".join(f"{k}={v}" for k, v in sorted(m["downsample_fraction_counts"].items()))
  print(f"  {split:5s} {m['num_examples']:5d} examples {m['image_shape']}; classes {classes}; "
        f"downsample fractions {fractions}")
best = json.load(open(os.path.join(out, "train", "best_checkpoint.json")))
metrics = best.get("metrics", {})
print(f"  best checkpoint: step {best.get('step')}, tune/f1_weighted "
      f"{metrics.get('tune/f1_weighted', float('nan')):.3f}, tune/categorical_accuracy "
      f"{metrics.get('tune/categorical_accuracy', float('nan')):.3f}")
PY
