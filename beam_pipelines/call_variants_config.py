"""call_variants flags -> one frozen, validated config.

Flag names are DeepVariant's call_variants' (``--examples``, ``--checkpoint``, ``--outfile``,
``--batch_size``), so a DeepVariant command line carries over with only the command name
changed; ``--outfile`` may be a sharded spec (``cvo@8.tfrecord.gz``). pileflow additions:
``--model_type`` (architecture of a bare checkpoint) and ``--overwrite``. DeepVariant flags not
implemented here are refused by name (``beam_pipelines.deepvariant_flags.CALL_VARIANTS``).
"""
from __future__ import annotations

import argparse
import dataclasses

from beam_pipelines import flags

DEFAULT_BATCH_SIZE = 256
OUTPUT_SUFFIXES = (".tfrecord.gz", ".tfrecord")


@dataclasses.dataclass(frozen=True)
class CallVariantsConfig:
  examples: str
  checkpoint: str
  outfile: str
  batch_size: int = DEFAULT_BATCH_SIZE
  model_type: str = ""
  overwrite: bool = False

  def validate(self) -> "CallVariantsConfig":
    """Checks what can be checked without opening files; raises UsageError."""
    err = flags.UsageError
    for name, value in (("--examples", self.examples), ("--checkpoint", self.checkpoint),
                        ("--outfile", self.outfile)):
      if not value:
        raise err(f"{name} is required")
    if not self.outfile.endswith(OUTPUT_SUFFIXES):
      raise err(f"--outfile {self.outfile}: must end in .tfrecord.gz or .tfrecord "
                "(CallVariantsOutput records; a sharded spec such as cvo@8.tfrecord.gz works)")
    if self.batch_size <= 0:
      raise err(f"--batch_size must be > 0, got {self.batch_size}")
    return self


def add_flags(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--examples", default="",
                      help="calling-mode examples: path, glob, comma-separated list or sharded "
                           "spec (x.tfrecord@8.gz)")
  parser.add_argument("--checkpoint", "--model", dest="checkpoint", default="",
                      help="experiment dir, SavedModel dir or checkpoint prefix (pileflow's or "
                           "DeepVariant's tf.keras model.ckpt)")
  parser.add_argument("--outfile", default="",
                      help="CallVariantsOutput TFRecords: file or sharded spec (cvo@8.tfrecord.gz)")
  parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE,
                      help="images per model call")
  parser.add_argument("--model_type", default="",
                      help="architecture of a checkpoint without config.json (default "
                           "inception_v3)")
  parser.add_argument("--overwrite", action="store_true",
                      help="replace existing --outfile shards")


def from_args(args: argparse.Namespace) -> CallVariantsConfig:
  return CallVariantsConfig(examples=args.examples, checkpoint=args.checkpoint,
                            outfile=args.outfile, batch_size=args.batch_size,
                            model_type=args.model_type, overwrite=args.overwrite)
