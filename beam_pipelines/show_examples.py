"""show_examples: pileup examples as PNG pictures, ours or DeepVariant's.

  python -m beam_pipelines.show_examples \\
    --examples "pileflow-out/dataset/train/train-?????-of-?????.tfrecord.gz" \\
    --output_dir pileflow-out/pictures --labels 0 --variant_types indel --num 5

  python -m beam_pipelines.show_examples \\
    --examples ../shared/data/giab-chr20/golden.training_examples.tfrecord.gz \\
    --regions chr20:10,001,000-10,002,000 --output_dir /tmp/golden_pictures

Each picture has one grey panel per channel (the raw uint8 value, labelled with the channel
enum value and name) and DeepVariant's RGB composite of base / quality / strand (see
beam_pipelines/core/pileup_picture.py for the exact arithmetic), under a caption with the locus,
alleles, the alt(s) shown, label, genotype, variant type and downsample fraction. Files are
named ``<NNNNN>_<contig>_<pos>_<ref>_<alts>_label<L>.png`` in reading order.

Why a local tool and not a Beam pipeline: people look at a handful of examples; reading stops
as soon as ``--num`` matched. Only local files are read (``--examples`` takes globs, sharded
specs ``x@4.gz`` and comma-separated lists). The channel list comes from the
``example_info.json`` beside the files (per shard, or the dataset's); without one the first six
channels are taken as DeepVariant's base channels (flag ``--channels`` overrides).

Filters (all must match): ``--regions`` (1-based literals; an example matches when its
variant's [start, end) overlaps one), ``--labels``, ``--variant_types`` (snp, indel, unknown),
``--num`` (0 = all). Exit 2 on bad flags or unreadable inputs, with one line naming the problem.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('show_examples')

import dataclasses
import glob
import io
import os
import re
import shutil
import sys
import tempfile
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from beam_pipelines import flags
from beam_pipelines.core import pileup_picture as pp
from beam_pipelines.core import regions as regions_lib
from schemas import channels as channels_lib
from schemas import example_format as ef
from schemas import example_info as example_info_lib
from schemas import labels as labels_lib
from schemas import output_paths
from schemas import sharding
from schemas import tfrecord

PROG = "show_examples"
VARIANT_TYPES = {"unknown": 0, "snp": 1, "indel": 2}
VARIANT_TYPE_NAMES = {v: k for k, v in VARIANT_TYPES.items()}
DPI = 100
_BIG = 1 << 62  # contig length used to parse region literals without a reference


# ---- inputs -------------------------------------------------------------------------------------
def expand_inputs(spec: str) -> List[str]:
  """Local files named by a comma-separated list of paths, globs or sharded specs, sorted.

  Raises:
    ValueError: a part matches no file.
  """
  files: List[str] = []
  for part in (p.strip() for p in spec.split(",")):
    if not part:
      continue
    pattern = sharding.glob_pattern(part) if sharding.is_sharded(part) else part
    matched = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else (
        [pattern] if os.path.isfile(pattern) else [])
    if not matched:
      raise ValueError(f"--examples: {part!r} matches no file")
    files.extend(m for m in matched if not m.endswith(example_info_lib.EXAMPLE_INFO_SUFFIX))
  return files


def find_channels(path: str) -> Optional[Tuple[int, ...]]:
  """Channel list from ``<path>.example_info.json`` or the directory's ``example_info.json``."""
  for candidate in (path + example_info_lib.EXAMPLE_INFO_SUFFIX,
                    os.path.join(os.path.dirname(path),
                                 example_info_lib.DATASET_EXAMPLE_INFO_NAME)):
    if os.path.isfile(candidate):
      return example_info_lib.read_example_info(candidate).channels
  return None


def default_channels(depth: int) -> Tuple[int, ...]:
  """Without example_info.json: 1..6 for the base channels, then 0 (unknown) for the rest."""
  base = tuple(channels_lib.BASE_CHANNELS)
  return base[:depth] + (0,) * max(0, depth - len(base))


def channel_label(index: int, channel: int) -> str:
  """Panel label, e.g. ``'1 read_base'``; an unknown channel is named by its position."""
  if channel == 0:
    return f"channel {index + 1}"
  return f"{channel} {channels_lib.channel_name(channel)}"


