"""beam_pipelines.call on small hand-made examples and an untrained tiny model: outputs and bad input."""
import os
import shutil
import subprocess

import numpy as np
import pytest

from schemas import example_format as ef
from schemas import example_info as example_info_lib
from schemas import tfrecord
from beam_pipelines import call as call_lib
from beam_pipelines.io import vcf_records as gf
from beam_pipelines.core import postprocess

SHAPE = (12, 21, 7)
CHANNELS = (1, 2, 3, 4, 5, 6, 19)
SEQ = {"c1": "ACGTTGCAAC" * 30, "c2": "GGGCCCATAT" * 10}


def _write_fasta(path, seqs):
  offset, fai = 0, []
  with open(path, "w") as f:
    for name, seq in seqs.items():
      head = f">{name}\n"
      f.write(head + seq + "\n")
      fai.append(f"{name}\t{len(seq)}\t{offset + len(head)}\t{len(seq)}\t{len(seq) + 1}\n")
      offset += len(head) + len(seq) + 1
  with open(path + ".fai", "w") as f:
    f.writelines(fai)
  return path


def _example(contig, start, ref, alts, indices, ad, seed):
  image = np.random.default_rng(seed).integers(0, 255, SHAPE, dtype=np.uint8)
  variant = ef.variant_to_proto(contig, start, ref, alts, sample_name="S1", dp=sum(ad), ad=ad)
  return ef.encode_example(image, variant, indices, 1 if len(ref) == 1 else 2)


# Candidates (0-based starts): c2 first in the file to check sorting by reference order.
CANDIDATES = [
    ("c2", 4, "C", ["T"], [3, 7]),
    ("c1", 1, "C", ["A", "G"], [2, 5, 6]),   # multi-allelic: images [0], [1], [0, 1]
    ("c1", 16, "C", ["G"], [10, 1]),
]


def _write_examples(path, channels=CHANNELS, candidates=CANDIDATES, shape=SHAPE):
  records = []
  for k, (contig, start, ref, alts, ad) in enumerate(candidates):
    combos = [[i] for i in range(len(alts))] + ([[0, 1]] if len(alts) == 2 else [])
    records += [_example(contig, start, ref, alts, c, ad, 10 * k + j) for j, c in enumerate(combos)]
  tfrecord.write_records(path, records)
  example_info_lib.write_example_info(path + example_info_lib.EXAMPLE_INFO_SUFFIX,
                                      shape if records else None, channels)
  return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  from trainer import checkpoints as ckpt_lib
  from trainer import models
  d = tmp_path_factory.mktemp("model")
  model = models.build_model("tiny", SHAPE, seed=3).model
  saved = ckpt_lib.export_saved_model(model, str(d / "saved_model"), SHAPE, CHANNELS)
  prefix = ckpt_lib.export_deepvariant_checkpoint(model, str(d / "deepvariant"), SHAPE, CHANNELS)
  return {"saved_model": saved, "checkpoint": prefix}


def _cfg(tmp_path, examples, model, ref=None, **kw):
  os.makedirs(tmp_path, exist_ok=True)
  ref = ref or _write_fasta(str(tmp_path / "ref.fa"), SEQ)
  return call_lib.CallConfig(examples=examples, model=model, ref=ref,
                             outfile=str(tmp_path / "out" / "calls.vcf.gz"), **kw)


def test_calls_are_sorted_indexed_and_complete(tmp_path, model_dir):
  examples = _write_examples(str(tmp_path / "ex.tfrecord.gz"))
  summary = call_lib.run(_cfg(tmp_path, examples, model_dir["saved_model"]), log=lambda s: None)
  assert summary["examples"] == 5 and summary["calls"] == 3 and summary["sample"] == "S1"
  out = summary["outfile"]
  assert os.path.exists(out + ".tbi")
  header, records = gf.read_vcf(out)
  assert header.contigs == {"c1": 300, "c2": 100} and header.samples == ("S1",)
  assert [(r.contig, r.start) for r in records] == [("c1", 1), ("c1", 16), ("c2", 4)]
  text = [l for l in gf._open_text(out).read().splitlines() if not l.startswith("#")]
  fields = text[2].split("\t")  # c2:5 C>T, AD 3,7 -> DP 10, VAF 0.7
  assert fields[8] == "GT:GQ:DP:AD:VAF:PL" and fields[9].split(":")[2:5] == ["10", "3,7", "0.7"]
  assert {r.filters[0] for r in records} <= {"PASS", "RefCall", "LowQual"}
  if shutil.which("bcftools"):
    view = subprocess.run(["bcftools", "view", "-H", "-r", "c1", out], capture_output=True,
                          text=True)
    assert view.returncode == 0 and len(view.stdout.splitlines()) == 2


