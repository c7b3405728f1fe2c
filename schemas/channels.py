"""DeepVariant's pileup channel enum and the physical channel order of an image (spec 1.5).

Why it matters: the channel list is part of the model's contract. example_info.json records it,
and a model trained on ``[1..6, 19]`` must refuse examples built with ``[1..6]``. This module
turns ``--channels`` names into enum values, computes the tensor's channel order, and spells
channel lists readably for those refusal messages.
"""
from __future__ import annotations

import enum
import re
from typing import Iterable, Sequence, Tuple


class Channel(enum.IntEnum):
  """``DeepVariantChannelEnum`` values (spec 1.5)."""
  CH_UNSPECIFIED = 0
  CH_READ_BASE = 1
  CH_BASE_QUALITY = 2
  CH_MAPPING_QUALITY = 3
  CH_STRAND = 4
  CH_READ_SUPPORTS_VARIANT = 5
  CH_BASE_DIFFERS_FROM_REF = 6
  CH_HAPLOTYPE_TAG = 7
  CH_ALLELE_FREQUENCY = 8
  CH_DIFF_CHANNELS_ALTERNATE_ALLELE_1 = 9
  CH_DIFF_CHANNELS_ALTERNATE_ALLELE_2 = 10
  CH_READ_MAPPING_PERCENT = 11
  CH_AVG_BASE_QUALITY = 12
  CH_IDENTITY = 13
  CH_GAP_COMPRESSED_IDENTITY = 14
  CH_GC_CONTENT = 15
  CH_IS_HOMOPOLYMER = 16
  CH_HOMOPOLYMER_WEIGHTED = 17
  CH_BLANK = 18
  CH_INSERT_SIZE = 19
  CH_BASE_CHANNELS_ALTERNATE_ALLELE_1 = 20
  CH_BASE_CHANNELS_ALTERNATE_ALLELE_2 = 21


# The six channels every image has, in tensor order.
BASE_CHANNELS: Tuple[int, ...] = tuple(range(Channel.CH_READ_BASE,
                                             Channel.CH_BASE_DIFFERS_FROM_REF + 1))

# Names accepted by --channels, mapped to their enum value (DeepVariant's OPT_CHANNELS).
OPT_CHANNELS = {
    "read_mapping_percent": Channel.CH_READ_MAPPING_PERCENT,
    "avg_base_quality": Channel.CH_AVG_BASE_QUALITY,
    "identity": Channel.CH_IDENTITY,
    "gap_compressed_identity": Channel.CH_GAP_COMPRESSED_IDENTITY,
    "gc_content": Channel.CH_GC_CONTENT,
    "is_homopolymer": Channel.CH_IS_HOMOPOLYMER,
    "homopolymer_weighted": Channel.CH_HOMOPOLYMER_WEIGHTED,
    "blank": Channel.CH_BLANK,
    "insert_size": Channel.CH_INSERT_SIZE,
}

# A short lower-case name per channel, for messages and logs (opt channels use their flag name).
CHANNEL_NAMES = {
    Channel.CH_UNSPECIFIED: "unspecified",
    Channel.CH_READ_BASE: "read_base",
    Channel.CH_BASE_QUALITY: "base_quality",
    Channel.CH_MAPPING_QUALITY: "mapping_quality",
    Channel.CH_STRAND: "strand",
    Channel.CH_READ_SUPPORTS_VARIANT: "read_supports_variant",
    Channel.CH_BASE_DIFFERS_FROM_REF: "base_differs_from_ref",
    Channel.CH_HAPLOTYPE_TAG: "haplotype_tag",
    Channel.CH_ALLELE_FREQUENCY: "allele_frequency",
    Channel.CH_DIFF_CHANNELS_ALTERNATE_ALLELE_1: "diff_channels_alternate_allele_1",
    Channel.CH_DIFF_CHANNELS_ALTERNATE_ALLELE_2: "diff_channels_alternate_allele_2",
    Channel.CH_BASE_CHANNELS_ALTERNATE_ALLELE_1: "base_channels_alternate_allele_1",
    Channel.CH_BASE_CHANNELS_ALTERNATE_ALLELE_2: "base_channels_alternate_allele_2",
    **{value: name for name, value in OPT_CHANNELS.items()},
}

ALT_ALIGNED_NONE = "none"
ALT_ALIGNED_ROWS = "rows"
ALT_ALIGNED_BASE_CHANNELS = "base_channels"
ALT_ALIGNED_DIFF_CHANNELS = "diff_channels"
_ALT_ALIGNED_EXTRA = {
    ALT_ALIGNED_NONE: (),
    ALT_ALIGNED_ROWS: (),  # triples the height, adds no channel
    ALT_ALIGNED_BASE_CHANNELS: (Channel.CH_BASE_CHANNELS_ALTERNATE_ALLELE_1,
                                Channel.CH_BASE_CHANNELS_ALTERNATE_ALLELE_2),
    ALT_ALIGNED_DIFF_CHANNELS: (Channel.CH_DIFF_CHANNELS_ALTERNATE_ALLELE_1,
                                Channel.CH_DIFF_CHANNELS_ALTERNATE_ALLELE_2),
}