# ---- filters ------------------------------------------------------------------------------------
def parse_regions(values: Sequence[str]) -> Tuple[regions_lib.Range, ...]:
  """1-based region literals (``chr20:10,000,001-10,001,000``; a bare contig = all of it).

  Contig lengths are unknown here, so a bare contig spans [0, 2**62).
  """
  out = []
  for value in values:
    for text in (t for t in re.split(r"[\s]+", value.strip()) if t):
      contig = text.split(":", 1)[0]
      out.append(regions_lib.parse_literal(text, {contig: _BIG}))
  return tuple(out)


@dataclasses.dataclass(frozen=True)
class ExampleFilter:
  """Which examples to show; empty tuples mean "any"."""
  regions: Tuple[regions_lib.Range, ...] = ()
  labels: Tuple[int, ...] = ()
  variant_types: Tuple[int, ...] = ()

  def matches(self, record: ef.ExampleRecord) -> bool:
    """True when the example passes every filter.

    Region test: the variant's 0-based half-open [start, end) overlaps a region's.
    A label filter never matches a calling example (it has no label).
    """
    if self.labels and record.label not in self.labels:
      return False
    if self.variant_types and record.variant_type not in self.variant_types:
      return False
    if self.regions:
      v = record.variant
      end = max(v.end, v.start + 1)
      if not any(r.contig == v.reference_name and r.start < end and v.start < r.end
                 for r in self.regions):
        return False
    return True


# ---- captions -----------------------------------------------------------------------------------
def genotype_text(record: ef.ExampleRecord) -> str:
  """The label genotype of the example's variant, ``0/1``; ``./.`` for missing entries."""
  calls = record.variant.calls
  if not calls or not calls[0].genotype:
    return "none"
  return "/".join("." if g < 0 else str(g) for g in calls[0].genotype)


def caption_lines(record: ef.ExampleRecord) -> Tuple[str, str]:
  """Two caption lines: locus and alleles; then label, genotype, type and extras.

  >>> # 'chr20:10001019-10001019  A>G  image alt: G'
  >>> # 'label 1 (het)  genotype 0/1  snp  downsample 0.5'
  """
  v = record.variant
  alts = list(v.alternate_bases)
  shown = ",".join(alts[i] for i in record.alt_indices if 0 <= i < len(alts))
  first = f"{record.locus}  {_short(v.reference_bases)}>{_short(','.join(alts))}  " \
          f"image alt: {_short(shown)}"
  if record.label is None:
    label = "no label (calling example)"
  else:
    name = labels_lib.CLASS_NAMES[record.label] if 0 <= record.label < 3 else "?"
    label = f"label {record.label} ({name})"
  second = f"{label}  genotype {genotype_text(record)}  " \
           f"{VARIANT_TYPE_NAMES.get(record.variant_type, record.variant_type)}"
  fraction = record.extra.get(ef.DOWNSAMPLE_FRACTION)
  if fraction is not None:
    second += f"  downsample {float(fraction):.3g}"
  return first, second


def _short(text: str, limit: int = 24) -> str:
  return text if len(text) <= limit else text[:limit - 3] + "..."


def file_name(index: int, record: ef.ExampleRecord) -> str:
  """``00003_chr20_10001019_A_G_label1.png`` (filesystem-safe, alleles shortened)."""
  v = record.variant
  alts = "-".join(v.alternate_bases[i] for i in record.alt_indices
                  if 0 <= i < len(v.alternate_bases))
  label = "none" if record.label is None else str(record.label)
  raw = f"{index:05d}_{v.reference_name}_{v.start + 1}_{v.reference_bases[:12]}_{alts[:12]}" \
        f"_label{label}"
  return re.sub(r"[^A-Za-z0-9_.-]", "_", raw) + ".png"


