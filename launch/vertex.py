"""Vertex AI launcher: the trainer as a CustomJob (container image or python package).

Why: the trainer already runs unchanged on one machine, on several (MultiWorkerMirroredStrategy
from TF_CONFIG) and on a TPU VM (``--strategy=tpu --leader=local``); what it lacks on Vertex is
a correct CustomJob: worker pools, accelerators, the strategy flag that matches them, the
experiment directory and TensorBoard. ``--dry_run`` prints the request and sends nothing; it
uses no network: gs:// paths are checked for form only and listed as ``# not checked`` lines.
Errors follow schemas.errors: one stderr line; exit 2 bad input, 1 failure, 130 interrupted.

  # container image built from docker/trainer.Dockerfile, 1 machine with 4 GPUs
  python -m launch.vertex --project P --region us-central1 --experiment_dir gs://B/exp1 \\
    --image_uri us-central1-docker.pkg.dev/P/pileflow/trainer:0.1.0 \\
    --machine_type a2-highgpu-4g --accelerator_type NVIDIA_TESLA_A100 --accelerator_count 4 \\
    --dry_run -- --config=wgs --config.train_dataset_pbtxt=gs://B/ds/train/dataset_config.pbtxt \\
    --config.tune_dataset_pbtxt=gs://B/ds/tune/dataset_config.pbtxt

  # python package (sdist of trainer + schemas uploaded to --staging_bucket) on 3 machines
  python -m launch.vertex ... --staging_bucket gs://B/staging --replica_count 3 \\
    --machine_type n1-standard-16 --accelerator_type NVIDIA_TESLA_T4 --accelerator_count 2

  # a TPU VM (v3-8)
  python -m launch.vertex ... --image_uri IMAGE --machine_type cloud-tpu \\
    --accelerator_type TPU_V3 --accelerator_count 8

Layout on GCS: Vertex's ``base_output_directory`` is ``--experiment_dir``; Vertex points
``AIP_TENSORBOARD_LOG_DIR`` at ``<experiment_dir>/logs`` and uploads only that directory to
Vertex TensorBoard, so the trainer's own ``--experiment_dir`` (checkpoints, event files,
best_checkpoint.json, export/) is ``<experiment_dir>/logs``, with or without TensorBoard.
Vertex writes TF_CONFIG into every replica of a multi-pool job itself (pool 0 is the chief,
pool 1 the workers); the launcher only chooses ``--strategy=multi_worker`` for the trainer.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('launch.vertex')

import dataclasses
import datetime
import json
import os
import re
import sys
import tempfile
from typing import List, Optional, Sequence, Tuple

from launch import cli
from schemas import errors

PROG = "launch.vertex"
TPU_TYPES = ("TPU_V2", "TPU_V3", "TPU_V4_POD", "TPU_V5_LITEPOD")
# Vertex's prebuilt TensorFlow training images for the python-package path. Their TensorFlow
# is older than the one setup.py pins; pip then installs ours over it (slow start, larger disk).
# The container path (docker/trainer.Dockerfile) avoids that and is the recommended one.
DEFAULT_EXECUTOR_CPU = "us-docker.pkg.dev/vertex-ai/training/tf-cpu.2-17.py310:latest"
DEFAULT_EXECUTOR_GPU = "us-docker.pkg.dev/vertex-ai/training/tf-gpu.2-17.py310:latest"
_TENSORBOARD_RE = re.compile(r"^projects/[^/]+/locations/[^/]+/tensorboards/[^/]+$")


LaunchError = cli.LaunchError  # a bad launcher flag or combination: one line, exit code 2


@dataclasses.dataclass(frozen=True)
class VertexSettings:
  """One CustomJob, validated once. ``replica_count`` counts every machine (chief included)."""
  project: str
  region: str
  experiment_dir: str
  trainer_args: Tuple[str, ...] = ()
  display_name: Optional[str] = None
  image_uri: Optional[str] = None
  staging_bucket: Optional[str] = None
  executor_image_uri: Optional[str] = None
  machine_type: str = "n1-standard-8"
  accelerator_type: Optional[str] = None
  accelerator_count: int = 0
  tpu_topology: Optional[str] = None
  replica_count: int = 1
  boot_disk_size_gb: int = 100
  service_account: Optional[str] = None
  tensorboard: Optional[str] = None
  network: Optional[str] = None
  timeout_hours: Optional[float] = None

  @property
  def is_tpu(self) -> bool:
    return bool(self.accelerator_type) and self.accelerator_type in TPU_TYPES

  @property
  def trainer_experiment_dir(self) -> str:
    return self.experiment_dir.rstrip("/") + "/logs"

  def validate(self) -> "VertexSettings":
    from google.cloud import aiplatform_v1
    from schemas import output_paths
    cli.check_project(self.project)
    cli.check_region(self.region)
    if not self.experiment_dir.startswith("gs://"):
      raise LaunchError(f"--experiment_dir must be a gs:// path Vertex can write, got "
                        f"{self.experiment_dir!r}")
    output_paths.check_remote_form(self.experiment_dir, "--experiment_dir")
    if bool(self.image_uri) == bool(self.staging_bucket):
      raise LaunchError("give exactly one of --image_uri (container built from "
                        "docker/trainer.Dockerfile) or --staging_bucket (python package)")
    if self.staging_bucket:
      if not self.staging_bucket.startswith("gs://"):
        raise LaunchError(f"--staging_bucket must be gs://..., got {self.staging_bucket!r}")
      output_paths.check_remote_form(self.staging_bucket, "--staging_bucket")
    known = [t.name for t in aiplatform_v1.AcceleratorType if t.value]
    if self.accelerator_type and self.accelerator_type not in known:
      raise LaunchError(f"--accelerator_type {self.accelerator_type!r} is not one of "
                        f"{', '.join(known)}")
    if bool(self.accelerator_type) != (self.accelerator_count > 0):
      raise LaunchError("--accelerator_type and --accelerator_count > 0 go together")
    if self.is_tpu:
      if self.replica_count != 1:
        raise LaunchError("a TPU job is one TPU VM (--replica_count 1); the TPU strategy "
                          "spreads over its cores")
      if self.accelerator_type in ("TPU_V2", "TPU_V3") and (
          self.machine_type != "cloud-tpu" or self.accelerator_count != 8):
        raise LaunchError(f"{self.accelerator_type} on Vertex is --machine_type cloud-tpu "
                          "--accelerator_count 8")
      if self.accelerator_type in ("TPU_V4_POD", "TPU_V5_LITEPOD") and not self.tpu_topology:
        raise LaunchError(f"{self.accelerator_type} needs --tpu_topology (e.g. 2x2)")
      if self.staging_bucket:
        raise LaunchError("TPU jobs need --image_uri (an image with TensorFlow for TPU); "
                          "Vertex's prebuilt python-package images are for CPU/GPU")
    if self.replica_count < 1:
      raise LaunchError(f"--replica_count must be >= 1, got {self.replica_count}")
    if self.tensorboard:
      if not _TENSORBOARD_RE.match(self.tensorboard):
        raise LaunchError(f"--tensorboard must be projects/P/locations/R/tensorboards/ID, "
                          f"got {self.tensorboard!r}")
      if not self.service_account:
        raise LaunchError("--tensorboard needs --service_account (Vertex uploads the logs "
                          "as that account)")
    for flag in ("--experiment_dir", "--strategy", "--leader"):
      if any(a == flag or a.startswith(flag + "=") for a in self.trainer_args):
        raise LaunchError(f"trainer flag {flag} is set by the launcher; give "
                          + ("--experiment_dir to the launcher" if flag == "--experiment_dir"
                             else "the machine shape instead"))
    check_trainer_args(self.trainer_args)
    if self.boot_disk_size_gb < 100:
      raise LaunchError(f"--boot_disk_size_gb must be >= 100 (Vertex's minimum), got "
                        f"{self.boot_disk_size_gb}")
    return self

  def strategy_args(self) -> List[str]:
    """The trainer's strategy for this machine shape (trainer/strategies.py)."""
    if self.is_tpu:
      return ["--strategy=tpu", "--leader=local"]
    if self.replica_count > 1:
      return ["--strategy=multi_worker"]
    if self.accelerator_count > 1:
      return ["--strategy=mirrored"]
    return []

  def trainer_argv(self) -> List[str]:
    return ([f"--experiment_dir={self.trainer_experiment_dir}"] + self.strategy_args()
            + list(self.trainer_args))

  def resolved_display_name(self, now: Optional[datetime.datetime] = None) -> str:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return self.display_name or f"pileflow-train-{now:%Y%m%d-%H%M%S}"

  def package_uri(self, sdist_name: str) -> str:
    return f"{self.staging_bucket.rstrip('/')}/pileflow-trainer/{sdist_name}"

  def unchecked(self) -> List[str]:
    """What a dry run checks for form only: the gs:// paths of the job and of the trainer's
    flags (schemas.output_paths.remote_unchecked lines); nothing is looked up on GCS."""
    from schemas import output_paths
    paths = [self.experiment_dir] + ([self.staging_bucket] if self.staging_bucket else [])
    for arg in self.trainer_args:
      value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
      if output_paths.is_remote(value) and value not in paths:
        paths.append(value)
    return output_paths.remote_unchecked(paths)


