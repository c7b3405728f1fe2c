"""The launchers never lose a user's data and never finish wrongly (issue 14).

Every failure is one stderr line with the documented exit code (2 bad input, 1 failure, 130
interrupted) and leaves no output that looks finished; a dry run never touches the network.
The network is made impossible in-process (sockets and name lookups raise), so a dry run that
still tried to reach GCS fails here at once instead of retrying for two minutes.
"""
import json
import os
import signal
import socket

import pytest

from launch import dataflow as launcher
from launch import vertex
from tests import giab

BUCKET = "gs://my-bucket"
LAUNCHER = ["--project", "my-proj", "--region", "us-central1", "--temp_location",
            f"{BUCKET}/tmp", "--job_name", "pileflow-offline"]
IMAGE = "us-central1-docker.pkg.dev/my-proj/pileflow/trainer:0.1.0"
VERTEX = ["--project", "my-proj", "--region", "us-central1", "--experiment_dir",
          f"{BUCKET}/exp1", "--image_uri", IMAGE]


class _TooSlow(BaseException):
  """Not an Exception: retry loops (Beam's, google-auth's) must not swallow it."""


@pytest.fixture
def no_network(monkeypatch):
  """Sockets and DNS raise; a watchdog fails a test that hangs anyway (a retry loop)."""
  def refuse(*args, **kwargs):
    raise OSError("network access in a test that must run offline")
  monkeypatch.setattr(socket.socket, "connect", refuse)
  monkeypatch.setattr(socket, "create_connection", refuse)
  monkeypatch.setattr(socket, "getaddrinfo", refuse)
  monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/credentials.json")

  def too_slow(signum, frame):
    raise _TooSlow("an offline run took over 60 s: something waited on the network")
  previous = signal.signal(signal.SIGALRM, too_slow)
  signal.alarm(30)
  yield
  signal.alarm(0)
  signal.signal(signal.SIGALRM, previous)


def _exit(main, argv, capsys):
  """(exit code, stdout, stderr lines) of ``main(argv)``, whether it returns or exits."""
  try:
    code = main(argv)
  except SystemExit as e:
    code = e.code
  out, err = capsys.readouterr()
  lines = [line for line in err.splitlines()
           if line.strip() and not line.startswith(("No module named build",
                                                    "Runner defaulting to pickling"))]
  return code, out, lines


def _one_line(err, prog, *words):
  assert len(err) == 1, err
  assert err[0].startswith(f"{prog}: "), err[0]
  for w in words:
    assert w in err[0], (w, err[0])


def _me(examples=f"{BUCKET}/ex/train.tfrecord@4.gz", *extra):
  return giab.training_args(examples, giab.GOLDEN_REGION, *extra)


def _md(output_dir=f"{BUCKET}/dataset", *extra):
  sample = f"name=NA12878 reads={giab.BAM} truth={giab.TRUTH} confident={giab.CONFIDENT}"
  return ["--ref", giab.REF, "--sample", sample, "--split", "train=chr20:10,000,001-10,006,000",
          "--split", "tune=chr20:10,006,001-10,010,000", "--num_shards", "2",
          "--output_dir", output_dir, *extra]


def _sh(prefix=f"{BUCKET}/shuffled/train", *extra):
  return ["--input_pattern_list", giab.GOLDEN, "--output_pattern_prefix", prefix,
          "--output_dataset_config_pbtxt", prefix + ".dataset_config.pbtxt",
          "--output_dataset_name", "train", "--num_shards", "2", *extra]


def _submit(pipeline, pipeline_argv, *launcher_flags):
  return ["submit", pipeline, *LAUNCHER, *launcher_flags, "--", *pipeline_argv]


# ---- 1. a dry run never touches the network ------------------------------------------------------
@pytest.mark.parametrize("pipeline,argv,output", [
    ("make_examples", _me(), f"{BUCKET}/ex/train.tfrecord@4.gz"),  # sharded output spec
    ("make_dataset", _md(), f"{BUCKET}/dataset"),                   # planning looked up shards
    ("shuffle", _sh(), f"{BUCKET}/shuffled/train"),                 # and example_info.json
])
def test_dry_run_with_gcs_outputs_is_offline(no_network, tmp_path, capsys, pipeline, argv,
                                             output):
  out_dir = tmp_path / "render"
  code, out, err = _exit(launcher.main, _submit(pipeline, argv, "--dry_run", str(out_dir)),
                         capsys)
  assert code == 0 and err == [], err
  job = json.load(open(out_dir / "job.json"))
  assert job["name"] == "pileflow-offline"
  assert job["environment"]["sdkPipelineOptions"]["options"]["project"] == "my-proj"
  assert f"not checked: {output}: checked for form only" in out
  assert f"not checked: {BUCKET}/tmp: checked for form only" in out
  assert not [n for n in os.listdir(out_dir) if n.startswith(".pileflow-tmp")]


