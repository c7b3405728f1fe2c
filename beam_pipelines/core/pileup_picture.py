"""A pileup image as a picture: one grey panel per channel plus DeepVariant's RGB composite.

Why pure numpy: the picture is a deterministic function of the example's uint8 tensor, so the
pixel arithmetic (panel placement, integer up-scaling, the RGB composite) is tested here without
a plotting library, and the PNG writer only adds text in the margins around the panels.

Layout (pixel coordinates, origin top-left, ``scale`` s)::

    +---------------------------------------------------------------+
    | caption strip (locus, alleles, label, genotype; text only)     |
    | label strip: "1 read_base"  tick   | label strip ...           |
    | +--------- W*s ---------+   gap    | +---------+               |
    | | channel panel, H*s     |          | |  ...    |               |
    | +-----------------------+          | +---------+               |
    |  ... ``columns`` tiles per row, the RGB composite last ...     |
    +---------------------------------------------------------------+

* A channel panel shows the raw channel value as grey: pixel (r, g, b) = (v, v, v), no
  auto-scaling (unlike nucleus' ``array_to_png``), so a pixel read back from the PNG *is* the
  tensor value and pictures of different examples compare directly. Each tensor cell becomes an
  s x s block (``np.repeat``), never interpolated.
* The RGB composite is DeepVariant's quick-look (nucleus ``vis.convert_6_channels_to_rgb``):
  red = read base, green = min(base quality, mapping quality), blue = strand, all multiplied by
  alpha = (supports variant / 254) * (differs from ref / 254), truncated to uint8. So reads that
  support the alt and bases that differ from the reference are bright; reference-matching,
  non-supporting reads are dim. It needs the six base channels; they are found by channel enum
  value, not position, so it works for any channel list that contains 1..6.
* A short black tick above each tile marks the candidate's column (``W // 2``, spec 7.1).

Coordinates: ``Tile.x``/``Tile.y`` are the top-left pixel of the image area inside the canvas;
tensor cell (row r, column c) of a tile covers canvas rows ``y + r*s .. y + r*s + s - 1``.
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import numpy as np

# Channel enum values of the six base channels (schemas.channels.BASE_CHANNELS); repeated as
# plain ints so this module needs nothing but numpy.
READ_BASE, BASE_QUALITY, MAPPING_QUALITY, STRAND, SUPPORTS_VARIANT, DIFFERS_FROM_REF = range(1, 7)
MAX_PIXEL = 254.0  # DeepVariant's kMaxPixelValueAsFloat (spec 0)
COMPOSITE_NAME = "RGB composite"
BACKGROUND = 255
TICK = 0


@dataclasses.dataclass(frozen=True)
class Tile:
  """One panel: ``channel_index`` into the tensor's last axis, or None for the composite."""
  name: str
  channel_index: Optional[int]
  x: int
  y: int
  width: int
  height: int
  label_y: int  # top of the label strip above the image area


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where everything goes on a canvas of ``height`` x ``width`` pixels."""
  width: int
  height: int
  scale: int
  caption_height: int
  label_height: int
  tiles: Tuple[Tile, ...]


def composite_indices(channels: Sequence[int]) -> Optional[Tuple[int, ...]]:
  """Tensor indices of channels 1..6 in that order, or None when one of them is missing."""
  channels = [int(c) for c in channels]
  try:
    return tuple(channels.index(c) for c in range(READ_BASE, DIFFERS_FROM_REF + 1))
  except ValueError:
    return None


def rgb_composite(image: np.ndarray, channels: Sequence[int]) -> np.ndarray:
  """DeepVariant's RGB quick-look of an H x W x C pileup (module docstring); uint8 H x W x 3.

  Worked values: an alt-supporting (254), mismatching (254) A (250) with BQ 254, MQ 254 on the
  reverse strand (240) -> (250, 254, 240); the same base on the forward strand (70), matching
  the ref (50) and not supporting (152) -> alpha = 152*50/254**2 = 0.1178 -> (29, 29, 8).

  Raises:
    ValueError: ``channels`` lacks one of the six base channels, or does not match the depth.
  """
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[2] != len(channels):
    raise ValueError(f"image shape {image.shape} does not match {len(channels)} channels")
  idx = composite_indices(channels)
  if idx is None:
    raise ValueError(f"the RGB composite needs channels 1..6, got {list(channels)}")
  base, bq, mq, strand, support, differs = (image[:, :, i].astype(np.float64) for i in idx)
  alpha = (support / MAX_PIXEL) * (differs / MAX_PIXEL)
  rgb = np.stack([base, np.minimum(bq, mq), strand], axis=-1) * alpha[:, :, None]
  return rgb.astype(np.uint8)


def make_layout(shape: Sequence[int], channel_names: Sequence[str], *, composite: bool,
                scale: int = 1, columns: int = 4, caption_height: int = 40,
                label_height: int = 16, gap: int = 12, margin: int = 8) -> Layout:
  """Places one tile per channel (tensor order) then the composite, ``columns`` per row.

  Args:
    shape: the example's [H, W, C].
    channel_names: one label per channel (len C).
    composite: add the RGB composite tile last.
    scale: integer up-scaling of every tensor cell (s x s pixels).
  """
  h, w, c = (int(v) for v in shape)
  if len(channel_names) != c:
    raise ValueError(f"{len(channel_names)} channel names for {c} channels")
  if scale < 1 or columns < 1:
    raise ValueError(f"scale and columns must be >= 1, got {scale}, {columns}")
  names: List[Tuple[str, Optional[int]]] = [(n, i) for i, n in enumerate(channel_names)]
  if composite:
    names.append((COMPOSITE_NAME, None))
  tw, th = w * scale, h * scale
  columns = min(columns, len(names))
  rows = -(-len(names) // columns)
  tiles = []
  for k, (name, index) in enumerate(names):
    row, col = divmod(k, columns)
    x = margin + col * (tw + gap)
    label_y = caption_height + row * (label_height + th + gap)
    tiles.append(Tile(name, index, x, label_y + label_height, tw, th, label_y))
  width = 2 * margin + columns * tw + (columns - 1) * gap
  height = caption_height + rows * (label_height + th + gap) - gap + margin
  return Layout(width, height, scale, caption_height, label_height, tuple(tiles))


def upscale(array: np.ndarray, scale: int) -> np.ndarray:
  """Each cell becomes a ``scale`` x ``scale`` block (no interpolation)."""
  if scale == 1:
    return array
  return np.repeat(np.repeat(array, scale, axis=0), scale, axis=1)


def render_canvas(image: np.ndarray, channels: Sequence[int],
                  layout: Layout) -> Tuple[np.ndarray, np.ndarray]:
  """Draws the panels (no text) on a white canvas.

  Returns:
    (canvas uint8 height x width x 3, mask bool height x width) where ``mask`` marks the pixels
    that carry data (tiles and centre ticks); a text layer may fill only the rest.
  """
  image = np.asarray(image, dtype=np.uint8)
  canvas = np.full((layout.height, layout.width, 3), BACKGROUND, np.uint8)
  mask = np.zeros((layout.height, layout.width), bool)
  composite = None
  for tile in layout.tiles:
    if tile.channel_index is None:
      if composite is None:
        composite = rgb_composite(image, channels)
      pixels = upscale(composite, layout.scale)
    else:
      grey = upscale(image[:, :, tile.channel_index], layout.scale)
      pixels = np.repeat(grey[:, :, None], 3, axis=2)
    canvas[tile.y:tile.y + tile.height, tile.x:tile.x + tile.width] = pixels
    mask[tile.y:tile.y + tile.height, tile.x:tile.x + tile.width] = True
    # Centre tick: the candidate's column (W // 2), 4 px tall, just above the image area.
    centre = image.shape[1] // 2
    x0 = tile.x + centre * layout.scale
    t0 = max(tile.label_y, tile.y - 4)
    canvas[t0:tile.y, x0:x0 + layout.scale] = TICK
    mask[t0:tile.y, x0:x0 + layout.scale] = True
  return canvas, mask


def read_rows(image: np.ndarray, reference_rows: int = 5) -> int:
  """Number of read rows drawn in an image: rows below the reference rows with any pixel set.

  DeepVariant pads unused rows with zeros in every channel (spec 7.4), so a non-zero row is a
  read. Used for the reads-per-example histogram.
  """
  image = np.asarray(image)
  return int(np.count_nonzero(image[reference_rows:].any(axis=(1, 2))))
