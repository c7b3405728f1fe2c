"""beam_pipelines.evaluate on files: agreement with bcftools isec on real GIAB data, and bad input."""
import gzip
import os
import shutil
import subprocess

import pytest

from schemas import errors
from tests import giab
from beam_pipelines import evaluate
from beam_pipelines.core import vcf_compare

needs_bcftools = pytest.mark.skipif(shutil.which("bcftools") is None, reason="needs bcftools")


def _sh(cmd, cwd):
  out = subprocess.run(cmd, shell=True, cwd=cwd, capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr[-2000:]
  return out.stdout


@pytest.fixture(scope="module")
def giab_calls(tmp_path_factory):
  """A `bcftools mpileup | bcftools call` run over the 100 kb GIAB window (about 2 s)."""
  d = tmp_path_factory.mktemp("giab_calls")
  _sh(f"bcftools mpileup -f {giab.REF} -r chr20:10000000-10100000 {giab.BAM} 2>/dev/null | "
      "bcftools call -mv -Oz -o calls.vcf.gz 2>/dev/null && bcftools index -t calls.vcf.gz", d)
  (d / "window.bed").write_text("chr20\t9999999\t10100000\n")
  return d


def _isec_snp_counts(d, bed):
  """(truth SNPs, call SNPs, shared) after `bcftools norm -m-`, in `bed`, exact isec matching."""
  n = {}
  for name, vcf in (("calls", "calls.vcf.gz"), ("truth", giab.TRUTH)):
    _sh(f"bcftools norm -m -any -f {giab.REF} {vcf} 2>/dev/null | bcftools view -v snps "
        f"-T {bed} -i 'GT=\"alt\"' -Oz -o {name}.snps.vcf.gz && "
        f"bcftools index -f -t {name}.snps.vcf.gz", d)
    n[name] = int(_sh(f"bcftools view -H {name}.snps.vcf.gz | wc -l", d))
  shared = _sh("bcftools isec -c none -n=2 -w1 calls.snps.vcf.gz truth.snps.vcf.gz", d)
  return n["truth"], n["calls"], sum(1 for l in shared.splitlines() if not l.startswith("#"))


@needs_bcftools
@pytest.mark.parametrize("bed", [
    giab.CONFIDENT,   # GIAB's confident regions (first 10.5 kb of the window)
    "window.bed",     # the whole 100 kb window, so there are FPs and FNs to agree on
])
def test_snps_agree_with_bcftools_isec(giab_calls, bed):
  bed_path = bed if os.path.isabs(bed) else str(giab_calls / bed)
  truth_n, calls_n, shared = _isec_snp_counts(giab_calls, bed_path)
  truth = evaluate.TruthSet(giab.TRUTH, bed_path, giab.REF)
  rows = {r["Type"]: r for r in evaluate.evaluate_files(str(giab_calls / "calls.vcf.gz"), truth)}
  snp = rows["SNP"]
  print(f"isec: truth {truth_n} calls {calls_n} shared {shared}; evaluate: TRUTH.TOTAL "
        f"{snp['TRUTH.TOTAL']} TP {snp['TRUTH.TP']} FN {snp['TRUTH.FN']} QUERY.FP {snp['QUERY.FP']}")
  # Tolerance: 1 per count (haplotype matching may pair a SNP isec cannot); observed: 0.
  assert abs(snp["TRUTH.TOTAL"] - truth_n) <= 1
  assert abs(snp["TRUTH.TP"] - shared) <= 1
  assert abs(snp["TRUTH.FN"] - (truth_n - shared)) <= 1
  assert abs(snp["QUERY.FP"] - (calls_n - shared)) <= 1


@needs_bcftools
def test_indels_genotype_match_counts_as_hap_py(giab_calls):
  # bcftools calls 4 GIAB indels with the right allele, 2 of them with the wrong genotype:
  # hap.py's default counts those 2 as FP and FN; allele-level scoring as TPs.
  rows = {r["Type"]: r for r in evaluate.evaluate_files(
      str(giab_calls / "calls.vcf.gz"), evaluate.TruthSet(giab.TRUTH, giab.CONFIDENT, giab.REF))}
  indel = rows["INDEL"]
  assert (indel["TRUTH.TP"], indel["QUERY.FP"], indel["TRUTH.FN"], indel["FP.gt"]) == (2, 2, 2, 2)
  allele = {r["Type"]: r for r in evaluate.evaluate_files(
      str(giab_calls / "calls.vcf.gz"),
      evaluate.TruthSet(giab.TRUTH, giab.CONFIDENT, giab.REF, genotype_match=False))}["INDEL"]
  assert (allele["TRUTH.TP"], allele["QUERY.FP"], allele["TRUTH.FN"]) == (4, 0, 0)


def _write_vcf(path, contig_lines, records):
  header = ["##fileformat=VCFv4.2", *contig_lines,
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS"]
  with gzip.open(path, "wt") as f:
    f.write("\n".join(header + records) + "\n")


def _truth_set():
  return evaluate.TruthSet(giab.TRUTH, giab.CONFIDENT, giab.REF)


@pytest.mark.parametrize("contig_lines,records,message", [
    (["##contig=<ID=chr20,length=64444167>"],      # GRCh38 length of chr20
     ["chr20\t10000117\t.\tC\tT\t50\tPASS\t.\tGT\t0/1"], "has length 64444167"),
    (["##contig=<ID=20,length=63025520>"],         # b37 naming: no such contig in hg19
     ["20\t10000117\t.\tC\tT\t50\tPASS\t.\tGT\t0/1"],
     r"contig\(s\) 20 not in --ref .*: use chr20, not 20"),  # named, with the chr hint
])
def test_calls_from_another_reference_are_refused(tmp_path, contig_lines, records, message):
  path = str(tmp_path / "calls.vcf.gz")
  _write_vcf(path, contig_lines, records)
  with pytest.raises(errors.InputError, match=message):
    evaluate.evaluate_files(path, _truth_set())


def test_unused_contig_length_differences_are_tolerated(tmp_path):
  path = str(tmp_path / "calls.vcf.gz")  # chrM differs (16571 vs the truth's 16569) but is unused
  _write_vcf(path, ["##contig=<ID=chr20,length=63025520>", "##contig=<ID=chrM,length=16571>"],
             ["chr20\t10001019\t.\tT\tG\t50\tPASS\t.\tGT\t0/1"])  # a confident truth SNP
  rows = {r["Type"]: r for r in evaluate.evaluate_files(path, _truth_set())}
  assert rows["SNP"]["TRUTH.TP"] == 1 and rows["SNP"]["QUERY.FP"] == 0


def test_cli_prints_table_writes_csv_and_strata(tmp_path, capsys):
  calls = str(tmp_path / "calls.vcf.gz")
  _write_vcf(calls, ["##contig=<ID=chr20,length=63025520>"],
             ["chr20\t10000117\t.\tC\tT\t50\tPASS\t.\tGT\t0/1",     # TP
              "chr20\t10000211\t.\tC\tT\t50\tPASS\t.\tGT\t1/1",     # TP, genotype error
              "chr20\t10000300\t.\tC\tG\t50\tPASS\t.\tGT\t0/1"])    # FP (if C there)
  strat = tmp_path / "s.bed"
  strat.write_text("chr20\t10000100\t10000200\n")
  code = evaluate.main(["--calls", calls, "--truth", giab.TRUTH, "--confident_regions",
                        giab.CONFIDENT, "--ref", giab.REF, "--regions",
                        "chr20:10,000,001-10,000,400", "--stratification", f"early={strat}"])
  out = capsys.readouterr().out
  assert code == 0, out
  rows = [l.split(",") for l in open(str(tmp_path / "calls.summary.csv")).read().splitlines()]
  assert rows[0] == list(vcf_compare.SUMMARY_COLUMNS)
  by = {(r[0], r[1]): dict(zip(rows[0], r)) for r in rows[1:]}
  # The GIAB confident regions start at 10,000,847: both truth SNPs (117, 211) are outside, so
  # nothing is counted as truth and all three calls are UNK.
  assert by[("SNP", "*")]["TRUTH.TOTAL"] == "0" and by[("SNP", "*")]["QUERY.UNK"] == "3"
  assert ("SNP", "early") in by and "METRIC.F1_Score" in out


def test_cli_bad_input_is_one_line(tmp_path, capsys):
  with pytest.raises(SystemExit) as e:  # bad input: exit 2 (schemas/errors.py)
    evaluate.main(["--calls", str(tmp_path / "missing.vcf.gz"), "--truth", giab.TRUTH,
                   "--confident_regions", giab.CONFIDENT, "--ref", giab.REF])
  err = capsys.readouterr().err
  assert e.value.code == 2 and err.count("\n") == 1 and "missing.vcf.gz: VCF does not exist" in err
  assert not os.path.exists(tmp_path / "missing.summary.csv")


@pytest.mark.parametrize("text,expected", [
    ("chr20:1-10", [("chr20", 0, 10)]),                       # 1-based inclusive literal
    ("chr20:10,000,001-10,000,100", [("chr20", 10000000, 10000100)]),  # commas allowed
    ("chr20", [("chr20", 0, 63025520)]),                       # whole contig
])
def test_parse_regions(text, expected):
  assert evaluate.parse_regions(text, {"chr20": 63025520}) == expected


needs_samtools = pytest.mark.skipif(shutil.which("samtools") is None, reason="needs samtools")


@needs_samtools
def test_read_depth_equals_samtools_depth_on_giab_reads(tmp_path):
  from beam_pipelines.io import read_depth
  positions = list(range(10_000_000, 10_000_200, 7)) + [10_065_536, 10_065_535, 10_099_999]
  (tmp_path / "p.bed").write_text("".join(f"chr20\t{p}\t{p + 1}\n" for p in positions))
  out = _sh(f"samtools depth -a -b p.bed {giab.BAM}", tmp_path)
  expected = {int(l.split()[1]) - 1: int(l.split()[2]) for l in out.splitlines()}
  depth = read_depth.ReadDepth(giab.BAM)
  assert len(expected) == len(positions)
  assert {p: depth.depth("chr20", p) for p in positions} == expected
  assert depth.depth("chrX", 5) == 0 and depth.depth("chr20", -1) == 0


@needs_bcftools
def test_depth_bucket_rows_split_the_alleles_by_read_depth(giab_calls):
  from beam_pipelines.io import read_depth
  bed = str(giab_calls / "window.bed")
  truth = evaluate.TruthSet(giab.TRUTH, bed, giab.REF)
  calls = str(giab_calls / "calls.vcf.gz")
  rows = {(r["Type"], r["Subset"]): r for r in evaluate.evaluate_files(
      calls, truth, depth_bam=giab.BAM, depth_buckets_text="1-30,31-45,46-")}
  depth = read_depth.ReadDepth(giab.BAM)
  for vtype in ("SNP", "INDEL"):
    buckets = [rows[(vtype, f"depth:{b}")] for b in ("1-30", "31-45", "46+")]
    # Every truth allele of the window is covered, so the buckets partition the '*' row.
    for column in ("TRUTH.TOTAL", "TRUTH.TP", "TRUTH.FN", "QUERY.TOTAL", "QUERY.FP"):
      assert sum(b[column] for b in buckets) == rows[(vtype, "*")][column], (vtype, column)
  # The bucket of each truth SNP is the depth samtools counts at its position.
  snps = [r for r in truth.records if len(r.ref) == 1 and all(len(a) == 1 for a in r.alts)
          and any(r.genotype)]
  low = sum(1 for r in snps if 1 <= depth.depth(r.contig, r.start) <= 30)
  assert rows[("SNP", "depth:1-30")]["TRUTH.TOTAL"] == low
  assert 0 < low < rows[("SNP", "*")]["TRUTH.TOTAL"]  # the split is not trivial on this window


def test_bad_depth_buckets_and_bam_are_one_line(tmp_path, giab_calls):
  truth = evaluate.TruthSet(giab.TRUTH, giab.CONFIDENT, giab.REF)
  calls = str(giab_calls / "calls.vcf.gz")
  with pytest.raises(errors.InputError, match=r"--depth_buckets '8-20,1-7'.*increasing"):
    evaluate.evaluate_files(calls, truth, depth_bam=giab.BAM, depth_buckets_text="8-20,1-7")
  with pytest.raises(errors.InputError, match=r"'x' is not a bucket"):
    evaluate.evaluate_files(calls, truth, depth_bam=giab.BAM, depth_buckets_text="1-7,x")
  (tmp_path / "r.bam").write_bytes(b"not a bam")
  with pytest.raises(errors.InputError, match=r"--depth_bam .*r\.bam: cannot open"):
    evaluate.evaluate_files(calls, truth, depth_bam=str(tmp_path / "r.bam"))
