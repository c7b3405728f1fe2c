"""launch.vertex: the CustomJob request for each machine shape, built and checked offline."""
import json
import tarfile

import pytest

from launch import vertex

BASE = dict(project="my-proj", region="us-central1", experiment_dir="gs://my-bucket/exp1",
            display_name="pileflow-train-test",
            image_uri="us-central1-docker.pkg.dev/my-proj/pileflow/trainer:0.1.0",
            trainer_args=("--config=wgs",
                          "--config.train_dataset_pbtxt=gs://my-bucket/ds/train/dataset_config.pbtxt",
                          "--config.tune_dataset_pbtxt=gs://my-bucket/ds/tune/dataset_config.pbtxt"))
DATA = BASE["trainer_args"][1:]


def request(**change):
  settings = vertex.VertexSettings(**{**BASE, **change}).validate()
  return vertex.request_json(settings, vertex.build_custom_job(
      settings, ["gs://my-bucket/staging/pileflow-trainer/x.tar.gz"]))


def pools(req):
  return req["customJob"]["jobSpec"]["workerPoolSpecs"]


def test_single_gpu_container_job():
  req = request(machine_type="g2-standard-8", accelerator_type="NVIDIA_L4", accelerator_count=1)
  assert req["parent"] == "projects/my-proj/locations/us-central1"
  job = req["customJob"]
  assert job["displayName"] == "pileflow-train-test"
  assert job["jobSpec"]["baseOutputDirectory"]["outputUriPrefix"] == "gs://my-bucket/exp1"
  (pool,) = pools(req)
  assert pool["machineSpec"] == {"machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L4",
                                 "acceleratorCount": 1}
  assert pool["replicaCount"] == "1"
  assert pool["containerSpec"]["imageUri"] == BASE["image_uri"]
  # the trainer writes where Vertex's TensorBoard uploader looks; one GPU needs no strategy flag
  assert pool["containerSpec"]["args"] == ["--experiment_dir=gs://my-bucket/exp1/logs",
                                           *BASE["trainer_args"]]


