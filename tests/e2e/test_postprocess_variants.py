"""postprocess_variants on DeepVariant's own call_variants output: its VCF, record for record.

golden.postprocess_single_site_input.tfrecord.gz is DeepVariant 1.5's call_variants output over
chr20:10,000,000-10,010,000 and golden.postprocess_single_site_output.vcf the VCF its
postprocess_variants wrote from it (../shared/data/dv-goldens/README.md).
"""
import gzip
import os
import re
import subprocess
import sys

import pysam
import pytest

from beam_pipelines.core import call_outputs
from schemas import tfrecord
from schemas.protos import deepvariant_pb2
from schemas.protos import variants_pb2

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.join(ROOT, "..", "shared", "data")
REF = os.path.join(SHARED, "giab-chr20", "ucsc.hg19.chr20.unittest.fasta.gz")
GOLDEN_IN = os.path.join(SHARED, "dv-goldens", "golden.postprocess_single_site_input.tfrecord.gz")
GOLDEN_OUT = os.path.join(SHARED, "dv-goldens", "golden.postprocess_single_site_output.vcf")
TRAINING_EXAMPLES = os.path.join(SHARED, "giab-chr20", "golden.training_examples.tfrecord.gz")


def _run(*args):
  return subprocess.run([sys.executable, "-m", "beam_pipelines.postprocess_variants", *args],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)


def _records(path):
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rt") as f:
    return [line.rstrip("\n") for line in f if not line.startswith("#")]


def _header(path):
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rt") as f:
    return [line.rstrip("\n") for line in f if line.startswith("#")]


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("pp") / "calls.vcf")
  r = _run("--ref", REF, "--infile", GOLDEN_IN, "--outfile", out)
  assert r.returncode == 0, r.stderr
  return out, r


def test_every_record_equals_deepvariant(golden_run):
  out, r = golden_run
  got, want = _records(out), _records(GOLDEN_OUT)
  assert len(want) == 78
  assert got == want
  assert "78 records (PASS 71, RefCall 7), sample NA12878" in r.stdout


def test_header_is_deepvariants_but_for_the_version_line(golden_run):
  out, _ = golden_run
  got = [h for h in _header(out) if not h.startswith("##source=")]
  want = [h for h in _header(GOLDEN_OUT) if not h.startswith("##DeepVariant_version")]
  assert got == want


def test_two_workers_small_bins_and_bgzip_give_the_same_records(tmp_path, golden_run):
  out = str(tmp_path / "calls.vcf.gz")
  r = _run("--ref", REF, "--infile", GOLDEN_IN, "--outfile", out, "--bin_size", "1000",
           "--direct_running_mode=multi_processing", "--direct_num_workers=2")
  assert r.returncode == 0, r.stderr
  assert _records(out) == _records(golden_run[0])
  with pysam.VariantFile(out) as vcf:  # indexed: a region query returns the window's records
    assert len(list(vcf.fetch("chr20", 10_002_000, 10_003_000))) == sum(
        1 for line in _records(out) if 10_002_000 < int(line.split("\t")[1]) <= 10_003_000)
  assert sorted(os.listdir(tmp_path)) == ["calls.vcf.gz", "calls.vcf.gz.tbi"]  # no temp left


def test_only_keep_pass_and_shuffled_sharded_input(tmp_path):
  # Images of a candidate in any order and in different shards still make one call.
  blobs = list(tfrecord.read_records(GOLDEN_IN))
  blobs = blobs[1::2] + blobs[0::2]
  for k in range(2):
    tfrecord.write_records(str(tmp_path / f"cvo-{k:05d}-of-00002.tfrecord.gz"), blobs[k::2])
  out = str(tmp_path / "pass.vcf")
  r = _run("--ref", REF, "--infile", str(tmp_path / "cvo@2.tfrecord.gz"), "--outfile", out,
           "--only_keep_pass")
  assert r.returncode == 0, r.stderr
  assert _records(out) == [line for line in _records(GOLDEN_OUT) if "\tPASS\t" in line]


