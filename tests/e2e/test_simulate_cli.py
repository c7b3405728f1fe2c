"""End-to-end: `python -m beam_pipelines.simulate` writes files that real tools read back.

Runs the CLI in a subprocess on small configs (a few seconds each), then checks the outputs with
samtools/bcftools/tabix and pysam: counts against simulation.json, allele fractions at truth
SNPs, sequencing error rate, exact CIGARs, flags, MAPQ, determinism, and the error paths.
"""
import hashlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pysam
import pytest

from beam_pipelines.core import reads as reads_lib
from beam_pipelines.core import simulation as sim

ROOT = pathlib.Path(__file__).resolve().parents[2]
F = reads_lib
SMALL = ["--contigs", "simA:60000,simB:30000", "--coverage", "20", "--seed", "7",
         "--sample_name", "NA_SIM", "--bgzip_reference", "--multiallelic_fraction", "0.1",
         "--duplicate_fraction", "0.02", "--secondary_fraction", "0.02",
         "--supplementary_fraction", "0.02", "--qcfail_fraction", "0.02",
         "--mate_unmapped_fraction", "0.02"]


def run_cli(args, check=True):
  proc = subprocess.run([sys.executable, "-m", "beam_pipelines.simulate", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=120)
  if check:
    assert proc.returncode == 0, proc.stderr
  return proc


def tool(*args):
  return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def sha256s(d):
  return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def config_of(args):
  """The config the CLI builds from ``args`` (to re-derive the truth haplotypes in memory)."""
  from beam_pipelines import simulate
  return simulate.config_from_args(simulate.build_parser().parse_args(
      ["--output_dir", "unused", *args]))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
  out = tmp_path_factory.mktemp("sim") / "small"
  proc = run_cli(["--output_dir", str(out), *SMALL])
  summary = json.loads((out / "simulation.json").read_text())
  return out, summary, proc.stdout


@pytest.fixture(scope="module")
def truth():
  cfg = config_of(SMALL)
  return cfg, {n: sim.simulate_truth(cfg, n, l) for n, l in cfg.contigs}


def test_files_and_summary_line(small):
  out, summary, stdout = small
  assert sorted(p.name for p in out.iterdir()) == [".pileflow-output.json"] + summary["files"]
  assert {"reference.fa.gz.gzi", "reads.bam.bai", "truth.vcf.gz.tbi"} <= set(summary["files"])
  assert len(stdout.strip().splitlines()) == 1 and str(out) in stdout  # one paragraph
  assert f"{summary['reads']['records']:,} BAM records" in stdout
  assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_tools_read_the_outputs(small):
  out, summary, _ = small
  bam, vcf = str(out / "reads.bam"), str(out / "truth.vcf.gz")
  subprocess.run(["samtools", "quickcheck", bam], check=True)
  assert int(tool("samtools", "view", "-c", bam)) == summary["reads"]["records"]
  assert int(tool("samtools", "view", "-c", "-f", "0x400", bam)) == summary["reads"]["duplicate"]
  n_vcf = len(tool("bcftools", "view", "-H", vcf).splitlines())
  assert n_vcf == summary["variants"]["total"] > 50
  n_simb = len(tool("tabix", vcf, "simB").splitlines())
  assert n_simb == summary["contigs"]["simB"]["variants"]  # index answers region queries
  assert len(tool("tabix", vcf, "simA:1-30000").splitlines()) < n_vcf - n_simb
  fa = tool("samtools", "faidx", str(out / "reference.fa"), "simA:1001-1100").split("\n", 1)[1]
  fagz = tool("samtools", "faidx", str(out / "reference.fa.gz"), "simA:1001-1100").split("\n", 1)[1]
  assert fa.replace("\n", "") == fagz.replace("\n", "") and len(fa.replace("\n", "")) == 100
  sorted_check = tool("samtools", "stats", bam)
  assert "is sorted:\t1" in sorted_check
  header = pysam.AlignmentFile(bam).header.to_dict()
  assert [rg["SM"] for rg in header["RG"]] == ["NA_SIM"]  # --sample_name
  assert [sq["SN"] for sq in header["SQ"]] == ["simA", "simB"]
  assert pysam.VariantFile(vcf).header.samples[0] == "NA_SIM"
  assert pysam.VariantFile(vcf).header.contigs["simA"].length == 60000


def test_allele_fractions_at_truth_snps(small):
  out, _, _ = small
  het, hom = [], []
  with pysam.AlignmentFile(str(out / "reads.bam")) as bam, \
      pysam.VariantFile(str(out / "truth.vcf.gz")) as vcf:
    for rec in vcf:
      if len(rec.ref) != 1 or any(len(a) != 1 for a in rec.alts) or len(rec.alts) != 1:
        continue
      gt = sorted(rec.samples[0]["GT"])
      bases = []
      for col in bam.pileup(rec.chrom, rec.start, rec.start + 1, truncate=True,
                            min_base_quality=0, stepper="all"):
        bases = [b.upper() for b in col.get_query_sequences()]
      if len(bases) < 8:
        continue
      frac = bases.count(rec.alts[0]) / len(bases)
      (het if gt == [0, 1] else hom).append(frac)
  assert len(het) > 30 and len(hom) > 15
  # 20x: one het site's fraction has sd ~0.11; the mean over >30 sites is within +-0.08.
  assert abs(np.mean(het) - 0.5) < 0.08, np.mean(het)
  # Hom-alt: only sequencing errors (0.2%) and stray secondary copies lower the fraction.
  assert np.mean(hom) >= 0.95 and min(hom) >= 0.8


def walk(read, hap, ref_to_hap, ref_codes):
  """(mismatches vs haplotype over M/I, edit distance vs reference, M/I bases, hap positions of
  non-variant M bases mismatching) along the CIGAR; asserts the CIGAR is the true alignment."""
  seq = sim.encode(read.query_sequence)
  q, r, hpos = 0, read.reference_start, None
  hap_mm = nm = n = 0
  for op, ln in read.cigartuples:
    if op == F.CIGAR_S:
      q += ln
    elif op == F.CIGAR_M:
      hp = ref_to_hap[r:r + ln]
      hpos = int(hp[0]) if hpos is None else hpos
      assert np.array_equal(hp, hpos + np.arange(ln)), read.query_name
      hap_mm += int(np.sum(seq[q:q + ln] != hap.codes[hpos:hpos + ln]))
      nm += int(np.sum(seq[q:q + ln] != ref_codes[r:r + ln]))
      q, r, hpos, n = q + ln, r + ln, hpos + ln, n + ln
    elif op == F.CIGAR_I:
      assert np.all(hap.to_ref[hpos:hpos + ln] == -1), read.query_name
      hap_mm += int(np.sum(seq[q:q + ln] != hap.codes[hpos:hpos + ln]))
      q, hpos, n, nm = q + ln, hpos + ln, n + ln, nm + ln
    elif op == F.CIGAR_D:
      assert np.all(ref_to_hap[r:r + ln] == -1), read.query_name
      r, nm = r + ln, nm + ln
  return hap_mm, nm, n


def _ref_to_hap(hap, length):
  out = np.full(length, -1, dtype=np.int64)
  aligned = np.flatnonzero(hap.to_ref >= 0)
  out[hap.to_ref[aligned]] = aligned
  return out


def observed_error_rate(out, truths, check_tags):
  """Mismatch rate of primary reads vs their haplotype (re-derived from the written reference
  and the truth alleles); also checks CIGAR exactness and the NM/XE tags when asked."""
  mm = bases = checked = 0
  with pysam.AlignmentFile(str(out / "reads.bam")) as bam, \
      pysam.FastaFile(str(out / "reference.fa")) as fa:
    for name, (contig, variants, haps) in truths.items():
      ref_codes = sim.encode(fa.fetch(name))
      assert np.array_equal(ref_codes, contig.codes)  # the FASTA holds the simulated contig
      maps = [_ref_to_hap(h, contig.length) for h in haps]
      for read in bam.fetch(name):
        if read.flag & (F.FLAG_UNMAPPED | F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY):
          continue
        h = read.get_tag("HP") - 1
        hap_mm, nm, n = walk(read, haps[h], maps[h], ref_codes)
        if check_tags:
          assert hap_mm == read.get_tag("XE") and nm == read.get_tag("NM"), read.query_name
        mm += hap_mm
        bases += n
        checked += 1
  return mm / bases, checked


def test_cigars_are_exact_against_the_written_truth(small, truth):
  out, summary, _ = small
  cfg, truths = truth
  # The truth VCF written is the one the haplotypes were built from.
  with pysam.VariantFile(str(out / "truth.vcf.gz")) as vcf:
    written = [(r.chrom, r.start, r.ref, r.alts, r.samples[0]["GT"], r.samples[0].phased)
               for r in vcf]
  expected = [(v.contig, v.start, v.ref, v.alts, v.genotype, v.phased)
              for _, variants, _ in truths.values() for v in variants]
  assert written == expected
  rate, checked = observed_error_rate(out, truths, check_tags=True)
  assert checked == summary["reads"]["primary_mapped"]
  # ~36k reads x 150 bp at 0.002 -> ~11k errors (sd ~1%); +-20% relative.
  assert abs(rate - cfg.error_rate) < 0.2 * cfg.error_rate, rate


def test_error_rate_follows_the_flag(tmp_path):
  args = ["--contigs", "e1:30000", "--coverage", "10", "--error_rate", "0.01", "--seed", "3"]
  run_cli(["--output_dir", str(tmp_path / "e"), *args])
  cfg = config_of(args)
  truths = {n: sim.simulate_truth(cfg, n, l) for n, l in cfg.contigs}
  rate, _ = observed_error_rate(tmp_path / "e", truths, check_tags=False)
  # ~2k reads x 150 bp at 0.01 -> ~3k errors (sd ~2%); +-20% relative.
  assert abs(rate - 0.01) < 0.002, rate


def test_flags_insert_sizes_and_mapq(small, truth):
  out, summary, _ = small
  cfg, truths = truth
  r = summary["reads"]
  frags, prim = r["fragments"], r["primary_mapped"]
  # ~6k fragments at 2%: ~120 events, sd ~11; +-35% is > 3.5 sd.
  for got, expected in [(r["duplicate"] / 2, 0.02 * frags), (r["qcfail"] / 2, 0.02 * frags),
                        (r["unmapped"], 0.02 * frags), (r["mate_unmapped"], 0.02 * frags),
                        (r["secondary"], 0.02 * prim), (r["supplementary"], 0.02 * prim)]:
    assert abs(got - expected) < 0.35 * expected, (got, expected)
  tlens, low_in_repeat, low_elsewhere = [], 0, 0
  with pysam.AlignmentFile(str(out / "reads.bam")) as bam:
    flags = {}
    for read in bam.fetch(until_eof=True):
      flags[read.flag & (F.FLAG_DUPLICATE | F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY
                         | F.FLAG_QCFAIL | F.FLAG_UNMAPPED | F.FLAG_MATE_UNMAPPED)] = 1
      if read.flag & F.FLAG_PROPER_PAIR and read.template_length > 0:
        tlens.append(read.template_length)
      if read.flag & (F.FLAG_UNMAPPED | F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY):
        if read.flag & F.FLAG_UNMAPPED:
          assert read.next_reference_start == read.reference_start  # placed at its mate
        continue
      if read.mapping_quality < 20:
        contig = truths[read.reference_name][0]
        rep = any(f.start < read.reference_end and read.reference_start < f.end
                  for f in contig.features_of(*sim.LOW_MAPQ_FEATURES))
        low_in_repeat += rep
        low_elsewhere += not rep
  for bit in (F.FLAG_DUPLICATE, F.FLAG_SECONDARY, F.FLAG_SUPPLEMENTARY, F.FLAG_QCFAIL,
              F.FLAG_UNMAPPED, F.FLAG_MATE_UNMAPPED):
    assert any(k & bit for k in flags), hex(bit)  # every special kind is present
  # ~6k proper pairs, sd 80: mean within +-6 bp (> 4 sd), sd within 10%.
  assert abs(np.mean(tlens) - 400) < 6 and abs(np.std(tlens) - 80) < 8
  assert low_in_repeat > 50 and low_elsewhere == 0  # low MAPQ exactly over the repeats


def test_same_seed_same_bytes_other_seed_differs(small, tmp_path):
  out, _, _ = small
  again = tmp_path / "again"
  run_cli(["--output_dir", str(again), *SMALL])
  assert sha256s(out) == sha256s(again)  # every file, byte for byte
  other = tmp_path / "other"
  run_cli(["--output_dir", str(other), *[a if a != "7" else "8" for a in SMALL]])
  a, b = sha256s(out), sha256s(other)
  for name in ("reads.bam", "truth.vcf.gz", "reference.fa", "confident.bed"):
    assert a[name] != b[name], name


def test_a_users_folder_is_refused_even_with_overwrite(tmp_path):
  out = tmp_path / "o"
  out.mkdir()
  (out / "notes.txt").write_text("mine")
  args = ["--output_dir", str(out), "--contigs", "w:20000", "--coverage", "2"]
  for extra in ([], ["--overwrite"]):
    proc = run_cli(args + extra, check=False)
    assert proc.returncode == 2 and "not made by pileflow" in proc.stderr, proc.stderr
    assert os.listdir(out) == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no temp copy left


def test_overwrite_replaces_only_the_files_this_run_writes(tmp_path):
  out = tmp_path / "o"
  args = ["--output_dir", str(out), "--contigs", "w:20000", "--coverage", "2"]
  run_cli(args)
  (out / "notes.txt").write_text("mine")  # a user's file inside pileflow's folder
  proc = run_cli(args, check=False)
  assert proc.returncode == 2 and "--overwrite" in proc.stderr  # rerun refused, untouched
  run_cli(args[:-1] + ["3", "--overwrite"])
  assert (out / "notes.txt").read_text() == "mine" and (out / "reads.bam").exists()
  assert json.loads((out / "simulation.json").read_text())["config"]["coverage"] == 3.0
  assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no temp or old copy left


def _bad_cases(tmp):
  a_file = tmp / "a_file"
  a_file.write_text("x")
  ro = tmp / "readonly"
  ro.mkdir()
  ro.chmod(0o555)
  return [
      (["--output_dir", str(tmp / "o"), "--coverage", "-3"],
       "--coverage must be > 0, got -3"),  # negative coverage
      (["--output_dir", str(tmp / "o"), "--contigs", "s:1000", "--read_length", "2000",
        "--insert_size_mean", "3000"], "longer than contig 's'"),  # read > contig
      (["--output_dir", str(tmp / "o"), "--regions", "chrX:1-100"],
       "contig 'chrX' is not in the reference"),  # unknown contig in --regions
      (["--output_dir", str(a_file)], "is an existing file, not a directory"),  # output is a file
      (["--output_dir", str(a_file / "o")], "cannot write in"),  # under a file
      (["--output_dir", str(ro / "o")], "cannot write in"),  # under a read-only directory
      (["--output_dir", str(tmp / "o"), "--coverage", "abc"],
       "argument --coverage: invalid float value"),  # argparse type error
      (["--coverage", "3"], "the following arguments are required: --output_dir"),  # argparse
  ]


def test_bad_options_give_one_line_and_exit_2(tmp_path):
  cases = _bad_cases(tmp_path)
  before = sorted(p.name for p in tmp_path.iterdir())
  for args, message in cases:
    if "readonly" in args[1] and os.geteuid() == 0:
      # Root ignores directory permissions: use a directory nobody can create files in
      # (sysfs), which goes through the "cannot create" path instead.
      if not os.path.isdir("/sys"):
        continue
      args, message = ["--output_dir", "/sys/pileflow_sim_out"], "cannot write in"
    proc = run_cli(args, check=False)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (args, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("simulate: error: "), proc.stderr
    assert message in lines[0], (message, lines[0])
    assert proc.stdout == ""
    # Nothing half-written: no output directory, no temporary sibling.
    assert sorted(p.name for p in tmp_path.iterdir()) == before, args
    assert not list((tmp_path / "readonly").iterdir())
