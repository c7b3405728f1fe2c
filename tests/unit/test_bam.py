"""pysam adapter for BAM/CRAM: conversion, multi-file queries, headers and strict errors."""
import os
import shutil

import numpy as np
import pysam
import pytest

from beam_pipelines.core.regions import Range
from beam_pipelines.io.bam import (BamError, BamIndexError, BamReadError, BamReader,
                                   read_from_segment)
from tests import synthetic_bam

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
BAM = os.path.join(DATA, "NA12878_S1.chr20.10_10p1mb.bam")
FASTA = os.path.join(DATA, "ucsc.hg19.chr20.unittest.fasta.gz")
GOLDEN_REGION = Range("chr20", 9999999, 10010000)  # chr20:10,000,000-10,010,000


def _write_bam(path, contigs=(("chrA", 1000), ("chrB", 500)), rg=True, index=True):
  header = {"HD": {"VN": "1.6", "SO": "coordinate"},
            "SQ": [{"SN": n, "LN": ln} for n, ln in contigs]}
  if rg:
    header["RG"] = [{"ID": "rg1", "SM": "sampleX"}, {"ID": "rg2", "SM": "other"}]
  with pysam.AlignmentFile(path, "wb", header=header) as out:
    def seg(name, flag, pos, cigar, seq, qual, mate=(-1, -1), mapq=60, tlen=0):
      a = pysam.AlignedSegment(out.header)
      a.query_name, a.flag, a.reference_id, a.reference_start = name, flag, 0, pos
      a.mapping_quality, a.cigarstring = mapq, cigar
      a.query_sequence = seq
      if qual is not None:
        a.query_qualities = pysam.qualitystring_to_array(qual)
      a.next_reference_id, a.next_reference_start = mate
      a.template_length = tlen
      out.write(a)
    seg("plain", 0x1 | 0x2 | 0x40, 10, "3S5M", "TTTACGTA", "IIIII#+5", mate=(0, 200), tlen=250)
    seg("matechrB", 0x1 | 0x80, 20, "4M", "ACGT", "IIII", mate=(1, 7))
    seg("noqual", 0, 30, "4M", "ACGN", None)
    seg("noseq", 0x100, 40, "4M", None, None, mapq=0)
  if index:
    pysam.index(path)
  return path


def test_read_from_segment_fields(tmp_path):
  path = _write_bam(str(tmp_path / "s.bam"))
  with BamReader(path) as r:
    reads = list(r.fetch(Range("chrA", 0, 1000)))
  plain, mate_b, noqual, noseq = reads
  assert (plain.name, plain.flag, plain.contig, plain.start, plain.mapq) == (
      "plain", 0x43, "chrA", 10, 60)
  assert plain.cigar == ((4, 3), (0, 5)) and plain.seq == "TTTACGTA"
  assert plain.qual.dtype == np.uint8 and plain.qual.tolist() == [40, 40, 40, 40, 40, 2, 10, 20]
  assert (plain.tlen, plain.mate_contig, plain.mate_start, plain.key) == (250, "chrA", 200,
                                                                          "plain/0")
  assert (mate_b.mate_contig, mate_b.mate_start, mate_b.key) == ("chrB", 7, "matechrB/1")
  assert noqual.qual.tolist() == [255] * 4  # QUAL '*': htslib's 0xff bytes kept
  assert noqual.mate_contig is None and noqual.mate_start == -1
  assert noseq.seq == "" and len(noseq.qual) == 0  # SEQ '*'


def test_read_from_segment_matches_pysam_on_real_reads():
  with pysam.AlignmentFile(BAM) as f:
    segs = list(f.fetch("chr20", 10000000, 10000050))
  for s in segs:
    r = read_from_segment(s, "chr20")
    assert (r.name, r.flag, r.start, r.mapq, r.seq, r.cigar, r.tlen) == (
        s.query_name, s.flag, s.reference_start, s.mapping_quality, s.query_sequence,
        tuple(s.cigartuples or ()), s.template_length)
    assert r.qual.tolist() == list(s.query_qualities)
    if not s.is_unmapped:
      assert r.end == s.reference_end  # Read.end agrees with htslib's span


