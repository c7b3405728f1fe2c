"""Calling-level tune: call a small held-out region and score the calls against truth.

Why: the example-level tune metric (``tune/f1_weighted``) does not track calling accuracy well
enough for people to trust it (spec what-users-need item 6): they re-run calling and hap.py for
every candidate checkpoint. With ``--config.calling_tune_examples`` set, the trainer does that
itself on a small region: every ``calling_tune_every``-th tune (and always at the warm-start
baseline tune and at the last step) it runs the model being tuned over calling-mode examples of
the region, turns the outputs into calls exactly as ``beam_pipelines.call`` does
(``beam_pipelines.core.postprocess``, pure, no Beam import) and compares the PASS calls with
the truth in the confident regions cut to ``calling_tune_regions``
(``beam_pipelines.core.vcf_compare``, as ``beam_pipelines.evaluate`` does). The scores join
the tune metrics::

    tune/calling_f1  tune/calling_recall  tune/calling_precision   SNP + INDEL together
    tune/calling_f1_snp  tune/calling_f1_indel  tune/calling_fp_gt  (genotype errors)
    tune/calling_recall_snp  tune/calling_recall_indel  (trainer.sweep's overfitting guard)

so ``--config.best_checkpoint_metric=tune/calling_f1`` selects checkpoints on calling F1.
Tunes that skip the calling pass do not take part in selection when a calling metric selects
(they neither improve nor count towards early stopping). The every-N counter restarts when a
run resumes.

The calling code lives with the pipelines (it reads FASTA/BED with pysam), so it is imported
only when a calling tune is configured: a trainer-only install (``pileflow[trainer]``) trains
without it and is told, in one line, to install ``pileflow[pipelines]`` to use it.

Everything is read and checked once, before step 0: the examples' channels and shape must be
the training data's, and the truth, confident regions, reference and regions must be readable.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, Optional, Sequence

from schemas import errors

PREFIX = "tune/calling_"
# How the truth set's inputs are named in messages: the config keys that set them.
FLAG_NAMES = {"truth": "--config.calling_tune_truth",
              "confident_regions": "--config.calling_tune_confident_regions",
              "ref": "--config.calling_tune_ref", "regions": "--config.calling_tune_regions"}


def is_calling_metric(metric: str) -> bool:
  return metric.startswith(PREFIX)


def _calling_modules():
  """(call, evaluate, postprocess, vcf_compare) of the pipelines half, or one clear line."""
  try:
    from beam_pipelines import call as call_lib
    from beam_pipelines import evaluate as evaluate_lib
    from beam_pipelines.core import postprocess
    from beam_pipelines.core import vcf_compare
  except ImportError as e:
    raise errors.InputError(f"--config.calling_tune_examples: the calling tune needs the "
                            f"pipelines half (pip install pileflow[pipelines]): {e}") from None
  return call_lib, evaluate_lib, postprocess, vcf_compare


class CallingTuner:
  """Holds the region's examples and truth; ``score(model)`` returns the calling metrics."""

  def __init__(self, examples: str, truth_vcf: str, confident_bed: str, ref: str,
               regions: str, every: int = 1, batch_size: Optional[int] = None,
               log: Optional[Callable[[str], None]] = None):
    call_lib, evaluate_lib, _, _ = _calling_modules()
    self._call_lib = call_lib
    batch_size = batch_size or call_lib.DEFAULT_BATCH_SIZE
    self.files = call_lib.resolve_examples(examples)
    self.info, self.info_path = call_lib.examples_info(self.files)
    if self.info.shape is None:
      raise call_lib.CallError(f"{examples}: the calling tune examples hold no example")
    self.truth = evaluate_lib.TruthSet(truth_vcf, confident_bed, ref, regions,
                                       flag_names=FLAG_NAMES)
    self.every = max(1, int(every))
    self.batch_size = batch_size
    self.tunes_seen = 0
    self._log = log or (lambda line: None)

  @classmethod
  def from_config(cls, cfg, log=None) -> "CallingTuner":
    return cls(cfg.calling_tune_examples, cfg.calling_tune_truth,
               cfg.calling_tune_confident_regions, cfg.calling_tune_ref,
               cfg.calling_tune_regions, cfg.calling_tune_every, log=log)

  def check_layout(self, shape: Sequence[int], channels: Sequence[int], source: str) -> None:
    """The calling examples must fit the model trained on ``source``'s data."""
    call_lib = self._call_lib
    if tuple(self.info.shape) != tuple(shape):
      raise call_lib.CallError(f"{self.info_path}: calling tune examples have shape "
                               f"{list(self.info.shape)} but {source} has {list(shape)}")
    from schemas import channels as channels_lib
    if tuple(self.info.channels) != tuple(channels):
      raise call_lib.CallError(f"{self.info_path} (calling tune) vs {source}: "
                               + channels_lib.channel_mismatch_message(channels,
                                                                       self.info.channels))

  def due(self, step: int, last_step: int) -> bool:
    """Whether this tune runs the calling pass (every N-th, step 0 and the last step)."""
    self.tunes_seen += 1
    return step == 0 or step >= last_step or (self.tunes_seen - 1) % self.every == 0

  def score(self, model) -> Dict[str, float]:
    """Calls the region with ``model`` and returns ``tune/calling_*`` metrics."""
    call_lib, _, postprocess, vcf_compare = _calling_modules()
    t0 = time.time()
    predictions = call_lib.predict_examples(model, self.files, self.info.shape, self.batch_size)
    calls, _ = call_lib.calls_from_predictions(predictions, reference=self.truth.reference,
                                               source=self.info_path)
    records = [vcf_compare.Record(c.contig, c.start, c.ref, c.alts, c.genotype,
                                  c.filter == postprocess.FILTER_PASS) for c in calls]
    scores = vcf_compare.overall_scores(self.truth.compare(records))
    out = {PREFIX + key: float(value) for key, value in scores.items()}
    self._log(f"calling tune: {len(calls)} calls, F1 {scores['f1']:.4f} (SNP "
              f"{scores.get('f1_snp', 0.0):.4f}, INDEL {scores.get('f1_indel', 0.0):.4f}) "
              f"recall {scores['recall']:.4f} precision {scores['precision']:.4f} in "
              f"{time.time() - t0:.1f} s")
    return out
