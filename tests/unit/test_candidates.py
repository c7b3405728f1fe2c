"""Very sensitive caller (spec 3.5), on allele counts built from hand-made reads."""
import numpy as np
import pytest

from beam_pipelines.core.allele_counter import count_alleles
from beam_pipelines.core.candidates import UNCALLED_ALLELE, VscOptions, call_candidates
from beam_pipelines.core.reads import Read, parse_cigar
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import Range

# Position 100 + i holds REF_SEQ[i]; 120-121 are N.
REF_SEQ = "ACGTACGTACGTACGTACGTNNACGTACGT"
REF = RefWindow("chr1", 100, REF_SEQ, contig_length=10_000)
REGION = Range("chr1", 100, 130)
REF_READ = ("ACGTACGTAC", "10M")


def reads_of(kind, n, prefix, start=100, qual=None):
  """n reads named prefix0.. with (seq, cigar) = kind, all starting at ``start``."""
  seq, cigar = kind
  q = np.full(len(seq), 30, np.uint8) if qual is None else np.asarray(qual, np.uint8)
  return [Read(name=f"{prefix}{i}", flag=0, contig="chr1", start=start, mapq=60,
               cigar=parse_cigar(cigar), seq=seq, qual=q) for i in range(n)]


def call(reads, opts=VscOptions()):
  return call_candidates(count_alleles(reads, REF, REGION), opts, "chr1")


SNP_G = ("ACGGACGTAC", "10M")  # T>G at 103
SNP_C = ("ACGCACGTAC", "10M")  # T>C at 103
SNP_A = ("ACGAACGTAC", "10M")  # T>A at 103
DEL_1 = ("ACGTCGTAC", "4M1D5M")  # deletes A at 104: allele TA at 103
DEL_2 = ("ACGTGTAC", "4M2D4M")  # deletes AC at 104-105: allele TAC at 103
DEL_2_G = ("ACGGGTAC", "4M2D4M")  # same deletion, read anchor G: allele GAC
INS_GG = ("ACGTGGACGTAC", "4M2I6M")  # inserts GG after 103: allele TGG
CLIP = ("ACGTGGGG", "4M4S")  # trailing soft clip anchored at 103: TGGGG


def test_float32_thresholds():
  # v1.5 stores the fractions in float proto fields.
  assert VscOptions().snp_fraction_f32 == 0.11999999731779099
  assert VscOptions().indel_fraction_f32 == 0.05999999865889549


@pytest.mark.parametrize("n_alt,n_ref,called", [
    (3, 22, True),  # 3/25 = 0.12 passes the 0.12 SNP threshold
    (2, 15, False),  # 2/17 = 0.1176 < 0.12
    (1, 0, False),  # fraction 1.0 but count 1 < min_count_snps 2
    (2, 0, True),  # count 2 == min_count_snps
])
def test_snp_thresholds(n_alt, n_ref, called):
  cands = call(reads_of(SNP_G, n_alt, "alt") + reads_of(REF_READ, n_ref, "ref"))
  assert len(cands) == int(called)
  if called:
    c = cands[0]
    assert (c.start, c.ref, c.alts, c.dp, c.ad) == (103, "T", ("G",), n_alt + n_ref, (n_ref, n_alt))


@pytest.mark.parametrize("n_alt,n_ref,called", [
    (3, 47, True),  # 3/50 = 0.06 passes the 0.06 indel threshold
    (2, 32, False),  # 2/34 = 0.0588 < 0.06
])
def test_indel_fraction_threshold(n_alt, n_ref, called):
  cands = call(reads_of(DEL_1, n_alt, "del") + reads_of(REF_READ, n_ref, "ref"))
  assert [(c.ref, c.alts) for c in cands] == ([("TA", ("T",))] if called else [])


def test_threshold_compared_against_float32_value():
  # float32(0.1) = 0.10000000149 > 0.1, so 1/10 fails although 0.1 >= 0.1 in double.
  opts = VscOptions(min_count_snps=1, min_fraction_snps=0.1)
  assert call(reads_of(SNP_G, 1, "alt") + reads_of(REF_READ, 9, "ref"), opts) == []
  assert len(call(reads_of(SNP_G, 2, "alt") + reads_of(REF_READ, 9, "ref"), opts)) == 1


def test_low_quality_snp_in_support_not_in_counts():
  low = [30] * 10
  low[3] = 5
  reads = (reads_of(SNP_G, 3, "alt") + reads_of(SNP_G, 1, "low", qual=low)
           + reads_of(REF_READ, 10, "ref"))
  (c,) = call(reads)
  assert (c.dp, c.ad) == (13, (10, 3))  # low-quality read in neither DP nor AD
  assert c.allele_support == {"G": frozenset({"alt0/0", "alt1/0", "alt2/0", "low0/0"})}
  assert c.vaf == (3 / 13,)


