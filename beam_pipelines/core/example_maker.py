"""One partition in, its examples out: the whole make_examples recipe as a pure function.

Steps, in DeepVariant's order (spec 2.3): read filters (3.1) -> per-fragment downsampling at
each requested fraction (pileflow's, see core/downsample.py) -> reservoir cap (3.3) -> the
realignment seam (core/realign_seam.py) -> allele counting (3.4) -> very sensitive caller
(3.5) -> labeling, training only (4) -> one image per alt-allele combination (2.9, 7) ->
serialized tf.Examples (schemas/).

Why one pure function: the Beam DoFn only fetches reads, reference and truth for a partition
and hands them here, so the same code is unit-tested without a runner and runs identically on
DirectRunner, Dataflow or any other runner. Nothing here draws from a global RNG: every
random choice is seeded by constants or by (seed, fragment name).

Coordinates are 0-based half-open.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

from beam_pipelines.core import alt_aligned
from beam_pipelines.core import counters
from beam_pipelines.core import downsample
from beam_pipelines.core import labeling
from beam_pipelines.core import read_trim
from beam_pipelines.core import read_filters
from beam_pipelines.core.allele_counter import count_alleles
from beam_pipelines.core.candidates import VscOptions, call_candidates
from beam_pipelines.core.gvcf import GvcfOptions, gvcf_records
from beam_pipelines.core.pileup import PileupOptions
from beam_pipelines.core.realign_seam import prepare_reads
from beam_pipelines.core.realigner import RealignerOptions
from beam_pipelines.core.reads import Read
from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import IntervalIndex, Range
from beam_pipelines.core.small_model_cascade import (SmallModelOptions, call_easy_candidates,
                                                     training_examples)
from beam_pipelines.core.variants import Candidate, TruthVariant, VARIANT_TYPE_NAMES
from schemas import channels as channel_rules
from schemas import example_format
from schemas import labels as label_rules

LABELER_HAPLOTYPE = "haplotype_labeler"
LABELER_POSITIONAL = "positional_labeler"
LABELER_CUSTOMIZED = "customized_classes_labeler"
NO_GENOTYPE = (-1, -1)


@dataclasses.dataclass(frozen=True)
class ExampleMakerOptions:
  """Everything the per-partition recipe needs; built once from the run's config."""
  training: bool
  sample_name: str
  bam_fname: str
  read_filter: read_filters.ReadFilterOptions = read_filters.ReadFilterOptions()
  max_reads_per_partition: int = 1500
  min_base_quality: int = 10
  vsc: VscOptions = VscOptions()
  pileup: PileupOptions = PileupOptions()
  labeler: str = LABELER_HAPLOTYPE
  customized_classes: Tuple[str, ...] = ()  # --customized_classes_labeler_classes_list
  customized_info_field: str = ""  # --customized_classes_labeler_info_field_name
  downsample_fractions: Tuple[float, ...] = ()
  seed: int = 609314161
  sequencing_type: int = 0
  exclude_het_alt_images: bool = False
  realigner: Optional[RealignerOptions] = None  # None: --realign_reads off
  gvcf: Optional[GvcfOptions] = None  # None: no --gvcf
  alt_aligned: alt_aligned.AltAlignedOptions = alt_aligned.AltAlignedOptions()
  split_skip_reads: bool = False  # --split_skip_reads: spliced reads cut at N (RNA)
  small_model: Optional[SmallModelOptions] = None  # None: no small-model examples or calls
  parse_sam_aux_fields: Optional[bool] = None  # None: read HP tags when the pileup needs them

  @property
  def parse_hp(self) -> bool:
    """Whether the reader keeps each record's HP tag: --parse_sam_aux_fields, or by default
    when the HP channel or haplotype sorting uses it."""
    if self.parse_sam_aux_fields is None:
      return self.pileup.needs_hp
    return self.parse_sam_aux_fields

  @property
  def channels(self) -> Tuple[int, ...]:
    """Channel ids of the examples in tensor order (example_info.json): the pileup's, then
    9,10 (diff_channels) or 20,21 (base_channels)."""
    return tuple(self.pileup.channels) + channel_rules.alt_aligned_channels(
        self.alt_aligned.representation)

  @property
  def fractions(self) -> Tuple[Optional[float], ...]:
    """(None,) when not downsampling: one example set and no downsample_fraction feature."""
    return self.downsample_fractions or (None,)


@dataclasses.dataclass
class PartitionExamples:
  """Serialized examples of one partition, in output order, plus what happened on the way."""
  records: List[bytes]
  counts: collections.Counter
  shape: Optional[Tuple[int, int, int]] = None
  gvcf: List[bytes] = dataclasses.field(default_factory=list)  # serialized gVCF Variants
  # Labeled small-model examples (training) and the small model's calls (CallVariantsOutput,
  # calling with the cascade), in candidate order.
  small_model: List[bytes] = dataclasses.field(default_factory=list)
  small_model_calls: List[bytes] = dataclasses.field(default_factory=list)


