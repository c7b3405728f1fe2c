"""Every entry point answers --help (argparse help strings are format strings: a bare % breaks
them, and the first user to ask for help would get a traceback)."""
import subprocess
import sys

import pytest

from tests.giab import ROOT


@pytest.mark.parametrize("module", [
    "beam_pipelines.simulate", "beam_pipelines.make_examples", "beam_pipelines.shuffle",
    "beam_pipelines.make_dataset", "beam_pipelines.call_variants",
    "beam_pipelines.postprocess_variants", "trainer.train",
])
def test_help_exits_zero_and_names_the_program(module):
  proc = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True,
                        text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-1500:]
  assert proc.stdout.startswith("usage: ")
