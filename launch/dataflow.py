"""Dataflow launcher: make_examples, make_dataset and shuffle on DataflowRunner, and job follow-up.

Why a launcher and not just ``--runner DataflowRunner`` on the entry points: the options that
decide whether a Dataflow job works and what it costs (worker packaging, machine type, worker
cap, disk, Dataflow Shuffle, autoscaling) are easy to get wrong and are validated here once;
``--dry_run`` renders the exact job request offline, so it can be reviewed (and tested) before
anything is spent. The pipeline itself is NOT re-implemented: ``submit`` calls the entry
point's own ``main`` (plan -> ``build_pipeline`` -> run -> commit), and ``--dry_run`` calls the
same ``build_pipeline`` functions (see ``construct``), so local and Dataflow runs build the same
graph.

  # render the job request without network (job.json, pipeline.json, staged files)
  python -m launch.dataflow submit make_examples --project P --region us-central1 \\
    --temp_location gs://B/tmp --machine_type n2-standard-8 --max_workers 64 \\
    --dry_run /tmp/job-render -- --mode training --ref gs://B/ref.fa --reads gs://B/s.bam \\
    --truth_variants gs://B/truth.vcf.gz --confident_regions gs://B/conf.bed \\
    --examples gs://B/ex/train.tfrecord@256.gz

  # submit it for real (same flags without --dry_run); the driver waits and commits the shards
  python -m launch.dataflow status --project P --region us-central1 JOB_ID
  python -m launch.dataflow wait   --project P --region us-central1 JOB_ID
  python -m launch.dataflow cancel --project P --region us-central1 JOB_ID

Flags after ``--`` are the pipeline's own (see ``python -m beam_pipelines.<name> --help``);
Beam's options come from the launcher's flags only, so a flag after ``--`` that the pipeline
does not know (a typo such as ``--regoins``, or a Beam option) is refused by name, in the dry
run and in the submit alike.

A dry run never uses the network: gs:// outputs are checked for form only (the summary lists
them), and the inputs must be local copies, because planning reads their headers and indexes.
Errors follow schemas.errors: one stderr line, exit 2 for bad input, 1 for a failure (a job
that ended other than JOB_STATE_DONE, a service error), 130 when interrupted.

The driver of a submitted run stays alive until the job ends, because the shards are committed
(renamed into place, example_info.json written) by the driver after the workers succeed, as
in a local run: run it from a machine that stays up (Cloud Shell, a small VM, ``nohup``).
``status``/``wait``/``cancel`` follow the job from anywhere by its id.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('launch.dataflow')

import contextlib
import dataclasses
import datetime
import json
import os
import re
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from launch import cli
from launch import packaging

PROG = "launch.dataflow"
PIPELINES = ("make_examples", "make_dataset", "shuffle")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SETUP_FILE = os.path.join(ROOT, "setup.py")
# Dataflow job names: lower-case letters, digits and hyphens, starting with a letter.
_JOB_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
TERMINAL_STATES = ("JOB_STATE_DONE", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
                   "JOB_STATE_UPDATED", "JOB_STATE_DRAINED")


LaunchError = cli.LaunchError  # a bad launcher flag or combination: one line, exit code 2


# ---- settings ------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DataflowSettings:
  """The Dataflow options that matter for pileflow's pipelines, validated once.

  Worker packaging is one of two ways, never both:
  * ``setup_file`` (default: the repository's setup.py): Beam builds an sdist of pileflow at
    submission and every worker pip-installs it (``pipelines`` extra) at start-up; simple, but
    each worker pays the install (~1-2 min) and needs PyPI access.
  * ``sdk_container_image``: a custom SDK image built from docker/beam-worker.Dockerfile with
    pileflow pre-installed; workers start faster and need no network to PyPI.
  ``dataflow_shuffle`` selects the service-side shuffle (``shuffle_mode=service``) rather than
  the worker disks (``shuffle_mode=appliance``): the GroupByKeys of MakeExamples and the global
  shuffle then do not need large worker disks.
  """
  project: str
  region: str
  temp_location: str
  staging_location: Optional[str] = None
  job_name: Optional[str] = None
  machine_type: str = "n2-standard-4"
  max_workers: int = 32
  num_workers: Optional[int] = None
  disk_size_gb: int = 50
  dataflow_shuffle: bool = True
  autoscaling: bool = True
  setup_file: Optional[str] = DEFAULT_SETUP_FILE
  sdk_container_image: Optional[str] = None
  service_account_email: Optional[str] = None
  subnetwork: Optional[str] = None
  use_public_ips: bool = True
  labels: Tuple[str, ...] = ()

  def validate(self) -> "DataflowSettings":
    cli.check_project(self.project)
    cli.check_region(self.region)
    for flag, path in (("--temp_location", self.temp_location),
                       ("--staging_location", self.staging_location)):
      if path is not None and not re.match(r"^gs://[a-z0-9][-_.a-z0-9]{1,61}[a-z0-9](/|$)", path):
        raise LaunchError(f"{flag} must be a gs://bucket/path Dataflow can write, got {path!r}")
    if self.job_name is not None and not _JOB_NAME_RE.match(self.job_name):
      raise LaunchError(f"--job_name {self.job_name!r}: Dataflow allows lower-case letters, "
                        "digits and '-', starting with a letter")
    if self.max_workers < 1:
      raise LaunchError(f"--max_workers must be >= 1, got {self.max_workers}")
    if self.num_workers is not None and not 1 <= self.num_workers <= self.max_workers:
      raise LaunchError(f"--num_workers {self.num_workers} must be in 1..--max_workers "
                        f"({self.max_workers})")
    if self.disk_size_gb < 10:
      raise LaunchError(f"--disk_size_gb must be >= 10 (boot image + temp files), got "
                        f"{self.disk_size_gb}")
    if not self.machine_type:
      raise LaunchError("--machine_type is empty")
    if self.setup_file and self.sdk_container_image:
      raise LaunchError("--setup_file and --sdk_container_image both given: workers get "
                        "pileflow either from an sdist or from the image, not both")
    if not self.setup_file and not self.sdk_container_image:
      raise LaunchError("workers need pileflow: give --setup_file or --sdk_container_image")
    if self.setup_file and not os.path.isfile(self.setup_file):
      raise LaunchError(f"--setup_file {self.setup_file}: no such file")
    for label in self.labels:
      if not re.match(r"^[a-z][-_a-z0-9]{0,62}=[-_a-z0-9]{0,63}$", label):
        raise LaunchError(f"--label {label!r}: expected key=value in lower-case letters, "
                          "digits, '-' and '_'")
    return self

  def resolved_job_name(self, pipeline: str, now: Optional[datetime.datetime] = None) -> str:
    if self.job_name:
      return self.job_name
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return f"pileflow-{pipeline.replace('_', '-')}-{now:%Y%m%d-%H%M%S}"

  def beam_args(self, pipeline: str) -> List[str]:
    """The Beam pipeline options for this job (the only place they are spelled)."""
    args = ["--runner=DataflowRunner", f"--project={self.project}", f"--region={self.region}",
            f"--temp_location={self.temp_location}",
            f"--staging_location={self.staging_location or self.temp_location.rstrip('/') + '/staging'}",
            f"--job_name={self.resolved_job_name(pipeline)}",
            f"--machine_type={self.machine_type}",
            f"--max_num_workers={self.max_workers}",
            f"--disk_size_gb={self.disk_size_gb}",
            "--experiments=shuffle_mode=" + ("service" if self.dataflow_shuffle else "appliance"),
            "--autoscaling_algorithm=" + ("THROUGHPUT_BASED" if self.autoscaling else "NONE"),
            f"--labels=pileflow_pipeline={pipeline.replace('_', '-')}"]
    args += [f"--labels={label}" for label in self.labels]
    if self.num_workers is not None:
      args.append(f"--num_workers={self.num_workers}")
    if self.setup_file:
      args.append(f"--setup_file={self.setup_file}")
    if self.sdk_container_image:
      # The image has pileflow and Beam installed: do not stage either again.
      args += [f"--sdk_container_image={self.sdk_container_image}", "--sdk_location=container"]
    if self.service_account_email:
      args.append(f"--service_account_email={self.service_account_email}")
    if self.subnetwork:
      args.append(f"--subnetwork={self.subnetwork}")
    if not self.use_public_ips:
      args.append("--no_use_public_ips")
    return args


# ---- pipeline construction (shared with the local entry points) ----------------------------------
@dataclasses.dataclass(frozen=True)
class Construction:
  """What ``construct`` added to the pipeline: a one-line plan and the paths workers touch."""
  pipeline: str
  description: str
  paths: Tuple[Tuple[str, str], ...]  # (flag, path) of every input and output the workers use
  outputs: Tuple[Tuple[str, str], ...] = ()  # (flag, path) of the outputs alone

  def local_paths(self) -> List[Tuple[str, str]]:
    """Paths Dataflow workers cannot reach (not on GCS)."""
    return [(flag, p) for flag, p in self.paths if p and not p.startswith("gs://")]

  def unchecked(self) -> List[str]:
    """What a dry run could check for form only: the remote outputs (schemas.output_paths)."""
    from schemas import output_paths
    return output_paths.remote_unchecked(p for _, p in self.outputs if p)


def _refuse_unknown(rest: Sequence[str], pipeline: str, tool: str) -> None:
  """Refuses what the pipeline's parser left over, naming the first flag.

  A misspelt pipeline flag (``-- --regoins chr20``) would otherwise reach Beam, which drops it
  with a log line, and the job would run over the whole genome. Beam options are refused too:
  the launcher sets them from its own flags, so a dry run and a submit always run one job.
  The wording is the pipelines' own (beam_pipelines.flags), so the launcher and the entry
  point name a bad flag the same way.
  """
  if not rest:
    return
  from beam_pipelines import flags
  unknown_of = getattr(flags, "unknown_beam_args", None)
  message_of = getattr(flags, "unknown_flag_message", None)
  unknown = unknown_of(rest) if unknown_of is not None else list(rest)
  if unknown:
    text = (message_of(unknown[0], tool) if message_of is not None
            else f"{unknown[0]}: unknown flag (not a pileflow {tool} flag)")
    raise LaunchError(f"{pipeline}: {text}")
  shown = rest[0].split("=", 1)[0]
  raise LaunchError(f"{shown}: a Beam pipeline option after --; the launcher sets Beam's "
                    "options from its own flags (before --), so flags neither "
                    f"{pipeline} nor the launcher know are refused")


def _parse(pipeline: str, tool: str, config_lib, argv: Sequence[str]):
  """The pipeline's own flags -> its frozen, validated config (the entry point's code).

  argparse's own complaints (a missing required flag, a bad value) are raised as LaunchError,
  so that ``render``/``submit`` raise rather than exit and the line names the pipeline.
  """
  import argparse

  class _Parser(argparse.ArgumentParser):
    def error(self, message):
      raise LaunchError(f"{pipeline}: {message}")

  parser = _Parser(prog=f"{PROG} submit {pipeline} --")
  config_lib.add_flags(parser)
  args, rest = parser.parse_known_args(list(argv))
  _refuse_unknown(rest, pipeline, tool)
  return config_lib.from_args(args).validate()


@dataclasses.dataclass(frozen=True)
class _Pipeline:
  """How the launcher drives one entry point: its flags, its declared paths, its planning."""
  parse: Callable[[Sequence[str]], object]
  inputs: Callable[[object], List[Tuple[str, str]]]    # (flag, path) as typed
  outputs: Callable[[object], List[Tuple[str, str]]]
  build: Callable[[object, object], Tuple[str, List[Tuple[str, str]]]]  # (p, cfg) -> (plan, paths)


def _me_parse(argv):
  from beam_pipelines import make_examples as entry
  from beam_pipelines import make_examples_config as config_lib
  return _parse("make_examples", entry.PROG, config_lib, argv)


def _me_inputs(cfg):
  return ([("--ref", cfg.ref)] + [("--reads", r) for r in cfg.reads]
          + [("--truth_variants", cfg.truth_variants),
             ("--confident_regions", cfg.confident_regions)])


def _me_build(p, cfg):
  # The planning lines of beam_pipelines.make_examples.run, then its build_pipeline.
  from beam_pipelines import make_examples as entry
  from beam_pipelines.io import make_examples_inputs as inputs
  from beam_pipelines.io.example_outputs import ExampleOutputs
  outputs = ExampleOutputs.for_spec(cfg.examples)
  if hasattr(outputs, "preflight"):
    outputs.preflight(cfg.overwrite)
  plan = inputs.plan(cfg)
  opts = entry.maker_options(cfg, plan.sample_name)
  entry.build_pipeline(p, cfg, plan, opts, outputs)
  return (f"{len(plan.units)} work units over {plan.total_bp:,} bp -> {outputs.num_shards} "
          "shard(s)", _me_inputs(cfg) + [("--examples", cfg.examples)])


def _md_parse(argv):
  from beam_pipelines import make_dataset as entry
  from beam_pipelines import make_dataset_config as config_lib
  return _parse("make_dataset", entry.PROG, config_lib, argv)


def _md_inputs(cfg):
  paths = [("--ref", cfg.ref)]
  for s in cfg.samples:
    paths += [("--sample reads", r) for r in s.reads]
    paths += [("--sample truth", s.truth), ("--sample confident", s.confident)]
  return paths


def _md_build(p, cfg):
  from beam_pipelines import make_dataset as entry
  # make_dataset's own planning (preflight of every sample, split and shuffle plan); no Beam
  # args: the worker count it reads from them is 1 on Dataflow, the budget is per worker.
  split_list, jobs, shuffles = entry._plan(cfg, [])  # pylint: disable=protected-access
  entry.build_pipeline(p, cfg, split_list, jobs, shuffles)
  units = sum(len(j[3].units) for j in jobs)
  return (f"{len(split_list)} split(s) x {len(cfg.samples)} sample(s), {units} work units",
          _md_inputs(cfg) + [("--output_dir", cfg.output_dir)])


def _sh_parse(argv):
  from beam_pipelines import shuffle as entry
  from beam_pipelines import shuffle_config as config_lib
  return _parse("shuffle", entry.PROG, config_lib, argv)


def _sh_outputs(cfg):
  return [(flag, path) for flag, path in (
      ("--output_pattern_prefix", cfg.output_pattern_prefix),
      ("--output_dataset_config_pbtxt", cfg.output_dataset_config_pbtxt),
      ("--output_manifest", cfg.manifest_path)) if path]


def _sh_build(p, cfg):
  # The planning lines of beam_pipelines.shuffle.run (which plans inline), then its
  # build_pipeline. If shuffle.py grows a public plan(), call that instead.
  from beam_pipelines import shuffle as entry
  from beam_pipelines.core import shuffle_plan
  from beam_pipelines.transforms import shuffle_examples as se
  from schemas import output_paths
  files = se.expand_inputs(cfg.input_pattern_list)
  outputs = se.ShuffleOutputs.for_prefix(cfg.output_pattern_prefix, cfg.num_shards)
  if hasattr(outputs, "preflight"):
    outputs.preflight(cfg.overwrite)
  else:
    outputs.refuse_existing(cfg.overwrite)
  for flag, path in _sh_outputs(cfg)[1:]:
    output_paths.check_file_outputs([path], flag, cfg.overwrite)
  check = se.check_inputs(files)
  se.check_existing_example_info(cfg.output_pattern_prefix, check)
  estimated = shuffle_plan.estimate_bucket_data_bytes([(f.path, f.size) for f in files])
  plan = shuffle_plan.plan_shuffle(cfg.seed, cfg.num_shards, estimated,
                                   max(1, cfg.memory_budget_bytes // entry.worker_count([])))
  entry.build_pipeline(p, cfg, files, plan, outputs, check)
  paths = [("--input_pattern_list", f.path) for f in files] + _sh_outputs(cfg)
  return (f"{len(files)} input file(s) -> {plan.num_shards} shard(s) x "
          f"{plan.buckets_per_shard} bucket(s)", paths)


_PIPELINES: Dict[str, _Pipeline] = {
    "make_examples": _Pipeline(_me_parse, _me_inputs, lambda c: [("--examples", c.examples)],
                               _me_build),
    "make_dataset": _Pipeline(_md_parse, _md_inputs, lambda c: [("--output_dir", c.output_dir)],
                              _md_build),
    "shuffle": _Pipeline(_sh_parse,
                         lambda c: [("--input_pattern_list", x) for x in c.input_patterns],
                         _sh_outputs, _sh_build),
}


class _OfflineFileSystem:
  """Stands in for Beam's filesystem of a remote scheme while a dry run plans and renders.

  Lookups answer "nothing there" (an output is then checked for form only, as
  schemas.output_paths does for every remote path); any other operation is refused by name.
  Pure path arithmetic (join, split) is the real filesystem's.
  """
  _PURE = ("join", "split", "scheme", "has_dirs", "CHUNK_SIZE", "report_lineage")

  def __init__(self, real, looked_up: List[str]):
    self._real = real
    self._looked_up = looked_up

  def match(self, patterns, limits=None):  # noqa: ARG002 - Beam's signature
    from apache_beam.io.filesystem import MatchResult
    self._looked_up.extend(patterns)
    return [MatchResult(p, []) for p in patterns]

  def exists(self, path):
    self._looked_up.append(path)
    return False

  def __getattr__(self, name):
    if name in self._PURE:
      return getattr(self._real, name)

    def refuse(path, *args, **kwargs):  # noqa: ARG001
      shown = path[0] if isinstance(path, (list, tuple)) and path else path
      raise LaunchError(f"dry run: {name} {shown} would use the network; a dry run never does")
    return refuse


@contextlib.contextmanager
def offline_remote_filesystems(looked_up: Optional[List[str]] = None):
  """While active, Beam FileSystems never reach a remote store (see _OfflineFileSystem).

  Why here and not in the pipelines: their planning checks remote outputs through Beam
  FileSystems (earlier shards under a prefix, an example_info.json beside it); on a machine
  without credentials or network each such call retries for two minutes, then fails with a
  traceback. The dry run plans with the pipelines' own code, so it intercepts the one place
  all of those calls go through.
  """
  from apache_beam.io.filesystems import FileSystems
  from schemas import output_paths
  looked_up = [] if looked_up is None else looked_up
  original = FileSystems.__dict__["get_filesystem"]
  real_get = original.__func__

  def get_filesystem(path):
    fs = real_get(path)
    return _OfflineFileSystem(fs, looked_up) if output_paths.is_remote(path) else fs

  FileSystems.get_filesystem = staticmethod(get_filesystem)
  try:
    yield looked_up
  finally:
    FileSystems.get_filesystem = original


def construct(p, pipeline: str, argv: Sequence[str], offline: bool = False,
              remote_only: bool = False) -> Construction:
  """Adds ``pipeline``'s graph to ``p`` with the entry point's own ``build_pipeline``.

  Parses and validates the pipeline's flags with its own config (refusing any it does not
  know), checks remote outputs for form, then plans. ``offline`` (the dry run): remote inputs
  are refused (planning reads them) and remote outputs are checked for form only.
  ``remote_only`` (a submit): local paths, which Dataflow workers cannot reach, are refused
  before planning, so that no remote lookup is spent on a job that cannot run.
  """
  from schemas import output_paths
  if pipeline not in _PIPELINES:
    raise LaunchError(f"unknown pipeline {pipeline!r}; one of {', '.join(PIPELINES)}")
  spec = _PIPELINES[pipeline]
  cfg = spec.parse(argv)
  outputs = [(flag, path) for flag, path in spec.outputs(cfg) if path]
  for flag, path in outputs:
    if output_paths.is_remote(path):
      output_paths.check_remote_form(path, flag)
  if remote_only:
    local = [(flag, path) for flag, path in spec.inputs(cfg) + outputs
             if path and not output_paths.is_remote(path)]
    if local:
      raise LaunchError("Dataflow workers cannot reach local paths: " +
                        ", ".join(f"{flag} {path}" for flag, path in local))
  if offline:
    remote = [(flag, path) for flag, path in spec.inputs(cfg)
              if path and output_paths.is_remote(path)]
    if remote:
      flag, path = remote[0]
      raise LaunchError(f"{flag} {path}: a dry run plans the work from the inputs' headers "
                        "and indexes and never uses the network; give local copies of the "
                        "inputs for the dry run")
    with offline_remote_filesystems():
      description, paths = spec.build(p, cfg)
  else:
    description, paths = spec.build(p, cfg)
  return Construction(pipeline, description, tuple(paths), tuple(outputs))


# ---- dry run: the job request, rendered offline ----------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RenderedJob:
  """A Dataflow job request as it would be sent, with the artifacts it would stage."""
  job: Dict                 # the projects.locations.jobs.create body (Job JSON)
  transforms: List[str]     # unique names of every transform in the portable pipeline
  staged: Dict[str, str]    # staged file name -> local copy under <out_dir>/staging/
  construction: Construction
  out_dir: str
  unchecked: Tuple[str, ...] = ()  # remote paths checked for form only (remote_unchecked lines)

  @property
  def environment(self) -> Dict:
    return self.job.get("environment", {})

  @property
  def worker_pool(self) -> Dict:
    return self.environment.get("workerPools", [{}])[0]

  @property
  def options(self) -> Dict:
    return self.environment.get("sdkPipelineOptions", {}).get("options", {})


def _offline_client_class():
  """A DataflowApplicationClient whose uploads land in a local directory and that never submits.

  Beam's own ``--dry_run`` stops before the job description (environment, worker pool,
  packages) is built, because building it stages files to GCS. Overriding the one upload method
  gives the full request with no network, using Beam's own code for everything else.
  """
  from apache_beam.runners.dataflow.internal import apiclient

  class OfflineDataflowClient(apiclient.DataflowApplicationClient):

    def __init__(self, options, root_staging_location, staging_dir):
      super().__init__(options, root_staging_location)
      self.staging_dir = staging_dir
      self.staged: Dict[str, str] = {}

    def stage_file(self, gcs_or_local_path, file_name, stream,
                   mime_type="application/octet-stream", total_size=None):
      local = os.path.join(self.staging_dir, file_name)
      os.makedirs(os.path.dirname(local), exist_ok=True)
      with open(local, "wb") as f:
        if isinstance(stream, str):
          with open(stream, "rb") as src:
            f.write(src.read())
        else:
          f.write(stream.read())
      self.staged[file_name] = local

  return OfflineDataflowClient


def _dataflow_options(settings: DataflowSettings, pipeline: str, extra: Sequence[str] = ()):
  """Beam's options for the job, with Beam's own validation as one LaunchError line.

  Beam validates DataflowRunner options when a Pipeline is constructed and raises a multi-line
  ValueError; the settings' own checks catch the usual mistakes first, this catches the rest.
  """
  from apache_beam.options.pipeline_options import PipelineOptions
  from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
  from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
  options = PipelineOptions(settings.beam_args(pipeline) + list(extra))
  problems = PipelineOptionsValidator(options, DataflowRunner()).validate()
  if problems:
    raise LaunchError("Beam refuses the Dataflow options: " +
                      "; ".join(" ".join(str(x).split()) for x in problems))
  return options


_RENDER_FILES = ("pipeline.json", "staging", "job.json")  # committed in this order: job.json last


def _write_json(path: str, data) -> None:
  with open(path, "w") as f:
    json.dump(data, f, indent=1, sort_keys=True)
    f.write("\n")


def render(pipeline: str, pipeline_argv: Sequence[str], settings: DataflowSettings,
           out_dir: str) -> RenderedJob:
  """Builds the pipeline with DataflowRunner and writes the job request to ``out_dir``.

  Writes ``job.json`` (the request body), ``pipeline.json`` (the portable pipeline the job
  runs) and ``staging/`` (what would be uploaded: pileflow's sdist ``workflow.tar.gz`` when
  packaging with setup.py, the pipeline proto, the pickled session). No network is used:
  remote outputs are checked for form only (``RenderedJob.unchecked`` says which), remote
  inputs are refused, and no Beam filesystem call reaches a remote store.

  The files are written into a temporary folder inside ``out_dir`` and moved into place only
  when all of them exist, ``job.json`` last: a failed or interrupted dry run leaves no
  ``job.json`` of its own. ``out_dir`` follows the output-path policy (schemas.output_paths):
  a non-empty folder that an earlier dry run did not make is refused.
  """
  import shutil
  import uuid
  import apache_beam as beam
  from google.protobuf import json_format
  from schemas import output_paths

  settings.validate()
  if output_paths.is_remote(out_dir):
    raise LaunchError(f"--dry_run {out_dir}: give a local directory (a dry run writes no "
                      "remote files)")
  output_paths.check_dir_output(out_dir, "--dry_run", overwrite=True)
  options = _dataflow_options(settings, pipeline, ["--dry_run=True", "--no_auth"])
  created = []
  d = os.path.abspath(out_dir)
  while not os.path.exists(d):
    created.append(d)
    d = os.path.dirname(d)
  os.makedirs(out_dir, exist_ok=True)
  tmp = os.path.join(out_dir, f".pileflow-tmp-render-{uuid.uuid4().hex[:8]}")
  os.makedirs(tmp)
  done = False
  try:
    with offline_remote_filesystems():
      p = beam.Pipeline(options=options)
      construction = construct(p, pipeline, pipeline_argv, offline=True)
      with packaging.sdist_build_lock(settings.setup_file):
        result = p.run()  # DataflowRunner with dry_run: translates, returns before any upload
      job = result.job
      client = _offline_client_class()(job.options, job.root_staging_location,
                                       os.path.join(tmp, "staging"))
      client.create_job_description(job)
    job_dict = json.loads(job.json())
    os.makedirs(os.path.join(tmp, "staging"), exist_ok=True)
    _write_json(os.path.join(tmp, "pipeline.json"), json_format.MessageToDict(job.proto_pipeline))
    _write_json(os.path.join(tmp, "job.json"), job_dict)
    output_paths.claim_dir(out_dir, PROG)
    for name in _RENDER_FILES:
      dest = os.path.join(out_dir, name)
      if os.path.isdir(dest) and not os.path.islink(dest):
        shutil.rmtree(dest)  # an earlier dry run's staging/, in a folder pileflow made
      os.replace(os.path.join(tmp, name), dest)
    done = True
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
    if not done:
      for folder in created:  # deepest first: only folders this run made, and only if empty
        try:
          os.rmdir(folder)
        except OSError:
          break
  transforms = sorted(t.unique_name for t in job.proto_pipeline.components.transforms.values())
  staged = {name: os.path.join(out_dir, "staging", os.path.relpath(local, os.path.join(
      tmp, "staging"))) for name, local in client.staged.items()}
  unchecked = construction.unchecked() + output_paths.remote_unchecked(
      [settings.temp_location] + ([settings.staging_location] if settings.staging_location
                                  else []))
  return RenderedJob(job_dict, transforms, staged, construction, out_dir, tuple(unchecked))


def submit(pipeline: str, pipeline_argv: Sequence[str], settings: DataflowSettings) -> int:
  """Runs the entry point's own ``main`` on DataflowRunner; blocks until the job ends.

  Refuses local paths first: Dataflow workers read and write only gs:// (or other shared
  filesystems Beam knows), and finding that out after worker start-up costs minutes.
  """
  import apache_beam as beam
  from apache_beam.options.pipeline_options import PipelineOptions
  import importlib
  settings.validate()
  beam_args = settings.beam_args(pipeline)
  # Beam's own checks of the options, offline (its soft-delete lookup of the buckets is skipped
  # in a dry run); the run itself validates them again, online.
  _dataflow_options(settings, pipeline, ["--dry_run=True", "--no_auth"])
  # Parse (and plan) once without running, to refuse local paths before anything starts.
  probe = beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"]))
  construction = construct(probe, pipeline, pipeline_argv, remote_only=True)
  local = construction.local_paths()
  if local:
    raise LaunchError("Dataflow workers cannot reach local paths: " +
                      ", ".join(f"{flag} {path}" for flag, path in local))
  entry = importlib.import_module(f"beam_pipelines.{pipeline}")
  return entry.main(list(pipeline_argv) + beam_args)


# ---- following a job -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class JobStatus:
  job_id: str
  name: str
  state: str
  create_time: str
  state_time: str
  messages: Tuple[Tuple[str, str, str], ...]  # (time, importance, text), oldest first
  counters: Dict[str, float]                   # pileflow's counters, summed over steps

  @property
  def terminal(self) -> bool:
    return self.state in TERMINAL_STATES


@dataclasses.dataclass
class JobClients:
  """The three google-cloud-dataflow-client services ``status``/``wait``/``cancel`` use."""
  jobs: object
  messages: object
  metrics: object

  @classmethod
  def connect(cls) -> "JobClients":
    from google.cloud import dataflow_v1beta3 as dataflow
    return cls(dataflow.JobsV1Beta3Client(), dataflow.MessagesV1Beta3Client(),
               dataflow.MetricsV1Beta3Client())


def _enum_name(value) -> str:
  return getattr(value, "name", str(value))


def _stamp(ts) -> str:
  if ts is None:
    return ""
  if hasattr(ts, "isoformat"):
    return ts.isoformat()
  return str(ts)


def job_status(clients: JobClients, project: str, region: str, job_id: str,
               max_messages: int = 10) -> JobStatus:
  """State, the latest warnings/errors and pileflow's counters of one job."""
  from google.cloud import dataflow_v1beta3 as dataflow
  from beam_pipelines.core import counters as counter_names
  job = clients.jobs.get_job(request=dataflow.GetJobRequest(
      project_id=project, location=region, job_id=job_id,
      view=dataflow.JobView.JOB_VIEW_SUMMARY))
  pager = clients.messages.list_job_messages(request=dataflow.ListJobMessagesRequest(
      project_id=project, location=region, job_id=job_id,
      minimum_importance=dataflow.JobMessageImportance.JOB_MESSAGE_WARNING))
  messages = sorted(((_stamp(m.time), _enum_name(m.message_importance), m.message_text)
                     for m in pager), key=lambda m: m[0])[-max_messages:]
  metrics = clients.metrics.get_job_metrics(request=dataflow.GetJobMetricsRequest(
      project_id=project, location=region, job_id=job_id))
  counters: Dict[str, float] = {}
  for m in metrics.metrics:
    context = dict(m.name.context)
    # Committed values of user counters in our namespace; tentative ones double-count.
    if m.name.origin != "user" or context.get("tentative") == "true":
      continue
    if context.get("namespace", counter_names.NAMESPACE) != counter_names.NAMESPACE:
      continue
    value = m.scalar
    if isinstance(value, (int, float)):
      counters[m.name.name] = counters.get(m.name.name, 0) + value
  return JobStatus(job.id or job_id, job.name, _enum_name(job.current_state),
                   _stamp(job.create_time), _stamp(job.current_state_time), tuple(messages),
                   dict(sorted(counters.items())))


