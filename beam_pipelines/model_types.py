"""``--model_type``: the make_examples settings DeepVariant's run_deepvariant uses per model.

Why: a DeepVariant user names the data type (``--model_type PACBIO``) and run_deepvariant
passes make_examples the options its model was trained with; a user of pileflow's
make_examples or make_dataset should get the same by the same name. Settings are those of
DeepVariant v1.5's run_deepvariant (the version of the goldens this project reproduces); for
ONT_R104 and HYBRID_PACBIO_ILLUMINA, which v1.5 lacks, those of v1.6.

A flag given explicitly wins over its preset value. A preset setting pileflow does not
implement yet is never dropped silently: it is listed in ``not_implemented``, printed at the
start of the run and written to the run summary, since examples made without it (e.g. without
PACBIO's HP channel) do not fit DeepVariant's model of that type.
"""
from __future__ import annotations

import argparse
from typing import Dict, List, Mapping, Sequence, Set, Tuple

_LONG_READ_COMMON = {
    "alt_aligned_pileup": "diff_channels", "max_reads_per_partition": 600,
    "partition_size": 25000, "pileup_image_width": 199, "realign_reads": False,
    "vsc_min_fraction_indels": 0.12,
    "parse_sam_aux_fields": True, "phase_reads": True, "sort_by_haplotypes": True,
    "track_ref_reads": True,
}

PRESETS: Mapping[str, Mapping[str, object]] = {
    "WGS": {"channels": "insert_size"},
    "WES": {"channels": "insert_size"},
    "PACBIO": dict(_LONG_READ_COMMON, min_mapping_quality=1, add_hp_channel=True),
    "ONT_R104": dict(_LONG_READ_COMMON, min_mapping_quality=5, vsc_min_fraction_snps=0.08,
                     trim_reads_for_pileup=True),
    "HYBRID_PACBIO_ILLUMINA": {"trim_reads_for_pileup": True},
}
MODEL_TYPES = tuple(PRESETS)

# Preset settings without a pileflow implementation yet (DeepVariant flag names).
NOT_IMPLEMENTED = frozenset(("phase_reads", "track_ref_reads", "trim_reads_for_pileup"))


def explicit_dests(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Set[str]:
  """The destinations of the flags given on ``argv`` (argparse fills a default only for an
  attribute the namespace lacks, so a pre-filled sentinel survives where a flag is absent)."""
  sentinel = object()
  accumulating = (argparse._AppendAction, argparse._AppendConstAction,  # pylint: disable=protected-access
                  argparse._ExtendAction, argparse._CountAction)  # pylint: disable=protected-access
  actions = [a for a in parser._actions if a.dest != argparse.SUPPRESS]  # pylint: disable=protected-access
  # Accumulating actions add to what is there, so they start from None instead.
  start = {a.dest: None if isinstance(a, accumulating) else sentinel for a in actions}
  parsed, _ = parser.parse_known_args(list(argv), argparse.Namespace(**start))
  return {k for k, v in vars(parsed).items() if v is not start.get(k, sentinel)}


def apply(args: argparse.Namespace, explicit: Set[str]) -> Dict[str, object]:
  """Sets ``args``' un-given flags to the ``args.model_type`` preset, in place.

  Returns the report for the run summary: {"model_type", "applied": {flag: value},
  "overridden": [flags given explicitly], "not_implemented": [flags]} ({} without a preset).
  """
  model_type = getattr(args, "model_type", "") or ""
  if not model_type:
    return {}
  preset = PRESETS[model_type]
  applied: Dict[str, object] = {}
  overridden: List[str] = []
  missing: List[str] = []
  for name, value in preset.items():
    if name in NOT_IMPLEMENTED or not hasattr(args, name):
      missing.append(name)
    elif name in explicit:
      overridden.append(name)
    else:
      setattr(args, name, value)
      applied[name] = value
  return {"model_type": model_type, "applied": applied, "overridden": sorted(overridden),
          "not_implemented": sorted(missing)}


def describe(report: Mapping[str, object]) -> Tuple[str, ...]:
  """Lines printed at the start of a run with a preset."""
  if not report:
    return ()
  applied = ", ".join(f"--{k}={_flag_value(v)}" for k, v in report["applied"].items())
  lines = [f"--model_type {report['model_type']}: {applied or 'nothing left to set'}"
           + (f" (given explicitly: {', '.join('--' + f for f in report['overridden'])})"
              if report["overridden"] else "")]
  if report["not_implemented"]:
    lines.append(
        f"--model_type {report['model_type']}: WARNING: pileflow does not implement "
        + ", ".join("--" + f for f in report["not_implemented"])
        + f" yet; these examples lack them and do not fit DeepVariant's {report['model_type']} "
        "model (a model trained on them with pileflow is consistent)")
  return tuple(lines)


def _flag_value(value: object) -> str:
  return str(value).lower() if isinstance(value, bool) else str(value)


def add_flag(parser: argparse.ArgumentParser) -> None:
  parser.add_argument(
      "--model_type", default="", choices=MODEL_TYPES,
      help="set the make_examples options DeepVariant's run_deepvariant uses for this model "
           "type; flags given explicitly win")
