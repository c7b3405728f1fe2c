"""The stderr relay of the pipeline entry points: children's traceback blocks are dropped,
everything else passes (run in a subprocess: it rewires file descriptor 2)."""
import os
import subprocess
import sys
import textwrap

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

SCRIPT = textwrap.dedent('''
    import subprocess, sys
    from beam_pipelines import cli_runtime
    child = (
        "import sys\\n"
        "sys.stderr.write('a worker notice\\\\n')\\n"
        "sys.stderr.write('Traceback (most recent call last):\\\\n')\\n"
        "sys.stderr.write('  File \\"x.py\\", line 1, in <module>\\\\n')\\n"
        "sys.stderr.write('from apache_beam import io\\\\n')\\n"
        "sys.stderr.write('KeyboardInterrupt\\\\n')\\n"
        "sys.stderr.write('Worker: severity: CRITICAL message: Traceback (most recent)\\\\n')\\n"
        "sys.stderr.write('after the block\\\\n')\\n")
    with cli_runtime.filtered_stderr():
        subprocess.run([sys.executable, "-c", child], check=True)
        sys.stderr.write("tool: error: our own line\\n")
''')


def test_traceback_blocks_of_children_are_dropped_the_rest_relayed():
  r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True,
                     timeout=60)
  assert r.returncode == 0, r.stderr
  lines = r.stderr.splitlines()
  assert sorted(lines) == ["a worker notice", "after the block", "tool: error: our own line"]