def format_status(status: JobStatus) -> str:
  lines = [f"{status.job_id} {status.name}: {status.state} (since {status.state_time}, "
           f"created {status.create_time})"]
  for name, value in status.counters.items():
    lines.append(f"  counter {name} = {value:g}")
  for when, importance, text in status.messages:
    lines.append(f"  {when} {importance.replace('JOB_MESSAGE_', '')}: {text.splitlines()[0]}")
  return "\n".join(lines)


def wait(clients: JobClients, project: str, region: str, job_id: str, poll_s: float = 30.0,
         timeout_s: Optional[float] = None, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic,
         out: Callable[[str], None] = print) -> JobStatus:
  """Polls until the job reaches a terminal state (or ``timeout_s``); prints state changes."""
  started = clock()
  last = None
  while True:
    status = job_status(clients, project, region, job_id)
    if status.state != last:
      out(format_status(status))
      last = status.state
    if status.terminal:
      return status
    if timeout_s is not None and clock() - started >= timeout_s:
      out(f"{job_id}: still {status.state} after {timeout_s:g} s; not waiting longer")
      return status
    sleep(poll_s)


def cancel(clients: JobClients, project: str, region: str, job_id: str) -> str:
  """Asks Dataflow to cancel the job; returns the state the service reports back."""
  from google.cloud import dataflow_v1beta3 as dataflow
  job = clients.jobs.update_job(request=dataflow.UpdateJobRequest(
      project_id=project, location=region, job_id=job_id,
      job=dataflow.Job(requested_state=dataflow.JobState.JOB_STATE_CANCELLED)))
  return _enum_name(job.requested_state or job.current_state)