@pytest.mark.parametrize("change,strategy", [
    ({}, []),                                                            # CPU, one machine
    ({"accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 4},
     ["--strategy=mirrored"]),                                           # 4 GPUs on one machine
    ({"replica_count": 3}, ["--strategy=multi_worker"]),                # TF_CONFIG cluster
    ({"machine_type": "cloud-tpu", "accelerator_type": "TPU_V3", "accelerator_count": 8},
     ["--strategy=tpu", "--leader=local"]),                              # a TPU VM
])
def test_strategy_follows_the_machine_shape(change, strategy):
  args = pools(request(**change))[0]["containerSpec"]["args"]
  assert args[1:1 + len(strategy)] == strategy
  assert args[1 + len(strategy):] == list(BASE["trainer_args"])


def test_multi_worker_pools_chief_then_workers():
  req = request(replica_count=4, machine_type="n1-standard-16",
                accelerator_type="NVIDIA_TESLA_V100", accelerator_count=2)
  chief, workers = pools(req)
  assert (chief["replicaCount"], workers["replicaCount"]) == ("1", "3")  # Vertex: pool 0 chief
  assert chief["machineSpec"] == workers["machineSpec"]
  assert chief["containerSpec"] == workers["containerSpec"]  # same program on every replica


def test_tpu_v5e_needs_topology_and_carries_it():
  with pytest.raises(vertex.LaunchError, match="--tpu_topology"):
    request(machine_type="ct5lp-hightpu-4t", accelerator_type="TPU_V5_LITEPOD",
            accelerator_count=4)
  req = request(machine_type="ct5lp-hightpu-4t", accelerator_type="TPU_V5_LITEPOD",
                accelerator_count=4, tpu_topology="2x2")
  assert pools(req)[0]["machineSpec"]["tpuTopology"] == "2x2"


def test_python_package_job_and_tensorboard():
  req = request(image_uri=None, staging_bucket="gs://my-bucket/staging",
                accelerator_type="NVIDIA_TESLA_T4", accelerator_count=1,
                service_account="sa@my-proj.iam.gserviceaccount.com",
                tensorboard="projects/my-proj/locations/us-central1/tensorboards/42",
                timeout_hours=12)
  spec = req["customJob"]["jobSpec"]
  pkg = spec["workerPoolSpecs"][0]["pythonPackageSpec"]
  assert pkg["pythonModule"] == "trainer.train"
  assert pkg["packageUris"] == ["gs://my-bucket/staging/pileflow-trainer/x.tar.gz"]
  assert pkg["executorImageUri"] == vertex.DEFAULT_EXECUTOR_GPU
  assert spec["tensorboard"] == "projects/my-proj/locations/us-central1/tensorboards/42"
  assert spec["serviceAccount"] == "sa@my-proj.iam.gserviceaccount.com"
  assert spec["scheduling"]["timeout"] == "43200s"


@pytest.mark.parametrize("change,message", [
    ({"experiment_dir": "/tmp/exp"}, "must be a gs://"),                 # Vertex cannot write it
    ({"image_uri": None}, "exactly one of"),                             # no code to run
    ({"staging_bucket": "gs://b/s"}, "exactly one of"),                  # two ways at once
    ({"accelerator_type": "NVIDIA_TESLA_K9000", "accelerator_count": 1}, "is not one of"),
    ({"accelerator_type": "NVIDIA_L4"}, "go together"),                  # type without count
    ({"machine_type": "n1-standard-8", "accelerator_type": "TPU_V3", "accelerator_count": 8},
     "cloud-tpu"),                                                        # v3 needs cloud-tpu
    ({"machine_type": "cloud-tpu", "accelerator_type": "TPU_V3", "accelerator_count": 8,
      "replica_count": 2}, "one TPU VM"),                                 # no multi-TPU-VM
    ({"tensorboard": "projects/p/locations/r/tensorboards/1"}, "--service_account"),
    ({"tensorboard": "tb-1", "service_account": "x"}, "projects/P/locations/R"),
    ({"trainer_args": ("--experiment_dir=gs://x",)}, "set by the launcher"),
    ({"trainer_args": ("--strategy=mirrored",)}, "set by the launcher"),
    ({"replica_count": 0}, "--replica_count"),
])
def test_validation_names_the_flag(change, message):
  with pytest.raises(vertex.LaunchError, match=message):
    vertex.VertexSettings(**{**BASE, **change}).validate()


def test_trainer_sdist_has_trainer_and_schemas_only(tmp_path):
  from launch import packaging
  path = packaging.build_trainer_sdist(str(tmp_path))
  with tarfile.open(path) as tar:
    names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    requires = next(tar.extractfile(m).read().decode() for m in tar.getmembers()
                    if m.name.endswith("requires.txt"))
  assert {"trainer/train.py", "trainer/loop.py", "schemas/example_format.py",
          "schemas/protos/variants.proto"} <= names
  assert not any(n.startswith(("beam_pipelines/", "launch/", "tests/")) for n in names)
  assert "tensorflow<2.22,>=2.21" in requires.splitlines()
  assert not any(line.startswith(("apache-beam", "pysam")) for line in requires.splitlines())


def test_cli_dry_run_prints_the_request(capsys, tmp_path):
  rc = vertex.main(["--project", "my-proj", "--region", "us-central1", "--experiment_dir",
                    "gs://my-bucket/exp1", "--staging_bucket", "gs://my-bucket/staging",
                    "--replica_count", "2", "--dry_run", "--", "--config=tiny", *DATA])
  out = capsys.readouterr().out
  assert rc == 0
  notes = [line for line in out.splitlines() if line.startswith("#")]
  assert notes[0].startswith("# would upload pileflow_trainer-0.1.0.tar.gz")
  assert "# not checked: gs://my-bucket/exp1: checked for form only" in "\n".join(notes)
  req = json.loads("\n".join(line for line in out.splitlines() if not line.startswith("#")))
  assert [p["replicaCount"] for p in pools(req)] == ["1", "1"]
  assert pools(req)[0]["pythonPackageSpec"]["packageUris"] == [
      "gs://my-bucket/staging/pileflow-trainer/pileflow_trainer-0.1.0.tar.gz"]
  assert pools(req)[0]["pythonPackageSpec"]["args"][-4:] == ["--strategy=multi_worker",
                                                             "--config=tiny", *DATA]


def test_cli_bad_flag_is_one_line(capsys):
  with pytest.raises(SystemExit) as e:
    vertex.main(["--project", "my-proj", "--region", "us-central1", "--experiment_dir",
                 "/local", "--image_uri", "img", "--dry_run"])
  err = capsys.readouterr().err.strip().splitlines()
  assert e.value.code == 2 and len(err) == 1 and "--experiment_dir must be a gs://" in err[0]
