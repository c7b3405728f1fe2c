"""report: one self-contained HTML page describing a dataset, from its manifests and shards.

  python -m beam_pipelines.report --dataset_dir pileflow-out/dataset
      # -> pileflow-out/dataset/report.html (splits = the sub-directories with a manifest)

  python -m beam_pipelines.report \\
    --manifest out/train/dataset_config.manifest.json --manifest out/tune/dataset_config.manifest.json \\
    --examples golden=../shared/data/giab-chr20/golden.training_examples.tfrecord.gz \\
    --output /tmp/report.html

What it shows, per split: class balance, variant-type mix, indel-length histogram, reads per
example, downsample-fraction mix, examples per contig, and a grid of randomly chosen example
pictures per class (DeepVariant's RGB composite, see beam_pipelines/core/pileup_picture.py).
Every label-QA warning goes in the red box at the top: the ones the manifest recorded when the
dataset was made, the count-based checks (beam_pipelines/core/label_qa.py: a class above 95% or
empty, unlabeled examples) recomputed, classes missing from one split only, and the
per-example checks of beam_pipelines/core/dataset_stats.py (label vs genotype, variant_type
vs alleles). A class-0-only dataset is therefore obvious at a glance.

Counts in the class / type / fraction plots come from the manifest (exact). The other plots
come from a scan of at most ``--max_examples_per_split`` examples per split (default 20,000;
0 = all), read round-robin across the shards; shards of a shuffled dataset are in random
order, so this is a random sample, and the page says how many examples were scanned. Splits
given with ``--examples`` (no manifest, e.g. DeepVariant's own files) are counted by the scan.

A local tool (not a Beam pipeline): it reads local files only and needs matplotlib (a
dependency of the ``trainer`` extra). Exit 2 with one line on bad flags or unreadable inputs.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('report')

import dataclasses
import glob
import os
import sys
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from beam_pipelines import flags
from beam_pipelines import show_examples
from beam_pipelines.core import dataset_stats as stats_lib
from beam_pipelines.core import label_qa
from beam_pipelines.core import pileup_picture as pp
from schemas import channels as channels_lib
from schemas import example_format as ef
from schemas import example_info as example_info_lib
from schemas import labels as labels_lib
from schemas import manifest as manifest_lib
from schemas import output_paths
from schemas import report_html
from schemas import tfrecord

PROG = "report"
REPORT_NAME = "report.html"
SPLIT_ORDER = ("train", "tune", "validation", "test")
CLASS_LABELS = {k: f"{k} {n}" for k, n in enumerate(labels_lib.CLASS_NAMES)}
CLASS_LABELS[stats_lib.UNLABELED] = "no label"
TYPE_NAMES = {0: "unknown", 1: "snp", 2: "indel"}
MAX_CONTIGS = 30


# ---- inputs -------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SplitInput:
  """One split: its name, manifest (None for bare ``--examples``), files and channel list."""
  name: str
  files: Tuple[str, ...]
  manifest: Optional[dict] = None
  manifest_path: Optional[str] = None
  channels: Optional[Tuple[int, ...]] = None


def _resolve_shard(path: str, manifest_path: str) -> str:
  """A manifest's shard: the file beside the manifest first, else the path as recorded.

  Why beside first: a copied dataset's manifest still records the original's paths; reading
  those would report on the original, not the copy the user named (and silently so while the
  original exists).
  """
  beside = os.path.join(os.path.dirname(manifest_path), os.path.basename(path))
  if os.path.isfile(beside):
    return beside
  if os.path.isfile(path):
    return path
  raise ValueError(f"{manifest_path}: shard {os.path.basename(path)} not found beside it "
                   f"(nor at {path})")


def split_from_manifest(manifest_path: str) -> SplitInput:
  """Reads a manifest and finds its shards and channel list."""
  manifest = manifest_lib.read_manifest(manifest_path)
  if manifest["shards"]:
    files = [_resolve_shard(s["path"], manifest_path) for s in manifest["shards"]]
  else:
    files = sorted(glob.glob(os.path.join(os.path.dirname(manifest_path),
                                          os.path.basename(manifest["shard_pattern"])))) \
        or sorted(glob.glob(manifest["shard_pattern"]))
  channels = manifest["channels"]
  if channels is None:
    info = os.path.join(os.path.dirname(manifest_path), example_info_lib.DATASET_EXAMPLE_INFO_NAME)
    if os.path.isfile(info):
      channels = example_info_lib.read_example_info(info).channels
  return SplitInput(manifest["name"] or os.path.basename(os.path.dirname(manifest_path)),
                    tuple(files), manifest, manifest_path,
                    None if channels is None else tuple(int(c) for c in channels))


def split_from_examples(spec: str) -> SplitInput:
  """``NAME=PATTERN`` (or a bare pattern, named after its first file)."""
  name, sep, pattern = spec.partition("=")
  if not sep:
    name, pattern = "", spec
  files = show_examples.expand_inputs(pattern)
  channels = show_examples.find_channels(files[0])
  return SplitInput(name or os.path.basename(files[0]), tuple(files), None, None, channels)


def splits_in_dir(dataset_dir: str) -> List[str]:
  """Manifests of a make_dataset output directory's splits, train/tune/test first."""
  found = sorted(glob.glob(os.path.join(dataset_dir, "*", "*" + manifest_lib.MANIFEST_SUFFIX)))
  found += sorted(glob.glob(os.path.join(dataset_dir, "*" + manifest_lib.MANIFEST_SUFFIX)))
  if not found:
    raise ValueError(f"--dataset_dir {dataset_dir}: no *{manifest_lib.MANIFEST_SUFFIX} in it "
                     "or its sub-directories")
  rank = {name: i for i, name in enumerate(SPLIT_ORDER)}
  return sorted(found, key=lambda p: (rank.get(os.path.basename(os.path.dirname(p)),
                                               len(rank)), p))


