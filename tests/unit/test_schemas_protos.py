"""The .proto contract (spec 1.4) and its build: field numbers, imports, lazy compilation."""
import os
import shutil
import subprocess
import sys

import pytest

from schemas.protos import build
from schemas.protos import deepvariant_pb2
from schemas.protos import struct_pb2
from schemas.protos import tfexample_pb2
from schemas.protos import variants_pb2

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _fields(message):
  return {f.name: f.number for f in message.DESCRIPTOR.fields}


@pytest.mark.parametrize("message,full_name,fields", [
    (variants_pb2.Variant, "nucleus.genomics.v1.Variant", dict(
        reference_name=14, start=16, end=13, names=3, reference_bases=6, alternate_bases=7,
        quality=8, filter=9, info=10, calls=11, variant_set_id=15, id=2, created=12)),
    (variants_pb2.VariantCall, "nucleus.genomics.v1.VariantCall", dict(
        call_set_name=9, genotype=7, is_phased=10, phaseset=5, genotype_likelihood=6, info=2,
        call_set_id=8)),
    (struct_pb2.Value, "nucleus.genomics.v1.Value", dict(
        null_value=1, number_value=2, int_value=7, string_value=3, bool_value=4,
        struct_value=5, list_value=6)),
    (struct_pb2.ListValue, "nucleus.genomics.v1.ListValue", dict(values=1)),
    (struct_pb2.Struct, "nucleus.genomics.v1.Struct", dict(fields=1)),
    (deepvariant_pb2.CallVariantsOutput, "learning.genomics.deepvariant.CallVariantsOutput",
     dict(variant=1, alt_allele_indices=2, genotype_probabilities=3, debug_info=4)),
    (deepvariant_pb2.CallVariantsOutput.AltAlleleIndices,
     "learning.genomics.deepvariant.CallVariantsOutput.AltAlleleIndices", dict(indices=1)),
    (deepvariant_pb2.CallVariantsOutput.DebugInfo,
     "learning.genomics.deepvariant.CallVariantsOutput.DebugInfo", dict(
         predicted_label=1, has_insertion=2, has_deletion=3, is_snp=4, true_label=5, logits=6,
         prelogits=7)),
    (deepvariant_pb2.DeepVariantDatasetConfig,
     "learning.genomics.deepvariant.DeepVariantDatasetConfig",
     dict(name=1, tfrecord_path=2, num_examples=3)),
    (deepvariant_pb2.MakeExamplesStats, "learning.genomics.deepvariant.MakeExamplesStats", dict(
        num_examples=1, num_indels=2, num_snps=3, num_class_0=4, num_class_1=5, num_class_2=6)),
    (tfexample_pb2.Feature, "pileflow.tfexample.Feature",  # private package, tf's numbers
     dict(bytes_list=1, float_list=2, int64_list=3)),
    (tfexample_pb2.Example, "pileflow.tfexample.Example", dict(features=1)),
])
def test_messages_match_spec(message, full_name, fields):
  assert message.DESCRIPTOR.full_name == full_name
  assert _fields(message) == fields


def test_labeling_metrics_numbers():
  f = _fields(deepvariant_pb2.LabelingMetrics)
  assert len(f) == 16 and sorted(f.values()) == list(range(1, 17))
  assert f["n_truth_variant_sites"] == 1
  assert f["n_exact_position_and_allele_and_genotype_matches"] == 15
  assert f["n_truth_multiallelics_sites_with_missed_alleles"] == 16


def test_uncalled_genotype_wire_form():
  # Two -1s in a packed int32 field are two 10-byte varints (spec 1.4).
  data = variants_pb2.VariantCall(genotype=[-1, -1]).SerializeToString()
  assert data == bytes([0x3A, 20]) + (b"\xff" * 9 + b"\x01") * 2


