"""pileflow: DeepVariant-compatible training data (Beam) and a decoupled Keras trainer.

Extras keep the two halves apart (``pip install -e .[pipelines]`` needs no TensorFlow code of
ours to import, ``.[trainer]`` pulls neither Beam nor pysam):

  pipelines  Beam pipelines: BAM/CRAM -> labeled pileup examples -> shuffled shards
  trainer    the TensorFlow/Keras trainer
  gcp        Dataflow and Vertex AI submission
  dev        test and benchmark tools
  all        everything above

The version ranges are the ones tested together on Python 3.11 (see README "Versions").
"""
import os
import runpy

import setuptools
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))

# Ranges known to install together from PyPI on Python 3.11 (tested with apache-beam 2.77,
# tensorflow 2.21, pysam 0.24); numpy is capped by Beam (<2.5). No tfx-bsl or pyarrow pin:
# nothing here imports them (calling uses Beam's own RunInference, apache_beam.ml.inference);
# pyarrow comes with Beam. Beam is capped below 2.78: launch/dask_runner.py wraps
# Beam 2.77's DaskRunner ParDo translation, which 2.78 changed (the shuffle's tagged summary
# output then reaches the bucket writer); the Dataflow worker image tag follows the installed Beam.
BASE = [
    "numpy>=1.26,<2.5",
    "protobuf>=6.31.1,<7",
    # compiles schemas/protos lazily in a source checkout; 1.82+ needs protobuf 7, which Beam
    # 2.77 does not allow.
    "grpcio-tools>=1.71,<1.82",
    # ISA-L's deflate for every gzip shard written (schemas/tfrecord.py: ~25x zlib's level 6).
    "isal>=1.6,<2",
]
PIPELINES = [
    "apache-beam>=2.70,<2.78",
    "pysam>=0.23,<0.25",
    "google-crc32c>=1.5",
    "psutil>=5.9",
    "numba>=0.60",  # compiles the realigner's Smith-Waterman kernel
    "matplotlib>=3.8",  # show_examples pictures and the dataset report
]
TRAINER = [
    "tensorflow>=2.21,<2.22",
    "tf-keras>=2.21,<2.22",  # Keras 2 form of DeepVariant's checkpoints
    "ml-collections>=1.0,<2",
    "scipy>=1.11",  # trainer.study: Wilcoxon signed-rank and paired t tests, rank-based AUC
    "matplotlib>=3.8",
]
GCP = [
    "apache-beam[gcp]>=2.70,<2.78",
    "google-cloud-dataflow-client>=0.8",
    "google-cloud-aiplatform>=1.60",
]
DEV = [
    "pytest>=8",
    "pytest-xdist>=3.5",
    "psutil>=5.9",
    "dask>=2024.1",  # tests run the pipelines on a dask.distributed LocalCluster
    "distributed>=2024.1",
]


class BuildPyWithProtos(build_py):
  """Compiles the .proto contract before packaging so wheels ship the *_pb2 modules."""

  def run(self):
    super().run()
    build = runpy.run_path(os.path.join(HERE, "schemas", "protos", "build.py"))
    build["compile_protos"](self.build_lib)


setuptools.setup(
    name="pileflow",
    version="0.1.0",
    description=("Labeled pileup examples from BAM/CRAM with Apache Beam, a global shuffle in "
                 "bounded memory, and a Keras trainer, all DeepVariant-compatible."),
    long_description=open(os.path.join(HERE, "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=[
        "schemas", "schemas.*", "beam_pipelines", "beam_pipelines.*", "trainer", "trainer.*",
        "launch", "launch.*"]),
    package_data={"schemas": ["protos/*.proto"], "beam_pipelines": ["core/data/*.txt"]},
    install_requires=BASE,
    extras_require={
        "pipelines": PIPELINES,
        "trainer": TRAINER,
        "gcp": GCP,
        "dev": DEV,
        "all": sorted(set(PIPELINES + TRAINER + GCP + DEV)),
    },
    cmdclass={"build_py": BuildPyWithProtos},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Bio-Informatics",
    ],
)
