"""The small model's feature vector: one real GIAB candidate against a value computed by hand
from the BAM records with pysam (not through the allele counter), plus the edge rules."""
import collections

import numpy as np
import pysam
import pytest

from beam_pipelines.core import example_maker, read_filters
from beam_pipelines.core import small_model_features as F
from beam_pipelines.core.allele_counter import count_alleles
from beam_pipelines.core.candidates import VscOptions, call_candidates
from beam_pipelines.core.reads import Read, parse_cigar
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import Range
from beam_pipelines.io.bam import BamReader
from beam_pipelines.io.fasta import FastaReader
from schemas import small_model as contract
from tests import giab

PART = Range("chr20", 10003000, 10004000)
SNP_POS = 10003357  # 0-based; chr20:10,003,358 A>C, a het SNP candidate (AD 24,26)


def _kept_pysam_reads(bam_path, contig, pos):
  """Records over ``pos`` that pileflow's default read filters keep (spec 3.1)."""
  out = []
  with pysam.AlignmentFile(bam_path) as bam:
    for r in bam.fetch(contig, PART.start, PART.end):
      if r.is_unmapped or r.is_duplicate or r.is_qcfail or r.is_secondary or \
          r.is_supplementary or r.mapping_quality < 5:
        continue
      if r.is_paired and not r.is_proper_pair and not r.mate_is_unmapped and \
          r.next_reference_name not in (None, contig):
        continue
      out.append(r)
  return out


def _observation(r, pos):
  """What read ``r`` shows at reference ``pos``, by hand: ('base', b, bq), ('anchor', ...) when
  an indel or soft clip is anchored there (it replaces the base), or None."""
  pairs = r.get_aligned_pairs()
  ops = r.cigartuples
  # Where an insertion/deletion/clip follows the aligned base at pos, it is anchored at pos.
  ref_pos, q = r.reference_start, 0
  for i, (op, n) in enumerate(ops):
    if op in (0, 7, 8):
      if ref_pos <= pos < ref_pos + n:
        offset = pos - ref_pos
        if offset == n - 1 and i + 1 < len(ops) and ops[i + 1][0] in (1, 2, 4):
          return ("anchor",)
        return ("base", r.query_sequence[q + offset], r.query_qualities[q + offset])
      ref_pos += n
      q += n
    elif op in (1, 4):
      if i == 0 and op == 4 and ref_pos == pos + 1:
        return ("anchor",)  # a leading clip anchors at the base before the read
      q += n
    elif op in (2, 3):
      ref_pos += n
  del pairs
  return None


