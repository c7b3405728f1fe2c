"""core/alt_aligned.py: read trimming, view combination and the per-candidate rules."""
import numpy as np
import pytest

from beam_pipelines.core import alt_aligned as aa
from beam_pipelines.core import read_trim
from beam_pipelines.core.pileup import PileupOptions
from beam_pipelines.core.reads import CIGAR_M, Read, parse_cigar
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.variants import Candidate


@pytest.mark.parametrize("cigar,trim,length,want", [
    ("10M", 0, 10, ("10M", 0, 10)),
    ("10M", 3, 5, ("5M", 3, 5)),
    ("4S10M", 0, 10, ("4S10M", 0, 14)),       # no left trim: the soft clip stays
    ("4S10M", 2, 8, ("8M", 6, 8)),            # a left trim takes the clip with it
    ("5M3I5M", 5, 5, ("3I5M", 5, 8)),         # an insertion right after the trim point stays
    ("5M3D5M", 6, 4, ("2D2M", 5, 2)),         # a deletion cut by the trim
    ("5M3I5M", 0, 5, ("5M3I", 0, 8)),         # exact cover keeps the following insertion
])
def test_trim_cigar(cigar, trim, length, want):
  got, n_trim, kept = read_trim.trim_cigar(parse_cigar(cigar), trim, length)
  assert ("".join(f"{n}{'MIDNSHP=X'[op]}" for op, n in got), n_trim, kept) == want


def _read(start, cigar, seq, name="r"):
  return Read(name=name, flag=0, contig="c", start=start, mapq=60, cigar=parse_cigar(cigar),
              seq=seq, qual=np.full(len(seq), 30, dtype=np.uint8))


def test_trim_read_cuts_sequence_and_start():
  r = _read(100, "2S10M", "GGACGTACGTAC")
  t = read_trim.trim_read(r, 103, 108)
  assert (t.start, t.cigar, t.seq, len(t.qual)) == (103, ((CIGAR_M, 5),), "TACGT", 5)
  assert read_trim.trim_read(r, 90, 200) == r


def test_is_indel_is_nucleus_rule():
  snp = Candidate("c", 10, "A", ("G",), 0, ())
  assert not aa.is_indel(snp)
  assert aa.is_indel(Candidate("c", 10, "AT", ("A",), 0, ()))
  assert aa.is_indel(Candidate("c", 10, "A", ("G", "AT"), 0, ()))


def test_combine_duplicates_a_single_alt_and_picks_the_channel():
  chans = (1, 2, 3, 4, 5, 6)
  ref = np.zeros((4, 3, 6), np.uint8)
  alt = np.arange(72, dtype=np.uint8).reshape(4, 3, 6)
  diff = aa.combine(aa.DIFF_CHANNELS, ref, [alt], chans)
  assert diff.shape == (4, 3, 8)
  assert np.array_equal(diff[:, :, 6], alt[:, :, 5]) and np.array_equal(diff[:, :, 7], alt[:, :, 5])
  base = aa.combine(aa.BASE_CHANNELS, ref, [alt, alt + 1], chans)
  assert np.array_equal(base[:, :, 7], alt[:, :, 0] + 1)
  assert aa.combine(aa.ROWS, ref, [alt], chans).shape == (12, 3, 6)


def test_options_refuse_unknown_values():
  with pytest.raises(ValueError, match="--alt_aligned_pileup=columns"):
    aa.AltAlignedOptions("columns")
  with pytest.raises(ValueError, match="--types_to_alt_align=snps"):
    aa.AltAlignedOptions(aa.DIFF_CHANNELS, "snps")


def _deletion_case():
  rng = np.random.RandomState(7)
  seq = "".join(rng.choice(list("ACGT"), 600))
  ref = RefWindow("c", 0, seq, len(seq))
  pos = 300  # deletion of seq[301:305]
  hap = seq[:301] + seq[305:]
  reads = []
  for i, s in enumerate(range(210, 300, 6)):  # 100-bp reads of the deleted haplotype
    left = pos + 1 - s
    reads.append(_read(s, f"{left}M4D{100 - left}M", hap[s:s + 100], name=f"r{i}"))
  cand = Candidate("c", pos, seq[pos:pos + 5], (seq[pos],), len(reads), (0, len(reads)),
                   allele_support={seq[pos]: frozenset(r.key for r in reads)})
  return cand, reads, ref


def test_deletion_reads_match_the_alt_haplotype_exactly():
  cand, reads, ref = _deletion_case()
  opts = PileupOptions(height=75, width=61)
  images = aa.build_images(cand, reads, ref, opts, [(0,)],
                           aa.AltAlignedOptions(aa.DIFF_CHANNELS))
  (img,) = images
  assert img.shape == (75, 61, 8)
  drawn = img[5:, :, 6] > 0
  assert drawn.sum() > 0
  # Every read carries the deletion: aligned to the alt haplotype, no base differs from it.
  assert set(np.unique(img[5:, :, 6][drawn]).tolist()) == {50}
  assert np.array_equal(img[:, :, 6], img[:, :, 7])
  # A SNP candidate at the same place gets blank views unless --types_to_alt_align all.
  snp = Candidate("c", 250, ref.bases(250, 251), ("A" if ref.base(250) != "A" else "C",),
                  len(reads), (len(reads), 0))
  (blank,) = aa.build_images(snp, reads, ref, opts, [(0,)], aa.AltAlignedOptions(aa.DIFF_CHANNELS))
  assert not blank[:, :, 6:].any()
  (full,) = aa.build_images(snp, reads, ref, opts, [(0,)],
                            aa.AltAlignedOptions(aa.DIFF_CHANNELS, "all"))
  assert full[:, :, 6:].any()


def test_split_skip_reads_cuts_a_spliced_read_into_its_blocks():
  seq = "AAAAACCCCCGGGGG" + "TT"
  r = _read(100, "2S5M1000N5M3I2D5M", seq[:2] + seq[2:7] + seq[7:12] + "TTT" + seq[12:17])
  assert read_trim.aligned_blocks(r) == [(100, 105), (1105, 1117)]
  first, second = read_trim.split_skip_reads([r])
  assert (first.start, first.cigar_string(), first.seq) == (100, "2S5M", r.seq[:7])
  assert (second.start, second.cigar_string(), second.seq) == (1105, "5M3I2D5M", r.seq[7:])
  assert first.key == second.key == r.key  # one fragment: same downsampling, same support
  plain = _read(5, "10M", "ACGTACGTAC")
  assert read_trim.split_skip_reads([plain, r])[0] is plain
