"""Local realignment (spec 6): hand-built windows with known answers, plus its building blocks."""
import numpy as np
import pytest

from beam_pipelines.core.reads import Read, parse_cigar
from beam_pipelines.core.realign_seam import prepare_reads
from beam_pipelines.core.realigner import RealignerOptions, realign_reads
from beam_pipelines.core.realigner import cigar_compose, debruijn, smith_waterman
from beam_pipelines.core.realigner.fast_pass import position_shifts
from beam_pipelines.core.realigner.options import WindowSelectorOptions
from beam_pipelines.core.realigner.window_selector import select_windows, windows_from_positions
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import Range

CONTIG = "chrT"


def _random_seq(n, seed):
  rng = np.random.RandomState(seed)
  return "".join("ACGT"[i] for i in rng.randint(0, 4, size=n))


def _ref(seq):
  return RefWindow(CONTIG, 0, seq, len(seq))


def _read(name, start, cigar, seq, mapq=60, qual=30, flag=0):
  return Read(name=name, flag=flag, contig=CONTIG, start=start, mapq=mapq,
              cigar=parse_cigar(cigar), seq=seq, qual=np.full(len(seq), qual, dtype=np.uint8))


# A 700-bp reference with a 7-A homopolymer at [350, 357) (flanked by non-A bases).
_FLANK = _random_seq(700, seed=7)
HOMOPOLYMER_REF = _FLANK[:349] + "C" + "A" * 7 + "G" + _FLANK[358:]
HP_START, HP_END = 350, 357


def _deletion_reads():
  """20 reads carrying a 1-bp deletion of the homopolymer, CIGARs placing it anywhere in it."""
  hap = HOMOPOLYMER_REF[:HP_START] + HOMOPOLYMER_REF[HP_START + 1:]  # one A fewer
  reads = []
  for n in range(20):
    start = 270 + 3 * n                         # all start left of the run and end right of it
    seq = hap[start:start + 101]
    place = HP_START + (n % 7)                  # deleted reference base: 350..356
    left = place - start
    reads.append(_read(f"del{n}", start, f"{left}M1D{101 - left}M", seq))
  return reads


def test_deletion_in_homopolymer_is_unified():
  """Reads whose aligner put the same deletion at 7 different places in the run all end up with
  it at the left-most place (the normalized one), with their starts unchanged."""
  reads = _deletion_reads()
  assert len({r.start + r.cigar[0][1] for r in reads}) == 7  # 7 deletion placements
  out = prepare_reads(reads, Range(CONTIG, 300, 400), _ref(HOMOPOLYMER_REF), realign=True)
  assert sorted(r.name for r in out) == sorted(r.name for r in reads)
  by_name = {r.name: r for r in out}
  for r in reads:
    new = by_name[r.name]
    left = HP_START - r.start
    assert new.start == r.start, r.name
    assert new.cigar == parse_cigar(f"{left}M1D{101 - left}M"), (r.name, new.cigar_string())


def _insertion_case():
  """Reads tiling [230, 500) over a 5-bp insertion before reference base 350 (the window must be
  covered end to end by reads, or v1.5's fast pass drops the haplotype)."""
  ref = _random_seq(700, seed=11)
  ins = "TTGCA"
  hap = ref[:350] + ins + ref[350:]             # 5 bp inserted before reference base 350
  reads = []
  for n, start in enumerate(range(230, 400, 5)):
    if start == 262:
      continue
    if start + 101 <= 350:
      reads.append(_read(f"ref{n}", start, "101M", ref[start:start + 101]))
    elif start >= 350:
      reads.append(_read(f"ref{n}", start, "101M", ref[start:start + 101]))
    else:
      left = 350 - start
      if left > 96:
        continue
      reads.append(_read(f"ins{n}", start, f"{left}M5I{101 - left - 5}M", hap[start:start + 101]))
  # The aligner soft-clipped the insertion and the 8 bases after it.
  start = 350 - 88
  clipped = _read("clipped", start, "88M13S", hap[start:start + 101])
  return ref, reads, clipped


