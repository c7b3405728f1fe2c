"""--split_skip_reads on RNA-like data: spliced alignments (CIGAR N) cut into aligned blocks.

A 3 kb reference with two exons (500-1000 and 2000-2500, 0-based) and a retained intron region
1400-1600. 30 read pairs' worth of spliced reads jump exon1 -> exon2 over the intron; 20
unspliced reads cover 1400-1600 and carry a het SNP at 1500. Unsplit, every spliced read
"overlaps" the SNP by its span and becomes an empty row of its pileup; split at N, the SNP's
image holds only the reads with a base there.
"""
import numpy as np
import pytest

from beam_pipelines import make_examples
from schemas import example_format, tfrecord
from tests import synthetic_bam

SNP = 1500


def _write_inputs(d):
  rng = np.random.RandomState(3)
  ref = "".join(rng.choice(list("ACGT"), 3000))
  alt_base = "A" if ref[SNP] != "A" else "C"
  records = []
  for i in range(30):  # spliced: 50 bp of exon1 end, N, 50 bp of exon2 start
    left = 10 + i
    records.append((1000 - left, f"{left}M1000N{100 - left}M",
                    ref[1000 - left:1000] + ref[2000:2100 - left], f"s{i}", None))
  for i in range(20):  # unspliced, in the retained intron, half carrying the SNP
    start = 1420 + 3 * i
    seq = ref[start:start + 100]
    if i % 2:
      seq = seq[:SNP - start] + alt_base + seq[SNP - start + 1:]
    records.append((start, "100M", seq, f"u{i}", None))
  return synthetic_bam.write_inputs(d, ref, records, sample="rna", name="rna")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
  d = tmp_path_factory.mktemp("rna")
  return d, _write_inputs(d)


def _examples(inputs, name, *extra):
  d, (fa, bam) = inputs
  out = str(d / name / "ex.tfrecord.gz")
  assert make_examples.main(["--mode", "calling", "--ref", fa, "--reads", bam, "--examples", out,
                             "--regions", "r:1-3000", "--realign_reads=false", *extra]) == 0
  return [example_format.decode_example(r) for r in tfrecord.read_records(out)]


def _rows(e):
  reads = e.image[5:]
  used = int(np.flatnonzero(reads.reshape(reads.shape[0], -1).any(axis=1)).max()) + 1
  blank = sum(1 for r in reads[:used] if not r.any())
  return used, blank


def test_split_reads_leave_only_reads_with_bases_in_the_snp_pileup(inputs):
  split = _examples(inputs, "split", "--split_skip_reads")
  unsplit = _examples(inputs, "unsplit")
  assert [e.variant.start for e in split] == [e.variant.start for e in unsplit] == [SNP]
  (s,), (u,) = split, unsplit
  # Split: the 20 unspliced reads, every row drawn.
  assert _rows(s) == (20, 0)
  # Unsplit: the spliced reads' spans cover 1500 too: their rows are drawn empty.
  used, blank = _rows(u)
  assert blank == 30 and used == 50
  # The SNP's own pixels are the same: only reads with a base at 1500 show there.
  assert np.array_equal(np.sort(s.image[5:25, 110, 0]), np.sort(u.image[5:, 110, 0])[-20:])