def test_empty_input_gives_a_header_with_the_flags_sample_name(tmp_path):
  empty = str(tmp_path / "empty.tfrecord.gz")
  tfrecord.write_records(empty, [])
  out = str(tmp_path / "empty.vcf.gz")
  r = _run("--ref", REF, "--infile", empty, "--outfile", out, "--sample_name", "S1")
  assert r.returncode == 0, r.stderr
  assert _records(out) == [] and _header(out)[-1].endswith("\tFORMAT\tS1")


def _wrong_contig(tmp_path):
  fa = tmp_path / "other.fa"
  fa.write_text(">chr1\n" + "A" * 100 + "\n")
  pysam.faidx(str(fa))
  return ["--ref", str(fa), "--infile", GOLDEN_IN]


def _truncated(tmp_path):
  bad = tmp_path / "cut.tfrecord.gz"
  bad.write_bytes(open(GOLDEN_IN, "rb").read()[:3000])
  return ["--ref", REF, "--infile", str(bad)]


def _bad_alt_index(tmp_path):
  out = deepvariant_pb2.CallVariantsOutput.FromString(next(tfrecord.read_records(GOLDEN_IN)))
  bad = tmp_path / "bad.tfrecord.gz"
  tfrecord.write_records(str(bad), [call_outputs.encode_output(out.variant, [3], [0.2, 0.3, 0.5])])
  return ["--ref", REF, "--infile", str(bad)]


