"""Pseudolabels: per-class GQ selection by hand, and the files make_examples' training mode reads."""
import json
import os

import pysam
import pytest

from beam_pipelines import pseudolabels
from beam_pipelines.core import pseudolabels as core
from tests import giab

HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=RefCall,Description="Genotyping model thinks this site is reference.">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Conditional genotype quality">
##contig=<ID=chr20,length=63025520>
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS
"""
# (POS, REF, ALT, FILTER, GT, GQ)
CALLS = [(10000100, "A", "C", "RefCall", "0/0", 50), (10000200, "A", "G", "RefCall", "0/0", 30),
         (10000300, "C", "T", "RefCall", "0/0", 10), (10000400, "G", "A", "PASS", "0/1", 40),
         (10000500, "TA", "T", "PASS", "0/1", 35), (10000600, "C", "G", "PASS", "0/1", 5),
         (10000700, "A", "AT", "PASS", "1/1", 60), (10000800, "G", "C", "RefCall", "./.", 3)]


def _write_calls(path):
  body = "".join(f"chr20\t{p}\t.\t{r}\t{a}\t10\t{f}\t.\tGT:GQ\t{gt}:{gq}\n"
                 for p, r, a, f, gt, gq in CALLS)
  with open(path, "w") as f:
    f.write(HEADER + body)
  return path


def _site(start, gt, gq):
  return core.CalledSite("chr20", start, start + 1, gt, gq, "")


def test_selection_per_class_keeps_balance_and_skips_no_calls():
  sites = [_site(100, (0, 0), 50), _site(200, (0, 0), 30), _site(300, (0, 0), 10),
           _site(400, (0, 1), 40), _site(500, (0, 1), 35), _site(600, (0, 1), 5),
           _site(700, (1, 1), 60), _site(800, (None, None), 3), _site(900, (1, 2), 22)]
  s = core.select(sites, min_gq=20, top_fraction=0.5)
  # hom-ref: 50 and 30 pass, the top half is 50; het: 40, 35, 22 pass -> round(1.5) = 2 kept;
  # hom-alt: one passes, and a class with a passing call keeps at least one.
  assert [x.start for x in s.kept] == [100, 400, 500, 700]
  assert s.counts_in == {"hom_ref": 3, "het": 4, "hom_alt": 1}
  assert s.counts_kept == {"hom_ref": 1, "het": 2, "hom_alt": 1}
  assert s.min_gq_kept == {"hom_ref": 50, "het": 35, "hom_alt": 60}
  assert core.genotype_class((1, 2)) == core.HET and core.genotype_class((0,)) is None
  # A RefCall written ./. (GQ < 20) is still a hom-ref call; a plain ./. is not a label.
  refcall = core.CalledSite("chr20", 1000, 1001, (None, None), 12, "", refcall=True)
  assert core.site_class(refcall) == core.HOM_REF
  assert core.select([refcall], top_fraction=1.0).counts_kept["hom_ref"] == 1
  with pytest.raises(ValueError, match="top_fraction"):
    core.select(sites, top_fraction=0)


def test_confident_spans_merge_touching_calls_in_reference_order():
  kept = [core.CalledSite("b", 5, 6, (0, 1), 9, ""), core.CalledSite("a", 10, 12, (0, 0), 9, ""),
          core.CalledSite("a", 12, 13, (1, 1), 9, ""), core.CalledSite("a", 20, 21, (0, 1), 9, "")]
  assert core.confident_spans(kept, ["a", "b"]) == [("a", 10, 13), ("a", 20, 21), ("b", 5, 6)]


def test_cli_writes_truth_and_confident_regions(tmp_path, capsys):
  calls = _write_calls(str(tmp_path / "calls.vcf"))
  out = str(tmp_path / "pseudo")
  argv = ["--calls", calls, "--ref", giab.REF, "--output_dir", out, "--min_gq", "20",
          "--top_fraction", "0.5"]
  assert pseudolabels.main(argv) == 0
  truth = [(r.pos, r.ref, r.alts, r.samples[0]["GT"])
           for r in pysam.VariantFile(os.path.join(out, "truth.vcf.gz"))]
  assert truth == [(10000400, "G", ("A",), (0, 1)), (10000700, "A", ("AT",), (1, 1))]
  bed = open(os.path.join(out, "confident.bed")).read().split("\n")
  assert bed[:3] == ["chr20\t10000099\t10000100", "chr20\t10000399\t10000400",
                     "chr20\t10000699\t10000700"]
  record = json.load(open(os.path.join(out, "pseudolabels.json")))
  assert record["kept"] == {"hom_ref": 1, "het": 1, "hom_alt": 1}
  assert "kept hom_ref 1/4, het 1/3, hom_alt 1/1" in capsys.readouterr().out
  # A rerun without --overwrite refuses to replace the labels.
  with pytest.raises(SystemExit) as e:
    pseudolabels.main(argv)
  assert e.value.code == 2
  assert "--overwrite" in capsys.readouterr().err


def test_missing_or_damaged_calls_are_one_line(tmp_path, capsys):
  out = str(tmp_path / "p")
  for calls, message in ((str(tmp_path / "nope.vcf.gz"), "no such file"),
                         (str(tmp_path / "bad.vcf"), "not a readable VCF")):
    if "bad" in calls:
      open(calls, "w").write("this is not a VCF\n")
    with pytest.raises(SystemExit) as e:
      pseudolabels.main(["--calls", calls, "--ref", giab.REF, "--output_dir", out])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and calls in err[0] and message in err[0], err
    assert not os.path.exists(os.path.join(out, "truth.vcf.gz"))