def test_deepvariant_checkpoint_gives_the_same_calls_as_the_saved_model(tmp_path, model_dir):
  examples = _write_examples(str(tmp_path / "ex.tfrecord.gz"))
  a = call_lib.run(_cfg(tmp_path / "a", examples, model_dir["saved_model"]), log=lambda s: None)
  b = call_lib.run(_cfg(tmp_path / "b", examples, model_dir["checkpoint"], model_type="tiny"),
                   log=lambda s: None)
  body = [[l for l in gf._open_text(s["outfile"]).read().splitlines() if not l.startswith("##")]
          for s in (a, b)]
  assert body[0] == body[1] and len(body[0]) == 4


def test_model_with_other_channels_is_refused_before_any_work(tmp_path, model_dir):
  examples = _write_examples(str(tmp_path / "ex.tfrecord.gz"), channels=(1, 2, 3, 4, 5, 6, 12),
                             shape=SHAPE)
  cfg = _cfg(tmp_path, examples, model_dir["saved_model"])
  with pytest.raises(call_lib.CallError,
                     match=r"expected channels \[1..6, 19 insert_size\] found \[1..6, 12 "
                           r"avg_base_quality\]"):
    call_lib.run(cfg, log=lambda s: None)
  assert not os.path.exists(cfg.outfile)


@pytest.mark.parametrize("seqs,message", [
    ({"chr20": "ACGT" * 100}, "on contig 'c2', which .* lacks"),     # other contig names
    ({"c1": "T" * 300, "c2": "T" * 100}, "has REF C but .* has T"),  # same names, other bases
    ({"c1": SEQ["c1"], "c2": SEQ["c2"][:3]}, "past the contig length 3"),  # shorter contig
])
def test_examples_from_another_reference_are_refused(tmp_path, model_dir, seqs, message):
  examples = _write_examples(str(tmp_path / "ex.tfrecord.gz"))
  ref = _write_fasta(str(tmp_path / "other.fa"), seqs)
  cfg = _cfg(tmp_path, examples, model_dir["saved_model"], ref=ref)
  with pytest.raises(call_lib.CallError, match=message):
    call_lib.run(cfg, log=lambda s: None)
  assert not os.path.exists(cfg.outfile)


def test_empty_examples_give_a_valid_empty_vcf(tmp_path, model_dir):
  examples = _write_examples(str(tmp_path / "ex.tfrecord.gz"), candidates=[])
  summary = call_lib.run(_cfg(tmp_path, examples, model_dir["saved_model"]), log=lambda s: None)
  header, records = gf.read_vcf(summary["outfile"])
  assert records == [] and summary["calls"] == 0 and list(header.contigs) == ["c1", "c2"]
  if shutil.which("bcftools"):
    view = subprocess.run(["bcftools", "view", "-H", summary["outfile"]], capture_output=True,
                          text=True)
    assert view.returncode == 0 and view.stdout == ""
    index = subprocess.run(["tabix", "-l", summary["outfile"]], capture_output=True, text=True)
    assert index.returncode == 0 and index.stdout == ""


def test_grouping_and_alt_pruning_without_a_model():
  variant = ef.variant_to_proto("c1", 1, "CTT", ["C", "CT"], sample_name="S", dp=20,
                                ad=[2, 1, 17])
  blob = variant.SerializeToString()
  preds = [call_lib.Prediction(blob, (0,), np.array([0.95, 0.04, 0.01])),
           call_lib.Prediction(blob, (1,), np.array([0.05, 0.15, 0.8])),
           call_lib.Prediction(blob, (0, 1), np.array([0.3, 0.3, 0.4]))]
  calls, sample = call_lib.calls_from_predictions(preds)
  assert sample == "S" and len(calls) == 1
  c = calls[0]
  assert (c.ref, c.alts, c.ad, c.genotype) == ("CT", ("C",), (2, 17), (1, 1))


def test_cli_errors(tmp_path, model_dir, capsys):
  examples = _write_examples(str(tmp_path / "ex.tfrecord.gz"))
  ref = _write_fasta(str(tmp_path / "ref.fa"), SEQ)
  with pytest.raises(SystemExit) as e:
    call_lib.main(["--examples", examples, "--model", model_dir["saved_model"], "--ref", ref,
                   "--outfile", str(tmp_path / "x.vcf")])
  assert e.value.code == 2 and "must end in .vcf.gz" in capsys.readouterr().err
  with pytest.raises(SystemExit) as e:  # bad input: exit 2 (schemas/errors.py)
    call_lib.main(["--examples", str(tmp_path / "none@2.gz"), "--model",
                   model_dir["saved_model"], "--ref", ref, "--outfile",
                   str(tmp_path / "x.vcf.gz")])
  err = capsys.readouterr().err
  assert e.value.code == 2 and err.count("\n") == 1 and "2 of 2 shards missing" in err
  assert not os.path.exists(tmp_path / "x.vcf.gz")