@pytest.mark.parametrize("make_args,message", [
    (_wrong_contig, r"candidate chr20:10000117 is on contig 'chr20', which the reference lacks"),
    (_truncated, r"cut.tfrecord.gz \(gzip.*compressed stream is damaged"),
    (_bad_alt_index, r"bad.tfrecord.gz: record at chr20:10000117 has alt_allele_indices \[3\]"),
    (lambda t: ["--ref", REF, "--infile", TRAINING_EXAMPLES],  # examples, not call outputs
     r"a record has no variant \(not a CallVariantsOutput\?\)"),
    (lambda t: ["--ref", REF, "--infile", str(t / "none*.gz")],
     r"--infile .*none\*.gz: no such file"),
    (lambda t: ["--ref", REF, "--infile", GOLDEN_IN, "--haploid_contigs", "chrX"],
     r"--haploid_contigs: a DeepVariant postprocess_variants flag that pileflow does not "
     r"implement"),
    (lambda t: ["--ref", REF, "--infile", GOLDEN_IN, "--nonvariant_site_tfrecord_path",
                GOLDEN_IN, "--gvcf_outfile", str(t / "out" / "g.vcf.gz")],  # calls, not blocks
     r"golden.postprocess_single_site_input.tfrecord.gz: .*not a gVCF reference block"),
    (lambda t: ["--ref", REF, "--infile", GOLDEN_IN, "--qual_filter", "-1"],
     r"--qual_filter must be >= 0"),
    (lambda t: ["--ref", REF, "--infle", GOLDEN_IN], r"--infle: unknown flag"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, make_args, message):
  out = tmp_path / "out" / "calls.vcf.gz"
  r = _run(*make_args(tmp_path), "--outfile", str(out))
  assert r.returncode == 2, r.stderr
  lines = r.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("postprocess_variants: error: "), r.stderr
  assert re.search(message, lines[0]), lines[0]
  assert not out.exists() and not (tmp_path / "out" / "calls.vcf.gz.tbi").exists()
  assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_existing_output_needs_overwrite(tmp_path, golden_run):
  out = tmp_path / "calls.vcf"
  out.write_text("precious\n")
  r = _run("--ref", REF, "--infile", GOLDEN_IN, "--outfile", str(out))
  assert r.returncode == 2 and "already exists; pass --overwrite" in r.stderr
  assert out.read_text() == "precious\n"
  r = _run("--ref", REF, "--infile", GOLDEN_IN, "--outfile", str(out), "--overwrite")
  assert r.returncode == 0, r.stderr
  assert _records(str(out)) == _records(golden_run[0])


GOLDEN_GVCF_IN = os.path.join(SHARED, "dv-goldens", "golden.postprocess_gvcf_input.tfrecord.gz")


@pytest.fixture(scope="module")
def gvcf_run(tmp_path_factory):
  d = tmp_path_factory.mktemp("gvcf")
  r = _run("--ref", REF, "--infile", GOLDEN_IN, "--outfile", str(d / "calls.vcf.gz"),
           "--nonvariant_site_tfrecord_path", GOLDEN_GVCF_IN,
           "--gvcf_outfile", str(d / "calls.g.vcf.gz"))
  assert r.returncode == 0, r.stderr
  return str(d / "calls.vcf.gz"), str(d / "calls.g.vcf.gz"), r


def test_gvcf_holds_every_call_with_the_gvcf_allele(gvcf_run):
  vcf, gvcf, r = gvcf_run
  assert _records(vcf) == _records(GOLDEN_OUT)  # the VCF is unchanged by the gVCF
  calls = [line.split("\t") for line in _records(gvcf) if "\tEND=" not in line]
  want = [line.split("\t") for line in _records(GOLDEN_OUT)]
  assert len(calls) == len(want) == 78
  for got, w in zip(calls, want):
    n_alts = len(w[4].split(","))
    assert got[:4] == w[:4] and got[4] == w[4] + ",<*>" and got[5:8] == w[5:8]
    gt, gq, dp, ad, vaf, pl = got[9].split(":")
    wgt, wgq, wdp, wad, wvaf, wpl = w[9].split(":")
    assert (gt, gq, dp, ad, vaf) == (wgt, wgq, wdp, wad + ",0", wvaf + ",0")
    assert pl == wpl + ",990" * (n_alts + 2)  # every genotype with <*>: GL -99
  assert "226 gVCF records" in r.stdout


def test_gvcf_tiles_the_window_and_keeps_deepvariants_blocks(gvcf_run):
  _, gvcf, _ = gvcf_run
  spans, blocks = [], {}
  for line in _records(gvcf):
    f = line.split("\t")
    start = int(f[1]) - 1
    end = int(f[7][4:]) if f[7].startswith("END=") else start + len(f[3])
    spans.append((start, end))
    if f[7].startswith("END="):
      blocks[(start, end)] = f
  assert spans[0][0] == 9_999_999 and spans[-1][1] == 10_010_000
  # Consecutive: a deletion's call covers the bases after it; blocks resume at its end.
  assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
  covered = sum(e - s for s, e in spans)
  assert covered == 10_001
  # A golden block no call touches is written unchanged: GQ, MIN_DP, PL from its GL.
  golden = {}
  for blob in tfrecord.read_records(GOLDEN_GVCF_IN):
    v = variants_pb2.Variant.FromString(blob)
    golden[(v.start, v.end)] = v
  untouched = [k for k in blocks if k in golden]
  assert len(untouched) >= 140
  for k in untouched:
    c = golden[k].calls[0]
    top = max(c.genotype_likelihood)
    want_pl = ",".join(str(int(-10 * (g - top))) for g in c.genotype_likelihood)
    gt = "0/0" if list(c.genotype) == [0, 0] else "./."
    assert blocks[k][9] == (f"{gt}:{c.info['GQ'].values[0].int_value}:"
                            f"{c.info['MIN_DP'].values[0].int_value}:{want_pl}")


def test_bcftools_reads_the_gvcf(gvcf_run):
  import shutil
  if not shutil.which("bcftools"):
    pytest.skip("bcftools not installed")
  _, gvcf, _ = gvcf_run
  out = subprocess.run(["bcftools", "view", "-H", "-r", "chr20:10001000-10001300", gvcf],
                       capture_output=True, text=True)
  assert out.returncode == 0, out.stderr
  assert out.stdout.splitlines()[1].split("\t")[:5] == ["chr20", "10001019", ".", "T", "G,<*>"]


def test_gvcf_needs_both_flags(tmp_path):
  r = _run("--ref", REF, "--infile", GOLDEN_IN, "--outfile", str(tmp_path / "c.vcf"),
           "--gvcf_outfile", str(tmp_path / "c.g.vcf"))
  assert r.returncode == 2
  assert "requires both --nonvariant_site_tfrecord_path and --gvcf_outfile" in r.stderr
  assert os.listdir(tmp_path) == []
