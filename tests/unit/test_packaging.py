"""The two halves stay apart: the trainer installs and imports without Beam or pysam.

Why it matters: people train on accelerator machines (Vertex AI, TPU VMs) where Beam and
htslib are dead weight or do not install; the trainer reads only files defined by schemas/.
"""
import ast
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


# The one place the trainer reaches into the pipelines half: the calling tune (call a region,
# score it like beam_pipelines.evaluate) imports beam_pipelines.call/evaluate inside a function,
# only when a calling tune is configured, and says "install pileflow[pipelines]" otherwise.
LAZY_ONLY = {"trainer/calling_tune.py": {"beam_pipelines"}}


def _function_imports(tree):
  return {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
          for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}


def _imports(path: pathlib.Path):
  """Top-level names imported, except that ``beam_pipelines.core`` (the pure core, which the
  trainer shares for calling: CONVENTIONS) is reported as itself, and that the lazy imports
  ``LAZY_ONLY`` allows inside functions are left out."""
  tree = ast.parse(path.read_text(), filename=str(path))
  lazy_ok = LAZY_ONLY.get(path.relative_to(ROOT).as_posix(), set())
  in_functions = _function_imports(tree) if lazy_ok else set()
  for node in ast.walk(tree):
    names = []
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names = [node.module]
    for name in names:
      parts = name.split(".")
      if id(node) in in_functions and parts[0] in lazy_ok:
        continue
      yield "beam_pipelines.core" if parts[:2] == ["beam_pipelines", "core"] else parts[0]


@pytest.mark.parametrize("package,forbidden", [
    # trainer talks through files only; for calling it shares beam_pipelines.core's pure logic
    ("trainer", {"apache_beam", "pysam", "beam_pipelines"}),
    ("schemas", {"apache_beam", "pysam", "tensorflow", "beam_pipelines", "trainer"}),  # light
    ("beam_pipelines/core", {"apache_beam", "pysam", "tensorflow", "trainer"}),  # pure core
])
def test_no_forbidden_imports(package, forbidden):
  offenders = []
  for path in (ROOT / package).rglob("*.py"):
    if path.name.endswith("_pb2.py"):
      continue
    bad = forbidden.intersection(_imports(path))
    if bad:
      offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
  assert not offenders, offenders


_BLOCKER = r"""
import importlib, importlib.abc, pkgutil, sys
class Block(importlib.abc.MetaPathFinder):
  def find_spec(self, name, path, target=None):
    if name.split('.')[0] in ('apache_beam', 'pysam'):
      raise ImportError('blocked for this test: ' + name)
sys.meta_path.insert(0, Block())
import schemas, trainer
names = []
for pkg in (schemas, trainer):
  for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):
    importlib.import_module(info.name)
    names.append(info.name)
assert 'apache_beam' not in sys.modules and 'pysam' not in sys.modules
print(len(names))
"""


def test_trainer_and_schemas_import_with_beam_and_pysam_blocked():
  out = subprocess.run([sys.executable, "-c", _BLOCKER], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]


def test_trainer_extra_resolves_without_beam_or_pysam(tmp_path):
  """pip resolves `pileflow[trainer]` from PyPI: neither apache-beam nor pysam is pulled in."""
  report = tmp_path / "report.json"
  out = subprocess.run(
      [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
       "--report", str(report), ".[trainer]"],
      cwd=ROOT, capture_output=True, text=True, timeout=600,
      env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
  assert out.returncode == 0, out.stderr[-2000:]
  names = {i["metadata"]["name"].lower().replace("_", "-")
           for i in json.loads(report.read_text())["install"]}
  assert "tensorflow" in names  # the extra really resolved the trainer's dependencies
  assert not {"apache-beam", "pysam", "tfx-bsl"} & names, sorted(names)
