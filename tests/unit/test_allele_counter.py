"""Allele counter (spec 3.4): hand-built reads for every rule, plus a randomized cross-check of
the vectorised implementation against a literal per-base reading of the spec."""
import random

import numpy as np
import pytest

from beam_pipelines.core import allele_counter as ac
from beam_pipelines.core.allele_counter import (DELETION, INSERTION, REFERENCE, SOFT_CLIP,
                                                SUBSTITUTION, ReadAllele, count_alleles,
                                                counting_span)
from beam_pipelines.core.reads import (CIGAR_CHARS, CIGAR_D, CIGAR_EQ, CIGAR_H, CIGAR_I,
                                       CIGAR_M, CIGAR_N, CIGAR_P, CIGAR_S, CIGAR_X, Read,
                                       parse_cigar)
from beam_pipelines.core.reference import RefWindow, ReferenceWindowError
from beam_pipelines.core.regions import Range

# Position 100 + i holds REF_SEQ[i]; 120 and 121 are N.
REF_SEQ = "ACGTACGTACGTACGTACGTNNACGTACGT"
REF = RefWindow("chr1", 100, REF_SEQ, contig_length=10_000)
REGION = Range("chr1", 100, 130)


def read(seq, start, cigar, name="r1", qual=None, mapq=60, flag=0):
  """A hand-built read; qualities default to 30 for every base."""
  q = np.full(len(seq), 30, np.uint8) if qual is None else np.asarray(qual, np.uint8)
  return Read(name=name, flag=flag, contig="chr1", start=start, mapq=mapq,
              cigar=parse_cigar(cigar), seq=seq, qual=q)


def count(*reads, ref=REF, region=REGION):
  return count_alleles(list(reads), ref, region)


def test_reference_read_counts_reference_only():
  c = count(read("ACGTACGTAC", 100, "10M"))
  assert c.ref_support[:10].tolist() == [1] * 10 and c.ref_support[10:].sum() == 0
  assert c.read_alleles == {}
  assert c.ref_base(103) == "T" and c.depth(105) == 1


def test_snp():
  c = count(read("ACGGACGTAC", 100, "10M"))  # T>G at 103
  assert c.alleles_at(103) == {"r1/0": ReadAllele("G", SUBSTITUTION, False)}
  assert c.ref_supporting_read_count(103) == 0
  assert c.depth(103) == 1  # a good substitution counts in DP


def test_low_quality_snp_is_recorded_but_not_depth():
  qual = [30] * 10
  qual[3] = 9  # below min_base_quality 10
  c = count(read("ACGGACGTAC", 100, "10M", qual=qual))
  assert c.alleles_at(103) == {"r1/0": ReadAllele("G", SUBSTITUTION, True)}
  assert c.depth(103) == 0
  assert c.sum_allele_counts(103) == {}


@pytest.mark.parametrize("q,expected_ref", [
    (9, 0),  # low-quality REFERENCE adds nothing
    (10, 1),  # quality == threshold is good
])
def test_reference_base_quality_threshold(q, expected_ref):
  qual = [30] * 10
  qual[2] = q
  c = count(read("ACGTACGTAC", 100, "10M", qual=qual))
  assert c.ref_supporting_read_count(102) == expected_ref
  assert c.alleles_at(102) == {}


def test_non_acgt_read_base_adds_nothing():
  c = count(read("ACGTNCGTAC", 100, "10M"))
  assert c.ref_supporting_read_count(104) == 0 and c.alleles_at(104) == {}
  assert c.depth(104) == 0


def test_read_number_in_key():
  c = count(read("ACGGACGTAC", 100, "10M", name="frag", flag=0x1 | 0x80))
  assert list(c.alleles_at(103)) == ["frag/1"]  # READ2 -> /1


def test_insertion_anchored_at_previous_base_replaces_it():
  # ACG | TT inserted | TACGT
  c = count(read("ACGTTTACGT", 100, "3M2I5M"))
  assert c.alleles_at(102) == {"r1/0": ReadAllele("GTT", INSERTION, False)}
  assert c.ref_supporting_read_count(102) == 0  # the anchor G gave way
  assert c.ref_supporting_read_count(101) == 1 and c.ref_supporting_read_count(103) == 1


def test_insertion_as_first_base_uses_reference_base():
  # Read starts at 105 with 2I: anchor 104 (ref A), bases A + GG.
  c = count(read("GGCGTAC", 105, "2I5M"))
  assert c.alleles_at(104) == {"r1/0": ReadAllele("AGG", INSERTION, False)}
  assert c.ref_supporting_read_count(104) == 0  # the read has no base at 104


