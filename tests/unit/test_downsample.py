"""Per-fragment downsampling: mates together, nested fractions, rate close to the fraction."""
import pytest

from beam_pipelines.core import downsample


def test_same_name_same_decision_and_seed_changes_it():
  assert downsample.fragment_uniform(1, "frag") == downsample.fragment_uniform(1, "frag")
  assert downsample.fragment_uniform(1, "frag") != downsample.fragment_uniform(2, "frag")


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.9])
def test_kept_rate_matches_fraction(fraction):
  names = [f"read{i}" for i in range(20000)]
  kept = sum(downsample.keep(downsample.fragment_uniform(3, n), fraction) for n in names)
  # Binomial sd at n=20000 is <= 0.0036; 0.015 is > 4 sd.
  assert abs(kept / len(names) - fraction) < 0.015


def test_fractions_nest():
  names = [f"r{i}" for i in range(2000)]
  at = {f: {n for n in names if downsample.keep(downsample.fragment_uniform(5, n), f)}
        for f in (0.25, 0.5, 1.0)}
  assert at[0.25] <= at[0.5] <= at[1.0] and len(at[1.0]) == 2000


@pytest.mark.parametrize("fractions", [[0.0], [1.5], [-0.1], [0.5, 0.5]])
def test_bad_fractions_rejected(fractions):
  with pytest.raises(ValueError, match="--downsample_fraction"):
    downsample.validate_fractions(fractions)
