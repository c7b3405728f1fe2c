"""pysam FASTA adapter: windows (upper-cased, clipped), contig order, strict index errors."""
import os

import pysam
import pytest

from beam_pipelines.io.fasta import FastaError, FastaReader

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
FASTA = os.path.join(DATA, "ucsc.hg19.chr20.unittest.fasta.gz")


def _write_fasta(path, index=True):
  with open(path, "w") as f:
    f.write(">z2\nacgtNNacgt\nAC\n>a1\nGGGG\n")
  if index:
    pysam.faidx(path)
  return path


def test_real_bgzipped_reference():
  with FastaReader(FASTA) as fa:
    assert fa.contig_lengths() == {"chr20": 63025520}
    w = fa.window("chr20", 10001018, 10001019)  # golden first site, 1-based 10001019 T>G
    assert (w.contig, w.start, w.seq, w.contig_length) == ("chr20", 10001018, "T", 63025520)


def test_contigs_in_fasta_order_not_sorted(tmp_path):
  with FastaReader(_write_fasta(str(tmp_path / "r.fa"))) as fa:
    assert list(fa.contig_lengths().items()) == [("z2", 12), ("a1", 4)]


@pytest.mark.parametrize("start,end,w_start,seq", [
    (0, 12, 0, "ACGTNNACGTAC"),  # soft-masked bases upper-cased, across a line break
    (-5, 3, 0, "ACG"),  # clipped at the contig start
    (8, 50, 8, "GTAC"),  # clipped at the contig end
    (20, 30, 12, ""),  # entirely past the end: empty window at the end
])
def test_window_upper_cases_and_clips(tmp_path, start, end, w_start, seq):
  with FastaReader(_write_fasta(str(tmp_path / "r.fa"))) as fa:
    w = fa.window("z2", start, end)
  assert (w.start, w.seq, w.contig_length) == (w_start, seq, 12)


def test_missing_fai(tmp_path):
  path = _write_fasta(str(tmp_path / "r.fa"), index=False)
  with pytest.raises(FastaError, match=r"r\.fa: no index .*r\.fa\.fai.*samtools faidx"):
    FastaReader(path)
  assert not os.path.exists(path + ".fai")  # nothing written next to the input


def test_bgzipped_without_gzi(tmp_path):
  plain = _write_fasta(str(tmp_path / "r.fa"), index=False)
  gz = pysam.tabix_compress(plain, plain + ".gz") or plain + ".gz"
  pysam.faidx(gz)
  with FastaReader(gz) as fa:
    assert fa.window("a1", 0, 4).seq == "GGGG"
  os.remove(gz + ".gzi")
  with pytest.raises(FastaError, match=r"\.gzi"):
    FastaReader(gz)


def test_unknown_contig(tmp_path):
  with FastaReader(_write_fasta(str(tmp_path / "r.fa"))) as fa:
    with pytest.raises(FastaError, match="chr9"):
      fa.window("chr9", 0, 1)