def iter_round_robin(files: Sequence[str]) -> Iterator[Tuple[str, int, bytes]]:
  """(file, index in file, payload), taking one record from each shard in turn."""
  readers = [(path, tfrecord.read_records(path)) for path in files]
  index = {path: 0 for path in files}
  while readers:
    alive = []
    for path, reader in readers:
      payload = next(reader, None)
      if payload is None:
        continue
      yield path, index[path], payload
      index[path] += 1
      alive.append((path, reader))
    readers = alive


def scan_split(split: SplitInput, max_examples: int, picks_per_class: int,
               seed: int) -> stats_lib.SplitScan:
  scan = stats_lib.SplitScan(split.name, seed=seed, picks_per_class=picks_per_class)
  for path, index, payload in iter_round_robin(split.files):
    if max_examples and scan.scanned >= max_examples:
      break
    scan.add(ef.decode_example(payload), payload, f"{os.path.basename(path)}:{index}")
  return scan


# ---- counts -------------------------------------------------------------------------------------
@dataclasses.dataclass
class SplitCounts:
  """Exact counts of a split (from the manifest, or the full scan when there is none)."""
  total: int
  classes: Dict[int, int]
  types: Dict[str, int]
  fractions: Dict[str, int]
  exact: bool


def split_counts(split: SplitInput, scan: stats_lib.SplitScan) -> SplitCounts:
  m = split.manifest
  if m is not None:
    classes = {int(k): int(v) for k, v in m["class_counts"].items()}
    if m["unlabeled_examples"]:
      classes[stats_lib.UNLABELED] = int(m["unlabeled_examples"])
    return SplitCounts(int(m["num_examples"]), classes, dict(m["variant_type_counts"]),
                       dict(m["downsample_fraction_counts"]), True)
  return SplitCounts(scan.scanned, dict(scan.labels),
                     {TYPE_NAMES.get(k, f"type_{k}"): v for k, v in scan.variant_types.items()},
                     dict(scan.fractions), True)