# ---- command line ------------------------------------------------------------------------------------
def _parser():
  from beam_pipelines import flags
  parser = flags.OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
  sub = parser.add_subparsers(dest="command", required=True)
  s = sub.add_parser("submit", help="run a pipeline on Dataflow (or render it with --dry_run)")
  s.add_argument("pipeline", choices=PIPELINES)
  s.add_argument("--project", required=True)
  s.add_argument("--region", required=True)
  s.add_argument("--temp_location", required=True, help="gs:// path for temporary files")
  s.add_argument("--staging_location", help="gs:// path for staged files "
                 "(default <temp_location>/staging)")
  s.add_argument("--job_name")
  s.add_argument("--machine_type", default=DataflowSettings.machine_type)
  s.add_argument("--max_workers", type=int, default=DataflowSettings.max_workers)
  s.add_argument("--num_workers", type=int, help="initial (or, with --noautoscaling, fixed) "
                 "worker count")
  s.add_argument("--disk_size_gb", type=int, default=DataflowSettings.disk_size_gb)
  flags.add_bool(s, "dataflow_shuffle", True, "service-side Dataflow Shuffle")
  flags.add_bool(s, "autoscaling", True, "throughput-based autoscaling up to --max_workers")
  s.add_argument("--setup_file", default=DEFAULT_SETUP_FILE,
                 help="package pileflow for the workers from this setup.py (default)")
  s.add_argument("--sdk_container_image", help="custom worker image built from "
                 "docker/beam-worker.Dockerfile (replaces --setup_file)")
  s.add_argument("--service_account_email")
  s.add_argument("--subnetwork")
  flags.add_bool(s, "use_public_ips", True, "give workers public IPs")
  s.add_argument("--label", action="append", default=[], help="extra job label key=value")
  s.add_argument("--dry_run", metavar="DIR", help="render job.json, pipeline.json and the "
                 "staged files into DIR without network, and stop")
  for name, help_text in (("status", "state, latest warnings/errors and counters"),
                          ("wait", "poll until the job ends; exit 0 only if it succeeded"),
                          ("cancel", "cancel the job")):
    f = sub.add_parser(name, help=help_text)
    f.add_argument("job_id")
    f.add_argument("--project", required=True)
    f.add_argument("--region", required=True)
    if name == "wait":
      f.add_argument("--poll_s", type=float, default=30.0)
      f.add_argument("--timeout_s", type=float)
  return parser


