"""show_examples on DeepVariant's golden examples: PNG pixels against the example's channels,
captions, filters and the command line."""
import io
import os

import numpy as np
import pytest
from PIL import Image

from beam_pipelines import show_examples as se
from beam_pipelines.core import pileup_picture as pp
from schemas import example_format as ef
from schemas import tfrecord
from tests import giab

GOLDEN_CHANNELS = (1, 2, 3, 4, 5, 6)


@pytest.fixture(scope="module")
def golden():
  return [ef.decode_example(p) for p in tfrecord.read_records(giab.GOLDEN)]


def _insertion(golden):
  record = golden[2]
  assert record.locus == "chr20:10001436-10001436"  # A -> AAGGCT, label 2
  return record


def _decode_png(data: bytes) -> np.ndarray:
  image = Image.open(io.BytesIO(data))
  assert image.mode == "RGB"  # no palette or alpha that could alter values
  return np.asarray(image)


@pytest.mark.parametrize("scale", [1, 2])
def test_png_pixels_equal_golden_channels(golden, scale):
  record = _insertion(golden)
  picture, layout = se.render_array(record, se.find_channels(giab.GOLDEN), scale=scale)
  png = _decode_png(se.png_bytes(picture))
  assert png.shape == (layout.height, layout.width, 3)
  names = [t.name for t in layout.tiles]
  assert names == ["1 read_base", "2 base_quality", "3 mapping_quality", "4 strand",
                   "5 read_supports_variant", "6 base_differs_from_ref", pp.COMPOSITE_NAME]
  for tile in layout.tiles[:6]:
    block = png[tile.y:tile.y + tile.height, tile.x:tile.x + tile.width]
    channel = record.image[:, :, tile.channel_index]
    expected = np.repeat(np.repeat(channel, scale, 0), scale, 1)
    for k in range(3):  # grey panel: every RGB component is the raw channel value
      np.testing.assert_array_equal(block[:, :, k], expected, err_msg=tile.name)


def test_png_composite_matches_deepvariant_formula(golden):
  record = _insertion(golden)
  picture, layout = se.render_array(record, GOLDEN_CHANNELS, scale=1)
  png = _decode_png(se.png_bytes(picture))
  tile = layout.tiles[-1]
  block = png[tile.y:tile.y + tile.height, tile.x:tile.x + tile.width].astype(int)
  c = record.image.astype(float)
  alpha = (c[:, :, 4] / 254.0) * (c[:, :, 5] / 254.0)
  expected = np.stack([c[:, :, 0], np.minimum(c[:, :, 1], c[:, :, 2]), c[:, :, 3]], -1)
  np.testing.assert_array_equal(block, (expected * alpha[:, :, None]).astype(np.uint8))
  # Reference row, column 110 (the A): A 250, BQ/MQ 254, forward 70, 152 x 50 -> (29, 29, 8).
  assert tuple(block[0, 110]) == (29, 29, 8)
  # Alt reads draw '*' (0) at the anchor with support 254 and mismatch 254: red 0, blue strand.
  alt_rows = [r for r in range(5, 100) if record.image[r, 110, 4] == 254 and
              record.image[r, 110, 0] == 0]
  assert alt_rows, "the golden insertion has alt-supporting reads"
  r = alt_rows[0]
  assert tuple(block[r, 110]) == (0, min(record.image[r, 110, 1], record.image[r, 110, 2]),
                                  record.image[r, 110, 3])


def test_caption_names_locus_alleles_label_genotype(golden):
  first, second = se.caption_lines(golden[25])
  assert first == "chr20:10004769-10004779  TAAAACTATGC>T  image alt: T"
  assert second == "label 1 (het)  genotype 0/1  indel"