@pytest.mark.parametrize("q1,q2,low", [
    (5, 14, True),  # sum 19 < 10 * 2
    (5, 15, False),  # sum 20 == 10 * 2: mean 10 is good
    (0, 40, False),  # one bad base does not make the insertion low quality
])
def test_insertion_low_quality_uses_sum_of_qualities(q1, q2, low):
  c = count(read("ACGTTTACGT", 100, "3M2I5M", qual=[30, 30, 30, q1, q2, 30, 30, 30, 30, 30]))
  assert c.alleles_at(102)["r1/0"].is_low_quality is low


def test_insertion_with_n_is_dropped_and_anchor_base_stays():
  c = count(read("ACGTNTACGT", 100, "3M2I5M"))
  assert c.alleles_at(102) == {}
  assert c.ref_supporting_read_count(102) == 1  # dropped allele is a placeholder, not a G eater


def test_leading_soft_clip_anchored_before_first_aligned_base():
  # 3 clipped bases then aligned at 104: anchor 103 (ref T), bases T + TTT.
  c = count(read("TTTACGTA", 104, "3S5M"))
  assert c.alleles_at(103) == {"r1/0": ReadAllele("TTTT", SOFT_CLIP, False)}
  assert c.depth(103) == 1  # soft clips count in DP
  assert c.ref_supporting_read_count(104) == 1


def test_trailing_soft_clip_anchored_at_last_aligned_base():
  c = count(read("ACGTAGGG", 100, "5M3S"))
  assert c.alleles_at(104) == {"r1/0": ReadAllele("AGGG", SOFT_CLIP, False)}
  assert c.ref_supporting_read_count(104) == 0  # replaced by the clip allele


def test_deletion_uses_read_anchor_and_reference_bases():
  # ACGT | AC deleted (104-105) | GTAC
  c = count(read("ACGTGTAC", 100, "4M2D4M"))
  assert c.alleles_at(103) == {"r1/0": ReadAllele("TAC", DELETION, False)}
  assert c.ref_supporting_read_count(103) == 0
  assert c.depth(104) == 0 and c.depth(105) == 0  # spanning deletion adds no coverage
  assert c.ref_supporting_read_count(106) == 1


def test_deletion_with_mismatching_anchor_keeps_read_base():
  qual = [30, 30, 30, 2, 30, 30, 30, 30]  # even a low-quality anchor: deletions never are
  c = count(read("ACGGGTAC", 100, "4M2D4M", qual=qual))
  assert c.alleles_at(103) == {"r1/0": ReadAllele("GAC", DELETION, False)}


def test_deletion_into_non_acgt_reference_is_dropped():
  # Read 116-119 ACGT, deletes 120-121 (NN), then 122-125.
  c = count(read("ACGTACGT", 116, "4M2D4M"))
  assert c.alleles_at(119) == {}
  assert c.ref_supporting_read_count(119) == 1  # anchor base survives the dropped deletion


def test_deletion_off_the_contig_end_is_dropped():
  ref = RefWindow("chr1", 100, REF_SEQ, contig_length=130)
  c = count(read("GT", 128, "2M5D"), ref=ref)
  assert c.alleles_at(129) == {} and c.ref_supporting_read_count(129) == 1


def test_deletion_past_window_inside_contig_is_a_caller_error():
  with pytest.raises(ReferenceWindowError, match="counting_span"):
    count(read("GT", 128, "2M5D"))


def test_dropped_insertion_before_deletion_keeps_both_anchor_and_deletion():
  # v1.5 quirk: ACGTA | NA (dropped: N) | 3D (105-107 CGT) | ACGTA. The anchor A at 104 is
  # followed by the placeholder, not by the deletion, so both are added at 104; the deletion's
  # previous base is the last inserted base, A.
  c = count(read("ACGTANAACGTA", 100, "5M2I3D5M"))
  assert c.ref_supporting_read_count(104) == 1
  assert c.alleles_at(104) == {"r1/0": ReadAllele("ACGT", DELETION, False)}


def test_valid_insertion_then_deletion_keeps_only_the_deletion():
  # ACGTA | GG | 3D (105-107 CGT) | ACGTA: base, insertion, deletion all at 104 -> last one.
  c = count(read("ACGTAGGACGTA", 100, "5M2I3D5M"))
  assert c.ref_supporting_read_count(104) == 0
  assert c.alleles_at(104) == {"r1/0": ReadAllele("GCGT", DELETION, False)}  # prev base = G


def test_leading_clip_then_insertion_keeps_insertion():
  c = count(read("TTGGACGTA", 104, "2S2I5M"))
  assert c.alleles_at(103) == {"r1/0": ReadAllele("TGG", INSERTION, False)}


