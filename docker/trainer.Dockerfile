# Vertex AI trainer image: Python 3.11, TensorFlow with CUDA wheels, and pileflow's trainer +
# schemas only (no Beam, no pysam), pinned to the versions the test suite runs with.
# Build from the repository root:
#   docker build -f docker/trainer.Dockerfile -t REGION-docker.pkg.dev/P/pileflow/trainer:0.1.0 .
#   docker push REGION-docker.pkg.dev/P/pileflow/trainer:0.1.0
# then: python -m launch.vertex ... --image_uri REGION-docker.pkg.dev/P/pileflow/trainer:0.1.0
# CPU-only machines use the same image (TensorFlow falls back to the CPU). For TPU VMs build
# with --build-arg TF_PACKAGE=tensorflow-tpu (TensorFlow's TPU wheel of the same version).
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim
ARG TF_PACKAGE=tensorflow[and-cuda]

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/opt/pileflow
WORKDIR /opt/pileflow
RUN pip install --no-cache-dir \
      "${TF_PACKAGE}==2.21.0" \
      "tf-keras==2.21.0" \
      "ml-collections==1.1.0" \
      "scipy==1.17.1" \
      "numpy==2.4.6" \
      "protobuf==6.33.6" \
      "grpcio-tools==1.80.1" \
      "isal==1.9.1" \
      "matplotlib==3.11.2"
COPY schemas/ schemas/
COPY trainer/ trainer/
# The pure core only (no Beam, no pysam). The calling tune needs pysam (pileflow[pipelines]),
# which this image leaves out: there it stops with one line saying so.
COPY beam_pipelines/__init__.py beam_pipelines/__init__.py
COPY beam_pipelines/core/ beam_pipelines/core/
# Compiles schemas/protos at build time, so replicas start without grpcio-tools work.
RUN python -c "import schemas, trainer.train, trainer.call"

ENTRYPOINT ["python", "-m", "trainer.train"]
