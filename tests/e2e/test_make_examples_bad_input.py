"""Bad input to make_examples: one clear line on stderr, non-zero exit, no shard left behind."""
import glob
import gzip
import os
import shutil
import subprocess
import sys

import pysam
import pytest

from tests import giab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
  d = tmp_path_factory.mktemp("badsim") / "data"
  subprocess.run([sys.executable, "-m", "beam_pipelines.simulate", "--output_dir", str(d),
                  "--contigs", "s1:30000", "--seed", "3"], cwd=ROOT, check=True,
                 capture_output=True)
  return d


def _args(sim, out, **over):
  args = {"--mode": "training", "--ref": str(sim / "reference.fa"),
          "--reads": str(sim / "reads.bam"), "--truth_variants": str(sim / "truth.vcf.gz"),
          "--confident_regions": str(sim / "confident.bed"), "--examples": out}
  args.update(over)
  flat = []
  for k, v in args.items():
    if v is not None:
      flat += [k, v]
  return flat


def _bam_without_index(sim, tmp):
  shutil.copy(sim / "reads.bam", tmp / "noindex.bam")
  return {"--reads": str(tmp / "noindex.bam")}


def _truncated_bam(sim, tmp):
  data = open(sim / "reads.bam", "rb").read()
  (tmp / "trunc.bam").write_bytes(data[: len(data) // 2])
  shutil.copy(str(sim / "reads.bam") + ".bai", tmp / "trunc.bam.bai")
  return {"--reads": str(tmp / "trunc.bam")}


def _corrupt_bam_block(sim, tmp):
  data = bytearray(open(sim / "reads.bam", "rb").read())
  mid = len(data) // 2
  data[mid:mid + 2000] = bytes((b * 7 + 3) & 255 for b in data[mid:mid + 2000])
  (tmp / "corrupt.bam").write_bytes(bytes(data))
  shutil.copy(str(sim / "reads.bam") + ".bai", tmp / "corrupt.bam.bai")
  return {"--reads": str(tmp / "corrupt.bam")}


def _other_reference(sim, tmp):
  return {"--reads": giab.BAM}  # hg19 chr20 reads against the simulated reference


def _truth_without_index(sim, tmp):
  shutil.copy(sim / "truth.vcf.gz", tmp / "truth.vcf.gz")
  return {"--truth_variants": str(tmp / "truth.vcf.gz")}


def _gvcf_truth(sim, tmp):
  with gzip.open(sim / "truth.vcf.gz", "rt") as f:
    lines = f.read().splitlines()
  body = [l for l in lines if not l.startswith("#")]
  header = [l for l in lines if l.startswith("#")]
  fields = body[0].split("\t")
  fields[4] = fields[4] + ",<NON_REF>"
  body[0] = "\t".join(fields)
  plain = tmp / "g.vcf"
  plain.write_text("\n".join(header + body) + "\n")
  pysam.tabix_index(str(plain), preset="vcf", force=True)
  return {"--truth_variants": str(plain) + ".gz"}


def _malformed_bed(sim, tmp):
  (tmp / "bad.bed").write_text("s1\t100\t200\ns1\tabc\t300\n")
  return {"--confident_regions": str(tmp / "bad.bed")}


def _empty_bed(sim, tmp):
  (tmp / "empty.bed").write_text("")
  return {"--confident_regions": str(tmp / "empty.bed")}


def _region_outside_reference(sim, tmp):
  return {"--regions": "s1:29,000-31,000"}


def _unknown_contig_region(sim, tmp):
  return {"--regions": "chr1:1-1000"}


def _unwritable_output(sim, tmp):
  (tmp / "afile").write_text("x")
  return {"--examples": str(tmp / "afile" / "ex.tfrecord.gz")}


def _training_without_truth(sim, tmp):
  return {"--truth_variants": None}


@pytest.mark.parametrize("make,expected", [
    (_bam_without_index, "noindex.bam: no index"),  # htslib needs the .bai for region queries
    (_truncated_bam, "trunc.bam"),  # a cut-off BAM names the file
    (_corrupt_bam_block, "corrupt.bam: failed reading s1:"),  # found by a worker mid-run
    (_other_reference, "cover 0 of 30,000 reference bp"),  # 90% rule (spec 2.2)
    (_truth_without_index, "no tabix index"),  # labels need region queries of the truth
    (_gvcf_truth, "gVCF"),  # <NON_REF> alleles would label everything hom-ref
    (_malformed_bed, "bad.bed:2"),  # names file and line
    (_empty_bed, "empty.bed"),  # an empty confident BED means no labels at all
    (_region_outside_reference, "past the end of s1"),  # region literal beyond the contig
    (_unknown_contig_region, "contig(s) chr1 not in"),
    (_unwritable_output, "cannot write in"),
    (_training_without_truth, "--truth_variants is required in --mode training"),
])
def test_bad_input_one_line_nonzero_no_output(sim, tmp_path, make, expected):
  out_dir = tmp_path / "out"
  over = make(sim, tmp_path)
  examples = over.pop("--examples", str(out_dir / "ex.tfrecord@2.gz"))
  proc = subprocess.run(
      [sys.executable, "-m", "beam_pipelines.make_examples", *_args(sim, examples, **over)],
      cwd=ROOT, capture_output=True, text=True, timeout=300)
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode != 0
  assert lines and lines[-1].startswith("make_examples: error:"), proc.stderr[-2000:]
  assert expected in lines[-1], lines[-1]
  error_lines = [l for l in lines if "error" in l.lower() or "Traceback" in l]
  assert len(error_lines) == 1, proc.stderr[-2000:]
  assert not glob.glob(str(out_dir / "*tfrecord*")), "no output that looks finished"