@pytest.mark.parametrize("cigar,seq,ref_counted,absent", [
    ("3M2N3M", "ACGCGT", [100, 101, 102, 105, 106, 107], [103, 104]),  # N skips reference
    ("3M2P3M", "ACGCGT", [100, 101, 102, 105, 106, 107], [103, 104]),  # P advances ref (v1.5)
    ("2H5M3H", "ACGTA", [100, 101, 102, 103, 104], [105]),  # H consumes nothing
    ("3=2X", "ACGTA", [100, 101, 102, 103, 104], []),  # = and X are read like M
])
def test_skip_pad_hard_clip_and_match_variants(cigar, seq, ref_counted, absent):
  c = count(read(seq, 100, cigar))
  assert [p for p in range(100, 130) if c.ref_supporting_read_count(p)] == ref_counted
  for p in absent:
    assert c.alleles_at(p) == {}


def test_x_operation_compares_with_reference():
  c = count(read("ACGAA", 100, "3=2X"))  # 103 T->A, 104 A==A
  assert c.alleles_at(103) == {"r1/0": ReadAllele("A", SUBSTITUTION, False)}
  assert c.ref_supporting_read_count(104) == 1


def test_low_mapping_quality_read_ignored():
  c = count(read("ACGGACGTAC", 100, "10M", mapq=4))
  assert c.ref_support.sum() == 0 and c.read_alleles == {}


def test_last_write_wins_for_repeated_read_key():
  c = count(read("ACGGACGTAC", 100, "10M"), read("ACGCACGTAC", 100, "10M"))
  assert c.alleles_at(103) == {"r1/0": ReadAllele("C", SUBSTITUTION, False)}


def test_alleles_outside_partition_are_ignored():
  region = Range("chr1", 103, 106)
  c = count(read("CGGACGTACG", 101, "10M"), region=region)  # 102 G ok, 103 T>G, ...
  assert c.start == 103 and len(c.ref_support) == 3
  assert c.positions_with_alleles() == [103]
  with pytest.raises(IndexError):
    c.alleles_at(102)


def test_soft_clip_anchor_outside_partition_ignored():
  region = Range("chr1", 104, 110)
  c = count(read("TTTACGTA", 104, "3S5M"), region=region)  # anchor 103 < 104
  assert c.read_alleles == {}


def test_inconsistent_read_raises():
  with pytest.raises(ValueError, match="disagree"):
    count(read("ACGT", 100, "5M"))


def test_unknown_cigar_operation_names_the_read():
  bad = Read(name="weird", flag=0, contig="chr1", start=100, mapq=60, cigar=((0, 2), (9, 1)),
             seq="AC", qual=np.full(2, 30, np.uint8))
  with pytest.raises(ValueError, match="read weird/0: unknown CIGAR operation 9"):
    count(bad)


def test_a_skipped_read_with_short_qualities_does_not_shift_the_next_reads():
  # MAPQ 0 is not counted, so its bad QUAL is never checked; the packed qualities of the reads
  # after it must still line up with their own bases.
  skipped = read("ACGT", 100, "4M", name="skip", qual=[30, 30], mapq=0)
  low = read("ACGA", 100, "4M", name="low", qual=[30, 30, 30, 2])
  c = count(skipped, low)
  assert c.ref_support[:4].tolist() == [1, 1, 1, 0]
  assert c.read_alleles == {103: {"low/0": ReadAllele("A", SUBSTITUTION, True)}}


def test_window_must_cover_partition():
  with pytest.raises(ReferenceWindowError):
    count_alleles([], REF, Range("chr1", 90, 110))


def test_sum_allele_counts_and_depths():
  reads = [read("ACGGACGTAC", 100, "10M", name=f"alt{i}") for i in range(3)]
  reads += [read("ACGTACGTAC", 100, "10M", name=f"ref{i}") for i in range(5)]
  low = [30] * 10
  low[3] = 2
  reads.append(read("ACGCACGTAC", 100, "10M", name="low", qual=low))
  c = count(*reads)
  assert c.sum_allele_counts(103) == {("G", SUBSTITUTION): 3, ("T", REFERENCE): 5}
  assert c.depth(103) == 8
  assert c.depths()[3] == 8 and c.depths()[0] == 9


def test_reference_span_covers_deletions_past_partition():
  reads = [read("ACGTGTAC", 100, "4M2D4M"), read("AC", 150, "2M")]
  assert counting_span(reads, Range("chr1", 100, 105), 10_000) == Range("chr1", 100, 110)
  assert counting_span(reads, Range("chr1", 100, 105), 107) == Range("chr1", 100, 107)


# ---------------------------------------------------------------------------------------------
# Randomized cross-check against a literal, per-base reading of spec 3.4.

def _ref_prev(ref, rp):
  """Reference base before ``rp``, or '' when outside the window (or before the contig)."""
  return ref.seq[rp - 1 - ref.start] if ref.start < rp <= ref.end else ""


