"""The same pipelines on a distributed engine: Beam's DaskRunner on a dask.distributed
LocalCluster (2 worker processes, loopback), producing the examples DirectRunner produces.

make_examples runs on Beam 2.77's own DaskRunner. shuffle and make_dataset do not: that runner
computes only the last sink of a pipeline and hands a multi-output ParDo's mixed outputs to
every consumer (see launch/dask_runner.py); they run on ``launch.dask_runner.DaskRunnerAllSinks``,
which keeps Beam's translation and closes both gaps. Also: DaskRunner has no metrics
(``result.metrics()`` raises; pileflow's summaries come from shard info files, so nothing is
lost), and Reshuffle is an identity there (GroupByKey is a real dask shuffle between workers).
"""
import glob
import os

import pytest

distributed = pytest.importorskip("distributed")

from beam_pipelines import make_dataset, make_examples, shuffle  # noqa: E402
from schemas import example_format, tfrecord  # noqa: E402
from tests import giab  # noqa: E402

pytestmark = pytest.mark.slow
DASK = "apache_beam.runners.dask.dask_runner.DaskRunner"
DASK_ALL_SINKS = "launch.dask_runner.DaskRunnerAllSinks"


@pytest.fixture(scope="module")
def cluster():
  with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                host="127.0.0.1", dashboard_address=None) as c:
    yield c


def _dask_args(cluster, runner=DASK):
  return ["--runner", runner, "--dask_client_address", cluster.scheduler_address,
          "--dask_npartitions", "4"]


def _close_runner_client():
  """DaskRunner opens its own Client and never closes it; close it before the cluster goes."""
  try:
    distributed.default_client().close()
  except ValueError:  # no client
    pass


def _run_on_dask(cluster, fn):
  """Runs ``fn`` while recording which Dask workers executed tasks."""
  with distributed.Client(cluster.scheduler_address, set_as_default=False) as watcher:
    with distributed.get_task_stream(watcher) as stream:
      try:
        rc = fn()
      finally:
        _close_runner_client()
  return rc, {t["worker"] for t in stream.data}


def _records(paths):
  out = []
  for path in paths:
    for data in tfrecord.read_records(path):
      rec = example_format.decode_example(data)
      out.append((os.path.basename(path), rec.variant.SerializeToString(), rec.label,
                  rec.image.tobytes(), rec.alt_indices, rec.locus))
  return out


def _shards(prefix_glob):
  return sorted(glob.glob(prefix_glob))


def test_make_examples_on_dask_matches_direct_runner(cluster, tmp_path):
  def argv(out):
    return giab.training_args(str(out / "ex.tfrecord@4.gz"), giab.GOLDEN_REGION,
                              "--partitions_per_unit", "1")
  assert make_examples.main(argv(tmp_path / "direct") + ["--runner", "DirectRunner"]) == 0
  rc, workers = _run_on_dask(cluster, lambda: make_examples.main(
      argv(tmp_path / "dask") + _dask_args(cluster)))
  assert rc == 0
  assert len(workers) == 2  # the work units ran in both worker processes
  direct = _records(_shards(str(tmp_path / "direct" / "ex.tfrecord-*-of-00004.gz")))
  dask = _records(_shards(str(tmp_path / "dask" / "ex.tfrecord-*-of-00004.gz")))
  assert len(direct) == 50  # the golden region's examples: 49 golden + 1 (realignment is on)
  assert dask == direct     # same records, same shards, same order
  for d, k in zip(_shards(str(tmp_path / "direct" / "*.gz")),
                  _shards(str(tmp_path / "dask" / "*.gz"))):
    assert open(d, "rb").read() == open(k, "rb").read()  # and byte-identical shards


def test_shuffle_on_dask_matches_direct_runner(cluster, tmp_path):
  def argv(out):
    return ["--input_pattern_list", giab.GOLDEN, "--output_pattern_prefix",
            str(out / "train"), "--num_shards", "3", "--seed", "5", "--memory_budget", "64M"]
  assert shuffle.main(argv(tmp_path / "direct") + ["--runner", "DirectRunner"]) == 0
  rc, workers = _run_on_dask(cluster, lambda: shuffle.main(
      argv(tmp_path / "dask") + _dask_args(cluster, DASK_ALL_SINKS)))
  assert rc == 0 and workers
  direct = _records(_shards(str(tmp_path / "direct" / "train-*.tfrecord.gz")))
  dask = _records(_shards(str(tmp_path / "dask" / "train-*.tfrecord.gz")))
  assert len(direct) == 49 and dask == direct  # the 49 golden examples, same shuffled order