def test_soft_clipped_insertion_gets_the_insertion():
  """A read whose insertion was soft-clipped (88M13S) is realigned to 88M5I8M at the same start,
  because the assembled haplotype carries the insertion."""
  ref, reads, clipped = _insertion_case()
  out = prepare_reads(reads + [clipped], Range(CONTIG, 300, 400), _ref(ref), realign=True)
  new = next(r for r in out if r.name == "clipped")
  assert new.start == clipped.start
  assert new.cigar_string() == "88M5I8M"
  for r in out:
    if r.name != "clipped":
      assert r.cigar_string() == next(x for x in reads if x.name == r.name).cigar_string()


def test_reference_only_window_leaves_reads_unchanged():
  """Two reads with different errors at one position make a window (2 mismatching reads), but
  each error edge has weight 1 and is pruned: the only haplotype is the reference, so every
  read, soft clips included, comes back unchanged and in input order."""
  ref = _random_seq(700, seed=5)
  reads = []
  for n in range(15):
    start = 260 + 8 * n
    seq = list(ref[start:start + 101])
    cigar = "101M"
    if n == 3:
      seq[350 - start] = "ACGT"[("ACGT".index(ref[350]) + 1) % 4]
    if n == 4:
      seq[350 - start] = "ACGT"[("ACGT".index(ref[350]) + 2) % 4]
    if n == 6:
      seq, cigar = list(ref[start - 5:start + 96]), "5S96M"
    reads.append(_read(f"r{n}", start, cigar, "".join(seq)))
  region = Range(CONTIG, 300, 400)
  result = realign_reads(reads, region, _ref(ref))
  assert result.windows == [Range(CONTIG, 270, 430)]
  assert result.assembled == []
  assert result.reads == reads


def test_default_is_off_and_long_reads_come_first():
  """prepare_reads defaults to no realignment; with it on, reads > 500 bp are left alone and
  placed first (spec 2.3 step 2)."""
  reads = _deletion_reads()
  ref = _ref(HOMOPOLYMER_REF)
  region = Range(CONTIG, 300, 400)
  assert prepare_reads(reads, region, ref) == reads
  assert prepare_reads(reads, region, ref, realign=RealignerOptions(enabled=False)) == reads
  long_read = _read("long", 0, "600M", HOMOPOLYMER_REF[:600])
  out = prepare_reads(reads[:5] + [long_read] + reads[5:], region, ref, realign=True)
  assert out[0] is long_read
  assert len(out) == len(reads) + 1


@pytest.mark.parametrize("query,ref,cigar,ref_begin", [
    # A deletion in a homopolymer goes to its left end (SSW traceback prefers the diagonal).
    ("ACGTTTGCA", "ACGTTTTGCA", "3=1D6=", 0),
    # An insertion in a homopolymer, likewise.
    ("GCATTTTTAGC", "GCATTTTAGC", "3=1I7=", 0),
    # Unaligned query ends become soft clips; the begin is the reference offset.
    ("TTTGATTACAGG", "CCGATTACACC", "3S7=2S", 2),
    # A mismatch inside a long match is an X run.
    ("ACGTACGTAAGTACGT", "ACGTACGTACGTACGT", "9=1X6=", 0),
])
def test_smith_waterman_cigar(query, ref, cigar, ref_begin):
  aln = smith_waterman.align(query, ref)
  assert aln.cigar_string() == cigar
  assert aln.ref_begin == ref_begin


def test_smith_waterman_score_and_no_alignment():
  """Score is 4 per match, -8 to open a gap; nothing in common gives score 0."""
  assert smith_waterman.align("ACGTTTGCA", "ACGTTTTGCA").score == 9 * 4 - 8
  assert smith_waterman.align("AAAA", "CCCC").score == 0