def test_compile_protos_into_fresh_root(tmp_path):
  written = build.compile_protos(str(tmp_path))
  names = sorted(os.path.basename(p) for p in written)
  assert names == ["deepvariant_pb2.py", "struct_pb2.py", "tfexample_pb2.py", "variants_pb2.py"]
  text = (tmp_path / "schemas" / "protos" / "deepvariant_pb2.py").read_text()
  assert "from schemas.protos import variants_pb2" in text  # package-qualified imports
  assert "from schemas.protos import struct_pb2" in (
      tmp_path / "schemas" / "protos" / "variants_pb2.py").read_text()
  leftovers = [n for n in os.listdir(tmp_path / "schemas" / "protos") if n.startswith(".")]
  assert leftovers == []  # the temporary protoc directory is gone


def _fresh_checkout(tmp_path):
  """A copy of the schemas package as a source checkout has it: no generated modules."""
  src = tmp_path / "src"
  shutil.copytree(os.path.join(ROOT, "schemas"), src / "schemas",
                  ignore=shutil.ignore_patterns("*_pb2.py", "__pycache__"))
  assert not list((src / "schemas" / "protos").glob("*_pb2.py"))
  return src


_USE = (
    "import numpy as np\n"
    "from schemas import example_format as ef\n"
    "v = ef.variant_to_proto('chr1', 9, 'A', ['C'], sample_name='s', dp=2, ad=[1, 1])\n"
    "r = ef.decode_example(ef.encode_example(np.ones((2, 3, 6), np.uint8), v, [0], 1))\n"
    "assert r.locus == 'chr1:10-10', r.locus\n"
    "import schemas.protos.deepvariant_pb2 as m\n"
    "print(m.__file__)\n")


def _env(src, **extra):
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env.update(PYTHONPATH=str(src), PYTHONDONTWRITEBYTECODE="1", **extra)
  return env


def test_concurrent_first_imports_all_succeed(tmp_path):
  src = _fresh_checkout(tmp_path)
  procs = [subprocess.Popen([sys.executable, "-c", _USE], cwd=str(src), env=_env(src),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for _ in range(6)]
  results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
  for out, err, rc in results:
    assert rc == 0, err[-2000:]
    assert out.strip() == str(src / "schemas" / "protos" / "deepvariant_pb2.py")
  protos_dir = src / "schemas" / "protos"
  assert sorted(p.name for p in protos_dir.glob("*_pb2.py")) == [
      "deepvariant_pb2.py", "struct_pb2.py", "tfexample_pb2.py", "variants_pb2.py"]
  assert not [n for n in os.listdir(protos_dir) if n.startswith(".")]  # no temp leftovers


_READ_ONLY = (
    "import os\n"
    "_real = os.access\n"
    "os.access = lambda p, m, **kw: (False if m == os.W_OK and str(p).endswith('protos')\n"
    "                                else _real(p, m, **kw))\n" + _USE)


def test_read_only_package_compiles_into_cache_dir(tmp_path):
  src = _fresh_checkout(tmp_path)
  cache = tmp_path / "cache"
  out = subprocess.run([sys.executable, "-c", _READ_ONLY], cwd=str(src), capture_output=True,
                       text=True, timeout=120,
                       env=_env(src, **{build.CACHE_DIR_ENV: str(cache)}))
  assert out.returncode == 0, out.stderr[-2000:]
  module_path = out.stdout.strip()
  assert module_path.startswith(str(cache)) and module_path.endswith("deepvariant_pb2.py")
  assert not list((src / "schemas" / "protos").glob("*_pb2.py"))  # package left untouched


def test_edited_proto_is_recompiled(tmp_path):
  src = _fresh_checkout(tmp_path)
  run = lambda: subprocess.run([sys.executable, "-c", _USE], cwd=str(src), env=_env(src),  # noqa
                               capture_output=True, text=True, timeout=120)
  assert run().returncode == 0
  proto = src / "schemas" / "protos" / "deepvariant.proto"
  proto.write_text(proto.read_text().replace("int32 num_class_2 = 6;",
                                             "int32 num_class_2 = 6;\n  int32 num_extra = 7;"))
  module = src / "schemas" / "protos" / "deepvariant_pb2.py"
  os.utime(module, (1, 1))  # make the generated module older than the edited .proto
  assert run().returncode == 0
  assert "num_extra" in module.read_text()
