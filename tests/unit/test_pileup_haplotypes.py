"""HP tags in the pileup (spec 7.4 step 4, 7.7): the HP channel's values, haplotype sorting,
assembly polishing, and the one-line error for an HP the channel cannot draw."""
import dataclasses

import numpy as np
import pytest

from beam_pipelines.core import pileup
from beam_pipelines.core.pileup import PileupOptions
from tests.unit.test_pileup import POS, _one, _read

HP_OPTS = PileupOptions(channels=pileup.BASE_CHANNELS + (pileup.CH_HAPLOTYPE_TAG,))


def _tagged(name, start, hp):
  return dataclasses.replace(_read(name, start, "60M"), hp=hp)


# reads starting left to right, HP 2, untagged, 1, 0, 2, -1 (a start order that mixes them)
READS = [_tagged(f"r{i}", POS - 50 + i, hp) for i, hp in enumerate([2, None, 1, 0, 2, -1])]


def _names(image, reads):
  """Which read each drawn row is: rows are matched by their first covered column."""
  starts = {r.start - (POS - 110): r.name for r in reads}
  out = []
  for row in image[5:]:
    cols = np.flatnonzero(row[:, 0])
    if cols.size:
      out.append(starts[int(cols[0])])
  return out


def test_rows_sort_by_start_without_the_flag():
  image = _one(READS[:5], opts=HP_OPTS)
  assert _names(image, READS) == ["r0", "r1", "r2", "r3", "r4"]


def test_sort_by_haplotypes_puts_untagged_and_hp0_first_then_1_then_2():
  opts = dataclasses.replace(HP_OPTS, sort_by_haplotypes=True)
  reads = [r for r in READS if r.hp != -1]
  assert _names(_one(reads, opts=opts), reads) == ["r1", "r3", "r2", "r0", "r4"]
  # HP < 0 counts as untagged (key 0), ties keep start order
  assert [pileup.haplotype_sort_key(r, opts) for r in READS] == [2, 0, 1, 0, 2, 0]


def test_assembly_polishing_tag_goes_on_top_and_2_swaps_the_channel():
  opts = dataclasses.replace(HP_OPTS, sort_by_haplotypes=True, hp_tag_for_assembly_polishing=2)
  reads = [r for r in READS if r.hp != -1]
  image = _one(reads, opts=opts)
  assert _names(image, reads) == ["r0", "r4", "r1", "r3", "r2"]
  # HP 2 reads drawn as 1 (127), HP 1 as 2 (254)
  assert image[5:10, 110, 6].tolist() == [127, 127, 0, 0, 254]


def test_hp_channel_values_and_reference_rows():
  image = _one(READS[:4], opts=HP_OPTS)
  assert image.shape[2] == 7
  assert image[:5, :, 6].max() == 0  # reference rows: 0
  # r0 HP2 -> 254, r1 untagged -> 0, r2 HP1 -> 127, r3 HP0 -> 0; only drawn pixels carry it
  assert image[5:9, 110, 6].tolist() == [254, 0, 127, 0]
  assert image[5, 0, 6] == 0 and image[5, 60, 6] == 254  # r0 starts at column 60


def test_an_hp_the_channel_cannot_draw_is_one_line_naming_the_read():
  bad = [_tagged("weird", POS - 10, 3)]
  with pytest.raises(ValueError, match=r"read weird/0 at chr1:191: HP tag 3; the HP channel"):
    _one(bad, opts=HP_OPTS)
  with pytest.raises(ValueError, match="HP tag -1"):
    _one([READS[5]], opts=HP_OPTS)
  # without the channel, the tag is only a sort key
  plain = dataclasses.replace(PileupOptions(), sort_by_haplotypes=True)
  assert _one(bad, opts=plain).shape[2] == 6


def test_needs_hp():
  assert HP_OPTS.needs_hp and dataclasses.replace(PileupOptions(), sort_by_haplotypes=True).needs_hp
  assert not PileupOptions().needs_hp
