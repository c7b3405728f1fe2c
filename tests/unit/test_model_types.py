"""--model_type presets: DeepVariant's settings per model type, explicit flags winning."""
import json

import pytest

from beam_pipelines import make_examples_config, model_types
from beam_pipelines import flags


def _parse(argv):
  parser = flags.OneLineArgumentParser(prog="make_examples")
  make_examples_config.add_flags(parser)
  args, _ = parser.parse_known_args(argv)
  return parser, args


BASE = ["--mode", "calling", "--ref", "r.fa", "--reads", "r.bam", "--examples", "e.gz"]


def test_pacbio_sets_the_long_read_options_and_names_the_missing_ones():
  parser, args = _parse(BASE + ["--model_type", "PACBIO", "--partition_size", "5000"])
  report = model_types.apply(args, model_types.explicit_dests(parser, BASE + [
      "--model_type", "PACBIO", "--partition_size", "5000"]))
  cfg = make_examples_config.from_args(args)
  assert (cfg.alt_aligned_pileup, cfg.pileup_image_width, cfg.realign_reads,
          cfg.min_mapping_quality, cfg.vsc_min_fraction_indels,
          cfg.max_reads_per_partition) == ("diff_channels", 199, False, 1, 0.12, 600)
  assert cfg.partition_size == 5000 and report["overridden"] == ["partition_size"]
  assert report["not_implemented"] == ["phase_reads", "track_ref_reads"]
  assert cfg.add_hp_channel and cfg.sort_by_haplotypes and cfg.parse_sam_aux_fields
  lines = model_types.describe(report)
  assert "--alt_aligned_pileup=diff_channels" in lines[0] and "--realign_reads=false" in lines[0]
  assert "WARNING" in lines[1] and "--phase_reads" in lines[1]
  json.dumps(report)  # goes into the run summary


def test_wgs_adds_insert_size_unless_channels_given():
  parser, args = _parse(BASE + ["--model_type", "WGS"])
  model_types.apply(args, model_types.explicit_dests(parser, BASE + ["--model_type", "WGS"]))
  assert make_examples_config.from_args(args).channels == ("insert_size",)
  argv = BASE + ["--model_type=WGS", "--channels="]
  parser, args = _parse(argv)
  report = model_types.apply(args, model_types.explicit_dests(parser, argv))
  assert make_examples_config.from_args(args).channels == () and report["overridden"] == ["channels"]


def test_no_model_type_changes_nothing():
  parser, args = _parse(BASE)
  before = vars(args).copy()
  assert model_types.apply(args, model_types.explicit_dests(parser, BASE)) == {}
  assert vars(args) == before


def test_unknown_model_type_is_refused(capsys):
  with pytest.raises(SystemExit) as e:
    _parse(BASE + ["--model_type", "NANOPORE"])
  assert e.value.code == 2 and "--model_type" in capsys.readouterr().err


def test_explicit_dests_handles_repeated_flags():
  from beam_pipelines import make_dataset_config
  parser = flags.OneLineArgumentParser(prog="make_dataset")
  make_dataset_config.add_flags(parser)
  argv = ["--ref", "r.fa", "--sample", "a:b.bam:t.vcf:c.bed", "--split", "train=chr1",
          "--split", "tune=chr2", "--output_dir", "o", "--model_type", "WES"]
  given = model_types.explicit_dests(parser, argv)
  assert {"sample", "split", "model_type", "ref"} <= given and "channels" not in given
