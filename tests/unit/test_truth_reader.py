"""TruthReader: real GIAB truth VCF, GT/FILTER conversion, and every rejected input."""
import gzip
import os
import shutil

import pysam
import pytest

from beam_pipelines.core.regions import Range
from beam_pipelines.core.variants import TruthVariant
from beam_pipelines.io.truth import TruthReader, TruthVcfError

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
GIAB_VCF = os.path.join(DATA, "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz")

_HEADER = ("##fileformat=VCFv4.2\n"
           "##contig=<ID=chr1,length=1000>\n"
           "##contig=<ID=chr2>\n"
           "##FILTER=<ID=LowQ,Description=\"low\">\n"
           "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n")
_COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"


def _vcf(tmp_path, body, header=_HEADER, columns=_COLUMNS, name="t.vcf", index=True):
  """Writes a VCF, bgzips it and (optionally) tabix-indexes it; returns the .vcf.gz path."""
  plain = tmp_path / name
  plain.write_text(header + columns + body)
  gz = str(plain) + ".gz"
  pysam.tabix_compress(str(plain), gz, force=True)
  if index:
    pysam.tabix_index(gz, preset="vcf", force=True)
  return gz


def test_real_truth_vcf_window_and_records():
  with TruthReader(GIAB_VCF) as reader:
    assert reader.sample == "INTEGRATION"
    everything = reader.fetch(Range("chr20", 9999999, 10100000))
    assert len(everything) == 221
    assert everything[0] == TruthVariant("chr20", 10000116, "C", ("T",), (0, 1), False)
    multi = [t for t in everything if t.start == 10004222]
    assert multi == [TruthVariant("chr20", 10004222, "A", ("AA", "AG"), (1, 2), False)]
    assert reader.contig_lengths()["chr20"] == 63025520


@pytest.mark.parametrize("region, starts", [
    # the 11-bp deletion TAAAACTATGC>T starts at 10004768 and ends at 10004779 (exclusive):
    (Range("chr20", 10004770, 10004771), [10004768]),   # overlaps the deleted bases: included
    (Range("chr20", 10004778, 10004779), [10004768]),   # last deleted base still overlaps
    (Range("chr20", 10004779, 10004780), []),           # first base after the deletion
    (Range("chr1", 0, 1000), []),                       # contig in header, no records
    (Range("chrUn_x", 0, 1000), []),                    # contig unknown to the VCF
])
def test_fetch_uses_tabix_overlap_semantics(region, starts):
  with TruthReader(GIAB_VCF) as reader:
    assert [t.start for t in reader.fetch(region)] == starts


def test_genotype_and_filter_conversion(tmp_path):
  body = ("chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0|1\t1/1\n"    # phased het, first sample used
          "chr1\t20\t.\tA\tC,G\t.\tLowQ\t.\tGT\t./.\t0/0\n"  # missing GT, filtered
          "chr1\t30\t.\tg\tt\t.\t.\t.\tGT\t1\t0\n"           # haploid, FILTER '.', lower case
          "chr1\t40\t.\tAT\tA\t.\tPASS\t.\tGT\t1/.\t0\n")    # half-missing
  path = _vcf(tmp_path, body)
  with TruthReader(path) as reader:
    got = reader.fetch(Range("chr1", 0, 1000))
    assert got == [
        TruthVariant("chr1", 9, "A", ("C",), (0, 1), False),
        TruthVariant("chr1", 19, "A", ("C", "G"), (-1, -1), True),
        TruthVariant("chr1", 29, "G", ("T",), (1,), False),
        TruthVariant("chr1", 39, "AT", ("A",), (1, -1), False),
    ]
    assert reader.contig_lengths() == {"chr1": 1000, "chr2": None}


def test_no_index_is_rejected_naming_the_file(tmp_path):
  path = _vcf(tmp_path, "chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t0/1\n", index=False)
  with pytest.raises(TruthVcfError) as err:
    TruthReader(path)
  assert str(err.value) == (f"{path}: no tabix index (.tbi/.csi); run tabix -p vcf {path}")


def test_plain_gzip_is_rejected_as_not_bgzipped(tmp_path):
  good = _vcf(tmp_path, "chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t0/1\n")
  bad = str(tmp_path / "plain.vcf.gz")
  with gzip.open(bad, "wb") as out, gzip.open(good, "rb") as src:
    out.write(src.read())
  shutil.copy(good + ".tbi", bad + ".tbi")
  with pytest.raises(TruthVcfError, match="not bgzipped") as err:
    TruthReader(bad)
  assert bad in str(err.value)


def test_uncompressed_vcf_is_rejected_as_not_bgzipped(tmp_path):
  path = tmp_path / "t.vcf"
  path.write_text(_HEADER + _COLUMNS)
  with pytest.raises(TruthVcfError, match="not bgzipped"):
    TruthReader(str(path))


def test_vcf_without_samples_is_rejected(tmp_path):
  columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
  path = _vcf(tmp_path, "chr1\t10\t.\tA\tC\t.\tPASS\t.\n", columns=columns)
  with pytest.raises(TruthVcfError, match="no sample column") as err:
    TruthReader(path)
  assert path in str(err.value)


@pytest.mark.parametrize("alt", [
    "<NON_REF>",     # GATK reference block
    "C,<NON_REF>",   # GATK variant record in a gVCF
    "<*>",           # bcftools gVCF reference block
])
def test_gvcf_records_are_rejected_on_fetch(tmp_path, alt):
  path = _vcf(tmp_path, f"chr1\t10\t.\tA\t{alt}\t.\t.\t.\tGT\t0/0\t0/0\n")
  with TruthReader(path) as reader:
    with pytest.raises(TruthVcfError, match="looks like a gVCF") as err:
      reader.fetch(Range("chr1", 0, 1000))
  assert path in str(err.value)


def test_gvcf_header_is_rejected_at_open(tmp_path):
  header = _HEADER + "##ALT=<ID=NON_REF,Description=\"Any other allele\">\n"
  path = _vcf(tmp_path, "chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t0/1\n", header=header)
  with pytest.raises(TruthVcfError, match="looks like a gVCF") as err:
    TruthReader(path)
  assert path in str(err.value)


def test_star_alt_declared_in_header_alone_is_accepted(tmp_path):
  # bcftools call declares <*> in ordinary VCFs; only records carrying it are gVCF-like.
  header = _HEADER + "##ALT=<ID=*,Description=\"Other allele\">\n"
  path = _vcf(tmp_path, "chr1\t10\t.\tA\tC\t.\tPASS\t.\tGT\t0/1\t0/1\n", header=header)
  with TruthReader(path) as reader:
    assert [t.genotype for t in reader.fetch(Range("chr1", 0, 1000))] == [(0, 1)]


def test_missing_file(tmp_path):
  path = str(tmp_path / "nope.vcf.gz")
  with pytest.raises(TruthVcfError, match="does not exist"):
    TruthReader(path)