@pytest.mark.parametrize("read_cigar,offset,hap_cigar,expected", [
    # Module docstring example: read spans the haplotype's 2-bp deletion.
    ([["M", 60]], 10, [["M", 50], ["D", 2], ["M", 50]], [["M", 40], ["D", 2], ["M", 20]]),
    # Read lies entirely left of the haplotype indel: plain match.
    ([["M", 30]], 5, [["M", 50], ["I", 3], ["M", 50]], [["M", 30]]),
    # Read over a haplotype insertion: the inserted haplotype bases become read insertions.
    ([["M", 40]], 30, [["M", 50], ["I", 3], ["M", 50]], [["M", 20], ["I", 3], ["M", 17]]),
    # Read starting inside a haplotype insertion: the trimmed insertion stays at its start.
    ([["M", 20]], 51, [["M", 50], ["I", 3], ["M", 50]], [["I", 2], ["M", 18]]),
    # A read deletion against a haplotype insertion cancels out.
    ([["M", 10], ["D", 3], ["M", 10]], 40, [["M", 50], ["I", 3], ["M", 50]], [["M", 20]]),
])
def test_compose(read_cigar, offset, hap_cigar, expected):
  read_len = sum(n for op, n in read_cigar if op != "D")
  assert cigar_compose.compose(read_len, read_cigar, offset, hap_cigar) == expected


@pytest.mark.parametrize("cigar,offset,seq,ref,normalized", [
    # CAAA-T vs CAAAAT with the deletion at the right end of the run: can shift left.
    ([["M", 4], ["D", 1], ["M", 1]], 0, "CAAAT", "CAAAAT", False),
    # Same deletion at the left end of the run.
    ([["M", 1], ["D", 1], ["M", 4]], 0, "CAAAT", "CAAAAT", True),
    # Insertion of an A after the run of As: can shift left.
    ([["M", 4], ["I", 1], ["M", 1]], 0, "CAAAAT", "CAAAT", False),
])
def test_is_normalized(cigar, offset, seq, ref, normalized):
  assert cigar_compose.is_normalized(cigar, offset, ref, seq) is normalized


def test_position_shifts():
  """Haplotype offset -> reference offset shift: +2 after a 2-bp deletion, -1 per inserted base."""
  shifts = position_shifts(8, (("=", 3), ("D", 2), ("=", 2), ("I", 2), ("=", 1)))
  assert shifts.tolist() == [0, 0, 0, 2, 2, 2, 1, 0]


def test_debruijn_snp_gives_two_sorted_haplotypes():
  """Half the reads carry a SNP: the graph yields the reference and the SNP haplotype, sorted."""
  ref = _random_seq(200, seed=3)
  alt_base = "ACGT"[("ACGT".index(ref[100]) + 1) % 4]
  alt = ref[:100] + alt_base + ref[101:]
  reads = [_read(f"r{n}", 40 + n, "101M", (alt if n % 2 else ref)[40 + n:141 + n])
           for n in range(10)]
  haps = debruijn.candidate_haplotypes(ref, reads)
  assert haps == sorted([ref, alt])


def test_debruijn_low_quality_and_single_read_errors_are_ignored():
  """A SNP seen in one read only, or in reads with base quality < 15, never makes a haplotype."""
  ref = _random_seq(200, seed=4)
  alt = ref[:100] + ("A" if ref[100] != "A" else "C") + ref[101:]
  reads = [_read("one", 40, "101M", alt[40:141])]
  low = [_read(f"low{n}", 45 + n, "101M", alt[45 + n:146 + n], qual=10) for n in range(4)]
  assert debruijn.candidate_haplotypes(ref, reads + low) == [ref]


def test_window_selector_worked_example():
  """Five reads with a 2-bp deletion anchored at 1000 mark 1001-1002 -> window [921, 1082)."""
  seq = _random_seq(2000, seed=9)
  reads = []
  for n in range(5):
    start = 950 + n
    left = 1001 - start
    read_seq = seq[start:1001] + seq[1003:1003 + 101 - left]
    reads.append(_read(f"d{n}", start, f"{left}M2D{101 - left}M", read_seq))
  windows = select_windows(reads, _ref(seq), Range(CONTIG, 900, 1100))
  assert windows == [Range(CONTIG, 921, 1082)]


@pytest.mark.parametrize("positions,expected", [
    # Candidates 160 apart are chained into one window.
    ([100, 260], [(20, 340)]),
    # 161 apart: two windows.
    ([100, 261], [(20, 180), (181, 341)]),
])
def test_windows_from_positions(positions, expected):
  got = windows_from_positions(positions, CONTIG, WindowSelectorOptions())
  assert [(w.start, w.end) for w in got] == expected
