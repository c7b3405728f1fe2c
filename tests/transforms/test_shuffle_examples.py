"""TestPipeline tests of ShuffleExamples / ShuffleExampleFiles on real examples.

DeepVariant's golden examples plus ours (the same records re-encoded by pileflow's writer with a
downsample_fraction feature, so they are distinct records) go through the shuffle; the shards are
read back: same multiset, not in input order, byte-identical across DirectRunner modes, memory
budgets and both input kinds.
"""
import collections
import hashlib
import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from beam_pipelines.core import shuffle_plan as sp
from beam_pipelines.transforms import shuffle_examples as se
from schemas import example_format as ef
from schemas import tfrecord

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
GOLDEN = os.path.join(DATA, "golden.training_examples.tfrecord.gz")
NUM_SHARDS = 3
IN_MEMORY = ["--runner=DirectRunner", "--direct_running_mode=in_memory"]
MULTI = ["--runner=DirectRunner", "--direct_running_mode=multi_processing",
         "--direct_num_workers=2"]


def _ours(payload):
  rec = ef.decode_example(payload)
  return ef.encode_example(rec.image, rec.variant, rec.alt_indices, rec.variant_type,
                           rec.sequencing_type, rec.label, {ef.DOWNSAMPLE_FRACTION: 0.5})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
  """(all records in input order, [golden path, ours path])."""
  golden = list(tfrecord.read_records(GOLDEN))
  ours = [_ours(p) for p in golden]
  ours_path = str(tmp_path_factory.mktemp("ours") / "ours.tfrecord.gz")
  tfrecord.write_records(ours_path, ours)
  return golden + ours, [GOLDEN, ours_path]


def _read_files(paths):
  # Records enter the pipeline through a read step, not beam.Create: Create would pickle
  # (and bz2) 13 MB of examples into the pipeline proto, which takes seconds.
  return "ReadRecords" >> beam.FlatMap(lambda path: list(tfrecord.read_records(path)))


def _run(tmp, name, transform_of, paths, beam_args, budget=1 << 30, seed=11, read=True):
  outputs = se.ShuffleOutputs.for_prefix(str(tmp / name / "train.shuffled"), NUM_SHARDS,
                                         run_id="t")
  plan = sp.plan_shuffle(seed, NUM_SHARDS, 13_000_000, budget)
  with TestPipeline(options=PipelineOptions(beam_args)) as p:
    source = p | beam.Create(paths)
    if read:
      source = source | _read_files(paths)
    shards = source | transform_of(plan, outputs)
    assert_that(shards, equal_to(list(range(NUM_SHARDS))))
  summary = outputs.read_summary()
  infos = outputs.shard_infos()
  outputs.commit_shards(infos)
  outputs.abort()
  files = outputs.final_paths
  digests = [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in files]
  out = [r for f in files for r in tfrecord.read_records(f)]
  return out, digests, summary, infos, plan


@pytest.fixture(scope="module")
def base_run(inputs, tmp_path_factory):
  """The reference run: records in, DirectRunner in-memory, seed 11, ample budget."""
  return _run(tmp_path_factory.mktemp("base"), "mem", se.ShuffleExamples, inputs[1], IN_MEMORY)


def test_shuffle_records_in_memory_vs_multiprocessing_vs_budget(inputs, base_run, tmp_path):
  records, paths = inputs
  out, digests, summary, infos, _ = base_run
  # Same multiset of records (bytes equal, hence parse-equal), every one exactly once.
  assert collections.Counter(out) == collections.Counter(records)
  assert len(out) == 98
  assert out != records, "records must not come out in input order"
  # Counts: golden labels 1/12/36, twice (golden + ours).
  assert dict(summary.tally.labels) == {0: 2, 1: 24, 2: 72}
  assert dict(summary.tally.fractions) == {"0.5": 49, "none": 49}
  assert [i["examples"] for i in infos] == [sum(1 for _ in tfrecord.read_records(i["path"]))
                                            for i in infos]
  # Order inside the output is key order: a pure function of (seed, bytes).
  keys = [sp.record_key(11, r) for r in out]
  assert keys == sorted(keys)
  # Byte-identical: multi-processing with 2 workers, and a budget so small buckets split.
  _, digests_multi, _, _, _ = _run(tmp_path, "multi", se.ShuffleExamples, paths, MULTI)
  assert digests_multi == digests
  _, digests_small, _, infos_small, plan = _run(tmp_path, "small", se.ShuffleExamples, paths,
                                                IN_MEMORY, budget=150_000)
  assert digests_small == digests
  assert plan.buckets_per_shard > 1
  assert max(i["max_bucket_bytes"] for i in infos_small) <= 150_000


def test_shuffle_files_matches_shuffle_records(inputs, base_run, tmp_path):
  _, paths = inputs
  ours_path = paths[1]
  out, digests, summary, _, _ = _run(tmp_path, "files",
                                     lambda plan, o: se.ShuffleExampleFiles(plan, o),
                                     paths, IN_MEMORY, read=False)
  assert digests == base_run[1], "the order depends only on record bytes and seed"
  assert dict(summary.tally.inputs) == {GOLDEN: 49, ours_path: 49}
  inputs = {i["path"]: i for i in summary.inputs}
  assert inputs[GOLDEN]["bytes"] == os.path.getsize(GOLDEN)
  assert inputs[GOLDEN]["crc32c"] == "EHWZ9Q=="  # gsutil-style base64 CRC32C of the file


def test_other_seed_gives_other_order(inputs, base_run, tmp_path):
  out_a = base_run[0]
  out_b, _, _, _, _ = _run(tmp_path, "b", se.ShuffleExamples, inputs[1], IN_MEMORY, seed=2)
  assert collections.Counter(out_a) == collections.Counter(out_b)
  assert out_a != out_b