def _slow_count(reads, ref, region, min_bq=10, min_mapq=5):
  s, e = region.start, region.end
  ref_count = [0] * (e - s)
  alleles = {}
  for r in reads:
    if r.mapq < min_mapq or not r.seq:
      continue
    to_add = []  # (pos or None for a placeholder, bases, type, low)
    rp, q = r.start, 0
    for op, n in r.cigar:
      if n == 0:
        continue
      if op in (CIGAR_M, CIGAR_EQ, CIGAR_X):
        for i in range(n):
          b = r.seq[q + i]
          if b in "ACGT" and ref.start <= rp + i < ref.end:
            t = REFERENCE if b == ref.seq[rp + i - ref.start] else SUBSTITUTION
            to_add.append((rp + i, b, t, bool(r.qual[q + i] < min_bq)))
        rp += n
        q += n
      elif op in (CIGAR_I, CIGAR_S):
        prev = r.seq[q - 1] if q > 0 else _ref_prev(ref, rp)
        bases = r.seq[q:q + n]
        if prev and prev in "ACGT" and all(ch in "ACGT" for ch in bases):
          low = sum(int(x) for x in r.qual[q:q + n]) < min_bq * n
          to_add.append((rp - 1, prev + bases, INSERTION if op == CIGAR_I else SOFT_CLIP, low))
        else:
          to_add.append((None, "", 0, False))
        q += n
      elif op == CIGAR_D:
        prev = r.seq[q - 1] if q > 0 else _ref_prev(ref, rp)
        ok = prev and prev in "ACGT" and rp + n <= ref.contig_length
        deleted = ref.seq[rp - ref.start:rp + n - ref.start] if ok else ""
        if ok and all(ch in "ACGT" for ch in deleted):
          to_add.append((rp - 1, prev + deleted, DELETION, False))
        else:
          to_add.append((None, "", 0, False))
        rp += n
      elif op in (CIGAR_N, CIGAR_P):
        rp += n
    for i, (pos, bases, t, low) in enumerate(to_add):
      if pos is None or not s <= pos < e:
        continue
      if i + 1 < len(to_add) and to_add[i + 1][0] == pos:
        continue
      if t == REFERENCE:
        ref_count[pos - s] += 0 if low else 1
      else:
        alleles.setdefault(pos, {})[r.key] = ReadAllele(bases, t, low)
  return ref_count, alleles


def _random_read(rng, ref_len, idx):
  ops = []
  if rng.random() < 0.1:
    ops.append((CIGAR_H, rng.randint(1, 5)))
  if rng.random() < 0.3:
    ops.append((CIGAR_S, rng.randint(1, 6)))
  for _ in range(rng.randint(1, 5)):
    op = rng.choice([CIGAR_M] * 6 + [CIGAR_I, CIGAR_D, CIGAR_N, CIGAR_EQ, CIGAR_X, CIGAR_P])
    ops.append((op, rng.randint(0 if rng.random() < 0.05 else 1, 12)))
  if rng.random() < 0.3:
    ops.append((CIGAR_S, rng.randint(1, 6)))
  qlen = sum(n for op, n in ops if op in (CIGAR_M, CIGAR_I, CIGAR_S, CIGAR_EQ, CIGAR_X))
  seq = "".join(rng.choice("ACGTACGTACGTN") for _ in range(qlen))
  qual = np.array([rng.choice([2, 9, 10, 11, 30, 40]) for _ in range(qlen)], np.uint8)
  return Read(name=f"frag{rng.randint(0, 40)}", flag=rng.choice([0, 0x41, 0x81]),
              contig="c", start=rng.randint(0, ref_len - 5), mapq=rng.choice([0, 4, 5, 60]),
              cigar=tuple(ops), seq=seq, qual=qual)


@pytest.mark.parametrize("seed", range(25))
def test_vectorised_counter_matches_literal_spec(seed):
  rng = random.Random(seed)
  ref_len = 80
  seq = "".join(rng.choice("ACGTACGTACGTN") for _ in range(ref_len))
  ref = RefWindow("c", 0, seq, contig_length=ref_len)  # whole contig: deletions may run off it
  reads = [_random_read(rng, ref_len, i) for i in range(150)]
  s = rng.randint(0, 30)
  region = Range("c", s, rng.randint(s + 1, ref_len))
  got = count_alleles(reads, ref, region)
  want_ref, want_alleles = _slow_count(reads, ref, region)
  assert got.ref_support.tolist() == want_ref
  assert got.read_alleles == want_alleles


def test_allele_type_values_match_deepvariant_proto():
  # Enum values are written into protos downstream; they must be DeepVariant's numbers.
  assert (ac.REFERENCE, ac.SUBSTITUTION, ac.INSERTION, ac.DELETION, ac.SOFT_CLIP) == (1, 2, 3, 4, 5)
  assert "".join(CIGAR_CHARS) == "MIDNSHP=X"