def reference_span(partition: Range, reads: Sequence[Read], width: int,
                   contig_length: int) -> Range:
  """Reference bases one partition needs (0-based half-open), clipped to the contig.

  A superset of ``allele_counter.counting_span`` (what counting alone needs).

  Covers the image windows of candidates inside the partition (half a width each side), the
  aligned span of every read (deletions past the partition end), and the haplotype labeler's
  padding (+20 bp after the last variant, -1 before the first) and the realigner's margin
  (every read's span +/- 20 bp).
  """
  half = width // 2 + 1
  start = partition.start - half - 32
  end = partition.end + width + 32
  for r in reads:
    # 21 bp: the realigner aligns reads against their span +/- 20 bp of reference; half a
    # width past a read's end: an alt-aligned view's suffix after a deletion the read spans.
    start = min(start, r.start - 21)
    end = max(end, r.end + half + 32)
  return Range(partition.contig, max(0, start), min(contig_length, end))


def filter_reads(reads: Sequence[Read], opts: read_filters.ReadFilterOptions,
                 counts: collections.Counter) -> List[Read]:
  kept = []
  for r in reads:
    reason = read_filters.filter_reason(r, opts)
    if reason is None:
      kept.append(r)
    else:
      counts[counters.filtered(reason)] += 1
  counts[counters.READS_SEEN] += len(reads)
  counts[counters.READS_KEPT] += len(kept)
  return kept


def _label(candidates: List[Candidate], truths: Sequence[TruthVariant],
           confident: IntervalIndex, ref: RefWindow, partition: Range, opts: ExampleMakerOptions,
           counts: collections.Counter
           ) -> List[Tuple[Candidate, Tuple[int, ...], Optional[TruthVariant]]]:
  """(candidate, label genotype, matched truth) of the confident candidates; the truth only
  for the customized-classes labeler, whose labels come from it image by image."""
  if opts.labeler == LABELER_CUSTOMIZED:
    matched = labeling.match_positional(candidates, truths, confident, region=partition)
    _count_positional_misses(candidates, truths, confident, partition, counts)
    counts[counters.CANDIDATES_NON_CONFIDENT] += len(candidates) - len(matched)
    return [(cand, NO_GENOTYPE, m[0] if m else None) for cand, m in matched]
  if opts.labeler == LABELER_HAPLOTYPE:
    labeled, metrics = labeling.label_haplotypes(candidates, truths, confident, ref,
                                                 region=partition)
    for name, value in metrics.to_dict().items():
      if value:
        counts[counters.labeling(name)] += value
    counts[counters.TRUTH_FALSE_NEGATIVES] += metrics.n_false_negative_sites
  elif opts.labeler == LABELER_POSITIONAL:
    labeled = labeling.label_positional(candidates, truths, confident, region=partition)
    _count_positional_misses(candidates, truths, confident, partition, counts)
  else:
    raise ValueError(f"unknown labeler {opts.labeler!r}")
  confident_ones = [(lc.candidate, tuple(lc.genotype), None) for lc in labeled
                    if lc.is_confident]
  counts[counters.CANDIDATES_NON_CONFIDENT] += len(candidates) - len(confident_ones)
  return confident_ones


def _count_positional_misses(candidates, truths, confident, partition: Range,
                             counts: collections.Counter) -> None:
  starts = {c.start for c in candidates}
  counts[counters.TRUTH_FALSE_NEGATIVES] += sum(
      1 for t in labeling.select_truths(truths, confident, region=partition)
      if partition.start <= t.start < partition.end and t.start not in starts
      and any(g > 0 for g in t.genotype))


def _encode(candidate: Candidate, genotype: Tuple[int, ...], images, combos,
            opts: ExampleMakerOptions, fraction: Optional[float],
            counts: collections.Counter, truth: Optional[TruthVariant] = None) -> List[bytes]:
  variant = example_format.variant_to_proto(
      candidate.contig, candidate.start, candidate.ref, candidate.alts,
      sample_name=opts.sample_name, dp=candidate.dp, ad=candidate.ad,
      genotype=genotype if opts.training else NO_GENOTYPE,
      bam_fname=opts.bam_fname if opts.training else None)
  vtype = candidate.variant_type
  extra = {example_format.DOWNSAMPLE_FRACTION: fraction} if fraction is not None else None
  out = []
  for combo, image in zip(combos, images):
    if not opts.training:
      label = None
    elif opts.labeler == LABELER_CUSTOMIZED:
      label = labeling.customized_class_label(candidate, truth, combo, opts.customized_classes)
    else:
      label = label_rules.label_for_image(genotype, combo)
    out.append(example_format.encode_example(
        image, variant, combo, vtype, sequencing_type=opts.sequencing_type, label=label,
        extra=extra))
    counts[counters.EXAMPLES] += 1
    counts[counters.example_type(VARIANT_TYPE_NAMES[vtype])] += 1
    if label is not None:
      counts[counters.example_class(label)] += 1
    if fraction is not None:
      counts[counters.example_fraction(fraction)] += 1
  return out