def check_trainer_args(trainer_args: Sequence[str]) -> None:
  """Parses the trainer's flags (after ``--``) as trainer.train will, before anything is sent.

  Why: a preset name or config key that does not exist would otherwise be found only when
  the job's container starts, minutes and a machine bill later. The trainer's parser and
  config resolution are pure Python (no TensorFlow); ``--experiment_dir`` and the strategy
  are the launcher's, so a placeholder stands in for them.
  """
  from trainer import train as train_lib
  try:
    rest, overrides = train_lib.split_config_overrides(list(trainer_args))
  except ValueError as e:
    raise LaunchError(f"trainer flags after --: {e}") from None
  parser = train_lib.build_parser()
  parser.prog = PROG
  args = parser.parse_args(rest + ["--experiment_dir", "gs://placeholder/exp"])
  try:
    train_lib.resolve_config(args.config, overrides)
  except ValueError as e:
    raise LaunchError(f"trainer flags after --: {e}") from None


def build_custom_job(settings: VertexSettings, package_uris: Sequence[str] = ()):
  """The ``aiplatform_v1.CustomJob`` for ``settings`` (no network).

  Pool 0 is the chief (1 replica); with ``replica_count`` N > 1, pool 1 holds N - 1 identical
  workers, and Vertex sets each replica's TF_CONFIG from the pools.
  """
  from google.cloud import aiplatform_v1 as aip
  machine = aip.MachineSpec(machine_type=settings.machine_type)
  if settings.accelerator_type:
    machine.accelerator_type = aip.AcceleratorType[settings.accelerator_type]
    machine.accelerator_count = settings.accelerator_count
  if settings.tpu_topology:
    machine.tpu_topology = settings.tpu_topology
  argv = settings.trainer_argv()
  if settings.image_uri:
    code = {"container_spec": aip.ContainerSpec(image_uri=settings.image_uri, args=argv)}
  else:
    executor = settings.executor_image_uri or (
        DEFAULT_EXECUTOR_GPU if settings.accelerator_count else DEFAULT_EXECUTOR_CPU)
    code = {"python_package_spec": aip.PythonPackageSpec(
        executor_image_uri=executor, package_uris=list(package_uris),
        python_module="trainer.train", args=argv)}
  disk = aip.DiskSpec(boot_disk_type="pd-ssd", boot_disk_size_gb=settings.boot_disk_size_gb)
  pools = [aip.WorkerPoolSpec(machine_spec=machine, replica_count=1, disk_spec=disk, **code)]
  if settings.replica_count > 1:
    pools.append(aip.WorkerPoolSpec(machine_spec=machine, replica_count=settings.replica_count - 1,
                                    disk_spec=disk, **code))
  spec = aip.CustomJobSpec(
      worker_pool_specs=pools,
      base_output_directory=aip.GcsDestination(output_uri_prefix=settings.experiment_dir))
  if settings.service_account:
    spec.service_account = settings.service_account
  if settings.tensorboard:
    spec.tensorboard = settings.tensorboard
  if settings.network:
    spec.network = settings.network
  if settings.timeout_hours:
    spec.scheduling = aip.Scheduling(timeout=datetime.timedelta(hours=settings.timeout_hours))
  return aip.CustomJob(display_name=settings.resolved_display_name(), job_spec=spec)


