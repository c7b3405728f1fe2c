"""launch.dataflow: settings, the offline job rendering, shared construction, job follow-up.

The renders run Beam's DataflowRunner translation with no network (dry run + an offline
staging client) on the real GIAB inputs; the follow-up commands run against in-memory fakes
with the google-cloud-dataflow-client surface.
"""
import json
import os
import tarfile

import apache_beam
import pytest
from google.cloud import dataflow_v1beta3 as dataflow

from launch import dataflow as launcher
from tests import giab

SETTINGS = dict(project="my-proj", region="us-central1", temp_location="gs://my-bucket/tmp",
                job_name="pileflow-test", machine_type="n2-standard-8", max_workers=40,
                disk_size_gb=80)
IMAGE = "us-central1-docker.pkg.dev/my-proj/pileflow/beam-worker:0.1.0"


def me_argv(examples="gs://my-bucket/ex/train.tfrecord@8.gz"):
  return giab.training_args(examples, giab.GOLDEN_REGION)


@pytest.fixture(scope="module")
def rendered_setup_file(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("render-setup"))
  return launcher.render("make_examples", me_argv(),
                         launcher.DataflowSettings(**SETTINGS), out)


@pytest.fixture(scope="module")
def rendered_image(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("render-image"))
  settings = launcher.DataflowSettings(**SETTINGS, setup_file=None, sdk_container_image=IMAGE,
                                       dataflow_shuffle=False, autoscaling=False, num_workers=12)
  return launcher.render("make_examples", me_argv(), settings, out)


# ---- settings ---------------------------------------------------------------------------------
@pytest.mark.parametrize("change,message", [
    ({"project": ""}, "--project is required"),                       # no project, no job
    ({"temp_location": "/tmp/x"}, "--temp_location must be a gs://"),  # workers cannot write it
    ({"temp_location": "gs://b/tmp"}, "--temp_location must be a gs://"),  # bucket name too short
    ({"job_name": "Pileflow_Run"}, "--job_name"),                     # Dataflow's name rule
    ({"max_workers": 0}, "--max_workers must be >= 1"),               # nothing would run
    ({"num_workers": 50}, "--num_workers 50 must be in 1..--max_workers"),  # above the cap
    ({"disk_size_gb": 5}, "--disk_size_gb must be >= 10"),            # below the boot image
    ({"sdk_container_image": IMAGE}, "both given"),                   # two packagings at once
    ({"setup_file": None}, "workers need pileflow"),                  # no packaging at all
    ({"setup_file": "/nonexistent/setup.py"}, "no such file"),        # typo in the path
    ({"labels": ("Team=Genomics",)}, "--label"),                      # GCP label charset
])
def test_settings_validation_names_the_flag(change, message):
  with pytest.raises(launcher.LaunchError, match=message):
    launcher.DataflowSettings(**{**SETTINGS, **change}).validate()


def test_beam_args_spell_every_option_once():
  args = launcher.DataflowSettings(**SETTINGS, labels=("team=genomics",)).beam_args("shuffle")
  assert args[:3] == ["--runner=DataflowRunner", "--project=my-proj", "--region=us-central1"]
  assert "--staging_location=gs://my-bucket/tmp/staging" in args  # defaulted from temp
  assert "--experiments=shuffle_mode=service" in args
  assert "--autoscaling_algorithm=THROUGHPUT_BASED" in args
  assert "--labels=pileflow_pipeline=shuffle" in args and "--labels=team=genomics" in args
  assert any(a.startswith("--setup_file=") and a.endswith("setup.py") for a in args)
  assert len({a.split("=")[0] for a in args if not a.startswith("--labels")}) == \
      len([a for a in args if not a.startswith("--labels")])


def test_default_job_name_is_a_valid_dataflow_name():
  import datetime
  name = launcher.DataflowSettings(**{**SETTINGS, "job_name": None}).resolved_job_name(
      "make_examples", datetime.datetime(2026, 1, 2, 3, 4, 5))
  assert name == "pileflow-make-examples-20260102-030405"
  assert launcher._JOB_NAME_RE.match(name)