def test_real_bam_query_header_and_sample():
  with BamReader(BAM) as r:
    # samtools view -c ...bam chr20:10000000-10010000 -> 4986 (unmapped mates placed there too)
    assert sum(1 for _ in r.fetch(GOLDEN_REGION)) == 4986
    lengths = r.contig_lengths()
    assert len(lengths) == 25 and list(lengths)[0] == "chrM"
    assert lengths["chr20"] == 63025520
    assert r.sample_name() == "NA12878"


def test_comma_separated_files_concatenate_in_order():
  region = Range("chr20", 10000000, 10000100)
  with BamReader(BAM) as one:
    single = [x.name for x in one.fetch(region)]
  with BamReader(f"{BAM},{BAM}") as two:
    double = [x.name for x in two.fetch(region)]
    assert two.paths == (BAM, BAM)
  assert double == single + single and len(single) > 0


def test_contigs_must_agree_in_name_and_length(tmp_path):
  a = _write_bam(str(tmp_path / "a.bam"))
  b = _write_bam(str(tmp_path / "b.bam"), contigs=(("chrA", 999), ("chrB", 500), ("chrC", 5)))
  with BamReader([a, b]) as r:
    assert r.contig_lengths() == {"chrB": 500}  # chrA differs in length, chrC not in a.bam


def test_first_read_group_sample_or_none(tmp_path):
  with BamReader(_write_bam(str(tmp_path / "rg.bam"))) as r:
    assert r.sample_name() == "sampleX"
  with BamReader(_write_bam(str(tmp_path / "norg.bam"), rg=False)) as r:
    assert r.sample_name() is None


def test_missing_index_names_file(tmp_path):
  path = _write_bam(str(tmp_path / "noindex.bam"), index=False)
  with pytest.raises(BamIndexError) as e:
    BamReader(path)
  assert str(e.value) == f"{path}: no index (.bai/.csi/.crai) found; run samtools index"


def test_missing_file(tmp_path):
  with pytest.raises(BamError, match="no such file"):
    BamReader(str(tmp_path / "absent.bam"))


def test_truncated_bam_names_file(tmp_path):
  path = str(tmp_path / "trunc.bam")
  with open(BAM, "rb") as src, open(path, "wb") as dst:
    dst.write(src.read(2_000_000))
  shutil.copy(BAM + ".bai", path + ".bai")
  with pytest.raises(BamError, match=r"trunc\.bam.*truncated"):
    BamReader(path)


def test_corrupt_block_names_file_and_region(tmp_path):
  path = str(tmp_path / "corrupt.bam")
  data = bytearray(open(BAM, "rb").read())
  data[2_000_000:2_000_100] = bytes(100)  # zero a BGZF block in the middle
  open(path, "wb").write(bytes(data))
  shutil.copy(BAM + ".bai", path + ".bai")
  r = BamReader(path)
  with pytest.raises(BamReadError) as e:
    list(r.fetch(Range("chr20", 9999999, 10100000)))
  assert str(e.value).startswith(f"{path}: failed reading chr20:10000000-10100000")
  with pytest.raises(BamError):
    r.close()  # htslib also fails to close the damaged stream; reported, not swallowed


def test_unknown_contig(tmp_path):
  with BamReader(_write_bam(str(tmp_path / "s.bam"))) as r:
    with pytest.raises(BamError, match="chrZ"):
      list(r.fetch(Range("chrZ", 0, 10)))


def test_cram_needs_reference_and_reads_like_bam(tmp_path):
  cram = str(tmp_path / "x.cram")
  with pytest.raises(BamError, match="needs the reference"):
    open(cram, "wb").close()
    BamReader(cram)
  pysam.view("-C", "-T", FASTA, "-o", cram, BAM, "chr20:10000000-10001000", catch_stdout=False)
  pysam.index(cram)
  region = Range("chr20", 10000000, 10000200)
  with BamReader(cram, reference=FASTA) as c, BamReader(BAM) as b:
    # CRAM does not keep the (meaningless) CIGAR of unmapped records: compare mapped ones.
    from_cram = [(x.name, x.flag, x.start, x.cigar, x.seq, x.qual.tolist())
                 for x in c.fetch(region) if not x.flag & 0x4]
    from_bam = [(x.name, x.flag, x.start, x.cigar, x.seq, x.qual.tolist())
                for x in b.fetch(region) if not x.flag & 0x4]
  assert from_cram == from_bam and len(from_bam) > 50


