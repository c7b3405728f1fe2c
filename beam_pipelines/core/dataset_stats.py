"""Per-split statistics for the dataset report, gathered from decoded examples (pure logic).

Why a scan on top of the manifest: the manifest already counts classes, variant types and
downsample fractions exactly, but the report also needs what only the examples say: indel
lengths, how many reads each image holds, which contigs examples come from, a few example
pictures per class, and label QA that looks *inside* each example:

* label vs genotype: the label must equal ``labels.label_for_image(genotype, alt_indices)``
  of the example's own variant (spec 4.6). A mismatch means labels and variants were paired
  wrongly somewhere, which class counts alone never reveal.
* variant_type vs alleles: the ``variant_type`` feature must be what the alleles say (spec 2.8).

Sampling is deterministic: each example gets the key sha256(seed, split, stable id) and the
``picks_per_class`` smallest keys per class are kept, so the pictures are a uniform random
choice that is the same on every run with the same seed (CONVENTIONS habit 5). Shuffled shards
make a prefix of the data a random sample too, which is why a scan may stop early
(``max_examples``) without biasing the histograms.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import heapq
from typing import Dict, List, Optional, Tuple

from beam_pipelines.core import pileup_picture
from beam_pipelines.core import variants as variants_lib
from schemas import example_format as ef
from schemas import labels as labels_lib
from schemas import manifest as manifest_lib

UNLABELED = -1  # class key of examples without a label (calling examples)
MAX_QA_EXAMPLES = 3  # loci quoted per QA finding


def pick_key(seed: int, split: str, stable_id: str) -> int:
  """The sampling key of one example: the first 8 bytes of sha256 as an integer."""
  digest = hashlib.sha256(f"{seed}\0{split}\0{stable_id}".encode("utf-8")).digest()
  return int.from_bytes(digest[:8], "big")


def indel_lengths(record: ef.ExampleRecord) -> List[int]:
  """len(alt) - len(ref) for each real alt shown in an indel image (+ insertion, - deletion)."""
  if record.variant_type != variants_lib.VARIANT_TYPE_INDEL:
    return []
  v = record.variant
  alts = list(v.alternate_bases)
  real = set(variants_lib.real_alts(alts))
  return [len(alts[i]) - len(v.reference_bases) for i in record.alt_indices
          if 0 <= i < len(alts) and alts[i] in real]


@dataclasses.dataclass
class SplitScan:
  """What a scan of one split's examples found; ``add`` one decoded example at a time."""
  name: str
  seed: int = 0
  picks_per_class: int = 4
  scanned: int = 0
  labels: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  variant_types: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  contigs: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  fractions: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  indel_lengths: List[int] = dataclasses.field(default_factory=list)
  read_rows: List[int] = dataclasses.field(default_factory=list)
  label_mismatches: List[str] = dataclasses.field(default_factory=list)
  type_mismatches: List[str] = dataclasses.field(default_factory=list)
  # class -> heap of (-key, stable_id, payload); the heap holds the smallest keys.
  _picks: Dict[int, List[Tuple[int, str, bytes]]] = dataclasses.field(default_factory=dict)

  def add(self, record: ef.ExampleRecord, payload: bytes, stable_id: str) -> None:
    """Counts one example; ``stable_id`` names it reproducibly (e.g. file name + index)."""
    self.scanned += 1
    label = UNLABELED if record.label is None else int(record.label)
    self.labels[label] += 1
    self.variant_types[int(record.variant_type)] += 1
    self.contigs[record.variant.reference_name] += 1
    self.fractions[manifest_lib.fraction_key(record.extra.get(ef.DOWNSAMPLE_FRACTION))] += 1
    self.indel_lengths.extend(indel_lengths(record))
    self.read_rows.append(pileup_picture.read_rows(record.image))
    v = record.variant
    if record.label is not None and v.calls and len(v.calls[0].genotype):
      try:
        expected = labels_lib.label_for_image(tuple(v.calls[0].genotype), record.alt_indices)
      except ValueError:
        expected = None
      if expected != record.label:
        self.label_mismatches.append(
            f"{record.locus} label {record.label}, genotype "
            f"{'/'.join(str(g) for g in v.calls[0].genotype)} says {expected}")
    real_type = variants_lib.variant_type(v.reference_bases, list(v.alternate_bases))
    if real_type != record.variant_type:
      self.type_mismatches.append(
          f"{record.locus} variant_type {record.variant_type}, alleles say {real_type}")
    key = pick_key(self.seed, self.name, stable_id)
    heap = self._picks.setdefault(label, [])
    item = (-key, stable_id, payload)
    if len(heap) < self.picks_per_class:
      heapq.heappush(heap, item)
    elif item > heap[0]:
      heapq.heapreplace(heap, item)

  def picks(self, label: int) -> List[Tuple[str, bytes]]:
    """(stable id, serialized example) of the sampled examples of ``label``, key order."""
    return [(sid, payload) for _, sid, payload in
            sorted(self._picks.get(label, []), key=lambda t: -t[0])]

  def qa_warnings(self) -> List[str]:
    """Findings of the per-example label QA (module docstring), one line each."""
    out = []
    for what, found in (("a label that disagrees with its genotype and alt indices",
                         self.label_mismatches),
                        ("a variant_type that disagrees with its alleles", self.type_mismatches)):
      if found:
        quoted = "; ".join(found[:MAX_QA_EXAMPLES])
        out.append(f"{self.name}: {len(found)} of {self.scanned} scanned examples have {what} "
                   f"(e.g. {quoted})")
    return out


def cross_split_warnings(class_counts: Dict[str, Dict[int, int]],
                         num_classes: int = labels_lib.NUM_CLASSES) -> List[str]:
  """Classes present in one split but absent from another (e.g. no hom-ref in tune).

  Such a split cannot score that class: tune F1 of a missing class is meaningless and test
  numbers say nothing about it.
  """
  out = []
  present = {label for counts in class_counts.values() for label, n in counts.items() if n}
  for split, counts in class_counts.items():
    missing = [k for k in range(num_classes) if k in present and not counts.get(k, 0)]
    if missing:
      names = ", ".join(f"{k} ({labels_lib.CLASS_NAMES[k]})" for k in missing)
      out.append(f"{split}: class {names} has no examples although other splits have some")
  return out


def fraction_sort_key(key: str) -> Tuple[int, float]:
  """Orders downsample-fraction keys numerically with ``'none'`` last."""
  try:
    return (0, float(key))
  except ValueError:
    return (1, 0.0)


def histogram_range(values: List[int], default: Tuple[int, int] = (0, 1)
                    ) -> Tuple[int, int]:
  """(min, max) of integer values, or ``default`` when empty."""
  if not values:
    return default
  return min(values), max(values)


def summarize_rows(read_rows: List[int]) -> Optional[Dict[str, float]]:
  """min / median / mean / max reads per example, or None when nothing was scanned."""
  if not read_rows:
    return None
  ordered = sorted(read_rows)
  n = len(ordered)
  median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
  return {"min": float(ordered[0]), "median": float(median),
          "mean": float(sum(ordered)) / n, "max": float(ordered[-1])}