# ---- the rendered job: options, steps and worker packaging --------------------------------------
def test_render_has_the_worker_pool_we_asked_for(rendered_setup_file):
  r = rendered_setup_file
  pool = r.worker_pool
  assert r.job["name"] == "pileflow-test"
  assert pool["machineType"] == "n2-standard-8"
  assert pool["diskSizeGb"] == 80
  assert pool["autoscalingSettings"]["maxNumWorkers"] == 40
  assert "shuffle_mode=service" in r.environment["experiments"]
  assert r.environment["tempStoragePrefix"].startswith("storage.googleapis.com/my-bucket/tmp")
  opts = r.options
  assert (opts["project"], opts["region"]) == ("my-proj", "us-central1")
  assert opts["autoscaling_algorithm"] == "THROUGHPUT_BASED"
  assert opts["labels"] == ["pileflow_pipeline=make-examples"]
  for name in ("job.json", "pipeline.json"):
    assert os.path.getsize(os.path.join(r.out_dir, name)) > 1000
  assert json.load(open(os.path.join(r.out_dir, "job.json")))["name"] == "pileflow-test"


def test_render_contains_our_steps(rendered_setup_file):
  names = set(rendered_setup_file.transforms)
  for step in ("MakeExamples", "MakeExamples/CreateUnits", "MakeExamples/Rebalance",
               "MakeExamples/MakeUnitExamples", "MakeExamples/KeyByShard",
               "MakeExamples/GroupChunksByShard", "MakeExamples/AssembleShard"):
    assert step in names, step
  assert rendered_setup_file.construction.description.endswith("-> 8 shard(s)")


def test_setup_file_packaging_stages_pileflow_sdist(rendered_setup_file):
  r = rendered_setup_file
  packages = {p["name"]: p["location"] for p in r.worker_pool["packages"]}
  assert packages["workflow.tar.gz"].startswith("storage.googleapis.com/my-bucket/tmp/staging/")
  assert r.options["setup_file"].endswith("setup.py")
  images = [c["containerImage"] for c in r.worker_pool["sdkHarnessContainerImages"]]
  assert images == [f"gcr.io/cloud-dataflow/v1beta3/beam_python3.11_sdk:{apache_beam.__version__}"]
  with tarfile.open(r.staged["workflow.tar.gz"]) as tar:
    members = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
  for module in ("setup.py", "beam_pipelines/transforms/make_examples.py",
                 "beam_pipelines/core/example_maker.py", "schemas/example_format.py",
                 "schemas/protos/variants.proto"):
    assert module in members, module
  assert not any(m.startswith(("pileflow-out/", ".venv/", "tests/")) for m in members)


def test_container_packaging_uses_our_image_and_stages_no_sdist(rendered_image):
  r = rendered_image
  images = [c["containerImage"] for c in r.worker_pool["sdkHarnessContainerImages"]]
  assert images == [IMAGE]
  assert "workflow.tar.gz" not in {p["name"] for p in r.worker_pool["packages"]}
  assert "shuffle_mode=appliance" in r.environment["experiments"]
  assert r.options["autoscaling_algorithm"] == "NONE"
  assert r.worker_pool["numWorkers"] == 12


def test_render_warns_about_local_paths(rendered_setup_file):
  local = dict(rendered_setup_file.construction.local_paths())
  assert local["--reads"] == giab.BAM  # the GIAB inputs are local files
  assert "--examples" not in local     # the output spec is on GCS


def test_render_refuses_unknown_flags(tmp_path):
  with pytest.raises(launcher.LaunchError, match="--bogus_flag"):
    launcher.render("make_examples", me_argv() + ["--bogus_flag=1"],
                    launcher.DataflowSettings(**SETTINGS), str(tmp_path))


# ---- the same construction code, locally and on Dataflow -----------------------------------------
class _Stop(Exception):
  """Raised by the recorder after recording, so the local run stops before any work."""


def _originals():
  from beam_pipelines import make_dataset, make_examples, shuffle
  return {m.__name__: m.build_pipeline for m in (make_examples, make_dataset, shuffle)}


_ORIGINALS = _originals()


def _recorder(module, calls, stop):
  """Wraps the module's real build_pipeline: records runner and transform names."""
  original = _ORIGINALS[module.__name__]

  def spy(p, *args, **kwargs):
    result = original(p, *args, **kwargs)
    proto = p.to_runner_api()
    calls.append((type(p.runner).__name__,
                  {t.unique_name for t in proto.components.transforms.values()}))
    if stop:
      raise _Stop()
    return result

  return spy


def _ours(names, prefix):
  return {n for n in names if n.startswith(prefix)}


