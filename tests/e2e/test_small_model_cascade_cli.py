"""The cascade from the command line: make_examples with a small model writes the accepted
calls beside the examples (DeepVariant's names), postprocess_variants merges them back, and a
bad --trained_small_model_path stops the run with one line before any work."""
import glob
import os
import subprocess
import sys

import pytest

from beam_pipelines.core import call_outputs
from schemas import small_model as contract
from schemas import tfrecord
from tests.e2e import test_postprocess_variants as pp
from tests.unit.test_small_model_cascade import _constant_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(prog, *args):
  return subprocess.run([sys.executable, "-m", f"beam_pipelines.{prog}", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
  d = tmp_path_factory.mktemp("cascsim") / "data"
  subprocess.run([sys.executable, "-m", "beam_pipelines.simulate", "--output_dir", str(d),
                  "--contigs", "s1:40000", "--seed", "5"], cwd=ROOT, check=True,
                 capture_output=True)
  return d


def _calling(sim, examples, *extra):
  return _cli("make_examples", "--mode", "calling", "--ref", str(sim / "reference.fa"),
              "--reads", str(sim / "reads.bam"), "--examples", examples, *extra)


def test_accepted_candidates_get_no_pileup_and_are_written_as_calls(sim, tmp_path):
  plain = _calling(sim, str(tmp_path / "plain" / "ex.tfrecord@2.gz"))
  assert plain.returncode == 0, plain.stderr[-2000:]
  # Confident het for every candidate (GQ ~49): SNPs accepted (25), indels switched off.
  model = str(tmp_path / "model")
  contract.save(model, _constant_model([0.0, 12.0, 0.0]))
  out = tmp_path / "casc"
  r = _calling(sim, str(out / "ex.tfrecord@2.gz"), "--call_small_model_examples",
               f"--trained_small_model_path={model}", "--small_model_indel_gq_threshold=-1")
  assert r.returncode == 0, r.stderr[-2000:]
  calls = sorted(glob.glob(str(out / "ex_call_variant_outputs.tfrecord-*-of-00002.gz")))
  assert len(calls) == 2
  called = [call_outputs.decode_output(b)[0] for p in calls for b in tfrecord.read_records(p)]
  assert called and all(len(v.reference_bases) == 1 and len(v.alternate_bases) == 1 and
                        len(v.alternate_bases[0]) == 1 for v in called)  # SNPs only
  plain_by_locus = _by_locus(tmp_path / "plain")
  cnn_by_locus = _by_locus(out)
  called_loci = {(v.reference_name, v.start) for v in called}
  # Every candidate is either called by the small model or drawn, never both; what is drawn
  # is byte for byte what the plain run drew for it.
  assert called_loci.isdisjoint(cnn_by_locus)
  # The small model also calls candidates too near the contig's end for a pileup window,
  # which a CNN-only run drops (as DeepVariant's cascade, which runs before any image).
  near_edge = called_loci - set(plain_by_locus)
  assert all(pos < 221 // 2 + 1 for _, pos in near_edge)
  assert (called_loci - near_edge) | set(cnn_by_locus) == set(plain_by_locus)
  assert all(cnn_by_locus[k] == plain_by_locus[k] for k in cnn_by_locus)
  assert f"small model: called {len(called)} of" in r.stdout


def _by_locus(folder):
  """(contig, start) -> the pileup examples of that candidate, in file order."""
  from schemas import example_format
  out = {}
  for p in sorted(glob.glob(str(folder / "ex.tfrecord-*-of-00002.gz"))):
    for b in tfrecord.read_records(p):
      v = example_format.decode_example(b).variant
      out.setdefault((v.reference_name, v.start), []).append(b)
  return out


@pytest.mark.parametrize("make_bad,message", [
    (lambda d: str(d / "missing"), "no such folder"),
    (lambda d: (d / "empty").mkdir() or str(d / "empty"), "no small_model.json in it"),
    (lambda d: _corrupt(d), "unreadable"),
])
def test_bad_small_model_path_is_one_line_exit_2_before_any_work(sim, tmp_path, make_bad,
                                                                  message):
  path = make_bad(tmp_path)
  out = tmp_path / "out"
  r = _calling(sim, str(out / "ex.tfrecord.gz"), "--call_small_model_examples",
               f"--trained_small_model_path={path}")
  lines = [l for l in r.stderr.splitlines() if l.strip() and "WARNING" not in l]
  assert r.returncode == 2, r.stderr[-2000:]
  assert lines[-1].startswith(f"make_examples: error: --trained_small_model_path {path}")
  assert message in lines[-1] and len(lines) == 1, r.stderr
  assert not out.exists()


def _corrupt(d):
  good = d / "good"
  contract.save(str(good), _constant_model([0.0, 1.0, 0.0]))
  (good / contract.WEIGHTS_NPZ).write_bytes(b"not an npz")
  return str(good)


def test_small_model_flags_are_checked(sim, tmp_path):
  r = _calling(sim, str(tmp_path / "ex.tfrecord.gz"), "--call_small_model_examples")
  assert r.returncode == 2 and "needs --trained_small_model_path" in r.stderr
  r = _calling(sim, str(tmp_path / "ex.tfrecord.gz"), "--write_small_model_examples")
  assert r.returncode == 2 and "needs --mode training" in r.stderr
  r = _calling(sim, str(tmp_path / "ex.tfrecord.gz"), "--small_model_call_multiallelics")
  assert r.returncode == 2 and "--small_model_call_multiallelics is only used with " \
      "--call_small_model_examples" in r.stderr
  r = _calling(sim, str(tmp_path / "ex.tfrecord.gz"), "--small_model_inference_batch_size=8")
  assert r.returncode == 2 and "DeepVariant" in r.stderr  # a DeepVariant flag not implemented


def test_postprocess_merges_small_model_calls_with_call_variants_output(tmp_path):
  """DeepVariant's golden call_variants output split in two (single-image candidates as the
  small model's calls, the rest as the CNN's) gives DeepVariant's golden VCF back."""
  blobs = list(tfrecord.read_records(pp.GOLDEN_IN))
  per_candidate = {}
  for b in blobs:
    v, _ = call_outputs.decode_output(b)
    per_candidate.setdefault(call_outputs.candidate_key(v), []).append(b)
  small = [bs[0] for bs in per_candidate.values() if len(bs) == 1][::2]
  cnn = [b for b in blobs if b not in set(small)]
  assert small and cnn
  tfrecord.write_records(str(tmp_path / "cnn.tfrecord.gz"), cnn)
  tfrecord.write_records(str(tmp_path / "small.tfrecord.gz"), small)
  out = str(tmp_path / "merged.vcf")
  r = pp._run("--ref", pp.REF, "--infile", str(tmp_path / "cnn.tfrecord.gz"), "--outfile", out,
              "--small_model_cvo_records", str(tmp_path / "small.tfrecord.gz"))
  assert r.returncode == 0, r.stderr
  assert pp._records(out) == pp._records(pp.GOLDEN_OUT)
  alone = str(tmp_path / "cnn_only.vcf")
  assert pp._run("--ref", pp.REF, "--infile", str(tmp_path / "cnn.tfrecord.gz"), "--outfile",
                 alone).returncode == 0
  assert len(pp._records(alone)) == len(pp._records(pp.GOLDEN_OUT)) - len(small)