def make_partition_examples(partition: Range, raw_reads: Sequence[Read], ref: RefWindow,
                            opts: ExampleMakerOptions,
                            truths: Sequence[TruthVariant] = (),
                            confident: Optional[IntervalIndex] = None) -> PartitionExamples:
  """Examples of one partition, in output order: per fraction, candidates in position order,
  each candidate's images in alt-combination order (spec 2.9). With ``opts.gvcf``, also the
  partition's gVCF records (core/gvcf.py), from the first fraction's allele counts, the
  counts the candidates come from.

  Args:
    partition: the partition [start, end) (0-based).
    raw_reads: every mapped record overlapping the partition, in file order, unfiltered.
    ref: reference covering ``reference_span(partition, raw_reads, ...)``.
    opts: see ExampleMakerOptions.
    truths: truth records overlapping the partition (training).
    confident: confident regions (training).
  """
  counts: collections.Counter = collections.Counter()
  counts[counters.PARTITIONS] += 1
  kept = filter_reads(raw_reads, opts.read_filter, counts)
  if opts.split_skip_reads:
    # Pieces keep position order (stable, by start) like the reads they replace.
    kept = sorted(read_trim.split_skip_reads(kept), key=lambda r: r.start)
  uniforms: Dict[str, float] = {}
  if opts.downsample_fractions:
    uniforms = {r.name: downsample.fragment_uniform(opts.seed, r.name) for r in kept}
  records: List[bytes] = []
  gvcf: List[bytes] = []
  small_examples: List[bytes] = []
  small_calls: List[bytes] = []
  small = opts.small_model
  shape = None
  for fraction in opts.fractions:
    reads = kept if fraction is None else [
        r for r in kept if downsample.keep(uniforms[r.name], fraction)]
    counts[counters.READS_DOWNSAMPLED_OUT] += len(kept) - len(reads)
    if opts.max_reads_per_partition and len(reads) > opts.max_reads_per_partition:
      counts[counters.READS_OVER_CAP] += len(reads) - opts.max_reads_per_partition
      reads = read_filters.reservoir_sample(reads, opts.max_reads_per_partition)
    reads = prepare_reads(reads, partition, ref, realign=opts.realigner, counts=counts)
    allele_counts = count_alleles(reads, ref, partition,
                                  min_base_quality=opts.min_base_quality,
                                  min_mapping_quality=opts.read_filter.min_mapping_quality,
                                  support_stats=small is not None)
    if opts.gvcf is not None and fraction == opts.fractions[0]:
      gvcf = gvcf_records(partition.contig, allele_counts.start, allele_counts.ref_bases,
                          allele_counts.ref_support, allele_counts.depths(), opts.sample_name,
                          opts.gvcf)
    candidates = call_candidates(allele_counts, opts.vsc, partition.contig)
    counts[counters.CANDIDATES] += len(candidates)
    if opts.training:
      if confident is None:
        raise ValueError("training needs confident regions")
      to_draw = _label(candidates, truths, confident, ref, partition, opts, counts)
      if small is not None and small.write_examples:
        made = training_examples(allele_counts, [(c, g) for c, g, _ in to_draw], small,
                                 opts.exclude_het_alt_images)
        counts[counters.SMALL_MODEL_EXAMPLES] += len(made)
        small_examples.extend(made)
    elif small is not None and small.calling:
      cascade = call_easy_candidates(allele_counts, candidates, small, opts.sample_name,
                                     opts.exclude_het_alt_images)
      counts[counters.SMALL_MODEL_SCORED] += cascade.scored
      counts[counters.SMALL_MODEL_CALLED] += len(cascade.accepted)
      small_calls.extend(cascade.accepted)
      to_draw = [(c, NO_GENOTYPE, None) for c in cascade.remaining]
    else:
      to_draw = [(c, NO_GENOTYPE, None) for c in candidates]
    if small is not None and small.calling:
      counts[counters.CNN_CANDIDATES] += len(to_draw)
    for candidate, genotype, truth in to_draw:
      combos = label_rules.alt_allele_combinations(
          len(candidate.alts), exclude_het_alt_images=opts.exclude_het_alt_images)
      images = alt_aligned.build_images(candidate, reads, ref, opts.pileup, combos,
                                        opts.alt_aligned)
      if images is None:
        counts[counters.CANDIDATES_OFF_CONTIG_EDGE] += 1
        continue
      shape = shape or tuple(images[0].shape)
      records.extend(_encode(candidate, genotype, images, combos, opts, fraction, counts,
                             truth))
  return PartitionExamples(records=records, counts=counts, shape=shape, gvcf=gvcf,
                           small_model=small_examples, small_model_calls=small_calls)
