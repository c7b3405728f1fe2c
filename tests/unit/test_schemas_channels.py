"""Channel enum, --channels parsing, tensor channel order and readable channel lists."""
import pytest

from schemas import channels


def test_enum_has_22_values_named_as_deepvariant():
  assert len(channels.Channel) == 22
  assert [c.value for c in channels.Channel] == list(range(22))
  assert channels.Channel(19).name == "CH_INSERT_SIZE"
  assert channels.Channel(6).name == "CH_BASE_DIFFERS_FROM_REF"
  assert channels.Channel(21).name == "CH_BASE_CHANNELS_ALTERNATE_ALLELE_2"
  assert set(channels.CHANNEL_NAMES) == set(channels.Channel)  # every value has a name


@pytest.mark.parametrize("name,value", [
    ("read_mapping_percent", 11), ("avg_base_quality", 12), ("identity", 13),
    ("gap_compressed_identity", 14), ("gc_content", 15), ("is_homopolymer", 16),
    ("homopolymer_weighted", 17), ("blank", 18),
    ("insert_size", 19),  # the WGS/WES models' 7th channel
])
def test_opt_channel_values(name, value):
  assert channels.OPT_CHANNELS[name] == value
  assert channels.channel_name(value) == name


@pytest.mark.parametrize("opt,kwargs,expected", [
    ([], {}, (1, 2, 3, 4, 5, 6)),  # default 6-channel model
    (["insert_size"], {}, (1, 2, 3, 4, 5, 6, 19)),  # run_deepvariant WGS/WES
    (["gc_content", "insert_size"], {}, (1, 2, 3, 4, 5, 6, 15, 19)),  # flag order kept
    (["insert_size"], dict(add_hp_channel=True, use_allele_frequency=True),
     (1, 2, 3, 4, 5, 6, 8, 7, 19)),  # AF before HP before --channels
    ([], dict(alt_aligned_pileup="diff_channels"), (1, 2, 3, 4, 5, 6, 9, 10)),  # diff last
    (["blank"], dict(alt_aligned_pileup="base_channels"), (1, 2, 3, 4, 5, 6, 18, 20, 21)),
    ([], dict(alt_aligned_pileup="rows"), (1, 2, 3, 4, 5, 6)),  # rows add height only
])
def test_physical_channel_order(opt, kwargs, expected):
  assert channels.physical_channel_order(opt, **kwargs) == expected


@pytest.mark.parametrize("flag,expected", [
    ("insert_size", ("insert_size",)),  # single name
    ("insert_size,gc_content", ("insert_size", "gc_content")),  # comma separated
    (" insert_size  gc_content, blank ", ("insert_size", "gc_content", "blank")),  # mixed
    ("", ()),  # empty flag
])
def test_parse_channels_flag(flag, expected):
  assert channels.parse_channels_flag(flag) == expected


@pytest.mark.parametrize("flag,match", [
    ("insert_sise", "not a known channel"),  # typo
    ("mapping_quality", "base channels, always present"),  # base channel named again
    ("blank,blank", "listed twice"),  # duplicate
])
def test_parse_channels_flag_rejects(flag, match):
  with pytest.raises(ValueError, match=match):
    channels.parse_channels_flag(flag)


def test_bad_alt_aligned_mode():
  with pytest.raises(ValueError, match="alt_aligned_pileup"):
    channels.physical_channel_order([], alt_aligned_pileup="columns")


@pytest.mark.parametrize("chans,text", [
    ([1, 2, 3, 4, 5, 6], "[1..6]"),  # base channels collapse to a range
    ([1, 2, 3, 4, 5, 6, 19], "[1..6, 19 insert_size]"),  # opt channels are named
    ([1, 2, 3, 4, 5, 6, 8, 7], "[1..6, 8 allele_frequency, 7 haplotype_tag]"),
    ([2, 1], "[2, 1]"),  # out-of-order base channels are not collapsed
    ([1, 2, 3, 4, 5, 6, 42], "[1..6, 42 unknown_42]"),  # a value from the future
])
def test_describe_channels(chans, text):
  assert channels.describe_channels(chans) == text


def test_mismatch_message():
  assert channels.channel_mismatch_message([1, 2, 3, 4, 5, 6, 19], [1, 2, 3, 4, 5, 6]) == (
      "expected channels [1..6, 19 insert_size] found [1..6]")