def qa_warnings(splits: Sequence[SplitInput], scans: Sequence[stats_lib.SplitScan],
                counts: Sequence[SplitCounts]) -> List[str]:
  """Every label-QA finding, prefixed with its split (see the module docstring)."""
  out: List[str] = []
  for split, scan, c in zip(splits, scans, counts):
    if split.manifest is not None:
      out.extend(f"{split.name}: {w}" for w in split.manifest["label_qa_warnings"])
    labeled = {k: v for k, v in c.classes.items() if k != stats_lib.UNLABELED}
    result = label_qa.check_labels(labeled, c.classes.get(stats_lib.UNLABELED, 0),
                                   require_labels=True, allow_imbalance=True)
    for w in result.warnings:
      line = f"{split.name}: {w}"
      if line not in out:
        out.append(line)
    out.extend(scan.qa_warnings())
  out.extend(stats_lib.cross_split_warnings(
      {s.name: {k: v for k, v in c.classes.items() if k >= 0} for s, c in zip(splits, counts)}))
  return out


# ---- plots --------------------------------------------------------------------------------------
def _colors(n: int):
  from matplotlib import colormaps
  cmap = colormaps["tab10"]
  return [cmap(i % 10) for i in range(n)]


def grouped_bars(title: str, groups: Sequence[str], series: Dict[str, Sequence[float]],
                 ylabel: str, annotate: Optional[Dict[str, Sequence[str]]] = None) -> bytes:
  """Bars per group (x) and series (colour), e.g. classes x splits."""
  fig = report_html.new_figure(
      max(5.0, 1.1 * len(groups) * max(1, len(series)) * 0.5 + 2), 3.4)
  ax = fig.add_subplot()
  width = 0.8 / max(1, len(series))
  x = np.arange(len(groups))
  for k, ((name, values), color) in enumerate(zip(series.items(), _colors(len(series)))):
    bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, values, width, label=name,
                  color=color)
    if annotate and name in annotate:
      ax.bar_label(bars, annotate[name], fontsize=7, padding=1)
  ax.set_xticks(x, groups)
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  ax.legend(fontsize=8)
  ax.margins(y=0.15)
  return report_html.figure_png(fig)


def class_balance_plot(names: Sequence[str], counts: Sequence[SplitCounts]) -> bytes:
  labels = sorted({k for c in counts for k in c.classes} | set(range(labels_lib.NUM_CLASSES)))
  series, notes = {}, {}
  for name, c in zip(names, counts):
    values = [c.classes.get(k, 0) for k in labels]
    series[name] = values
    notes[name] = [f"{v}\n{100.0 * v / c.total:.0f}%" if c.total else "0" for v in values]
  return grouped_bars("Class balance per split", [CLASS_LABELS.get(k, str(k)) for k in labels],
                      series, "examples", notes)


def mix_plot(title: str, names: Sequence[str], mixes: Sequence[Dict[str, int]],
             order: Sequence[str]) -> bytes:
  """Stacked horizontal bars of fractions (one bar per split), counts in the legend."""
  fig = report_html.new_figure(7.0, 0.6 * len(names) + 1.6)
  ax = fig.add_subplot()
  left = np.zeros(len(names))
  for key, color in zip(order, _colors(len(order))):
    values = np.array([m.get(key, 0) for m in mixes], float)
    totals = np.array([max(1, sum(m.values())) for m in mixes], float)
    share = values / totals
    ax.barh(names, share, left=left, color=color, label=f"{key} ({int(values.sum())})")
    for i, s in enumerate(share):
      if s >= 0.06:
        ax.text(left[i] + s / 2, i, f"{100 * s:.0f}%", ha="center", va="center", fontsize=8)
    left += share
  ax.set_xlim(0, 1)
  ax.invert_yaxis()
  ax.set_xlabel("share of examples")
  ax.set_title(title)
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
  return report_html.figure_png(fig)


