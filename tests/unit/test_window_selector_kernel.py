"""The compiled window-selector evidence counts equal the allele-counter formulation."""
import os

import numpy as np
import pytest

from beam_pipelines.core.reads import FLAG_READ2, Read
from beam_pipelines.core.realigner.options import WindowSelectorOptions
from beam_pipelines.core.realigner.window_selector import (evidence_counts, expanded_region,
                                                           variant_read_counts)
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import Range

GIAB = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
OPTS = WindowSelectorOptions()


def _random_read(rng, name, ref, flag=0):
  """A read with random M/I/D/S/N/H operations, N bases and qualities around the threshold."""
  ops = []
  if rng.rand() < 0.3:
    ops.append((5, int(rng.randint(1, 5))))                      # H
  if rng.rand() < 0.4:
    ops.append((4, int(rng.randint(1, 12))))                     # S
  for _ in range(rng.randint(1, 6)):
    ops.append((int(rng.choice([0, 7, 8])), int(rng.randint(1, 30))))
    kind = rng.rand()
    if kind < 0.25:
      ops.append((1, int(rng.randint(1, 6))))                    # I
    elif kind < 0.5:
      ops.append((2, int(rng.randint(1, 6))))                    # D
    elif kind < 0.55:
      ops.append((3, int(rng.randint(1, 4))))                    # N
    elif kind < 0.6:
      ops.append((1, 0))                                         # zero-length op
  if rng.rand() < 0.2:                                           # indel next to a clip
    ops.append((int(rng.choice([1, 2])), int(rng.randint(1, 4))))
  if rng.rand() < 0.4:
    ops.append((4, int(rng.randint(1, 12))))
  qlen = sum(n for op, n in ops if op in (0, 1, 4, 7, 8))
  ref_len = sum(n for op, n in ops if op in (0, 2, 3, 7, 8))
  start = int(rng.randint(0, len(ref) - ref_len - 1))
  seq = "".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=qlen))
  # Mostly copy the reference so that REFERENCE, SUBSTITUTION and indel alleles all occur.
  seq = list(seq)
  pos, q = start, 0
  for op, n in ops:
    if op in (0, 7, 8):
      for t in range(n):
        if rng.rand() < 0.9:
          seq[q + t] = ref[pos + t]
      pos += n
      q += n
    elif op in (1, 4):
      q += n
    elif op in (2, 3):
      pos += n
  qual = rng.randint(5, 40, size=qlen).astype(np.uint8)
  return Read(name=name, flag=flag, contig="c", start=start, mapq=int(rng.randint(0, 61)),
              cigar=tuple(ops), seq="".join(seq), qual=qual)


@pytest.mark.parametrize("seed", range(30))
def test_random_reads_match_the_allele_counter_rule(seed):
  """Random CIGARs (clips, indels at clips, zero-length ops, N/H), N bases, MAPQs and qualities
  around the 20 thresholds: the kernel's per-position counts equal the specification's."""
  rng = np.random.RandomState(seed)
  ref_seq = "".join(rng.choice(list("ACGT"), size=600))
  ref_seq = ref_seq[:300] + "NN" + ref_seq[302:]                 # a non-ACGT reference stretch
  ref = RefWindow("c", 0, ref_seq, 600)
  reads = [_random_read(rng, f"r{i}", ref_seq) for i in range(60)]
  region = Range("c", 150, 450)
  want = variant_read_counts(reads, ref, region, OPTS)
  got = evidence_counts(reads, ref, region, OPTS)
  assert want.sum() > 0
  np.testing.assert_array_equal(got, want)


def test_repeated_identical_records_count_once():
  """A BAM that repeats a record (as the GIAB test BAM does) counts it once, like the counter's
  per-key map."""
  rng = np.random.RandomState(3)
  ref_seq = "".join(rng.choice(list("ACGT"), size=400))
  ref = RefWindow("c", 0, ref_seq, 400)
  alt = ref_seq[100:150] + "T" * 5 + ref_seq[150:196]
  read = Read(name="dup", flag=0, contig="c", start=100, mapq=60, cigar=((0, 50), (1, 5), (0, 46)),
              seq=alt, qual=np.full(101, 30, dtype=np.uint8))
  region = Range("c", 50, 350)
  once = evidence_counts([read], ref, region, OPTS)
  twice = evidence_counts([read, read], ref, region, OPTS)
  np.testing.assert_array_equal(twice, once)
  np.testing.assert_array_equal(twice, variant_read_counts([read, read], ref, region, OPTS))
  assert once[150 - 50 - 5:150 - 50 + 5].tolist() == [1] * 10   # the insertion's span


def test_different_records_under_one_key_follow_last_write_wins():
  """Two different records of one read key (mate numbers equal): the later one's allele wins at a
  shared position, as in the allele counter."""
  rng = np.random.RandomState(4)
  ref_seq = "".join(rng.choice(list("ACGT"), size=400))
  ref = RefWindow("c", 0, ref_seq, 400)
  sub = "A" if ref_seq[120] != "A" else "C"
  with_sub = ref_seq[100:120] + sub + ref_seq[121:201]
  low = np.full(101, 30, dtype=np.uint8)
  low[20] = 5
  first = Read(name="k", flag=FLAG_READ2, contig="c", start=100, mapq=60, cigar=((0, 101),),
               seq=with_sub, qual=np.full(101, 30, dtype=np.uint8))
  second = Read(name="k", flag=FLAG_READ2, contig="c", start=100, mapq=60, cigar=((0, 101),),
                seq=with_sub, qual=low)
  region = Range("c", 50, 350)
  got = evidence_counts([first, second], ref, region, OPTS)
  np.testing.assert_array_equal(got, variant_read_counts([first, second], ref, region, OPTS))
  assert got[120 - 50] == 0          # the low-quality copy was written last
  assert evidence_counts([second, first], ref, region, OPTS)[120 - 50] == 1


def test_giab_partitions_match_the_allele_counter_rule():
  """Every 1-kb partition of the GIAB chr20 window: identical counts, with real CIGARs."""
  from beam_pipelines.io.bam import BamReader
  from beam_pipelines.io.fasta import FastaReader
  ref_path = os.path.join(GIAB, "ucsc.hg19.chr20.unittest.fasta.gz")
  fasta = FastaReader(ref_path)
  bam = BamReader([os.path.join(GIAB, "NA12878_S1.chr20.10_10p1mb.bam")], reference=ref_path)
  length = fasta.contig_lengths()["chr20"]
  nonzero = 0
  for start in range(10_000_000, 10_100_000, 5_000):
    part = Range("chr20", start, start + 1000)
    reads = list(bam.fetch(part))
    lo = min([part.start] + [r.start for r in reads]) - 50
    hi = max([part.end] + [r.end for r in reads]) + 50
    ref = fasta.window("chr20", lo, hi)
    region = expanded_region(part, OPTS, length)
    want = variant_read_counts(reads, ref, region, OPTS)
    np.testing.assert_array_equal(evidence_counts(reads, ref, region, OPTS), want)
    nonzero += int((want > 0).sum())
  assert nonzero > 100