def test_feature_vector_of_a_giab_snp_equals_a_hand_count():
  reads = BamReader((giab.BAM,), reference=giab.REF)
  raw = list(reads.fetch(PART))
  kept = example_maker.filter_reads(raw, read_filters.ReadFilterOptions(),
                                    collections.Counter())
  with FastaReader(giab.REF) as fa:
    ref = fa.window("chr20", PART.start - 2000, PART.end + 2000)
    ref_base = fa.window("chr20", SNP_POS, SNP_POS + 1).seq
  counts = count_alleles(kept, ref, PART, support_stats=True)
  cand = next(c for c in call_candidates(counts, VscOptions(), "chr20") if c.start == SNP_POS)
  assert (ref_base, cand.ref, cand.alts) == ("A", "A", ("C",))
  got = F.candidate_features(counts, cand, window_size=5)

  ref_reads, alt_reads = [], []
  for r in _kept_pysam_reads(giab.BAM, "chr20", SNP_POS):
    obs = _observation(r, SNP_POS)
    if obs and obs[0] == "base":
      (ref_reads if obs[1] == "A" else alt_reads if obs[1] == "C" else []).append((r, obs[2]))
  n_ref, n_alt = len(ref_reads), len(alt_reads)
  total = sum(len(v) for v in cand.allele_support.values()) + n_ref
  mean = lambda xs: sum(xs) // len(xs)  # noqa: E731
  expected = [
      n_ref, n_alt, n_ref + n_alt, total, 100 * n_alt // total, 100 * n_alt // (n_ref + n_alt),
      mean([r.mapping_quality for r, _ in ref_reads]),
      mean([r.mapping_quality for r, _ in alt_reads]),
      mean([bq for _, bq in ref_reads]), mean([bq for _, bq in alt_reads]),
      mean([100 * r.is_reverse for r, _ in ref_reads]),
      mean([100 * r.is_reverse for r, _ in alt_reads]),
      1, 0, 0, 0, 0, 0, 0]
  with FastaReader(giab.REF) as fa:
    for off in (-2, -1, 0, 1, 2):
      pos = SNP_POS + off
      base_ref = fa.window("chr20", pos, pos + 1).seq
      good_ref = nonref = 0
      for r in _kept_pysam_reads(giab.BAM, "chr20", pos):
        obs = _observation(r, pos)
        if obs is None:
          continue
        if obs[0] == "anchor" or (obs[1] != base_ref and obs[1] in "ACGT"):
          nonref += 1
        elif obs[1] == base_ref and obs[2] >= 10:
          good_ref += 1
      expected.append(100 * nonref // (good_ref + nonref))
  assert got == expected
  # The hand count is a real het site: about half the reads carry the C.
  assert 20 <= n_ref <= 30 and 20 <= n_alt <= 30
  assert 40 <= got[4] <= 60


def _read(name, start, cigar, seq, mapq=60, flag=0, qual=30):
  return Read(name=name, flag=flag, contig="c", start=start, mapq=mapq,
              cigar=parse_cigar(cigar), seq=seq, qual=np.full(len(seq), qual, np.uint8))


REF = RefWindow("c", 0, "ACGTACGTACGTACGTACGT", 20)


def test_indel_features_and_window_clipped_to_the_partition():
  reads = [_read(f"r{i}", 0, "4M2I4M", "ACGTTTACGT", mapq=50, flag=16 if i % 2 else 0)
           for i in range(4)]
  reads += [_read("ref1", 0, "10M", "ACGTACGTAC", mapq=20, qual=20)]
  counts = count_alleles(reads, REF, Range("c", 0, 10), support_stats=True)
  cand = next(c for c in call_candidates(counts, VscOptions(), "c") if c.start == 3)
  assert (cand.ref, cand.alts) == ("T", ("TTT",))
  got = F.candidate_features(counts, cand, window_size=9)
  names = contract.feature_names(9)
  by_name = dict(zip(names, got))
  assert by_name["num_reads_supports_ref"] == 1 and by_name["num_reads_supports_alt"] == 4
  assert by_name["ref_mapping_quality"] == 20 and by_name["alt_mapping_quality"] == 50
  assert by_name["alt_base_quality"] == 30 and by_name["ref_base_quality"] == 20
  assert by_name["alt_reverse_strand_ratio"] == 50 and by_name["ref_reverse_strand_ratio"] == 0
  assert by_name["variant_allele_frequency"] == 80
  assert (by_name["is_snp"], by_name["is_insertion"], by_name["is_deletion"]) == (0, 1, 0)
  assert (by_name["insertion_length"], by_name["deletion_length"]) == (2, 0)
  # offset 0: the 4 insertion anchors are non-ref, the one ref read ref: 80; positions before
  # the partition (3 - 4 = -1) are 0, as outside DeepVariant's counter interval.
  assert by_name["variant_allele_frequency_at_plus_0"] == 80
  assert by_name["variant_allele_frequency_at_minus_4"] == 0
  assert by_name["variant_allele_frequency_at_plus_1"] == 0


def test_multiallelic_candidates_get_one_vector_per_alt_set():
  reads = [_read(f"a{i}", 0, "10M", "ACCTACGTAC") for i in range(3)]
  reads += [_read(f"b{i}", 0, "10M", "ACTTACGTAC", flag=16) for i in range(3)]
  reads += [_read(f"r{i}", 0, "10M", "ACGTACGTAC") for i in range(2)]
  counts = count_alleles(reads, REF, Range("c", 0, 10), support_stats=True)
  cand = next(c for c in call_candidates(counts, VscOptions(), "c") if c.start == 2)
  assert cand.alts == ("C", "T")
  assert F.candidate_features(counts, cand) is None  # no biallelic vector
  names = contract.feature_names(3)
  one = dict(zip(names, F.candidate_features(counts, cand, 3, (1,))))
  both = dict(zip(names, F.candidate_features(counts, cand, 3, (0, 1))))
  assert (one["num_reads_supports_alt"], one["alt_reverse_strand_ratio"]) == (3, 100)
  assert (both["num_reads_supports_alt"], both["alt_reverse_strand_ratio"]) == (6, 50)
  assert one["total_depth"] == both["total_depth"] == 8 and one["num_reads_supports_ref"] == 2
  assert (one["is_multiallelic"], one["is_multiple_alt_alleles"]) == (1, 0)
  assert (both["is_multiallelic"], both["is_multiple_alt_alleles"]) == (1, 1)
  assert both["variant_allele_frequency"] == 75 and one["is_snp"] == 1
  mat = F.feature_matrix(counts, [(cand, (0,)), (cand, (1,)), (cand, (0, 1))], 3)
  assert mat.shape == (3, len(names)) and mat[2].tolist() == list(both.values())
  assert [F.label_class(g) for g in ((0, 0), (0, 1), (1, 0), (1, 1), (1,), (-1, -1))] == \
      [0, 1, 1, 2, 2, None]


def test_default_vector_is_deepvariants_70_features_in_order():
  names = contract.feature_names()
  assert len(names) == 70
  assert names[:3] == ("num_reads_supports_ref", "num_reads_supports_alt", "alt_indices_depth")
  assert names[12:19] == contract.VARIANT_FEATURES
  assert names[19] == "variant_allele_frequency_at_minus_25"
  assert names[44] == "variant_allele_frequency_at_plus_0"
  assert names[-1] == "variant_allele_frequency_at_plus_25"