def settings_from_args(args) -> DataflowSettings:
  setup_file = None if args.sdk_container_image else args.setup_file
  return DataflowSettings(
      project=args.project, region=args.region, temp_location=args.temp_location,
      staging_location=args.staging_location, job_name=args.job_name,
      machine_type=args.machine_type, max_workers=args.max_workers,
      num_workers=args.num_workers, disk_size_gb=args.disk_size_gb,
      dataflow_shuffle=args.dataflow_shuffle, autoscaling=args.autoscaling,
      setup_file=setup_file, sdk_container_image=args.sdk_container_image,
      service_account_email=args.service_account_email, subnetwork=args.subnetwork,
      use_public_ips=args.use_public_ips, labels=tuple(args.label)).validate()


def _print_render(r: RenderedJob) -> None:
  pool = r.worker_pool
  images = [c.get("containerImage") for c in pool.get("sdkHarnessContainerImages", [])]
  print(f"{PROG}: dry run of {r.construction.pipeline}: {r.construction.description}")
  print(f"{PROG}:   job {r.job.get('name')}: {pool.get('machineType')} x up to "
        f"{pool.get('autoscalingSettings', {}).get('maxNumWorkers')}, disk "
        f"{pool.get('diskSizeGb')} GB, experiments "
        f"{','.join(r.environment.get('experiments', []))}")
  print(f"{PROG}:   worker image {', '.join(images)}; packages "
        f"{', '.join(p['name'] for p in pool.get('packages', []))}")
  print(f"{PROG}:   {len(r.transforms)} transforms; wrote {r.out_dir}/job.json, "
        f"pipeline.json, staging/")
  for flag, path in r.construction.local_paths():
    print(f"{PROG}:   WARNING: {flag} {path} is not on GCS; Dataflow workers cannot reach it")
  for line in r.unchecked:
    print(f"{PROG}:   not checked: {line}")