@pytest.mark.parametrize("flt,num,expected", [
    (se.ExampleFilter(), 0, 49),  # the golden file holds 49 examples
    (se.ExampleFilter(variant_types=(2,)), 0, 4),  # 4 indels
    (se.ExampleFilter(variant_types=(1,)), 0, 45),  # 45 SNPs
    (se.ExampleFilter(labels=(0,)), 0, 1),  # one hom-ref example
    (se.ExampleFilter(labels=(1,)), 0, 12),  # twelve het examples
    (se.ExampleFilter(labels=(2,), variant_types=(2,)), 0, 3),  # hom-alt indels
    (se.ExampleFilter(), 5, 5),  # --num stops early
    (se.ExampleFilter(regions=se.parse_regions(["chr20:10004775"])), 0, 1),  # inside deletion
    (se.ExampleFilter(regions=se.parse_regions(["chr20:10,001,000-10,002,000"])), 0, 8),
    (se.ExampleFilter(regions=se.parse_regions(["chr21"])), 0, 0),  # other contig
])
def test_filters(flt, num, expected):
  items = list(se.select(se.iter_records([giab.GOLDEN]), flt, num))
  assert len(items) == expected


def test_cli_writes_named_pngs(tmp_path):
  out = tmp_path / "pics"
  rc = se.main(["--examples", giab.GOLDEN, "--output_dir", str(out), "--variant_types",
                "indel", "--num", "2", "--scale", "1"])
  assert rc == 0
  names = sorted(n for n in os.listdir(out) if not n.startswith("."))
  assert sorted(os.listdir(out)) == [".pileflow-output.json"] + names  # marked as pileflow's
  assert names == ["00000_chr20_10001436_A_AAGGCT_label2.png",
                   "00001_chr20_10004769_TAAAACTATGC_T_label1.png"]
  png = _decode_png((out / names[0]).read_bytes())
  layout = pp.make_layout((100, 221, 6), ["x"] * 6, composite=True, scale=1)
  assert png.shape == (layout.height, layout.width, 3)


@pytest.mark.parametrize("argv,message", [
    (["--labels", "3"], "--labels"),  # labels are 0..2
    (["--variant_types", "mnp"], "--variant_types"),  # unknown type name
    (["--regions", "chr20:5-1"], "--regions"),  # end before start
])
def test_cli_rejects_bad_flags(tmp_path, capsys, argv, message):
  with pytest.raises(SystemExit) as e:
    se.main(["--examples", giab.GOLDEN, "--output_dir", str(tmp_path)] + argv)
  assert e.value.code == 2
  assert message in capsys.readouterr().err


def test_missing_input_is_one_line(tmp_path, capsys):
  with pytest.raises(SystemExit):
    se.main(["--examples", str(tmp_path / "none-*.gz"), "--output_dir", str(tmp_path)])
  assert "matches no file" in capsys.readouterr().err


def test_corrupt_file_leaves_no_pictures_and_keeps_user_files(tmp_path, capsys):
  """A corrupt file half-way: one line, exit 2, not one picture written, user files intact."""
  good = open(giab.GOLDEN, "rb").read()
  bad = tmp_path / "bad.tfrecord.gz"
  bad.write_bytes(good[: len(good) // 2])  # the first pictures decode, then the stream ends
  out = tmp_path / "pics"
  with pytest.raises(SystemExit) as e:
    se.main(["--examples", str(bad), "--output_dir", str(out), "--num", "0"])
  assert e.value.code == 2
  err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
  assert len(err) == 1 and str(bad) in err[0], err
  assert not out.exists()
  assert [n for n in os.listdir(tmp_path) if n.startswith(".pileflow-tmp")] == []


def test_refuses_a_users_non_empty_folder(tmp_path, capsys):
  user = tmp_path / "mine"
  user.mkdir()
  (user / "notes.txt").write_text("keep")
  with pytest.raises(SystemExit) as e:
    se.main(["--examples", giab.GOLDEN, "--output_dir", str(user), "--num", "1"])
  assert e.value.code == 2
  err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
  assert len(err) == 1 and "not made by pileflow" in err[0]
  assert os.listdir(user) == ["notes.txt"] and (user / "notes.txt").read_text() == "keep"


def test_rerun_needs_overwrite_and_then_keeps_other_files(tmp_path, capsys):
  out = tmp_path / "pics"
  args = ["--examples", giab.GOLDEN, "--output_dir", str(out), "--num", "1", "--scale", "1"]
  assert se.main(args) == 0
  (out / "mine.txt").write_text("keep")
  with pytest.raises(SystemExit) as e:
    se.main(args)
  assert e.value.code == 2 and "--overwrite" in capsys.readouterr().err
  assert se.main(args + ["--overwrite"]) == 0
  assert (out / "mine.txt").read_text() == "keep"
