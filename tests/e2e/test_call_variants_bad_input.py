"""call_variants refuses bad flags and inputs with one line, exit 2, and writes nothing."""
import os
import re
import subprocess
import sys

import pytest

from tests import giab


def _run(*args):
  return subprocess.run([sys.executable, "-m", "beam_pipelines.call_variants", *args],
                        cwd=giab.ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args,message", [
    (["--examples", giab.GOLDEN, "--checkpoint", "x", "--outfile", "{t}/o.tfrecord.gz",
      "--exampels", "y"], r"--exampels: unknown flag"),
    (["--examples", giab.GOLDEN, "--checkpoint", "x", "--outfile", "{t}/o.tfrecord.gz",
      "--use_openvino"], r"--use_openvino: a DeepVariant call_variants flag that pileflow does "
                         r"not implement"),
    (["--examples", giab.GOLDEN, "--checkpoint", "x", "--outfile", "{t}/o.vcf"],
     r"--outfile .*o.vcf: must end in .tfrecord.gz or .tfrecord"),
    (["--examples", "{t}/none*.gz", "--checkpoint", "x", "--outfile", "{t}/o.tfrecord.gz"],
     r"--examples .*none\*.gz: no such file"),
    (["--examples", giab.GOLDEN, "--checkpoint", "{t}/no_model", "--outfile",
      "{t}/o.tfrecord.gz"], r"no_model"),
    (["--examples", giab.GOLDEN, "--checkpoint", "x", "--outfile", "{t}/o.tfrecord.gz",
      "--batch_size", "0"], r"--batch_size must be > 0"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
  r = _run(*[a.format(t=tmp_path) for a in args])
  assert r.returncode == 2, r.stderr[-2000:]
  lines = r.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("call_variants: error: "), r.stderr[-2000:]
  assert re.search(message, lines[0]), lines[0]
  assert os.listdir(tmp_path) == []


def test_existing_output_is_refused(tmp_path):
  out = tmp_path / "o.tfrecord.gz"
  out.write_bytes(b"precious")
  r = _run("--examples", giab.GOLDEN, "--checkpoint", "x", "--outfile", str(out))
  assert r.returncode == 2 and "already exists; pass --overwrite" in r.stderr
  assert out.read_bytes() == b"precious"
