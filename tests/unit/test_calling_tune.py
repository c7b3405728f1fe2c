"""The trainer's calling-level tune: config checks, every-N schedule, layout check, metrics."""
import gzip

import sys

import pytest

from tests.unit import test_call as helpers
from beam_pipelines import call as call_lib
from trainer import calling_tune
from trainer import configs


def _cfg(**kw):
  c = configs.get_config("tiny")
  c.train_dataset_pbtxt, c.tune_dataset_pbtxt = "t.pbtxt", "v.pbtxt"
  for k, v in kw.items():
    c[k] = v
  return c


@pytest.mark.parametrize("kw,message", [
    ({"best_checkpoint_metric": "tune/calling_f1"}, "needs --config.calling_tune_examples"),
    ({"calling_tune_examples": "x.gz"}, "calling_tune_truth"),  # the truth must come with it
    ({"calling_tune_examples": "x.gz", "calling_tune_truth": "t", "calling_tune_ref": "r",
      "calling_tune_confident_regions": "b", "calling_tune_regions": "c:1-2",
      "calling_tune_every": 0}, "calling_tune_every"),
])
def test_config_validation(kw, message):
  with pytest.raises(ValueError, match=message):
    configs.validate(_cfg(**kw))


@pytest.fixture()
def tuner(tmp_path):
  examples = helpers._write_examples(str(tmp_path / "ex.tfrecord.gz"))
  ref = helpers._write_fasta(str(tmp_path / "ref.fa"), helpers.SEQ)
  truth = tmp_path / "truth.vcf.gz"
  with gzip.open(truth, "wt") as f:
    f.write("##fileformat=VCFv4.2\n##contig=<ID=c1,length=300>\n##contig=<ID=c2,length=100>\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS\n"
            "c1\t2\t.\tC\tA\t.\tPASS\t.\tGT\t0/1\nc2\t5\t.\tC\tT\t.\tPASS\t.\tGT\t1/1\n")
  bed = tmp_path / "conf.bed"
  bed.write_text("c1\t0\t300\nc2\t0\t100\n")
  return calling_tune.CallingTuner(examples, str(truth), str(bed), ref, "c1 c2", every=3)


def test_due_every_n_and_at_ends(tuner):
  # tunes at steps 0 (baseline), 10, 20, 30, 40, 50 (last); every 3rd tune plus both ends.
  assert [tuner.due(s, 50) for s in (0, 10, 20, 30, 40, 50)] == [
      True, False, False, True, False, True]


def test_layout_mismatch_is_refused(tuner):
  with pytest.raises(call_lib.CallError, match="expected channels"):
    tuner.check_layout(helpers.SHAPE, (1, 2, 3, 4, 5, 6), "train.pbtxt")
  with pytest.raises(call_lib.CallError, match="shape"):
    tuner.check_layout((100, 221, 7), helpers.CHANNELS, "train.pbtxt")
  tuner.check_layout(helpers.SHAPE, helpers.CHANNELS, "train.pbtxt")  # the matching layout


def test_score_returns_calling_metrics(tuner):
  from trainer import models
  model = models.build_model("tiny", helpers.SHAPE, seed=3).model
  scores = tuner.score(model)
  assert set(scores) == {"tune/calling_f1", "tune/calling_recall", "tune/calling_precision",
                         "tune/calling_fp_gt", "tune/calling_f1_snp", "tune/calling_f1_indel",
                         "tune/calling_recall_snp", "tune/calling_recall_indel"}
  assert all(0.0 <= v <= 1.0 for k, v in scores.items() if k != "tune/calling_fp_gt")
  # Two truth SNPs; recall is 0, 0.5 or 1 depending on what the untrained model calls.
  assert scores["tune/calling_recall"] in (0.0, 0.5, 1.0)


def test_without_the_pipelines_half_the_calling_tune_is_one_clear_line(monkeypatch):
  import beam_pipelines
  from schemas import errors
  monkeypatch.setitem(sys.modules, "beam_pipelines.call", None)  # as on a pileflow[trainer] box
  monkeypatch.delattr(beam_pipelines, "call", raising=False)
  with pytest.raises(errors.InputError, match=r"pip install pileflow\[pipelines\]"):
    calling_tune.CallingTuner("x.tfrecord.gz", "t.vcf.gz", "c.bed", "r.fa", "chr20")