# ---- rendering ----------------------------------------------------------------------------------
def render_array(record: ef.ExampleRecord, channels: Optional[Sequence[int]] = None, *,
                 scale: int = 2, columns: int = 4,
                 caption: bool = True) -> Tuple[np.ndarray, pp.Layout]:
  """The picture as a uint8 RGB array, and the layout saying where each panel is.

  Text (caption, panel labels) is drawn with matplotlib into the margins only: the panel and
  tick pixels are pasted over the text layer afterwards, so they equal the tensor values
  exactly whatever the font does.
  """
  from matplotlib.figure import Figure
  from matplotlib.backends.backend_agg import FigureCanvasAgg

  image = record.image
  channels = tuple(channels) if channels is not None else default_channels(image.shape[2])
  if len(channels) != image.shape[2]:
    raise ValueError(f"{record.locus}: {len(channels)} channels listed "
                     f"({channels_lib.describe_channels(channels)}) but the image has "
                     f"{image.shape[2]}")
  names = [channel_label(i, c) for i, c in enumerate(channels)]
  layout = pp.make_layout(image.shape, names, composite=pp.composite_indices(channels) is not None,
                          scale=scale, columns=columns, caption_height=40 if caption else 4)
  canvas, mask = pp.render_canvas(image, channels, layout)

  fig = Figure(figsize=(layout.width / DPI, layout.height / DPI), dpi=DPI, facecolor="white")
  agg = FigureCanvasAgg(fig)
  px_to_pt = 72.0 / DPI

  def text(x: int, y: int, s: str, size_px: float, **kw) -> None:
    fig.text(x / layout.width, 1.0 - y / layout.height, s, fontsize=size_px * px_to_pt,
             va="top", ha="left", family="DejaVu Sans", **kw)

  if caption:
    for k, line in enumerate(caption_lines(record)):
      text(8, 4 + 17 * k, line, 13,
           weight="bold" if k == 0 else "normal")
  label_px = layout.label_height - 4
  for tile in layout.tiles:
    text(tile.x, tile.label_y + 1, _fit(tile.name, tile.width, label_px), label_px)
  agg.draw()
  drawn = np.asarray(agg.buffer_rgba())[:, :, :3]
  if drawn.shape[:2] != canvas.shape[:2]:  # guard against a backend that rounds the size
    raise RuntimeError(f"matplotlib drew {drawn.shape[:2]} pixels, expected {canvas.shape[:2]}")
  picture = np.where(mask[:, :, None], canvas, drawn).astype(np.uint8)
  return picture, layout


def _fit(text: str, width_px: int, size_px: float) -> str:
  """Shortens a label so it stays inside its tile (DejaVu Sans is ~0.62 em per character)."""
  limit = max(4, int(width_px / (0.62 * size_px)))
  return text if len(text) <= limit else text[:limit - 1] + "…"


def png_bytes(picture: np.ndarray) -> bytes:
  """Lossless 8-bit RGB PNG of a uint8 RGB array.

  Written with Pillow (always installed with matplotlib) rather than ``matplotlib.image.imsave``,
  which adds an alpha channel: RGB keeps files small and pixels directly comparable.
  """
  from PIL import Image
  buf = io.BytesIO()
  Image.fromarray(np.ascontiguousarray(picture, dtype=np.uint8), "RGB").save(
      buf, format="PNG", optimize=True)
  return buf.getvalue()


def render_png(record: ef.ExampleRecord, channels: Optional[Sequence[int]] = None,
               **kwargs) -> bytes:
  """PNG bytes of ``render_array`` (same keyword arguments)."""
  return png_bytes(render_array(record, channels, **kwargs)[0])


# ---- selection ----------------------------------------------------------------------------------
def iter_records(files: Iterable[str], channels: Optional[Sequence[int]] = None
                 ) -> Iterator[Tuple[str, ef.ExampleRecord, Tuple[int, ...]]]:
  """(file, decoded example, its channel list) for every record of every file, in order."""
  for path in files:
    file_channels = tuple(channels) if channels else find_channels(path)
    for payload in tfrecord.read_records(path):
      record = ef.decode_example(payload)
      yield path, record, file_channels or default_channels(record.shape[2])


def select(records: Iterable[Tuple[str, ef.ExampleRecord, Tuple[int, ...]]],
           example_filter: ExampleFilter, num: int):
  """The first ``num`` (0 = all) records passing ``example_filter``; stops reading early."""
  shown = 0
  for item in records:
    if num and shown >= num:
      return
    if example_filter.matches(item[1]):
      shown += 1
      yield item


# ---- entry point --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ShowExamplesConfig:
  examples: str
  output_dir: str
  example_filter: ExampleFilter
  num: int
  scale: int
  columns: int
  channels: Optional[Tuple[int, ...]]

  def validate(self) -> "ShowExamplesConfig":
    if self.num < 0:
      raise flags.UsageError(f"--num must be >= 0, got {self.num}")
    if not 1 <= self.scale <= 16:
      raise flags.UsageError(f"--scale must be in 1..16, got {self.scale}")
    if self.columns < 1:
      raise flags.UsageError(f"--columns must be >= 1, got {self.columns}")
    bad = [l for l in self.example_filter.labels if not 0 <= l < labels_lib.NUM_CLASSES]
    if bad:
      raise flags.UsageError(f"--labels: {bad} not in 0..{labels_lib.NUM_CLASSES - 1}")
    return self