def histogram_plot(title: str, xlabel: str, names: Sequence[str],
                   values: Sequence[Sequence[int]], empty_text: str) -> bytes:
  """Integer histograms (one step line per split, unit bins)."""
  fig = report_html.new_figure(7.0, 3.4)
  ax = fig.add_subplot()
  flat = [v for vs in values for v in vs]
  if not flat:
    ax.text(0.5, 0.5, empty_text, ha="center", va="center", transform=ax.transAxes,
            fontsize=12)
    ax.set_axis_off()
  else:
    lo, hi = min(flat), max(flat)
    bins = np.arange(lo - 0.5, hi + 1.5, max(1, (hi - lo + 1) // 60))
    for name, vs, color in zip(names, values, _colors(len(names))):
      if vs:
        ax.hist(vs, bins=bins, histtype="stepfilled", alpha=0.35, color=color,
                label=f"{name} (n={len(vs)})")
        ax.hist(vs, bins=bins, histtype="step", color=color, linewidth=1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("examples")
    ax.legend(fontsize=8)
  ax.set_title(title)
  return report_html.figure_png(fig)


def contig_plot(names: Sequence[str], scans: Sequence[stats_lib.SplitScan]) -> bytes:
  totals: Dict[str, int] = {}
  for scan in scans:
    for contig, n in scan.contigs.items():
      totals[contig] = totals.get(contig, 0) + n
  contigs = sorted(totals, key=lambda c: (-totals[c], c))[:MAX_CONTIGS]
  fig = report_html.new_figure(7.0, 0.28 * max(3, len(contigs)) + 1.4)
  ax = fig.add_subplot()
  left = np.zeros(len(contigs))
  for name, scan, color in zip(names, scans, _colors(len(names))):
    values = np.array([scan.contigs.get(c, 0) for c in contigs], float)
    ax.barh(contigs, values, left=left, color=color, label=name)
    left += values
  ax.invert_yaxis()
  ax.set_xlabel("scanned examples")
  ax.set_title("Examples per contig" + (f" (top {MAX_CONTIGS})" if len(totals) > MAX_CONTIGS
                                        else ""))
  ax.legend(fontsize=8)
  return report_html.figure_png(fig)


@dataclasses.dataclass(frozen=True)
class Pick:
  split: str
  record: ef.ExampleRecord
  channels: Tuple[int, ...]


def picture_grid(picks: Dict[int, List[Pick]], per_class: int) -> bytes:
  """Rows = classes, columns = sampled examples; each cell is the RGB composite."""
  classes = sorted(picks)
  fig = report_html.new_figure(3.0 * per_class, 2.0 * max(1, len(classes)))
  for row, label in enumerate(classes):
    for col in range(per_class):
      ax = fig.add_subplot(len(classes), per_class, row * per_class + col + 1)
      ax.set_xticks([])
      ax.set_yticks([])
      if col == 0:
        ax.set_ylabel(CLASS_LABELS.get(label, str(label)), fontsize=10, fontweight="bold")
      if col >= len(picks[label]):
        ax.text(0.5, 0.5, "no example", ha="center", va="center", transform=ax.transAxes)
        continue
      pick = picks[label][col]
      image = pick.record.image
      if pp.composite_indices(pick.channels) is not None:
        shown = pp.rgb_composite(image, pick.channels)
      else:
        shown = np.repeat(image[:, :, :1], 3, axis=2)
      ax.imshow(shown, interpolation="nearest", aspect="auto")
      v = pick.record.variant
      alts = ",".join(v.alternate_bases[i] for i in pick.record.alt_indices
                      if 0 <= i < len(v.alternate_bases))
      ax.set_title(f"{pick.split} {pick.record.locus}\n{v.reference_bases[:10]}>{alts[:10]} "
                   f"gt {show_examples.genotype_text(pick.record)}", fontsize=7)
  return report_html.figure_png(fig)


# ---- the page -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ReportConfig:
  manifests: Tuple[str, ...]
  examples: Tuple[str, ...]
  output: str
  max_examples_per_split: int
  pictures_per_class: int
  seed: int
  overwrite: bool = False

  def validate(self) -> "ReportConfig":
    if not self.manifests and not self.examples:
      raise flags.UsageError("give --dataset_dir, --manifest or --examples")
    if self.max_examples_per_split < 0:
      raise flags.UsageError("--max_examples_per_split must be >= 0")
    if not 0 <= self.pictures_per_class <= 12:
      raise flags.UsageError("--pictures_per_class must be in 0..12")
    return self


def build_report(cfg: ReportConfig) -> report_html.Page:
  """Reads every split and builds the page (not yet written)."""
  splits = [split_from_manifest(p) for p in cfg.manifests]
  splits += [split_from_examples(s) for s in cfg.examples]
  names = [s.name for s in splits]
  if len(set(names)) != len(names):
    raise ValueError(f"split names must differ, got {names}")
  scans = [scan_split(s, cfg.max_examples_per_split, cfg.pictures_per_class, cfg.seed)
           for s in splits]
  counts = [split_counts(s, scan) for s, scan in zip(splits, scans)]
  total = sum(c.total for c in counts)
  page = report_html.Page(
      "pileflow dataset report",
      f"{len(splits)} split(s), {total} examples: " +
      ", ".join(f"{n} {c.total}" for n, c in zip(names, counts)))
  page.warn(qa_warnings(splits, scans, counts))

  page.section("Splits")
  rows = []
  for s, scan, c in zip(splits, scans, counts):
    m = s.manifest or {}
    shape = m.get("image_shape") or (list(scan_shape(s)) if s.files else None)
    rows.append([s.name, c.total, len(s.files), str(shape),
                 channels_lib.describe_channels(s.channels) if s.channels else "unknown",
                 ", ".join(f"{k} {v}" for k, v in sorted(m.get("sample_counts", {}).items()))
                 or "-", m.get("seed", "-"), scan.scanned,
                 s.manifest_path or ", ".join(s.files[:2])])
  page.table(["split", "examples", "shards", "image shape", "channels", "samples", "seed",
              "scanned", "source"], rows)
  if any(scan.scanned < c.total for scan, c in zip(scans, counts)):
    page.note("Histograms, contigs and pictures come from the scanned examples (a random "
              "sample of shuffled shards); class, type and fraction counts are exact.")

  page.section("Class balance")
  page.figure("class_balance", class_balance_plot(names, counts),
              "Examples per label and split (count and share of the split).")
  page.section("Variant types")
  type_order = [t for t in ("snp", "indel", "unknown")
                if any(c.types.get(t) for c in counts)] or ["snp"]
  type_order += sorted({t for c in counts for t in c.types} - set(type_order))
  page.figure("variant_types", mix_plot("Variant-type mix", names, [c.types for c in counts],
                                        type_order), "Share of SNP / indel examples per split.")
  page.figure("indel_lengths", histogram_plot(
      "Indel length (len(alt) - len(ref))", "bases (+ insertion, - deletion)", names,
      [scan.indel_lengths for scan in scans], "no indel examples"),
              "Each alt shown in an indel image counts once.")
  page.section("Reads and downsampling")
  page.figure("reads_per_example", histogram_plot(
      "Reads per example", "read rows drawn in the image", names,
      [scan.read_rows for scan in scans], "no examples scanned"),
              "Rows below the 5 reference rows holding a read (max = image height - 5).")
  fraction_order = sorted({k for c in counts for k in c.fractions},
                          key=stats_lib.fraction_sort_key)
  page.figure("downsample_fractions", mix_plot(
      "Downsample-fraction mix", names, [c.fractions for c in counts], fraction_order or
      [manifest_lib.NO_FRACTION]), "'none': made without --downsample_fraction.")
  page.section("Contigs")
  page.figure("contigs", contig_plot(names, scans), "Scanned examples per contig.")
  if cfg.pictures_per_class:
    page.section("Random examples per class")
    page.figure("example_pictures", picture_grid(_pool_picks(splits, scans,
                                                             cfg.pictures_per_class),
                                                 cfg.pictures_per_class),
                f"RGB composite (red base, green min(BQ, MQ), blue strand, brightness = "
                f"supports variant x differs from ref); seed {cfg.seed}. Render any example "
                "in full with python -m beam_pipelines.show_examples.")
  return page


def scan_shape(split: SplitInput) -> Tuple[int, ...]:
  for payload in tfrecord.read_records(split.files[0]):
    return ef.example_shape(payload)
  return ()


def _pool_picks(splits: Sequence[SplitInput], scans: Sequence[stats_lib.SplitScan],
                per_class: int) -> Dict[int, List[Pick]]:
  """The ``per_class`` sampled examples per class with the smallest keys over all splits."""
  pooled: Dict[int, List[Tuple[int, Pick]]] = {}
  for split, scan in zip(splits, scans):
    for label in set(scan.labels):
      for sid, payload in scan.picks(label):
        record = ef.decode_example(payload)
        channels = split.channels or show_examples.default_channels(record.shape[2])
        key = stats_lib.pick_key(scan.seed, scan.name, sid)
        pooled.setdefault(label, []).append((key, Pick(split.name, record, channels)))
  for label in range(labels_lib.NUM_CLASSES):
    pooled.setdefault(label, [])
  return {label: [p for _, p in sorted(items, key=lambda t: t[0])[:per_class]]
          for label, items in pooled.items()}


def parse_config(argv: Optional[Sequence[str]] = None) -> ReportConfig:
  parser = flags.OneLineArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
  parser.add_argument("--dataset_dir", default="",
                      help="make_dataset output: one split per sub-directory with a manifest")
  parser.add_argument("--manifest", action="append", default=[],
                      help="a dataset_config.manifest.json (repeatable)")
  parser.add_argument("--examples", action="append", default=[],
                      help="NAME=PATTERN, or PATTERN (named after its first file): a split "
                           "without manifest (repeatable)")
  parser.add_argument("--output", default="",
                      help=f"HTML file (default <dataset_dir>/{REPORT_NAME})")
  parser.add_argument("--max_examples_per_split", type=int, default=20000,
                      help="examples scanned per split for histograms (0 = all)")
  parser.add_argument("--pictures_per_class", type=int, default=4)
  parser.add_argument("--seed", type=int, default=0, help="seed of the picture sampling")
  flags.add_bool(parser, "overwrite", False, "replace an existing report file")
  args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
  manifests = list(args.manifest)
  if args.dataset_dir:
    manifests = splits_in_dir(args.dataset_dir) + manifests
  output = args.output or (os.path.join(args.dataset_dir, REPORT_NAME) if args.dataset_dir
                           else "")
  if not output:
    raise flags.UsageError("--output is required without --dataset_dir")
  return ReportConfig(tuple(manifests), tuple(args.examples), output,
                      args.max_examples_per_split, args.pictures_per_class,
                      args.seed, args.overwrite).validate()


def main(argv: Optional[Sequence[str]] = None) -> int:
  def body():
    cfg = parse_config(argv)
    output_paths.check_file_outputs([cfg.output], "--output", cfg.overwrite)
    page = build_report(cfg)
    page.write(cfg.output)
    return cfg, page

  # A report reads files only: anything unreadable or malformed (ValueError, OSError) is input.
  cfg, page = flags.run_or_fail(PROG, body, (ValueError, OSError))
  print(f"{PROG}: wrote {cfg.output} ({len(page.plot_names)} plots, "
        f"{len(page.warnings)} warning(s))")
  for warning in page.warnings:
    print(f"{PROG}: warning: {warning}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
