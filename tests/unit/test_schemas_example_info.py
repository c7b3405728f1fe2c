"""example_info.json byte-exact write/read (spec 1.6) and compatibility checks."""
import os

import pytest

from schemas import example_info

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
GOLDEN_INFO = os.path.join(DATA, "golden.training_examples.tfrecord.gz.example_info.json")


def test_written_bytes_equal_golden(tmp_path):
  path = str(tmp_path / "x.example_info.json")
  example_info.write_example_info(path, (100, 221, 6), [1, 2, 3, 4, 5, 6])
  with open(path, "rb") as ours, open(GOLDEN_INFO, "rb") as golden:
    assert ours.read() == golden.read()
  assert os.listdir(tmp_path) == ["x.example_info.json"]  # no temp file left


@pytest.mark.parametrize("shape,chans,text", [
    ((100, 221, 7), (1, 2, 3, 4, 5, 6, 19),
     '{"version": "1.5.0", "shape": [100, 221, 7], "channels": [1, 2, 3, 4, 5, 6, 19]}'),
    (None, (1, 2, 3, 4, 5, 6),  # a task that wrote no example
     '{"version": "1.5.0", "shape": null, "channels": [1, 2, 3, 4, 5, 6]}'),
])
def test_json_text(shape, chans, text):
  assert example_info.example_info_json(shape, chans) == text
  parsed = example_info.parse_example_info(text)
  assert parsed.shape == shape and parsed.channels == chans and parsed.version == "1.5.0"
  assert parsed.to_json() == text


def test_read_golden():
  info = example_info.read_example_info(GOLDEN_INFO)
  assert info == example_info.ExampleInfo("1.5.0", (100, 221, 6), (1, 2, 3, 4, 5, 6))


@pytest.mark.parametrize("examples,expected", [
    ("out/x.tfrecord-00003-of-00016.gz", "out/x.tfrecord-00003-of-00016.gz.example_info.json"),
    ("x.tfrecord.gz", "x.tfrecord.gz.example_info.json"),  # unsharded
])
def test_example_info_path(examples, expected):
  assert example_info.example_info_path(examples) == expected


def test_example_info_path_rejects_unresolved_spec():
  with pytest.raises(ValueError, match="sharded spec"):
    example_info.example_info_path("x.tfrecord@16.gz")


def test_dataset_copy_path():
  assert example_info.dataset_example_info_path("/b/shuf/train.shuffled") == (
      "/b/shuf/example_info.json")


def test_check_compatible():
  model = example_info.ExampleInfo("1.5.0", (100, 221, 7), (1, 2, 3, 4, 5, 6, 19))
  example_info.check_compatible(model, model)
  example_info.check_compatible(model, example_info.ExampleInfo("1.5.0", None, model.channels))
  with pytest.raises(ValueError, match=r"expected channels \[1..6, 19 insert_size\] found "
                                       r"\[1..6\]"):
    example_info.check_compatible(
        model, example_info.ExampleInfo("1.5.0", (100, 221, 6), (1, 2, 3, 4, 5, 6)))
  with pytest.raises(ValueError, match=r"expected shape \[100, 221, 7\] found \[75, 221, 7\]"):
    example_info.check_compatible(
        model, example_info.ExampleInfo("1.5.0", (75, 221, 7), model.channels))


@pytest.mark.parametrize("text,match", [
    ("{", "not valid JSON"),  # truncated file
    ('{"version": "1.5.0", "shape": [1, 2, 3]}', "expected keys"),  # channels missing
    ('{"version": "1.5.0", "shape": [1, 2], "channels": []}', "shape must be"),  # 2-D shape
])
def test_parse_rejects(text, match):
  with pytest.raises(ValueError, match=match):
    example_info.parse_example_info(text, source="f.json")
