"""make_dataset's candidate thresholds reach the example maker unchanged (training data and the
calling run must share them), with make_examples' defaults when not given."""
import argparse

from beam_pipelines import make_dataset_config as config_lib
from beam_pipelines import make_examples_config as me_config


def _examples_config(*extra):
  parser = argparse.ArgumentParser()
  config_lib.add_flags(parser)
  args = parser.parse_args(["--ref", "r.fa", "--sample",
                            "name=S reads=a.bam truth=t.vcf.gz confident=c.bed",
                            "--split", "train=chr1", "--output_dir", "out", *extra])
  cfg = config_lib.from_args(args)
  return cfg.examples_config(cfg.samples[0], ("chr1",))


def test_candidate_thresholds_default_to_make_examples_defaults():
  got = _examples_config()
  want = me_config.MakeExamplesConfig(mode="training", ref="r.fa", reads=("a.bam",),
                                      examples="x")
  for name in ("vsc_min_count_snps", "vsc_min_count_indels", "vsc_min_fraction_snps",
               "vsc_min_fraction_indels"):
    assert getattr(got, name) == getattr(want, name), name


def test_candidate_thresholds_are_passed_through():
  got = _examples_config("--vsc_min_count_snps=1", "--vsc_min_count_indels=3",
                         "--vsc_min_fraction_snps=0.2", "--vsc_min_fraction_indels=0.1")
  assert (got.vsc_min_count_snps, got.vsc_min_count_indels) == (1, 3)
  assert (got.vsc_min_fraction_snps, got.vsc_min_fraction_indels) == (0.2, 0.1)
