"""The case study (bench/case_study.py) in smoke mode: ART/bwa and pbsim/minimap2 reads, a base
model, the three fine-tunes and bcftools, all scored; the table is read back (~2 minutes).

The outside tools are installed by scripts/setup.sh; their absence is a failure here, not a
skip, since the case study is what shows pileflow's models against bcftools."""
import json
import os
import subprocess
import sys

import pytest

from bench import case_study

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytestmark = pytest.mark.slow


def test_case_study_smoke_runs_every_step_and_scores_every_row(tmp_path):
  out = tmp_path / "cs"
  r = subprocess.run([sys.executable, "bench/case_study.py", str(out), "--smoke"], cwd=ROOT,
                     capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-3000:]
  result = json.loads((out / "case_study.json").read_text())
  rows = result["rows"]
  expected = {"short 30x | base model (short reads)", "short 7.5x | base model (short reads)",
              "long HiFi | base model (short reads)", "short 30x | bcftools call -mv",
              "short 7.5x | bcftools call -mv", "long HiFi | bcftools call -mv"}
  expected |= {f"long HiFi | fine-tuned: {m}" for m in case_study.FINE_TUNE_MODES}
  assert set(rows) == expected
  for key, row in rows.items():
    (run,) = row["runs"]  # one seed
    for vtype in ("SNP", "INDEL"):
      s = run[vtype]
      assert 0.0 <= s["precision"] <= 1.0 and 0.0 <= s["recall"] <= 1.0
      assert 0.0 <= s["f1"] <= 1.0 and s["truth"] > 0, (key, s)
  # Every model and bcftools scored on the same truth of the same test contig.
  assert len({run["SNP"]["truth"] for row in rows.values() for run in row["runs"]}) == 1
  # bcftools on 30x simulated short reads is near perfect: the reads and the scoring work.
  assert rows["short 30x | bcftools call -mv"]["runs"][0]["SNP"]["f1"] > 0.9
  for step in ("simulate", "art", "bwa_mem", "pbsim", "minimap2", "make_dataset_short",
               "train_base", "fine_tune", "call", "bcftools_call"):
    assert result["timings"][step]["wall_s"] >= 0, step
  assert result["timings"]["train_base"]["cpu_s"] > 0
  table = (out / "case_study.md").read_text()
  assert "| long HiFi | fine-tuned: whole | SNP |" in table and "| total |" in table
  # A rerun finds every step done and rebuilds only the table.
  again = subprocess.run([sys.executable, "bench/case_study.py", str(out), "--smoke"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
  assert again.returncode == 0, again.stderr[-2000:]
  assert json.loads((out / "case_study.json").read_text())["rows"] == rows
