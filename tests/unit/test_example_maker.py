"""The per-partition recipe, without Beam or files: reads + reference + truth -> examples."""
import numpy as np
import pytest

from beam_pipelines.core import counters
from beam_pipelines.core import example_maker as em
from beam_pipelines.core.reads import FLAG_DUPLICATE, FLAG_PAIRED, FLAG_PROPER_PAIR, Read
from beam_pipelines.core.reads import FLAG_READ1, FLAG_REVERSE, parse_cigar
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import IntervalIndex, Range
from beam_pipelines.core.variants import TruthVariant
from schemas import example_format

RNG = np.random.default_rng(5)
SEQ = "".join(RNG.choice(list("ACGT"), 1200))
REF = RefWindow("c", 0, SEQ, 1200)
SNP = 600  # 0-based position of a het SNP
ALT = "ACGT"[("ACGT".index(SEQ[SNP]) + 1) % 4]
PART = Range("c", 500, 700)


def _reads(n=24, dup=1):
  out = []
  for i in range(n):
    start = SNP - 10 - (3 * i) % 85
    seq = list(SEQ[start:start + 100])
    if i % 2:
      seq[SNP - start] = ALT
    flag = FLAG_PAIRED | FLAG_PROPER_PAIR | FLAG_READ1 | (FLAG_REVERSE if i % 3 else 0)
    out.append(Read(f"r{i}", flag, "c", start, 60, parse_cigar("100M"), "".join(seq),
                    np.full(100, 30, np.uint8), tlen=300, mate_contig="c", mate_start=start))
  for i in range(dup):
    r = out[i]
    out.append(Read(r.name + "d", r.flag | FLAG_DUPLICATE, "c", r.start, 60, r.cigar, r.seq,
                    r.qual, tlen=300, mate_contig="c", mate_start=r.start))
  return out


def _opts(**kw):
  base = dict(training=True, sample_name="S", bam_fname="s.bam")
  base.update(kw)
  return em.ExampleMakerOptions(**base)


TRUTH = [TruthVariant("c", SNP, SEQ[SNP], (ALT,), (0, 1))]
CONFIDENT = IntervalIndex([Range("c", 0, 1200)])


def test_training_partition_gives_one_labeled_example_and_counts():
  out = em.make_partition_examples(PART, _reads(), REF, _opts(), TRUTH, CONFIDENT)
  assert len(out.records) == 1 and out.shape == (100, 221, 6)
  ex = example_format.decode_example(out.records[0])
  assert ex.label == 1 and ex.locus == f"c:{SNP + 1}-{SNP + 1}"
  assert list(ex.variant.calls[0].genotype) == [0, 1]
  assert ex.variant.info["BAM_FNAME"].values[0].string_value == "s.bam"
  assert ex.variant.calls[0].info["AD"].values[1].int_value == 12  # 12 of 24 reads carry ALT
  assert out.counts[counters.filtered("duplicate")] == 1  # the duplicate is filtered, counted
  assert out.counts[counters.READS_SEEN] == 25 and out.counts[counters.READS_KEPT] == 24
  assert out.counts[counters.example_class(1)] == 1 and out.counts[counters.CANDIDATES] == 1
  assert out.counts[counters.TRUTH_FALSE_NEGATIVES] == 0


def test_calling_mode_has_no_label_and_no_genotype():
  out = em.make_partition_examples(PART, _reads(), REF, _opts(training=False))
  ex = example_format.decode_example(out.records[0])
  assert ex.label is None and list(ex.variant.calls[0].genotype) == [-1, -1]
  assert "BAM_FNAME" not in ex.variant.info


def test_outside_confident_regions_makes_no_example():
  out = em.make_partition_examples(PART, _reads(), REF, _opts(), TRUTH,
                                   IntervalIndex([Range("c", 0, 100)]))
  assert out.records == [] and out.counts[counters.CANDIDATES_NON_CONFIDENT] == 1


def test_each_fraction_gets_its_own_examples_tagged_with_the_fraction():
  out = em.make_partition_examples(PART, _reads(n=60), REF,
                                   _opts(downsample_fractions=(1.0, 0.5)), TRUTH, CONFIDENT)
  decoded = [example_format.decode_example(r) for r in out.records]
  fractions = [round(e.extra["downsample_fraction"], 3) for e in decoded]
  assert fractions == [1.0, 0.5]  # fraction order, then position order
  dp = [e.variant.calls[0].info["DP"].values[0].int_value for e in decoded]
  assert dp[0] == 60 and 15 < dp[1] < 45  # about half the fragments survive at 0.5
  assert out.counts[counters.READS_DOWNSAMPLED_OUT] == 60 - dp[1]


def test_read_cap_applies_per_fraction():
  out = em.make_partition_examples(PART, _reads(n=40), REF,
                                   _opts(max_reads_per_partition=30), TRUTH, CONFIDENT)
  assert out.counts[counters.READS_OVER_CAP] == 10
  ex = example_format.decode_example(out.records[0])
  assert ex.variant.calls[0].info["DP"].values[0].int_value == 30


def test_positional_labeler_counts_missed_truth():
  truth = TRUTH + [TruthVariant("c", 650, SEQ[650], ("ACGT"[("ACGT".index(SEQ[650]) + 2) % 4],),
                                (1, 1))]
  out = em.make_partition_examples(PART, _reads(), REF, _opts(labeler="positional_labeler"),
                                   truth, CONFIDENT)
  assert len(out.records) == 1
  assert out.counts[counters.TRUTH_FALSE_NEGATIVES] == 1  # 650 has no candidate


def test_reference_span_covers_image_window_and_reads():
  span = em.reference_span(Range("c", 500, 700), _reads(), 221, 1200)
  assert span.start <= 500 - 111 and span.end >= 700 + 110
  assert em.reference_span(Range("c", 0, 100), [], 221, 1200).start == 0  # clipped
