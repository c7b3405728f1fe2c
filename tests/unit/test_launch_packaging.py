"""The Dockerfiles pin the versions we test with, inside setup.py's ranges.

They cannot be built here (no container engine), so this is what keeps them honest: every
requirement of the extras an image serves is pinned, each pin satisfies setup.py's range, and
the worker image's Beam SDK tag is the Beam the image pins (Dataflow needs the job's SDK). The
pins are the versions the suite ran with when they were written; a test that compared them with
whatever pip resolves today would fail on every upstream release, so it is not here.
"""
import os
import sys

import pytest
from packaging.requirements import Requirement

from launch import packaging

WORKER = os.path.join(packaging.DOCKER_DIR, "beam-worker.Dockerfile")
TRAINER = os.path.join(packaging.DOCKER_DIR, "trainer.Dockerfile")


def _ranges(*lists):
  reqs = packaging.setup_requirements()
  out = {}
  for name in lists:
    for text in reqs[name]:
      r = Requirement(text)
      out[packaging.normalise(r.name)] = r.specifier
  return out


@pytest.mark.parametrize("dockerfile,extras", [
    (WORKER, ("BASE", "PIPELINES")),  # the Beam worker runs the pipelines
    (TRAINER, ("BASE", "TRAINER")),   # the trainer image: TensorFlow side only
])
def test_every_requirement_is_pinned_inside_setup_py_ranges(dockerfile, extras):
  pins = packaging.dockerfile_pins(dockerfile)
  ranges = _ranges(*extras)
  missing = sorted(set(ranges) - set(pins))
  assert not missing, f"{os.path.basename(dockerfile)} does not pin {missing}"
  for name, spec in ranges.items():
    assert spec.contains(pins[name], prereleases=False), (name, pins[name], str(spec))


def test_worker_image_matches_its_beam_pin_and_python():
  (image,) = packaging.dockerfile_base_images(WORKER)
  beam = packaging.dockerfile_pins(WORKER)["apache-beam"]
  py = f"{sys.version_info.major}.{sys.version_info.minor}"
  # Dataflow runs the job with the SDK in the image: it must be the Beam that built the job.
  assert image == f"apache/beam_python{py}_sdk:{beam}"


def test_trainer_image_is_python_of_the_tests_and_has_no_beam():
  (image,) = packaging.dockerfile_base_images(TRAINER)
  assert image == f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
  pins = packaging.dockerfile_pins(TRAINER)
  assert not {"apache-beam", "pysam", "pyarrow", "tfx-bsl"} & set(pins)
  text = open(TRAINER).read()
  assert 'ENTRYPOINT ["python", "-m", "trainer.train"]' in text
  assert "COPY beam_pipelines/ " not in text  # only the pure core, never the Beam half
  assert "COPY beam_pipelines/core/ beam_pipelines/core/" in text


def test_setup_requirements_are_parsed_not_executed():
  reqs = packaging.setup_requirements()
  assert set(reqs) >= {"BASE", "PIPELINES", "TRAINER", "GCP", "DEV"}
  assert any(r.startswith("apache-beam>=2.70,<") for r in reqs["PIPELINES"])  # the range, as written
  assert packaging.setup_version() == "0.1.0"


@pytest.mark.parametrize("text,name", [
    ("apache-beam[gcp]>=2.70,<3", "apache-beam"),  # extras dropped
    ("tf_keras>=2.21", "tf-keras"),                 # PEP 503 normalisation
    ("Google.CRC32C>=1.5", "google-crc32c"),        # case and dots
])
def test_requirement_name(text, name):
  assert packaging.requirement_name(text) == name
