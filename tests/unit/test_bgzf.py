"""Our pure-Python BGZF and tabix index against htslib (tabix, bcftools, pysam) and gzip."""
import gzip
import os
import random
import shutil
import subprocess

import pytest

from tests import giab
from trainer import bgzf
from trainer import genome_files as gf


@pytest.mark.parametrize("size", [
    0,                                  # header-only file: just the EOF block
    100,                                # one partial block
    bgzf.BLOCK_DATA_SIZE,               # exactly one full block
    3 * bgzf.BLOCK_DATA_SIZE + 17,      # several blocks and a tail
])
def test_bgzf_round_trip_with_gzip(tmp_path, size):
  data = bytes(random.Random(size).getrandbits(8) for _ in range(size))
  path = str(tmp_path / "x.gz")
  bgzf.write_bgzf(path, data)
  with gzip.open(path, "rb") as f:
    assert f.read() == data
  assert open(path, "rb").read()[-28:] == bgzf.EOF_BLOCK


def test_virtual_offsets_at_block_boundaries(tmp_path):
  with open(tmp_path / "x.gz", "wb") as f:
    w = bgzf.BgzfWriter(f)
    w.write(b"a" * (bgzf.BLOCK_DATA_SIZE + 10))
    w.close()
  first_block_size = len(bgzf.compress_block(b"a" * bgzf.BLOCK_DATA_SIZE))
  assert w.virtual_offset(5) == 5                                 # inside block 0
  assert w.virtual_offset(bgzf.BLOCK_DATA_SIZE) == first_block_size << 16  # next block, offset 0
  assert w.virtual_offset(bgzf.BLOCK_DATA_SIZE + 3) == (first_block_size << 16) | 3


@pytest.mark.parametrize("beg,end,expected", [
    (0, 1, 4681),            # first 16 kb bin of the finest level
    (16384, 16385, 4682),    # second finest bin
    (16000, 17000, 585),     # crosses 16 kb: next level up (128 kb bins)
    (0, 1 << 29, 0),         # whole range: the root bin
])
def test_reg2bin(beg, end, expected):
  assert bgzf.reg2bin(beg, end) == expected


def _random_vcf_lines(seed=1):
  rng = random.Random(seed)
  lines = []
  for contig, length, n in (("c1", 3_000_000, 8000), ("c2", 100_000, 40)):
    for pos in sorted(rng.sample(range(1, length - 400), n)):
      ref = rng.choice(["A", "AC", "ACGTACGTAC" * rng.randint(1, 30)])
      lines.append(gf.VcfLine(contig, pos - 1, pos - 1 + len(ref),
                              f"{contig}\t{pos}\t.\t{ref}\tT\t50\tPASS\t.\tGT\t0/1"))
  return lines


HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=c1,length=3000000>\n##contig=<ID=c2,length=100000>\n"
          '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n")


@pytest.mark.skipif(shutil.which("tabix") is None, reason="needs tabix")
def test_tabix_index_answers_like_htslibs(tmp_path):
  pysam = pytest.importorskip("pysam")
  ours, theirs = str(tmp_path / "a.vcf.gz"), str(tmp_path / "b.vcf.gz")
  lines = _random_vcf_lines()
  gf.write_indexed_vcf(ours, HEADER, lines)
  shutil.copy(ours, theirs)
  subprocess.run(["tabix", "-f", "-p", "vcf", theirs], check=True)
  a, b = pysam.TabixFile(ours), pysam.TabixFile(theirs)
  rng = random.Random(2)
  queries = 0
  for _ in range(300):
    contig, length = rng.choice([("c1", 3_000_000), ("c2", 100_000)])
    start = rng.randrange(length)
    end = start + rng.choice([1, 50, 5_000, 200_000, 3_000_000])
    assert list(a.fetch(contig, start, end)) == list(b.fetch(contig, start, end)), (contig, start)
    queries += 1
  stats = subprocess.run(["bcftools", "index", "-s", ours], capture_output=True, text=True)
  assert stats.stdout.split() == ["c1", "3000000", "8000", "c2", "100000", "40"]
  assert queries == 300


def test_unsorted_records_are_refused_and_nothing_is_left(tmp_path):
  path = str(tmp_path / "x.vcf.gz")
  lines = [gf.VcfLine("c1", 100, 101, "c1\t101\t.\tA\tT\t.\t.\t."),
           gf.VcfLine("c1", 50, 51, "c1\t51\t.\tA\tT\t.\t.\t.")]
  with pytest.raises(ValueError, match="not sorted"):
    gf.write_indexed_vcf(path, HEADER, lines)
  assert os.listdir(tmp_path) == []


def test_bgzipped_fasta_reads_like_pysam():
  pysam = pytest.importorskip("pysam")
  ours, theirs = gf.FastaReader(giab.REF), pysam.FastaFile(giab.REF)
  rng = random.Random(3)
  for _ in range(50):
    start = rng.randrange(9_990_000, 10_110_000)
    end = start + rng.choice([1, 60, 61, 5000, 70000])
    assert ours.fetch("chr20", start, end) == theirs.fetch("chr20", start, end).upper()
  assert ours.contigs == [("chr20", 63025520)]
