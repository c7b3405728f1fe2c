"""make_examples workers raise the cyclic GC's thresholds, and never lower them."""
import gc

from beam_pipelines.transforms.make_examples import GC_THRESHOLDS, relax_gc


def test_relax_gc_raises_to_at_least_the_thresholds_and_never_lowers():
  before = gc.get_threshold()
  try:
    gc.set_threshold(700, 10, 10)
    relax_gc()
    assert gc.get_threshold() == GC_THRESHOLDS == (50_000, 20, 100)
    gc.set_threshold(200_000, 5, 1000)
    relax_gc()
    assert gc.get_threshold() == (200_000, 20, 1000)
  finally:
    gc.set_threshold(*before)
