"""TFRecord framing: round trips, the golden file, and loud failure on corruption."""
import gzip
import os
import struct

import pytest

from schemas import tfrecord

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
GOLDEN = os.path.join(DATA, "golden.training_examples.tfrecord.gz")


def test_masked_crc_known_values():
  # CRC32C("123456789") = 0xE3069283 (the standard check value), masked per spec 1.1.
  assert tfrecord.masked_crc32c(b"123456789") == 0xC78AB0E5
  # Empty payload: crc 0, so the mask leaves only the delta.
  assert tfrecord.masked_crc32c(b"") == 0xA282EAD8


def test_empty_record_matches_tensorflow_bytes():
  # Bytes of tf.io.TFRecordWriter writing b'' (captured from TF 2.21).
  assert tfrecord.frame_record(b"").hex() == "000000000000000029039807d8ea82a2"


def test_frame_layout():
  framed = tfrecord.frame_record(b"abc")
  assert len(framed) == 8 + 4 + 3 + 4  # length, crc, payload, crc
  assert struct.unpack("<Q", framed[:8]) == (3,)
  assert framed[12:15] == b"abc"
  assert struct.unpack("<I", framed[15:])[0] == tfrecord.masked_crc32c(b"abc")


@pytest.mark.parametrize("name,gz", [
    ("x.tfrecord", False),  # plain stream
    ("x.tfrecord.gz", True),  # .gz at the end
    ("x.tfrecord-00000-of-00016.gz", True),  # sharded: .gz after the shard suffix
])
def test_round_trip(tmp_path, name, gz):
  path = str(tmp_path / name)
  payloads = [b"", b"a", os.urandom(70000), b"last"]
  assert tfrecord.write_records(path, payloads) == 4
  with open(path, "rb") as f:
    assert (f.read(2) == b"\x1f\x8b") == gz
  assert list(tfrecord.read_records(path)) == payloads
  # Only the target is left behind: the temporary file was renamed.
  assert os.listdir(tmp_path) == [name]


def test_gzip_output_is_reproducible(tmp_path):
  a, b = str(tmp_path / "a.gz"), str(tmp_path / "b.gz")
  tfrecord.write_records(a, [b"x", b"y"])
  tfrecord.write_records(b, [b"x", b"y"])
  assert open(a, "rb").read() == open(b, "rb").read()  # gzip mtime is pinned to 0


def test_golden_file_reads_49_records():
  records = list(tfrecord.read_records(GOLDEN))
  assert len(records) == 49
  assert all(len(r) > 132600 for r in records)  # each holds a 100x221x6 image


def test_failed_write_leaves_no_file(tmp_path):
  path = str(tmp_path / "out.tfrecord")
  tfrecord.write_records(path, [b"old"])

  def gen():
    yield b"new"
    raise RuntimeError("boom")

  with pytest.raises(RuntimeError):
    tfrecord.write_records(path, gen())
  assert list(tfrecord.read_records(path)) == [b"old"]  # previous file untouched
  assert os.listdir(tmp_path) == ["out.tfrecord"]


def _corrupt(path, offset, value=None, truncate=None):
  data = bytearray(open(path, "rb").read())
  if truncate is not None:
    data = data[:truncate]
  else:
    data[offset] ^= 0xFF
  open(path, "wb").write(bytes(data))


@pytest.mark.parametrize("mutate,message", [
    (dict(offset=0), "record at byte offset 0: length CRC mismatch"),  # first length byte
    (dict(offset=20 + 9), "record at byte offset 20: length CRC mismatch"),  # 2nd length crc
    (dict(offset=20 + 12 + 5), "record at byte offset 20: payload CRC mismatch"),  # 2nd payload
    (dict(offset=20 + 12 + 8 + 1), "record at byte offset 20: payload CRC mismatch"),  # 2nd crc
    (dict(offset=None, truncate=20 + 10), "record at byte offset 20: truncated header"),
    (dict(offset=None, truncate=20 + 14), "record at byte offset 20: truncated record"),
])
def test_corruption_is_reported_with_file_and_offset(tmp_path, mutate, message):
  path = str(tmp_path / "c.tfrecord")
  tfrecord.write_records(path, [b"abcd", b"efghijkl"])  # records at offsets 0 and 20 (8+4+4+4)
  _corrupt(path, **mutate)
  with pytest.raises(tfrecord.TFRecordError) as e:
    list(tfrecord.read_records(path))
  assert path in str(e.value) and message in str(e.value)


def test_truncated_gzip_is_reported(tmp_path):
  path = str(tmp_path / "c.tfrecord.gz")
  tfrecord.write_records(path, [os.urandom(5000) for _ in range(3)])
  data = open(path, "rb").read()
  open(path, "wb").write(data[:len(data) // 2])
  with pytest.raises(tfrecord.TFRecordError, match="c.tfrecord.gz"):
    list(tfrecord.read_records(path))


def test_corrupt_payload_inside_gzip_names_decompressed_offset(tmp_path):
  raw = bytearray(tfrecord.frame_record(b"abcd") + tfrecord.frame_record(b"efgh"))
  raw[20 + 12] ^= 0x01  # first payload byte of record 2
  path = str(tmp_path / "d.gz")
  with gzip.open(path, "wb") as f:
    f.write(bytes(raw))
  with pytest.raises(tfrecord.TFRecordError, match=r"offset 20: payload CRC mismatch"):
    list(tfrecord.read_records(path))


def test_tensorflow_reads_our_files_and_we_read_theirs(tmp_path):
  tf = pytest.importorskip("tensorflow")
  ours = str(tmp_path / "ours.tfrecord.gz")
  tfrecord.write_records(ours, [b"one", b"two"])
  got = [r.numpy() for r in tf.data.TFRecordDataset(ours, compression_type="GZIP")]
  assert got == [b"one", b"two"]
  theirs = str(tmp_path / "theirs.tfrecord")
  with tf.io.TFRecordWriter(theirs) as w:
    w.write(b"")
    w.write(b"three")
  assert list(tfrecord.read_records(theirs)) == [b"", b"three"]
