"""DeepVariant flag names train and the one-process call do not implement, refused as such.

Why a list: a DeepVariant user changes only the command name. When a flag of theirs is one
pileflow lacks, "unrecognized argument" reads like a typo; the error must say the flag is
DeepVariant's and not implemented here, so nobody believes it took effect. The trainer may not
import beam_pipelines (which keeps the Beam half's list), hence this second, smaller one.

Names are from DeepVariant's own sources (``flags.DEFINE_*`` of deepvariant/call_variants.py,
call_variants_keras.py, postprocess_variants.py and train.py, v1.4 to v1.6+), minus the flags
pileflow implements. ``beam_pipelines.call`` (whose parser is ``trainer.cli``'s) does call_variants
and postprocess_variants in one run, so
it takes the flags of both that it implements (``--examples``, ``--checkpoint``, ``--outfile``,
``--ref``, ``--batch_size``, ``--sample_name``, ``--qual_filter``, ``--multi_allelic_qual_filter``,
``--cnn_homref_call_min_gq``) and refuses the rest. DeepVariant has no ``evaluate`` (it uses
hap.py), so ``beam_pipelines.evaluate`` has no list.

Some refusals carry a hint to the pileflow way of doing the same thing.
"""
from __future__ import annotations

from typing import Dict, FrozenSet, Optional

# deepvariant/call_variants.py (TF1 estimator and Keras versions) and call_variants_keras.py.
CALL_VARIANTS = frozenset("""
max_batches num_readers num_mappers model_name include_debug_info activation_layers
debugging_true_label_mode execution_hardware config_string kmp_blocktime writer_threads limit
gcp_project tpu_zone tpu_name master use_tpu use_openvino openvino_model_dir
""".split())

# deepvariant/postprocess_variants.py.
POSTPROCESS_VARIANTS = frozenset("""
infile nonvariant_site_tfrecord_path gvcf_outfile group_variants vcf_stats_report
use_multiallelic_model debug_output_all_candidates only_keep_pass haploid_contigs par_regions_bed
somatic_variants_path
""".split())

# deepvariant/train.py (v1.6 Keras trainer) and the v1.5 train_inceptionv3.py.
TRAIN = frozenset("""
limit debug tpu save_best_only train_config
""".split())

BY_TOOL: Dict[str, FrozenSet[str]] = {
    "call": CALL_VARIANTS | POSTPROCESS_VARIANTS,
    "train": TRAIN,
}

# Which DeepVariant program a flag of a tool comes from, for the message.
_PROGRAMS = {"call": (("call_variants", CALL_VARIANTS),
                      ("postprocess_variants", POSTPROCESS_VARIANTS)),
             "train": (("train", TRAIN),)}

HINTS = {
    ("call", "model_name"): "use --model_type",
    ("call", "infile"): ("beam_pipelines.call reads the examples (--examples) and "
                         "postprocesses itself"),
    ("call", "limit"): "pass fewer --examples files instead",
    ("train", "limit"): "use --config.limit",
    ("train", "train_config"): "use --config (a preset name) and --config.<key>=<value>",
    ("train", "tpu"): "use --strategy=tpu --leader=NAME",
}


def deepvariant_program(tool: str, name: str) -> Optional[str]:
  """DeepVariant's program defining ``name`` when ``tool`` does not implement it, else None.

  ``name`` is the flag without dashes or value; absl's ``--noflag`` spelling of a boolean
  counts as the flag.
  """
  names = BY_TOOL.get(tool, frozenset())
  name = name.replace("-", "_")
  if name not in names and name.startswith("no") and name[2:] in names:
    name = name[2:]
  if name not in names:
    return None
  return next(program for program, flags in _PROGRAMS[tool] if name in flags)


def refusal(tool: str, flag: str) -> Optional[str]:
  """The one-line refusal of ``flag`` (as typed) when it is an unimplemented DeepVariant flag."""
  name = flag.lstrip("-").split("=", 1)[0]
  program = deepvariant_program(tool, name)
  if program is None:
    return None
  key = name.replace("-", "_")
  key = key[2:] if key.startswith("no") and key[2:] in BY_TOOL[tool] else key
  hint = HINTS.get((tool, key))
  return (f"--{name}: a DeepVariant {program} flag that pileflow does not implement"
          + (f" ({hint})" if hint else " (see --help for the flags it does)"))
