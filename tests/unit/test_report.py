"""The dataset report: QA warnings at the top, every plot embedded, and (in headless Chromium)
every plot rendered with content."""
import dataclasses
import os

import numpy as np
import pytest

from beam_pipelines import report
from schemas import example_format as ef
from schemas import manifest as manifest_lib
from schemas import tfrecord
from tests import browser
from tests import giab

PLOTS = ["class_balance", "variant_types", "indel_lengths", "reads_per_example",
         "downsample_fractions", "contigs", "example_pictures"]


def _write_split(root, name, payloads, shards=2, qa=()):
  """A split directory as make_dataset writes it: shards + manifest (+ no example_info)."""
  directory = os.path.join(root, name)
  os.makedirs(directory)
  tally = manifest_lib.Tally()
  entries = []
  for k in range(shards):
    path = os.path.join(directory, f"{name}-{k:05d}-of-{shards:05d}.tfrecord.gz")
    part = payloads[k::shards]
    tfrecord.write_records(path, part)
    for p in part:
      tally.add(p, name)
    entries.append({"path": path, "examples": len(part), "bytes": os.path.getsize(path)})
  manifest = manifest_lib.build_manifest(
      name=name, shard_pattern=os.path.join(directory, f"{name}-?????-of-?????.tfrecord.gz"),
      shards=entries, tally=tally, image_shape=[100, 221, 6], channels=[1, 2, 3, 4, 5, 6],
      seed=7, command_line="test", label_qa_warnings=list(qa))
  manifest_lib.write_manifest(os.path.join(directory, "dataset_config.manifest.json"), manifest)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
  """train: the 49 golden examples, one relabelled wrongly; tune: 10 examples, no hom-ref."""
  root = str(tmp_path_factory.mktemp("dataset"))
  payloads = list(tfrecord.read_records(giab.GOLDEN))
  bad = dataclasses.replace(ef.decode_example(payloads[0]), label=2).encode()
  _write_split(root, "train", [bad] + payloads[1:])
  tune = [p for p in payloads if ef.decode_example(p).label != 0][:10]
  _write_split(root, "tune", tune, qa=["class 0 (hom_ref) is empty (0 of 10 examples)"])
  out = os.path.join(root, "report.html")
  assert report.main(["--dataset_dir", root, "--pictures_per_class", "3", "--seed", "1"]) == 0
  return root, out


def test_report_lists_every_label_qa_warning(dataset):
  _, out = dataset
  text = open(out, encoding="utf-8").read()
  warnings = text[text.index('id="warnings"'):text.index("</div>", text.index('id="warnings"'))]
  # From the manifest, recomputed label QA (deduplicated), cross-split and per-example QA.
  assert warnings.count("tune: class 0 (hom_ref) is empty (0 of 10 examples)") == 1
  assert "tune: class 0 (hom_ref) has no examples although other splits have some" in warnings
  assert "train: 1 of 49 scanned examples have a label that disagrees" in warnings
  assert text.index('id="warnings"') < text.index("<h2>")  # the box is above every section


def test_report_embeds_all_plots(dataset):
  root, out = dataset
  page = report.build_report(report.parse_config(["--dataset_dir", root]))
  assert page.plot_names == PLOTS
  text = open(out, encoding="utf-8").read()
  assert text.count('<img class="plot"') == len(PLOTS)
  assert "src=\"data:image/png;base64," in text and "http" not in text.split("<body>")[1]


@pytest.mark.parametrize("counts,expected", [
    ({"0": 727}, "train: class 0 (hom_ref) holds 100.0% of 727 examples (> 95%)"),  # class 0 only
    ({"0": 5, "1": 5, "2": 5}, None),  # balanced: no count warning
])
def test_class_zero_only_dataset_is_flagged(counts, expected):
  manifest = {"label_qa_warnings": [], "class_counts": counts, "unlabeled_examples": 0,
              "num_examples": sum(counts.values()), "variant_type_counts": {},
              "downsample_fraction_counts": {}}
  split = report.SplitInput("train", (), manifest)
  from beam_pipelines.core import dataset_stats
  scan = dataset_stats.SplitScan("train")
  counts_ = report.split_counts(split, scan)
  warnings = report.qa_warnings([split], [scan], [counts_])
  if expected is None:
    assert warnings == []
  else:
    assert expected in warnings


@pytest.mark.skipif(browser.CHROMIUM is None,
                    reason="Debian chromium not installed (bash scripts/setup.sh installs it)")
def test_report_renders_in_headless_chromium(dataset, tmp_path):
  _, out = dataset
  loaded, crops, shot = browser.render_plots(out, str(tmp_path / "shot.png"))
  assert loaded == f"{len(PLOTS)}/{len(PLOTS)}"  # every embedded PNG decoded
  assert sorted(crops) == sorted(PLOTS)
  for name, crop in crops.items():
    assert browser.blank_report(crop) == "", name
  # matplotlib's first two series colours (train = tab:blue, tune = tab:orange) are drawn.
  bars = crops["class_balance"].reshape(-1, 3).astype(int)
  for colour in ((31, 119, 180), (255, 127, 14)):
    assert (np.abs(bars - colour).sum(axis=1) < 12).sum() > 300, colour
  # The red warnings box is at the top of the page.
  top = shot[:300].reshape(-1, 3).astype(int)
  assert (np.abs(top - (198, 40, 40)).sum(axis=1) < 12).sum() > 500


def test_a_copied_dataset_is_read_from_the_copy(dataset, tmp_path):
  """Manifests record the original's shard paths; the copy's own shards must win."""
  import shutil
  root, _ = dataset
  copy = tmp_path / "copy"
  shutil.copytree(root, copy, ignore=shutil.ignore_patterns("report.html"))
  train = report.split_from_manifest(str(copy / "train" / "dataset_config.manifest.json"))
  assert train.files and all(f.startswith(str(copy)) for f in train.files), train.files
  # With the original gone, the copy still reports (it would fail on the original's paths).
  shutil.rmtree(copy / "tune")
  moved = tmp_path / "moved"
  shutil.move(str(copy), str(moved))
  assert report.main(["--dataset_dir", str(moved), "--pictures_per_class", "1"]) == 0
  assert (moved / "report.html").exists()


def test_rerun_needs_overwrite(dataset, tmp_path, capsys):
  root, out = dataset
  before = open(out, "rb").read()
  with pytest.raises(SystemExit) as e:
    report.main(["--dataset_dir", root])
  assert e.value.code == 2
  err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
  assert len(err) == 1 and "--overwrite" in err[0]
  assert open(out, "rb").read() == before