def test_make_examples_local_and_dataflow_build_the_same_graph(monkeypatch, tmp_path):
  from beam_pipelines import make_examples
  calls = []
  monkeypatch.setattr(make_examples, "build_pipeline",
                      _recorder(make_examples, calls, stop=False))
  r = launcher.render("make_examples", me_argv(), launcher.DataflowSettings(**SETTINGS),
                      str(tmp_path / "df"))
  monkeypatch.setattr(make_examples, "build_pipeline", _recorder(make_examples, calls, stop=True))
  with pytest.raises(_Stop):
    make_examples.main(me_argv(str(tmp_path / "local" / "ex.tfrecord@8.gz")) +
                       ["--runner", "DirectRunner"])
  assert calls[0][0] == "DataflowRunner" and calls[1][0].endswith("DirectRunner")
  dataflow_names, local_names = calls[0][1], calls[1][1]
  assert len(_ours(local_names, "MakeExamples")) >= 7
  assert _ours(dataflow_names, "MakeExamples") == _ours(local_names, "MakeExamples")
  # and our own steps reach the job (Dataflow may expand Beam's internals under them)
  assert {n for n in _ours(local_names, "MakeExamples") if n.count("/") <= 1} <= \
      set(r.transforms)


def _dataset_argv(out_dir):
  sample = (f"name=NA12878 reads={giab.BAM} truth={giab.TRUTH} confident={giab.CONFIDENT}")
  return ["--ref", giab.REF, "--sample", sample,
          "--split", "train=chr20:10,000,001-10,006,000",
          "--split", "tune=chr20:10,006,001-10,010,000", "--num_shards", "2",
          "--output_dir", out_dir, "--overwrite"]


def _shuffle_argv(out_prefix):
  return ["--input_pattern_list", giab.GOLDEN, "--output_pattern_prefix", out_prefix,
          "--num_shards", "2", "--overwrite"]


@pytest.mark.parametrize("pipeline,argv,prefixes", [
    # make_dataset: one MakeExampleRecords and one shuffle per split, all in one job
    ("make_dataset", _dataset_argv, ("Examples[train/NA12878]", "Shuffle[train]",
                                     "Examples[tune/NA12878]", "Shuffle[tune]")),
    # shuffle: the bounded-memory global shuffle of existing example files
    ("shuffle", _shuffle_argv, ("InputFiles", "Shuffle")),
])
def test_other_pipelines_local_and_dataflow_build_the_same_graph(monkeypatch, tmp_path,
                                                                 pipeline, argv, prefixes):
  import importlib
  module = importlib.import_module(f"beam_pipelines.{pipeline}")
  calls = []
  monkeypatch.setattr(module, "build_pipeline", _recorder(module, calls, stop=False))
  r = launcher.render(pipeline, argv(str(tmp_path / "df" / "out")),
                      launcher.DataflowSettings(**SETTINGS), str(tmp_path / "render"))
  monkeypatch.setattr(module, "build_pipeline", _recorder(module, calls, stop=True))
  with pytest.raises(_Stop):
    module.main(argv(str(tmp_path / "local" / "out")) + ["--runner", "DirectRunner"])
  assert calls[0][0] == "DataflowRunner" and calls[1][0].endswith("DirectRunner")
  for prefix in prefixes:
    assert prefix in r.transforms, prefix
    assert _ours(calls[0][1], prefix) == _ours(calls[1][1], prefix) != set()



# ---- status / wait / cancel against fakes ----------------------------------------------------------
class _FakeJobs:
  def __init__(self, states):
    self.states = list(states)
    self.requests = []

  def get_job(self, request):
    self.requests.append(request)
    state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
    return dataflow.Job(id=request.job_id, name="pileflow-test", current_state=state)

  def update_job(self, request):
    self.requests.append(request)
    return dataflow.Job(id=request.job_id, requested_state=request.job.requested_state)


class _FakeMessages:
  def list_job_messages(self, request):
    assert request.minimum_importance == dataflow.JobMessageImportance.JOB_MESSAGE_WARNING
    return [dataflow.JobMessage(message_text="Worker pool started.\nmore",
                                message_importance=dataflow.JobMessageImportance.JOB_MESSAGE_WARNING),
            dataflow.JobMessage(message_text="boom",
                                message_importance=dataflow.JobMessageImportance.JOB_MESSAGE_ERROR)]


def _metric(name, value, origin="user", namespace="pileflow", tentative=False, step="s1"):
  context = {"namespace": namespace, "step": step}
  if tentative:
    context["tentative"] = "true"
  return dataflow.MetricUpdate(name=dataflow.MetricStructuredName(origin=origin, name=name,
                                                                  context=context),
                               scalar=value)