def test_offline_filesystems_answer_nothing_there_and_refuse_the_rest():
  from apache_beam.io.filesystems import FileSystems
  with launcher.offline_remote_filesystems() as looked_up:
    assert FileSystems.exists(f"{BUCKET}/a") is False
    assert FileSystems.match([f"{BUCKET}/a-*"])[0].metadata_list == []
    assert FileSystems.join(f"{BUCKET}/a", "b") == f"{BUCKET}/a/b"  # pure: the real one
    with pytest.raises(launcher.LaunchError, match="would use the network"):
      FileSystems.create(f"{BUCKET}/a/new")
    assert FileSystems.exists(giab.BAM)  # local paths are untouched
  assert looked_up == [f"{BUCKET}/a", f"{BUCKET}/a-*"]
  assert FileSystems.get_filesystem(f"{BUCKET}/a").__class__.__name__ == "GCSFileSystem"


@pytest.mark.parametrize("pipeline,argv,flag", [
    ("make_examples", _me() + ["--ref", f"{BUCKET}/ref.fa"], "--ref"),   # planning reads it
    ("shuffle", ["--input_pattern_list", f"{BUCKET}/ex/*.tfrecord.gz",
                 "--output_pattern_prefix", f"{BUCKET}/sh/train"], "--input_pattern_list"),
])
def test_dry_run_refuses_remote_inputs_offline(no_network, tmp_path, capsys, pipeline, argv,
                                               flag):
  code, _, err = _exit(launcher.main, _submit(pipeline, argv, "--dry_run",
                                              str(tmp_path / "r")), capsys)
  assert code == 2
  _one_line(err, "launch.dataflow", flag, "never uses the network")
  assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("argv,flag", [
    (_me("gs://B/ex.tfrecord.gz"), "--examples"),           # bucket names are lower-case
    (_md("s3://my-bucket/dataset"), "--output_dir"),        # a scheme Dataflow cannot write
])
def test_dry_run_checks_the_form_of_remote_outputs(no_network, tmp_path, capsys, argv, flag):
  pipeline = "make_examples" if flag == "--examples" else "make_dataset"
  code, _, err = _exit(launcher.main, _submit(pipeline, argv, "--dry_run", str(tmp_path / "r")),
                       capsys)
  assert code == 2
  _one_line(err, "launch.dataflow", flag)
  assert not (tmp_path / "r").exists()


def test_vertex_dry_run_is_offline(no_network, capsys):
  code, out, err = _exit(vertex.main, VERTEX + [
      "--dry_run", "--", f"--config.train_dataset_pbtxt={BUCKET}/ds/train/dataset_config.pbtxt",
      f"--config.tune_dataset_pbtxt={BUCKET}/ds/tune/dataset_config.pbtxt"],
      capsys)
  assert code == 0 and err == []
  notes = [line for line in out.splitlines() if line.startswith("#")]
  assert f"# not checked: {BUCKET}/exp1: checked for form only (existence and write access " \
         "need the network)" in notes
  assert any(f"{BUCKET}/ds/train/dataset_config.pbtxt" in n for n in notes)
  request = json.loads("\n".join(line for line in out.splitlines() if not line.startswith("#")))
  assert request["parent"] == "projects/my-proj/locations/us-central1"


# ---- a failed dry run leaves nothing that looks finished --------------------------------------------
def test_dry_run_failing_late_leaves_no_job_json(no_network, monkeypatch, tmp_path, capsys):
  real = launcher._offline_client_class

  def failing():
    class Failing(real()):
      def create_job_description(self, job):
        super().create_job_description(job)  # staging files are written, then:
        raise OSError(28, "No space left on device", str(tmp_path))
    return Failing
  monkeypatch.setattr(launcher, "_offline_client_class", failing)
  out_dir = tmp_path / "new" / "render"
  code, _, err = _exit(launcher.main, _submit("shuffle", _sh(), "--dry_run", str(out_dir)),
                       capsys)
  assert code == 1  # not the input's fault
  _one_line(err, "launch.dataflow", "No space left on device")
  assert not (tmp_path / "new").exists()  # the folders this run made are gone again


def test_dry_run_dir_policy(no_network, tmp_path, capsys):
  foreign = tmp_path / "notes"
  foreign.mkdir()
  (foreign / "todo.txt").write_text("mine")
  code, _, err = _exit(launcher.main, _submit("shuffle", _sh(), "--dry_run", str(foreign)),
                       capsys)
  assert code == 2
  _one_line(err, "launch.dataflow", "--dry_run", "not made by pileflow")
  assert os.listdir(foreign) == ["todo.txt"]
  # a folder an earlier dry run made is rendered again in place
  ours = tmp_path / "render"
  for _ in range(2):
    code, _, err = _exit(launcher.main, _submit("shuffle", _sh(), "--dry_run", str(ours)),
                         capsys)
    assert code == 0, err
  assert sorted(os.listdir(ours)) == [".pileflow-output.json", "job.json", "pipeline.json",
                                      "staging"]