def test_beams_dask_runner_skips_the_shuffle_summary_sink(cluster, tmp_path, capsys):
  """The gap DaskRunnerAllSinks closes: only the last sink ran, the summary file is missing
  (a failure of the run: one line naming it, exit 1)."""
  argv = ["--input_pattern_list", giab.GOLDEN, "--output_pattern_prefix",
          str(tmp_path / "train"), "--num_shards", "2"]
  capsys.readouterr()
  with pytest.raises(SystemExit) as e:
    _run_on_dask(cluster, lambda: shuffle.main(argv + _dask_args(cluster)))
  assert e.value.code == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "scatter_summary.json" in err[0], err
  assert not glob.glob(str(tmp_path / "train-*"))  # and nothing that looks finished


def test_make_dataset_two_splits_on_dask(cluster, tmp_path):
  """Two splits = two shuffles (four sinks) in one pipeline, on DaskRunnerAllSinks."""
  def argv(out):
    sample = f"name=NA12878 reads={giab.BAM} truth={giab.TRUTH} confident={giab.CONFIDENT}"
    return ["--ref", giab.REF, "--sample", sample, "--num_shards", "2",
            "--seed", "3", "--output_dir", str(out), "--allow_label_imbalance",
            "--partitions_per_unit", "1"]
  splits = ["--split", "train=chr20:10,000,001-10,006,000",
            "--split", "tune=chr20:10,006,001-10,010,000"]
  assert make_dataset.main(argv(tmp_path / "direct") + splits +
                           ["--runner", "DirectRunner"]) == 0
  rc, workers = _run_on_dask(cluster, lambda: make_dataset.main(
      argv(tmp_path / "dask") + splits + _dask_args(cluster, DASK_ALL_SINKS)))
  assert rc == 0 and len(workers) == 2
  total = 0
  for split in ("train", "tune"):
    direct = _records(_shards(str(tmp_path / "direct" / split / f"{split}-*.tfrecord.gz")))
    dask = _records(_shards(str(tmp_path / "dask" / split / f"{split}-*.tfrecord.gz")))
    assert direct and dask == direct, split
    total += len(direct)
  # The golden region's examples, split in two. 49, not make_examples' 50 over GOLDEN_REGION:
  # these splits start one base later, so every 1-kb partition (and with it the realigner's
  # window selection) shifts by one base and 10008147's extra example is not made.
  assert total == 49


def test_call_variants_on_dask_matches_direct_runner(cluster, tmp_path):
  """call_variants (RunInference) on two Dask workers writes DirectRunner's bytes."""
  from beam_pipelines import call_variants
  from schemas import dataset_config
  from trainer import train as train_lib
  labels = [example_format.example_label(r) for r in tfrecord.read_records(giab.GOLDEN)]
  counts = {c: labels.count(c) for c in range(3)}
  for name in ("train", "tune"):
    dataset_config.write_dataset_config(str(tmp_path / f"{name}.pbtxt"), name, len(labels),
                                        counts, giab.GOLDEN, name, tfrecord_path=giab.GOLDEN)
  exp = str(tmp_path / "exp")
  assert train_lib.main([
      "--config=tiny", f"--experiment_dir={exp}",
      f"--config.train_dataset_pbtxt={tmp_path}/train.pbtxt",
      f"--config.tune_dataset_pbtxt={tmp_path}/tune.pbtxt", "--config.num_epochs=1",
      "--config.batch_size=16"]) == 0
  examples = str(tmp_path / "calling.tfrecord@2.gz")
  assert make_examples.main(["--mode", "calling", "--ref", giab.REF, "--reads", giab.BAM,
                             "--regions", giab.GOLDEN_REGION, "--examples", examples,
                             "--partitions_per_unit", "1"]) == 0

  def argv(name):
    return ["--examples", examples, "--checkpoint", exp, "--batch_size", "16",
            "--outfile", str(tmp_path / f"{name}@2.tfrecord.gz")]
  assert call_variants.main(argv("direct") + ["--runner", "DirectRunner"]) == 0
  rc, workers = _run_on_dask(cluster, lambda: call_variants.main(
      argv("dask") + _dask_args(cluster, DASK_ALL_SINKS)))
  assert rc == 0 and workers
  for k in range(2):
    direct = open(tmp_path / f"direct-{k:05d}-of-00002.tfrecord.gz", "rb").read()
    dask = open(tmp_path / f"dask-{k:05d}-of-00002.tfrecord.gz", "rb").read()
    assert direct == dask
  n = sum(1 for k in range(2) for _ in tfrecord.read_records(
      str(tmp_path / f"direct-{k:05d}-of-00002.tfrecord.gz")))
  assert n == 85  # one CallVariantsOutput per calling example of the window
