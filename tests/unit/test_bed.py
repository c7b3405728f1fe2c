"""BED parsing for confident regions and --regions files: real file, skipped lines, bad input."""
import gzip
import os

import pytest

from beam_pipelines.core.regions import Range
from beam_pipelines.io.bed import BedError, read_bed, read_confident_regions

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "giab-chr20")
GIAB_BED = os.path.join(DATA, "test_nist.b37_chr20_100kbp_at_10mb.bed")


def _write(tmp_path, text, name="x.bed"):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def test_real_giab_bed_reads_all_eleven_intervals():
  ranges = read_bed(GIAB_BED)
  assert len(ranges) == 11
  assert ranges[0] == Range("chr20", 10000846, 10002407)
  assert ranges[-1] == Range("chr20", 10009933, 10010531)


@pytest.mark.parametrize("pos, inside", [
    (10000846, True),    # first base of the first interval (0-based start is inside)
    (10002406, True),    # last base of the first interval
    (10002407, False),   # BED end is exclusive
    (10000845, False),   # just before the first interval
    (10009933, True),    # start of the last interval
])
def test_real_confident_regions_point_queries(pos, inside):
  index = read_confident_regions(GIAB_BED)
  assert index.contains("chr20", pos) is inside


def test_skips_track_browser_comment_and_blank_lines_and_ignores_extra_columns(tmp_path):
  path = _write(tmp_path, "track name=conf\nbrowser position chr1:1-100\n# comment\n\n"
                "chr1\t10\t20\tname\t0\t+\nchr2\t0\t5\n")
  assert read_bed(path) == [Range("chr1", 10, 20), Range("chr2", 0, 5)]


def test_whitespace_separated_line_without_tabs_is_accepted(tmp_path):
  path = _write(tmp_path, "chr1 10 20\n")
  assert read_bed(path) == [Range("chr1", 10, 20)]


def test_gzipped_bed(tmp_path):
  path = tmp_path / "x.bed.gz"
  path.write_bytes(gzip.compress(b"chr1\t1\t2\n"))
  assert read_bed(str(path)) == [Range("chr1", 1, 2)]


def test_confident_regions_merge_overlapping_and_adjacent(tmp_path):
  path = _write(tmp_path, "chr1\t10\t20\nchr1\t15\t30\nchr1\t30\t40\n")
  assert read_confident_regions(path).ranges() == [Range("chr1", 10, 40)]


@pytest.mark.parametrize("text, lineno, what", [
    ("chr1\t10\t20\nchr1\t10\n", 2, "at least 3 columns"),         # too few columns
    ("chr1\tten\t20\n", 1, "must be integers"),                    # non-integer start
    ("#h\nchr1\t10\t20.5\n", 2, "must be integers"),               # float end, after a comment
    ("chr1\t-1\t20\n", 1, "negative start"),                       # negative coordinate
    ("chr1\t30\t20\n", 1, "before start"),                         # end < start
])
def test_malformed_line_names_file_and_line(tmp_path, text, lineno, what):
  path = _write(tmp_path, text)
  with pytest.raises(BedError) as err:
    read_bed(path)
  assert str(err.value).startswith(f"{path}:{lineno}:")
  assert what in str(err.value)


@pytest.mark.parametrize("text", [
    "",                                   # empty file
    "track name=x\n# only headers\n\n",   # headers only
])
def test_empty_bed_is_an_error_naming_the_file(tmp_path, text):
  path = _write(tmp_path, text)
  with pytest.raises(BedError, match="no intervals") as err:
    read_confident_regions(path)
  assert path in str(err.value)


def test_missing_file(tmp_path):
  path = str(tmp_path / "nope.bed")
  with pytest.raises(BedError, match="does not exist") as err:
    read_bed(path)
  assert path in str(err.value)
