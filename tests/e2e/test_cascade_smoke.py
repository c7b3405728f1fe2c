"""bench/cascade.py in smoke mode: ART/bwa and pbsim/minimap2 reads, the base CNN, the small
model trained and fine-tuned, CNN-only and cascade calling scored; the results read back.

Like the case study's smoke test, missing outside tools are a failure, not a skip."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
pytestmark = pytest.mark.slow


def test_cascade_smoke_calls_with_both_models_and_scores_every_arm(tmp_path):
  out = tmp_path / "cascade"
  r = subprocess.run([sys.executable, "bench/cascade.py", str(out), "--smoke"], cwd=ROOT,
                     capture_output=True, text=True, timeout=900)
  assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-3000:]
  result = json.loads((out / "cascade.json").read_text())
  runs = result["runs"]
  assert set(runs) == {f"short {c} | {a}" for c in ("30x", "7.5x")
                       for a in ("CNN only", "cascade")}
  for key, run in runs.items():
    assert run["candidates"] > 0
    # Every candidate is classified by exactly one model.
    assert run["small_model_called"] + run["cnn_candidates"] == run["candidates"], key
    for vtype in ("SNP", "INDEL"):
      assert 0.0 <= run["scores"][vtype]["f1"] <= 1.0 and run["scores"][vtype]["truth"] > 0
    assert run["stages"]["make_examples"]["cpu_s"] > 0
  for cov in ("30x", "7.5x"):
    assert runs[f"short {cov} | CNN only"]["small_model_called"] == 0
    assert runs[f"short {cov} | cascade"]["candidates"] == \
        runs[f"short {cov} | CNN only"]["candidates"]
  cal = result["calibration"]
  assert set(cal) == {"short 30x | base small model", "short 7.5x | base small model",
                      "long HiFi | base small model", "long HiFi | fine-tuned small model"}
  for a in cal.values():
    assert a["candidates"] > 0 and 0 <= a["accepted"] <= a["candidates"]
    assert a["all"]["accepted"] == a["snp"]["accepted"] + a["indel"]["accepted"]
  assert "| short 30x | cascade |" in r.stdout and "| long HiFi | fine-tuned small model |" \
      in r.stdout
  assert os.path.isfile(out / "models" / "small_base" / "small_model" / "small_model.json")