def test_hp_tag_is_kept_only_when_asked_and_only_as_an_integer(tmp_path):
  records = [(i, "4M", "ACGT", f"r{i}", None if hp is None else {"HP": hp})
             for i, hp in enumerate([1, 2, None, "1", [1, 2]])]
  _, path = synthetic_bam.write_inputs(tmp_path, "ACGT" * 25, records, contig="chrA", name="hp")
  with BamReader(path, parse_hp=True) as r:
    # integers kept; absent, a string or an array of values: untagged, as DeepVariant reads them
    assert [x.hp for x in r.fetch(Range("chrA", 0, 100))] == [1, 2, None, None, None]
  with BamReader(path) as r:
    assert [x.hp for x in r.fetch(Range("chrA", 0, 100))] == [None] * 5


def _per_region(reader, regions):
  return [(region, list(reader.fetch(region))) for region in regions]


def test_fetch_many_returns_what_one_query_per_region_returns_on_real_reads():
  # 1-kb partitions as make_examples plans them, a 20-kb gap (a second query), single bases
  # and a region given out of order; two files concatenated like --reads a.bam,b.bam.
  regions = [Range("chr20", s, s + 1000) for s in range(10_000_000, 10_012_000, 1000)]
  regions += [Range("chr20", 10_040_000, 10_041_000), Range("chr20", 10_041_000, 10_041_001),
              Range("chr20", 10_041_070, 10_041_071), Range("chr20", 10_030_000, 10_031_000)]
  with BamReader(f"{BAM},{BAM}") as reader:
    many = list(reader.fetch_many(regions))
    assert many == _per_region(reader, regions)
  sizes = [len(reads) for _, reads in many]
  assert len(sizes) == 16 and min(sizes[:12]) > 500  # ~52x of 2x101 bp, both files


def test_fetch_many_keeps_htslib_overlap_rule_at_every_edge(tmp_path):
  # Records whose htslib end differs from their CIGAR's: clip-only (no reference bases),
  # CIGAR-less, unmapped with a POS, a deletion and an N skip past the query's end.
  path = str(tmp_path / "edges.bam")
  header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chrA", "LN": 400}]}
  with pysam.AlignmentFile(path, "wb", header=header) as out:
    for name, flag, pos, cigar in [("m", 0, 10, "20M"), ("clip", 0, 15, "6S"),
                                   ("nocigar", 0, 20, None), ("unmapped", 0x4 | 0x1, 25, "8M"),
                                   ("del", 0, 28, "3M40D3M"), ("skip", 0, 30, "2M100N2M"),
                                   ("ins", 0, 35, "2M3I1M"), ("one", 0, 39, "1M")]:
      a = pysam.AlignedSegment(out.header)
      a.query_name, a.flag, a.reference_id, a.reference_start = name, flag, 0, pos
      a.mapping_quality = 60
      if cigar:
        a.cigarstring = cigar
      n = a.infer_query_length() if cigar else 4
      a.query_sequence = "A" * n
      a.query_qualities = pysam.qualitystring_to_array("I" * n)
      out.write(a)
  pysam.index(path)
  regions = [Range("chrA", s, s + 1) for s in range(0, 160)]
  regions += [Range("chrA", s, s + 7) for s in range(0, 160, 7)]
  with BamReader(path) as reader:
    many = list(reader.fetch_many(regions))
    expected = _per_region(reader, regions)
  assert [[r.name for r in reads] for _, reads in many] == \
      [[r.name for r in reads] for _, reads in expected]
  by_base = {region.start: [r.name for r in reads] for region, reads in many[:160]}
  assert by_base[15] == ["m", "clip"] and by_base[16] == ["m"]   # clip-only: one base
  assert by_base[25] == ["m", "unmapped"] and by_base[26] == ["m"]
  assert by_base[20] == ["m", "nocigar"] and by_base[70] == ["del", "skip"]
  assert by_base[133] == ["skip"] and by_base[134] == []