def test_soft_clips_count_in_dp_but_are_never_candidates():
  reads = (reads_of(CLIP, 5, "clip") + reads_of(SNP_G, 3, "alt")
           + reads_of(REF_READ, 10, "ref"))
  (c,) = call(reads)
  assert (c.alts, c.dp, c.ad) == (("G",), 18, (10, 3))  # 5 clips in DP, not in AD
  assert c.allele_support["G"] == frozenset({"alt0/0", "alt1/0", "alt2/0"})
  assert c.allele_support[UNCALLED_ALLELE] == frozenset(f"clip{i}/0" for i in range(5))


def test_soft_clip_alone_gives_no_candidate():
  assert call(reads_of(CLIP, 10, "clip")) == []


def test_insertion_candidate():
  (c,) = call(reads_of(INS_GG, 4, "ins") + reads_of(REF_READ, 4, "ref"))
  assert (c.start, c.ref, c.alts, c.end) == (103, "T", ("TGG",), 104)


def test_deletion_with_differing_anchor_is_snp_plus_deletion():
  (c,) = call(reads_of(DEL_2_G, 3, "del") + reads_of(REF_READ, 3, "ref"))
  assert (c.ref, c.alts, c.ad) == ("TAC", ("G",), (3, 3))


def test_longest_deletion_defines_reference_and_alts_sorted():
  reads = (reads_of(DEL_1, 3, "d1") + reads_of(DEL_2, 3, "d2") + reads_of(SNP_G, 3, "snp")
           + reads_of(INS_GG, 3, "ins") + reads_of(REF_READ, 3, "ref"))
  (c,) = call(reads)
  # R = TAC: 1-bp del -> T + C; 2-bp del -> T; SNP G -> GAC; insertion TGG -> TGGAC.
  assert c.ref == "TAC" and c.end == 106
  assert c.alts == ("GAC", "T", "TC", "TGGAC")  # byte order
  assert c.ad == (3, 3, 3, 3, 3) and c.dp == 15
  assert c.allele_support["TC"] == frozenset(f"d1{i}/0" for i in range(3))
  assert c.allele_support["T"] == frozenset(f"d2{i}/0" for i in range(3))
  assert c.allele_support["TGGAC"] == frozenset(f"ins{i}/0" for i in range(3))


def test_multiallelic_snps_sorted_with_counts_in_alt_order():
  reads = (reads_of(SNP_G, 5, "g") + reads_of(SNP_C, 3, "c") + reads_of(SNP_A, 4, "a")
           + reads_of(REF_READ, 8, "ref"))
  (c,) = call(reads)
  assert c.alts == ("A", "C", "G") and c.ad == (8, 4, 3, 5) and c.dp == 20


def test_uncalled_alleles_go_to_uncalled_support():
  # One C read is below min_count: it supports no called alt.
  reads = reads_of(SNP_G, 4, "g") + reads_of(SNP_C, 1, "c") + reads_of(REF_READ, 5, "ref")
  (c,) = call(reads)
  assert c.alts == ("G",) and c.ad == (5, 4) and c.dp == 10
  assert c.allele_support[UNCALLED_ALLELE] == frozenset({"c0/0"})


def test_non_acgt_reference_position_never_called():
  # Reads with G, T at 120-121 where the reference is NN (then matching AC): no candidate.
  reads = reads_of(("GTAC", "4M"), 5, "n", start=120)
  assert call(reads) == []


def test_candidates_in_position_order():
  two = ("ACGGACGTAG", "10M")  # T>G at 103 and C>G at 109
  cands = call(reads_of(two, 3, "x") + reads_of(REF_READ, 3, "ref"))
  assert [(c.start, c.alts) for c in cands] == [(103, ("G",)), (109, ("G",))]


def test_contig_mismatch_raises():
  with pytest.raises(ValueError, match="contig"):
    call_candidates(count_alleles([], REF, REGION), VscOptions(), "chr2")


@pytest.mark.parametrize("kwargs", [
    {"min_count_snps": -1},  # negative count
    {"min_fraction_indels": 1.5},  # fraction above 1
])
def test_options_validate(kwargs):
  with pytest.raises(ValueError, match="vsc_"):
    VscOptions(**kwargs)


def test_soft_clips_in_dp_can_push_a_snp_below_threshold():
  # 2 SNP reads + 10 ref = 2/12 passes, but 5 clipped reads make DP 17 and 2/17 < 0.12.
  assert len(call(reads_of(SNP_G, 2, "alt") + reads_of(REF_READ, 10, "ref"))) == 1
  assert call(reads_of(CLIP, 5, "clip") + reads_of(SNP_G, 2, "alt")
              + reads_of(REF_READ, 10, "ref")) == []
