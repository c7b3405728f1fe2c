"""Sharded file specs name@N.suffix (spec 1.2)."""
import fnmatch

import pytest

from schemas import sharding


@pytest.mark.parametrize("spec,expected", [
    ("foo.tfrecord@3.gz", ["foo.tfrecord-00000-of-00003.gz", "foo.tfrecord-00001-of-00003.gz",
                           "foo.tfrecord-00002-of-00003.gz"]),  # suffix keeps its dot
    ("foo.gz@3", ["foo.gz-00000-of-00003", "foo.gz-00001-of-00003",
                  "foo.gz-00002-of-00003"]),  # nothing after @N
    ("foo.tfrecord.gz", ["foo.tfrecord.gz"]),  # unsharded: one file
    ("a@01.tfrecord", ["a-00000-of-00001.tfrecord"]),  # leading zero in N is allowed
    ("d/x@2.tfrecord.gz", ["d/x-00000-of-00002.tfrecord.gz", "d/x-00001-of-00002.tfrecord.gz"]),
])
def test_sharded_filenames(spec, expected):
  assert sharding.sharded_filenames(spec) == expected


def test_spec_regex_groups():
  assert sharding.parse_sharded_spec("foo.tfrecord@16.gz") == sharding.ShardedSpec(
      "foo.tfrecord", 16, ".gz")
  assert sharding.parse_sharded_spec("x.tfrecord") is None
  assert sharding.is_sharded("x@2") and not sharding.is_sharded("x.gz")


def test_task_filename_of_16():
  assert sharding.sharded_filename("foo.tfrecord@16.gz", 3) == "foo.tfrecord-00003-of-00016.gz"
  assert sharding.sharded_filename("plain.gz", 0) == "plain.gz"
  with pytest.raises(ValueError):
    sharding.sharded_filename("foo@16.gz", 16)  # tasks are 0..15
  with pytest.raises(ValueError):
    sharding.sharded_filename("plain.gz", 1)  # unsharded has only task 0


def test_width_grows_past_five_digits():
  spec = "x@123456.gz"
  assert sharding.sharded_filename(spec, 7) == "x-000007-of-123456.gz"  # width = digits(N) = 6
  assert sharding.glob_pattern(spec) == "x-??????-of-123456.gz"
  assert sharding.num_shards(spec) == 123456 and sharding.num_shards("x.gz") == 1


def test_glob_matches_every_shard():
  spec = "out/train.tfrecord@16.gz"
  pattern = sharding.glob_pattern(spec)
  assert pattern == "out/train.tfrecord-?????-of-00016.gz"
  assert all(fnmatch.fnmatch(n, pattern) for n in sharding.sharded_filenames(spec))
  assert not fnmatch.fnmatch("out/train.tfrecord-00000-of-00017.gz", pattern)


@pytest.mark.parametrize("spec", [
    "out@x.gz",  # not a number
    "out@0.gz",  # zero shards
    "out@00",  # zero shards, no suffix
    "out@.gz",  # no count
    "out@-1.gz",  # negative
    "dir/out@",  # nothing after @
])
def test_malformed_spec_is_refused_naming_the_spec(spec):
  with pytest.raises(sharding.ShardSpecError, match=r"malformed sharded file spec") as e:
    sharding.sharded_filenames(spec)
  assert str(e.value).startswith(spec + ":")


def test_at_sign_in_a_folder_name_is_not_a_spec():
  # Only the file name is parsed: a folder called user@host stays a plain path.
  assert sharding.sharded_filenames("user@host/out.gz") == ["user@host/out.gz"]


def test_resolve_files_one_rule_for_every_file_flag(tmp_path):
  import pytest
  from schemas import sharding as sh
  for i in range(2):
    (tmp_path / f"x-0000{i}-of-00002.gz").write_bytes(b"")
  (tmp_path / "y.gz").write_bytes(b"")
  import glob, os
  spec = f"{tmp_path}/x@2.gz,{tmp_path}/y*.gz,{tmp_path}/y.gz"
  got = sh.resolve_files(spec, "--infile", os.path.exists, glob.glob)
  assert [os.path.basename(p) for p in got] == ["x-00000-of-00002.gz", "x-00001-of-00002.gz",
                                                 "y.gz"]
  with pytest.raises(ValueError, match="--infile .*x@3.gz: 3 of 3 shards missing"):
    sh.resolve_files(f"{tmp_path}/x@3.gz", "--infile", os.path.exists, glob.glob)
  with pytest.raises(ValueError, match="--examples .*z.gz: no such file"):
    sh.resolve_files(f"{tmp_path}/z.gz", "--examples", os.path.exists, glob.glob)
  with pytest.raises(ValueError, match="--examples: empty"):
    sh.resolve_files(" , ", "--examples", os.path.exists, glob.glob)