# ---- 2. project and region --------------------------------------------------------------------------
@pytest.mark.parametrize("project", [
    "p",                  # too short
    "My-Project",         # upper case
    "my-project-",        # ends with a hyphen
    "123456789012",       # a project number, not the ID
    "my_project",         # underscore
    "a" * 31,             # too long
])
def test_bad_project_is_one_line(capsys, tmp_path, project):
  argv = ["submit", "shuffle", "--project", project, "--region", "us-central1",
          "--temp_location", f"{BUCKET}/tmp", "--dry_run", str(tmp_path / "r"), "--", *_sh()]
  code, _, err = _exit(launcher.main, argv, capsys)
  assert code == 2
  _one_line(err, "launch.dataflow", f"--project {project!r}", "project ID")
  code, _, err = _exit(vertex.main, ["--project", project] + VERTEX[2:] + ["--dry_run"], capsys)
  assert code == 2
  _one_line(err, "launch.vertex", f"--project {project!r}")
  assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("project", [
    "my-proj",                   # the usual form
    "abcdef",                    # six characters
    "a" + "b" * 28 + "c",        # thirty
    "example.com:my-project",    # legacy domain-scoped
])
def test_good_projects_are_accepted(project):
  launcher.DataflowSettings(project=project, region="us-central1",
                            temp_location=f"{BUCKET}/tmp").validate()
  vertex.VertexSettings(project=project, region="europe-west4", experiment_dir=f"{BUCKET}/e",
                        image_uri=IMAGE, trainer_args=(
                            f"--config.train_dataset_pbtxt={BUCKET}/t.pbtxt",
                            f"--config.tune_dataset_pbtxt={BUCKET}/u.pbtxt")).validate()


@pytest.mark.parametrize("region", ["r", "us-central", "US-CENTRAL1", "us_central1"])
def test_bad_region_is_one_line(capsys, region):
  code, _, err = _exit(launcher.main, ["status", "--project", "my-proj", "--region", region,
                                       "job-1"], capsys)
  assert code == 2
  _one_line(err, "launch.dataflow", f"--region {region!r}")
  code, _, err = _exit(vertex.main, VERTEX[:2] + ["--region", region] + VERTEX[4:]
                       + ["--dry_run"], capsys)
  assert code == 2
  _one_line(err, "launch.vertex", f"--region {region!r}")


# ---- 3. unknown flags, before and after -- ------------------------------------------------------------
@pytest.mark.parametrize("main,argv,prog", [
    (launcher.main, ["submit", "shuffle", *LAUNCHER, "--regoins", "chr20", "--", *_sh()],
     "launch.dataflow"),                                                  # a launcher typo
    (launcher.main, ["wait", "--project", "my-proj", "--region", "us-central1", "--timout_s",
                     "5", "job-1"], "launch.dataflow"),
    (vertex.main, VERTEX + ["--regoins", "x", "--dry_run"], "launch.vertex"),
])
def test_unknown_launcher_flag_is_refused_by_name(capsys, main, argv, prog):
  code, _, err = _exit(main, argv, capsys)
  assert code == 2
  _one_line(err, prog, "unrecognized arguments", argv[argv.index(
      "--regoins" if "--regoins" in argv else "--timout_s")])


@pytest.mark.parametrize("dry_run", [True, False])
@pytest.mark.parametrize("extra,flag", [
    (["--regoins", "chr20"], "--regoins"),                  # misspelt pipeline flag
    (["--worker_zone=us-central1-a"], "--worker_zone"),     # Beam's: the launcher sets those
])
def test_unknown_pipeline_flag_is_refused_by_name(no_network, tmp_path, capsys, dry_run, extra,
                                                  flag):
  render = ["--dry_run", str(tmp_path / "r")] if dry_run else []
  code, _, err = _exit(launcher.main, _submit("make_examples", _me() + extra, *render), capsys)
  assert code == 2
  _one_line(err, "launch.dataflow", flag)
  assert not (tmp_path / "r").exists()


def test_submit_refuses_local_paths_before_any_lookup(no_network, capsys):
  code, _, err = _exit(launcher.main, _submit("make_examples", _me()), capsys)
  assert code == 2
  _one_line(err, "launch.dataflow", "cannot reach local paths", f"--ref {giab.REF}")


