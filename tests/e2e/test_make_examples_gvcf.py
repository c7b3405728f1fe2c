"""make_examples --gvcf on the GIAB window against DeepVariant 1.5's golden gVCF records.

golden.postprocess_gvcf_input.tfrecord.gz holds the 233 reference-confidence records that
DeepVariant's make_examples wrote in calling mode over chr20:10,000,000-10,010,000 with
``--partition_size 1000 --gvcf_gq_binsize 5`` (../shared/data/dv-goldens/README.md).
"""
import collections
import os

import numpy as np
import pytest

from beam_pipelines import make_examples
from schemas import tfrecord
from schemas.protos import variants_pb2
from tests import giab

GOLDEN_GVCF = os.path.join(giab.ROOT, "..", "shared", "data", "dv-goldens",
                           "golden.postprocess_gvcf_input.tfrecord.gz")
# Where our realigner places reads differently from DeepVariant's (an A-homopolymer window
# with 16 assembled haplotypes, see test_make_examples_golden.py), so counts differ.
REALIGNMENT_DIFFERS = [(10008028, 10008147), (10009875, 10009876)]


def _records(path):
  out = []
  for blob in tfrecord.read_records(path):
    v = variants_pb2.Variant.FromString(blob)
    c = v.calls[0]
    key = (v.reference_name, v.start, v.end, v.reference_bases, tuple(v.alternate_bases),
           tuple(c.genotype), c.call_set_name,
           tuple(sorted((k, tuple(x.int_value for x in c.info[k].values)) for k in c.info)))
    out.append((key, np.array(c.genotype_likelihood)))
  return out


def _args(out, *extra):
  return ["--mode", "calling", "--ref", giab.REF, "--reads", giab.BAM, "--regions",
          giab.GOLDEN_REGION, "--partition_size", "1000", "--examples", out + "/ex.tfrecord.gz",
          "--gvcf", out + "/gvcf.tfrecord.gz", "--gvcf_gq_binsize", "5", *extra]


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("gvcf"))
  assert make_examples.main(_args(out)) == 0
  return out


def test_gvcf_records_equal_deepvariants_outside_the_realignment_window(ours):
  got, want = _records(ours + "/gvcf.tfrecord.gz"), _records(GOLDEN_GVCF)
  assert len(want) == 233 and len(got) == 233
  golden_gl = dict(want)
  same = [k for k, gl in got if k in golden_gl and np.allclose(gl, golden_gl[k], rtol=0,
                                                                atol=1e-9)]
  assert len(same) == 228
  differ = [k for k, _ in got if k not in same] + [k for k, _ in want
                                                   if k not in {s for s in same}]
  assert differ and all(any(lo <= k[1] < hi for lo, hi in REALIGNMENT_DIFFERS) for k in differ)
  # Blocks tile the region: no gap, no overlap, partition boundaries every 1000 bp.
  spans = sorted((k[1], k[2]) for k, _ in got)
  assert spans[0][0] == 9_999_999 and spans[-1][1] == 10_010_000
  assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


def test_realignment_off_only_moves_counts_near_indels(tmp_path):
  out = str(tmp_path)
  assert make_examples.main(_args(out, "--realign_reads=false")) == 0
  got = collections.Counter(k for k, _ in _records(out + "/gvcf.tfrecord.gz"))
  assert sum(got.values()) == 248  # raw gaps and clips leave more variant-looking sites


@pytest.mark.parametrize("extra,message", [
    (["--gvcf_gq_binsize", "0"], "--gvcf_gq_binsize must be >= 1"),
    (["--downsample_fraction", "1.0,0.5"], "--gvcf takes one --downsample_fraction at most"),
])
def test_bad_gvcf_flags(tmp_path, capsys, extra, message):
  with pytest.raises(SystemExit) as e:
    make_examples.main(_args(str(tmp_path), *extra))
  assert e.value.code == 2 and message in capsys.readouterr().err
  assert os.listdir(tmp_path) == []


def test_gvcf_shards_must_match_the_examples(tmp_path, capsys):
  args = _args(str(tmp_path))
  args[args.index("--gvcf") + 1] = str(tmp_path / "gvcf@2.tfrecord.gz")
  with pytest.raises(SystemExit) as e:
    make_examples.main(args)
  assert e.value.code == 2 and "has 2 shard(s) but --examples" in capsys.readouterr().err
