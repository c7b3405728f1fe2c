"""Pure picture arithmetic: DeepVariant's RGB composite, panel layout, pixel placement."""
import numpy as np
import pytest

from beam_pipelines.core import pileup_picture as pp

BASE = (1, 2, 3, 4, 5, 6)


def _pixel(base, bq, mq, strand, support, differs):
  return np.array([[[base, bq, mq, strand, support, differs]]], np.uint8)


@pytest.mark.parametrize("values,expected", [
    ((250, 254, 254, 240, 254, 254), (250, 254, 240)),  # alt read, mismatch: full brightness
    ((250, 254, 254, 70, 152, 50), (29, 29, 8)),  # ref-matching non-supporting: alpha 0.1178
    ((30, 146, 97, 70, 254, 254), (30, 97, 70)),  # green is min(BQ 146, MQ 97)
    ((0, 63, 254, 240, 254, 254), (0, 63, 240)),  # indel '*' anchor: base colour 0
    ((180, 254, 254, 70, 0, 254), (0, 0, 0)),  # no support value at all: alpha 0
    ((0, 0, 0, 0, 0, 0), (0, 0, 0)),  # padding row stays black
])
def test_rgb_composite_worked_values(values, expected):
  assert tuple(pp.rgb_composite(_pixel(*values), BASE)[0, 0]) == expected


def test_rgb_composite_finds_base_channels_by_enum_not_position():
  # insert_size (19) first: the composite must still read channels 1..6 where they are.
  image = np.array([[[77, 250, 254, 254, 240, 254, 254]]], np.uint8)
  assert tuple(pp.rgb_composite(image, (19, *BASE))[0, 0]) == (250, 254, 240)


def test_rgb_composite_needs_all_six_base_channels():
  with pytest.raises(ValueError, match="needs channels 1..6"):
    pp.rgb_composite(np.zeros((2, 3, 5), np.uint8), (1, 2, 3, 4, 5))
  assert pp.composite_indices((1, 2, 3, 4, 5)) is None


def test_layout_places_tiles_row_major_with_composite_last():
  layout = pp.make_layout((100, 221, 7), [f"c{i}" for i in range(7)], composite=True, scale=2,
                          columns=4, caption_height=40, label_height=16, gap=12, margin=8)
  assert [t.name for t in layout.tiles][-1] == pp.COMPOSITE_NAME
  assert len(layout.tiles) == 8
  first, fifth = layout.tiles[0], layout.tiles[4]
  assert (first.x, first.y, first.width, first.height) == (8, 56, 442, 200)
  assert (fifth.x, fifth.y) == (8, 56 + 200 + 12 + 16)  # second row
  assert layout.width == 2 * 8 + 4 * 442 + 3 * 12
  assert layout.height == 40 + 2 * (16 + 200 + 12) - 12 + 8


def test_canvas_pixels_equal_tensor_cells_scaled():
  rng = np.random.default_rng(3)
  image = rng.integers(0, 255, size=(10, 21, 6), dtype=np.uint8)
  layout = pp.make_layout(image.shape, list("abcdef"), composite=True, scale=3, columns=3)
  canvas, mask = pp.render_canvas(image, BASE, layout)
  for tile in layout.tiles:
    block = canvas[tile.y:tile.y + tile.height, tile.x:tile.x + tile.width]
    cells = block[::3, ::3]  # top-left pixel of each 3x3 block
    if tile.channel_index is None:
      np.testing.assert_array_equal(cells, pp.rgb_composite(image, BASE))
    else:
      for k in range(3):  # grey: r = g = b = channel value
        np.testing.assert_array_equal(cells[:, :, k], image[:, :, tile.channel_index])
    assert (block == np.repeat(np.repeat(cells, 3, 0), 3, 1)).all()  # uniform 3x3 blocks
    assert mask[tile.y:tile.y + tile.height, tile.x:tile.x + tile.width].all()
    tick_x = tile.x + (21 // 2) * 3
    assert (canvas[tile.y - 4:tile.y, tick_x:tick_x + 3] == pp.TICK).all()
  assert (canvas[~mask] == pp.BACKGROUND).all()  # nothing else drawn outside the tiles


@pytest.mark.parametrize("rows_with_reads,expected", [
    ((), 0),  # reference rows only
    ((5, 6, 7), 3),  # three reads right below the reference
    ((5, 50, 99), 3),  # rows need not be contiguous (sparse pixels count)
])
def test_read_rows_counts_nonzero_rows_below_reference(rows_with_reads, expected):
  image = np.zeros((100, 21, 6), np.uint8)
  image[:5] = 7
  for r in rows_with_reads:
    image[r, 3, 2] = 1
  assert pp.read_rows(image) == expected