def _int_list(text: str, flag: str) -> Tuple[int, ...]:
  try:
    return tuple(int(t) for t in re.split(r"[,\s]+", text.strip()) if t)
  except ValueError:
    raise flags.UsageError(f"{flag}: expected integers, got {text!r}") from None


def parse_config(argv: Optional[Sequence[str]] = None) -> ShowExamplesConfig:
  parser = flags.OneLineArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
  parser.add_argument("--examples", required=True,
                      help="TFRecord file(s): comma-separated paths, globs or x@N.gz specs")
  parser.add_argument("--output_dir", required=True, help="where the PNGs are written")
  parser.add_argument("--regions", action="append", default=[],
                      help="1-based region literal(s), repeatable (chr20:10,000,001-10,001,000)")
  parser.add_argument("--labels", default="", help="keep these labels, e.g. 0 or 1,2")
  parser.add_argument("--variant_types", default="",
                      help=f"keep these types: {', '.join(VARIANT_TYPES)} (comma-separated)")
  parser.add_argument("--num", type=int, default=10, help="at most this many pictures (0 = all)")
  parser.add_argument("--scale", type=int, default=2, help="pixels per tensor cell (default 2)")
  parser.add_argument("--columns", type=int, default=4, help="panels per row (default 4)")
  parser.add_argument("--channels", default="",
                      help="channel enum values of the tensor, e.g. 1,2,3,4,5,6,19 (default: "
                           "from example_info.json beside the files)")
  flags.add_bool(parser, "overwrite", False,
                 "write into a --output_dir that holds an earlier run's pictures")
  args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
  types = []
  for name in (t for t in re.split(r"[,\s]+", args.variant_types.strip()) if t):
    if name not in VARIANT_TYPES:
      raise flags.UsageError(f"--variant_types: {name!r} is not one of "
                             f"{', '.join(VARIANT_TYPES)}")
    types.append(VARIANT_TYPES[name])
  try:
    regions = parse_regions(args.regions)
  except regions_lib.RegionError as e:
    raise flags.UsageError(f"--regions: {e}") from None
  output_paths.check_dir_output(args.output_dir, "--output_dir", args.overwrite)
  return ShowExamplesConfig(
      examples=args.examples, output_dir=args.output_dir,
      example_filter=ExampleFilter(regions, _int_list(args.labels, "--labels"), tuple(types)),
      num=args.num, scale=args.scale, columns=args.columns,
      channels=_int_list(args.channels, "--channels") or None).validate()


def run(cfg: ShowExamplesConfig) -> List[str]:
  """Writes the pictures; returns their paths.

  All or nothing: pictures are drawn into a private folder beside ``--output_dir`` and moved
  in only once every selected record was read, so a corrupt file half-way leaves no pictures
  that look like the whole selection.
  """
  files = expand_inputs(cfg.examples)
  parent = os.path.dirname(os.path.abspath(cfg.output_dir))
  os.makedirs(parent, exist_ok=True)
  tmp_dir = tempfile.mkdtemp(prefix=f".pileflow-tmp-{os.path.basename(cfg.output_dir)}-",
                             dir=parent)
  try:
    names = []
    for index, (_, record, channels) in enumerate(
        select(iter_records(files, cfg.channels), cfg.example_filter, cfg.num)):
      name = file_name(index, record)
      with open(os.path.join(tmp_dir, name), "wb") as f:
        f.write(render_png(record, channels, scale=cfg.scale, columns=cfg.columns))
      names.append(name)
    output_paths.claim_dir(cfg.output_dir, PROG)
    written = []
    for name in names:
      path = os.path.join(cfg.output_dir, name)
      os.replace(os.path.join(tmp_dir, name), path)
      written.append(path)
    return written
  finally:
    shutil.rmtree(tmp_dir, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
  def body():
    cfg = parse_config(argv)
    return cfg, run(cfg)

  # show_examples only reads: an unreadable or malformed input (ValueError, OSError) is input.
  cfg, written = flags.run_or_fail(PROG, body, (ValueError, OSError))
  print(f"{PROG}: wrote {len(written)} picture(s) to {cfg.output_dir}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