class _FakeMetrics:
  def get_job_metrics(self, request):
    return dataflow.JobMetrics(metrics=[
        _metric("examples", 40), _metric("examples", 2, step="s2"),  # summed over steps
        _metric("examples", 999, tentative=True),                     # not committed
        _metric("ElementCount", 5, origin="dataflow/v1b3"),           # a system metric
        _metric("other", 7, namespace="someone_else"),                # not ours
    ])


def _clients(states):
  return launcher.JobClients(_FakeJobs(states), _FakeMessages(), _FakeMetrics())


def test_status_reports_state_messages_and_our_counters():
  clients = _clients([dataflow.JobState.JOB_STATE_RUNNING])
  status = launcher.job_status(clients, "my-proj", "us-central1", "2026-01-01_00_00_00-123")
  request = clients.jobs.requests[0]
  assert (request.project_id, request.location, request.job_id) == \
      ("my-proj", "us-central1", "2026-01-01_00_00_00-123")
  assert status.state == "JOB_STATE_RUNNING" and not status.terminal
  assert status.counters == {"examples": 42}
  assert [m[1:] for m in status.messages] == [
      ("JOB_MESSAGE_WARNING", "Worker pool started.\nmore"), ("JOB_MESSAGE_ERROR", "boom")]
  text = launcher.format_status(status)
  assert "JOB_STATE_RUNNING" in text and "counter examples = 42" in text
  assert "ERROR: boom" in text and "more" not in text  # first line of each message only


@pytest.mark.parametrize("states,final,polls", [
    (["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_DONE"], "JOB_STATE_DONE", 2),  # success
    (["JOB_STATE_RUNNING", "JOB_STATE_FAILED"], "JOB_STATE_FAILED", 1),  # failure ends the wait
    (["JOB_STATE_CANCELLED"], "JOB_STATE_CANCELLED", 0),                  # already over
])
def test_wait_polls_until_a_terminal_state(states, final, polls):
  sleeps, printed = [], []
  status = launcher.wait(_clients([dataflow.JobState[s] for s in states]), "p", "r", "j",
                         poll_s=7, sleep=sleeps.append, out=printed.append)
  assert status.state == final
  assert sleeps == [7] * polls
  assert len(printed) == len(states)  # one report per state change


def test_wait_gives_up_at_its_timeout():
  clock = iter([0.0, 5.0, 11.0])
  printed = []
  status = launcher.wait(_clients([dataflow.JobState.JOB_STATE_RUNNING]), "p", "r", "j",
                         poll_s=5, timeout_s=10, sleep=lambda s: None,
                         clock=lambda: next(clock), out=printed.append)
  assert status.state == "JOB_STATE_RUNNING"
  assert "not waiting longer" in printed[-1]


def test_cancel_requests_the_cancelled_state():
  clients = _clients([dataflow.JobState.JOB_STATE_RUNNING])
  assert launcher.cancel(clients, "my-proj", "us-central1", "j1") == "JOB_STATE_CANCELLED"
  request = clients.jobs.requests[0]
  assert request.job.requested_state == dataflow.JobState.JOB_STATE_CANCELLED
  assert (request.project_id, request.location, request.job_id) == ("my-proj", "us-central1",
                                                                    "j1")


def test_cli_dry_run_prints_the_job_and_warns(tmp_path, capsys):
  rc = launcher.main(["submit", "make_examples", "--project", "my-proj", "--region",
                      "us-central1", "--temp_location", "gs://my-bucket/tmp", "--job_name",
                      "pileflow-cli", "--sdk_container_image", IMAGE, "--dry_run",
                      str(tmp_path), "--"] + me_argv())
  out = capsys.readouterr().out
  assert rc == 0
  assert "job pileflow-cli: n2-standard-4 x up to 32" in out
  assert IMAGE in out and f"WARNING: --reads {giab.BAM}" in out
  assert json.load(open(tmp_path / "job.json"))["name"] == "pileflow-cli"


def test_cli_bad_input_is_one_line(tmp_path, capsys):
  with pytest.raises(SystemExit) as e:
    launcher.main(["submit", "make_examples", "--project", "my-proj", "--region", "us-central1",
                   "--temp_location", "gs://my-bucket/tmp", "--dry_run", str(tmp_path), "--"]
                  + giab.training_args("gs://my-bucket/x.tfrecord.gz", "chr99:1-100"))
  assert e.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("launch.dataflow: error:") and "chr99" in err[0]