# ---- 4. the pipelines' own validation, through the launcher ------------------------------------------
@pytest.mark.parametrize("pipeline,argv,words", [
    ("make_dataset", _md(f"{BUCKET}/ds", "--num_shards", "0"), ["--num_shards"]),  # config
    ("make_dataset", _md(f"{BUCKET}/ds", "--split", "test=chr99:1-100"), ["chr99"]),  # plan
    ("shuffle", ["--input_pattern_list", "/nonexistent/*.tfrecord.gz",
                 "--output_pattern_prefix", f"{BUCKET}/sh/train"], ["matches no files"]),
    ("make_examples", ["--mode", "training", "--ref", giab.REF], ["--examples"]),  # argparse
])
def test_pipeline_validation_is_one_line(no_network, tmp_path, capsys, pipeline, argv, words):
  code, _, err = _exit(launcher.main, _submit(pipeline, argv, "--dry_run", str(tmp_path / "r")),
                       capsys)
  assert code == 2
  _one_line(err, "launch.dataflow", *words)
  assert not (tmp_path / "r").exists()


# ---- wait, status and the services' errors --------------------------------------------------------------
class _Jobs:
  def __init__(self, state=None, error=None):
    self.state, self.error = state, error

  def get_job(self, request):
    from google.cloud import dataflow_v1beta3 as dataflow
    if self.error is not None:
      raise self.error
    return dataflow.Job(id=request.job_id, name="pileflow-test",
                        current_state=dataflow.JobState[self.state])


class _Empty:
  def list_job_messages(self, request):
    return []

  def get_job_metrics(self, request):
    from google.cloud import dataflow_v1beta3 as dataflow
    return dataflow.JobMetrics()


def _connect(monkeypatch, jobs):
  monkeypatch.setattr(launcher.JobClients, "connect",
                      classmethod(lambda cls: cls(jobs, _Empty(), _Empty())))


FOLLOW = ["--project", "my-proj", "--region", "us-central1", "2026-01-01_00_00_00-1"]


@pytest.mark.parametrize("state,code", [
    ("JOB_STATE_DONE", 0),        # the only success
    ("JOB_STATE_FAILED", 1),      # the job failed
    ("JOB_STATE_CANCELLED", 1),   # someone cancelled it: the outputs are not there
])
def test_wait_exit_code_follows_the_job(monkeypatch, capsys, state, code):
  _connect(monkeypatch, _Jobs(state))
  got, out, err = _exit(launcher.main, ["wait", *FOLLOW], capsys)
  assert got == code and state in out
  if code:
    _one_line(err, "launch.dataflow", state)
  else:
    assert err == []


def test_wait_timeout_is_not_success(monkeypatch, capsys):
  _connect(monkeypatch, _Jobs("JOB_STATE_RUNNING"))
  code, _, err = _exit(launcher.main, ["wait", "--timeout_s", "0", *FOLLOW], capsys)
  assert code == 1
  _one_line(err, "launch.dataflow", "still JOB_STATE_RUNNING")


def test_service_errors_are_one_line(monkeypatch, capsys):
  from google.api_core import exceptions as api
  from google.auth import exceptions as auth
  _connect(monkeypatch, _Jobs(error=api.NotFound("job 2026-01-01_00_00_00-1 not found")))
  code, _, err = _exit(launcher.main, ["status", *FOLLOW], capsys)
  assert code == 2  # a job id the user can correct
  _one_line(err, "launch.dataflow", "not found")

  def no_credentials(cls):
    raise auth.DefaultCredentialsError("Your default credentials were not found")
  monkeypatch.setattr(launcher.JobClients, "connect", classmethod(no_credentials))
  code, _, err = _exit(launcher.main, ["cancel", *FOLLOW], capsys)
  assert code == 1
  _one_line(err, "launch.dataflow", "credentials were not found")


def test_vertex_service_errors_are_one_line(monkeypatch, capsys):
  from google.api_core import exceptions as api

  def denied(settings, dry_run, out=print):
    raise api.PermissionDenied("aiplatform.customJobs.create denied")
  monkeypatch.setattr(vertex, "submit", denied)
  code, _, err = _exit(vertex.main, VERTEX, capsys)
  assert code == 1
  _one_line(err, "launch.vertex", "denied")


# ---- interrupted ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("main,module,name,argv", [
    (launcher.main, launcher, "render", _submit("shuffle", _sh(), "--dry_run", "/nonexistent")),
    (vertex.main, vertex, "submit", VERTEX + ["--dry_run"]),
])
def test_interrupt_is_one_line_and_130(monkeypatch, capsys, main, module, name, argv):
  def interrupted(*args, **kwargs):
    raise KeyboardInterrupt()
  monkeypatch.setattr(module, name, interrupted)
  code, _, err = _exit(main, argv, capsys)
  assert code == 130
  assert len(err) == 1 and err[0].startswith(f"{main.__module__}: interrupted")
