# Dataflow worker (Beam SDK harness) image for pileflow's pipelines: Beam's own Python 3.11 SDK
# image plus pileflow[pipelines,gcp], pinned to the versions the test suite runs with.
# Build from the repository root (no container engine is needed to run pileflow locally):
#   docker build -f docker/beam-worker.Dockerfile -t REGION-docker.pkg.dev/P/pileflow/beam-worker:0.1.0 .
#   docker push REGION-docker.pkg.dev/P/pileflow/beam-worker:0.1.0
# then: python -m launch.dataflow submit ... --sdk_container_image REGION-docker.pkg.dev/P/pileflow/beam-worker:0.1.0
# The FROM tag must equal the apache-beam pin below (Dataflow refuses an SDK/image mismatch);
# tests/unit/test_launch_packaging.py checks both against setup.py and the tested versions.
ARG BEAM_VERSION=2.77.0
FROM apache/beam_python3.11_sdk:${BEAM_VERSION}

WORKDIR /opt/pileflow
COPY setup.py pyproject.toml README.md ./
COPY schemas/ schemas/
COPY beam_pipelines/ beam_pipelines/
# Pins first (one layer that changes only with versions), then pileflow itself without
# re-resolving them. Versions: apache-beam, numpy, protobuf, grpcio-tools (compiles the protos
# at build), isal (gzip shards), pysam, google-crc32c, psutil, numba, matplotlib.
RUN pip install --no-cache-dir \
      "apache-beam[gcp]==2.77.0" \
      "numpy==2.4.6" \
      "protobuf==6.33.6" \
      "grpcio-tools==1.80.1" \
      "isal==1.9.1" \
      "pysam==0.24.1" \
      "google-crc32c==1.9.0" \
      "psutil==7.2.2" \
      "numba==0.68.1" \
      "matplotlib==3.11.2" \
 && pip install --no-cache-dir --no-deps . \
 && python -c "import schemas, beam_pipelines.make_examples"

# The Beam SDK harness entry point of the base image stays as it is.