def parent(settings: VertexSettings) -> str:
  return f"projects/{settings.project}/locations/{settings.region}"


def request_json(settings: VertexSettings, job) -> dict:
  """The CreateCustomJob request as JSON: parent + customJob, as the REST API receives it."""
  from google.cloud import aiplatform_v1 as aip
  return {"parent": parent(settings),
          "customJob": json.loads(aip.CustomJob.to_json(
      job, use_integers_for_enums=False, including_default_value_fields=False))}


def prepare(settings: VertexSettings, dist_dir: str) -> Tuple[List[str], Optional[str]]:
  """For the python-package path, builds the trainer sdist; returns (package URIs, local sdist)."""
  if settings.image_uri:
    return [], None
  from launch import packaging
  sdist = packaging.build_trainer_sdist(dist_dir)
  return [settings.package_uri(os.path.basename(sdist))], sdist


def submit(settings: VertexSettings, dry_run: bool, out=print) -> dict:
  """Builds (and unless ``dry_run``, uploads and submits) the job; returns the request JSON."""
  settings.validate()
  with tempfile.TemporaryDirectory(prefix="pileflow-vertex-") as tmp:
    uris, sdist = prepare(settings, tmp)
    job = build_custom_job(settings, uris)
    request = request_json(settings, job)
    if dry_run:
      if sdist:
        out(f"# would upload {os.path.basename(sdist)} ({os.path.getsize(sdist):,} bytes) "
            f"to {uris[0]}")
      for line in settings.unchecked():
        out(f"# not checked: {line}")
      out(json.dumps(request, indent=1, sort_keys=True))
      return request
    from google.cloud import aiplatform_v1 as aip
    from launch import packaging
    if sdist:
      packaging.upload(sdist, uris[0])
    client = aip.JobServiceClient(
        client_options={"api_endpoint": f"{settings.region}-aiplatform.googleapis.com"})
    created = client.create_custom_job(parent=parent(settings), custom_job=job)
  job_id = created.name.rsplit("/", 1)[-1]
  out(f"{PROG}: submitted {created.name} ({created.display_name})")
  out(f"{PROG}:   console: https://console.cloud.google.com/vertex-ai/locations/"
      f"{settings.region}/training/{job_id}/cpu?project={settings.project}")
  out(f"{PROG}:   trainer experiment dir: {settings.trainer_experiment_dir}")
  return request