def channel_name(value: int) -> str:
  """Readable name of a channel value; unknown values are spelt ``unknown_<n>``."""
  try:
    return CHANNEL_NAMES[Channel(value)]
  except ValueError:
    return f"unknown_{value}"


def parse_channels_flag(value: str) -> Tuple[str, ...]:
  """Splits a ``--channels`` value (comma and/or space separated) into validated names.

  >>> parse_channels_flag('insert_size, gc_content')
  ('insert_size', 'gc_content')

  Raises:
    ValueError: an unknown or repeated name. The base channels (e.g. ``mapping_quality``) are
      rejected too: every image already has them, and DeepVariant's opt-channel list does not
      contain them, so naming one is a mistake rather than a request for a copy (decision).
  """
  names = tuple(n for n in re.split(r"[,\s]+", value.strip()) if n)
  return validate_opt_channels(names)


def validate_opt_channels(names: Iterable[str]) -> Tuple[str, ...]:
  """Returns ``names`` as a tuple after checking each is a known, unrepeated opt channel."""
  names = tuple(names)
  seen = set()
  for name in names:
    if name not in OPT_CHANNELS:
      base = {CHANNEL_NAMES[Channel(c)] for c in BASE_CHANNELS}
      why = ("is one of the 6 base channels, always present" if name in base
             else "is not a known channel")
      raise ValueError(f"--channels: {name!r} {why}; valid names: {', '.join(OPT_CHANNELS)}")
    if name in seen:
      raise ValueError(f"--channels: {name!r} is listed twice")
    seen.add(name)
  return names


def alt_aligned_channels(alt_aligned_pileup: str) -> Tuple[int, ...]:
  """Channel ids an ``--alt_aligned_pileup`` representation appends (``rows`` adds height)."""
  if alt_aligned_pileup not in _ALT_ALIGNED_EXTRA:
    raise ValueError(f"--alt_aligned_pileup: {alt_aligned_pileup!r} is not one of "
                     f"{', '.join(_ALT_ALIGNED_EXTRA)}")
  return tuple(int(c) for c in _ALT_ALIGNED_EXTRA[alt_aligned_pileup])


def physical_channel_order(opt_channels: Sequence[str], *, use_allele_frequency: bool = False,
                           add_hp_channel: bool = False,
                           alt_aligned_pileup: str = ALT_ALIGNED_NONE) -> Tuple[int, ...]:
  """Channel enum values in tensor (last-axis) order, as example_info.json lists them.

  Order (spec 1.5): the 6 base channels, then 8 (allele frequency) if on, then 7 (HP) if on,
  then the ``--channels`` names in the given order, then 9,10 or 20,21 for alt-aligned
  diff/base channels.

  >>> physical_channel_order(['insert_size'])
  (1, 2, 3, 4, 5, 6, 19)
  """
  if alt_aligned_pileup not in _ALT_ALIGNED_EXTRA:
    raise ValueError(f"--alt_aligned_pileup: {alt_aligned_pileup!r} is not one of "
                     f"{', '.join(_ALT_ALIGNED_EXTRA)}")
  order = list(BASE_CHANNELS)
  if use_allele_frequency:
    order.append(Channel.CH_ALLELE_FREQUENCY)
  if add_hp_channel:
    order.append(Channel.CH_HAPLOTYPE_TAG)
  order.extend(OPT_CHANNELS[n] for n in validate_opt_channels(opt_channels))
  order.extend(_ALT_ALIGNED_EXTRA[alt_aligned_pileup])
  return tuple(int(c) for c in order)


def describe_channels(channels: Sequence[int]) -> str:
  """Spells a channel list for humans: the base channels as a range, the others with names.

  >>> describe_channels([1, 2, 3, 4, 5, 6, 19])
  '[1..6, 19 insert_size]'
  """
  parts = []
  i = 0
  channels = [int(c) for c in channels]
  while i < len(channels):
    j = i
    # Collapse a run of consecutive base channels; they need no name.
    while (j + 1 < len(channels) and channels[j] in BASE_CHANNELS and
           channels[j + 1] == channels[j] + 1 and channels[j + 1] in BASE_CHANNELS):
      j += 1
    if j > i:
      parts.append(f"{channels[i]}..{channels[j]}")
    elif channels[i] in BASE_CHANNELS:
      parts.append(str(channels[i]))
    else:
      parts.append(f"{channels[i]} {channel_name(channels[i])}")
    i = j + 1
  return "[" + ", ".join(parts) + "]"


def channel_mismatch_message(expected: Sequence[int], found: Sequence[int]) -> str:
  """One-line message for a channel-list mismatch, e.g. between a model and its examples."""
  return f"expected channels {describe_channels(expected)} found {describe_channels(found)}"
