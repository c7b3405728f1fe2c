"""schemas: the contract between pileflow's Beam half and its trainer.

Everything both halves must agree on lives here and nowhere else: TFRecord framing, tf.Example
feature keys and dtypes, the channel enum, the label encoding, example_info.json, sharded file
names and the dataset config. It depends on protobuf and numpy only, so Beam workers never pull in
TensorFlow and trainer machines never pull in Beam or pysam.

Importing the package makes sure the protobuf modules generated from schemas/protos/*.proto
exist (compiling them on first import in a source checkout; see schemas/protos/build.py).
"""
from schemas.protos import build as _build

# Version of pileflow's example contract. Bump when a feature key, dtype, shape or meaning
# changes, so datasets and checkpoints made under different contracts can be told apart.
SCHEMA_VERSION = "1"

# The DeepVariant release whose formats this contract reproduces (written to example_info.json).
DEEPVARIANT_VERSION = "1.5.0"

_build.ensure_compiled()