def _run(args, pipeline_argv: Sequence[str]) -> int:
  if args.command == "submit":
    settings = settings_from_args(args)
    if args.dry_run:
      _print_render(render(args.pipeline, pipeline_argv, settings, args.dry_run))
      return 0
    return submit(args.pipeline, pipeline_argv, settings)
  cli.check_project(args.project)
  cli.check_region(args.region)
  clients = JobClients.connect()
  if args.command == "status":
    print(format_status(job_status(clients, args.project, args.region, args.job_id)))
    return 0
  if args.command == "wait":
    status = wait(clients, args.project, args.region, args.job_id, args.poll_s, args.timeout_s)
    if status.state == "JOB_STATE_DONE":
      return 0
    from schemas import errors
    if status.terminal:
      raise errors.RunFailure(f"job {args.job_id} ended in {status.state}, not JOB_STATE_DONE")
    raise errors.RunFailure(f"job {args.job_id} is still {status.state} after --timeout_s "
                            f"{args.timeout_s:g}")
  print(f"{args.job_id}: {cancel(clients, args.project, args.region, args.job_id)}")
  return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
  """The command line, under the one error rule (schemas.errors.run_main)."""
  from beam_pipelines import flags
  from schemas import errors
  flags.setup_logging()
  argv, pipeline_argv = cli.split_passthrough(sys.argv[1:] if argv is None else argv)
  args = _parser().parse_args(argv)  # an unknown launcher flag: one line, exit 2
  cloud_inputs, cloud_failures = cli.cloud_errors()
  from beam_pipelines import cli_runtime

  def body():
    with cli_runtime.private_tempdir("launch"):  # Beam's pipeline temp folders go in there
      return _run(args, pipeline_argv)
  return errors.run_main(PROG, body,
                         input_errors=_input_errors() + cloud_inputs,
                         failure_errors=_failure_errors() + cloud_failures,
                         message_of=lambda e: flags.strip_beam_context(str(e)),
                         relayed=flags.worker_message)


def _input_errors() -> tuple:
  """The pipelines' bad-input errors, reported as one line like the entry points do."""
  from beam_pipelines.core.splits import SplitError
  from beam_pipelines.io.make_examples_inputs import INPUT_ERRORS
  return tuple(INPUT_ERRORS) + (SplitError,)


def _failure_errors() -> tuple:
  """A Dataflow job that failed (the driver waits for it): exit 1, one line."""
  try:
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRuntimeException
  except ImportError:
    return ()
  return (DataflowRuntimeException,)


if __name__ == "__main__":
  sys.exit(main())
