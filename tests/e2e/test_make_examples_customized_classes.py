"""--labeler_algorithm customized_classes_labeler against DeepVariant 1.5's golden.

customized_classes.golden.training_examples.tfrecord.gz was made over chr20:10,000,000-
10,004,000 with the truth VCF whose INFO ``type`` names each variant's class
(../shared/data/dv-goldens/README.md gives the flags).
"""
import collections
import os

import numpy as np
import pytest

from beam_pipelines import make_examples
from schemas import example_format, tfrecord
from tests import giab

DV = os.path.join(giab.ROOT, "..", "shared", "data", "dv-goldens")
GOLDEN = os.path.join(DV, "customized_classes.golden.training_examples.tfrecord.gz")
TRUTH = os.path.join(DV, "with_types.test_nist.b37_chr20_4kbp_at_10mb.vcf.gz")


def _args(out, *extra):
  return ["--mode", "training", "--ref", giab.REF, "--reads", giab.BAM, "--truth_variants",
          TRUTH, "--confident_regions", giab.CONFIDENT, "--regions",
          "chr20:10,000,000-10,004,000", "--partition_size", "1000",
          "--labeler_algorithm", "customized_classes_labeler",
          "--customized_classes_labeler_classes_list", "ref,class1,class2",
          "--customized_classes_labeler_info_field_name", "type", "--examples", out, *extra]


def _by_key(path):
  return {(e.locus, e.alt_indices): e
          for e in map(example_format.decode_example, tfrecord.read_records(path))}


def test_golden_reproduced_with_identical_labels_and_images(tmp_path):
  out = str(tmp_path / "ex.tfrecord.gz")
  assert make_examples.main(_args(out)) == 0
  golden, ours = _by_key(GOLDEN), _by_key(out)
  assert len(golden) == 19 and set(ours) == set(golden)
  assert all(ours[k].label == golden[k].label for k in golden)
  assert collections.Counter(e.label for e in ours.values()) == {1: 16, 0: 2, 2: 1}
  # The truth's 10001436 A>AAGGCT has no INFO type: label 0, as DeepVariant 1.5 writes it.
  assert ours[("chr20:10001436-10001436", (0,))].label == 0
  assert all(ours[k].variant == golden[k].variant for k in golden)  # GT -1/-1 as DeepVariant
  assert all(np.array_equal(ours[k].image, golden[k].image) for k in golden)


@pytest.mark.parametrize("extra,message", [
    (["--customized_classes_labeler_info_field_name", ""], "needs "
     "--customized_classes_labeler_info_field_name"),
    (["--customized_classes_labeler_classes_list", "ref"], "needs at least 2 classes"),
    (["--customized_classes_labeler_classes_list", "ref,a,b,c"], "at most 3"),
    (["--customized_classes_labeler_classes_list", "ref,ref"], "a class is named twice"),
])
def test_bad_class_flags_are_one_line(tmp_path, capsys, extra, message):
  with pytest.raises(SystemExit) as e:
    make_examples.main(_args(str(tmp_path / "ex.tfrecord.gz"), *extra))
  assert e.value.code == 2 and message in capsys.readouterr().err
  assert os.listdir(tmp_path) == []


def test_a_class_not_in_the_list_names_the_record(tmp_path, capsys):
  with pytest.raises(SystemExit) as e:
    make_examples.main(_args(str(tmp_path / "ex.tfrecord.gz"),
                             "--customized_classes_labeler_classes_list", "ref,class1"))
  assert e.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "record chr20:10002099 has type=class2, not one of" in err[0]
  assert not (tmp_path / "ex.tfrecord.gz").exists()