def _parser():
  import argparse

  class _Parser(argparse.ArgumentParser):
    def error(self, message):
      errors.fail(self.prog, message, errors.EXIT_INPUT)

  p = _Parser(prog=PROG, description=__doc__.splitlines()[0])
  p.add_argument("--project", required=True)
  p.add_argument("--region", required=True)
  p.add_argument("--experiment_dir", required=True, help="gs:// base output directory")
  p.add_argument("--display_name")
  p.add_argument("--image_uri", help="trainer image (docker/trainer.Dockerfile)")
  p.add_argument("--staging_bucket", help="gs:// path for the trainer sdist (python package)")
  p.add_argument("--executor_image_uri", help="prebuilt image for the python package")
  p.add_argument("--machine_type", default=VertexSettings.machine_type)
  p.add_argument("--accelerator_type", help="e.g. NVIDIA_TESLA_T4, NVIDIA_L4, TPU_V3")
  p.add_argument("--accelerator_count", type=int, default=0)
  p.add_argument("--tpu_topology")
  p.add_argument("--replica_count", type=int, default=1, help="machines, chief included")
  p.add_argument("--boot_disk_size_gb", type=int, default=VertexSettings.boot_disk_size_gb)
  p.add_argument("--service_account")
  p.add_argument("--tensorboard", help="projects/P/locations/R/tensorboards/ID")
  p.add_argument("--network")
  p.add_argument("--timeout_hours", type=float)
  p.add_argument("--dry_run", action="store_true", help="print the CustomJob request and stop")
  return p


def main(argv: Optional[Sequence[str]] = None) -> int:
  """The command line, under the one error rule (schemas.errors.run_main): bad input is one
  stderr line and exit 2, a failure (upload, the Vertex API) one line and exit 1, an interrupt
  one line and exit 130."""
  argv, trainer_args = cli.split_passthrough(sys.argv[1:] if argv is None else argv)
  a = _parser().parse_args(argv)  # an unknown launcher flag: one line, exit 2

  def body() -> int:
    settings = VertexSettings(
        project=a.project, region=a.region, experiment_dir=a.experiment_dir,
        trainer_args=tuple(trainer_args), display_name=a.display_name, image_uri=a.image_uri,
        staging_bucket=a.staging_bucket, executor_image_uri=a.executor_image_uri,
        machine_type=a.machine_type, accelerator_type=a.accelerator_type,
        accelerator_count=a.accelerator_count, tpu_topology=a.tpu_topology,
        replica_count=a.replica_count, boot_disk_size_gb=a.boot_disk_size_gb,
        service_account=a.service_account, tensorboard=a.tensorboard, network=a.network,
        timeout_hours=a.timeout_hours)
    submit(settings, a.dry_run)
    return 0

  cloud_inputs, cloud_failures = cli.cloud_errors()
  return errors.run_main(PROG, body, input_errors=cloud_inputs, failure_errors=cloud_failures)


if __name__ == "__main__":
  sys.exit(main())
