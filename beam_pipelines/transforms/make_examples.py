"""MakeExamples: work units in, committed-ready example shards out.

    units -> Reshuffle -> MakeUnitExamples (reads, reference, truth -> chunk file per unit)
          -> KeyByShard -> GroupByKey (chunk paths only, never examples) -> AssembleShard

The DoFns open pysam handles once per worker in ``setup()`` and close them in ``teardown()``;
``__init__`` keeps only paths and options, so the transform pickles to Dataflow workers. The
Reshuffle is the fusion break that lets Dataflow rebalance units across workers. All logic
lives in core/example_maker.py; this module only fetches and forwards.
"""
import dataclasses
import gc
import logging
import sys
import time
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.core import counters
from beam_pipelines.core.example_maker import (ExampleMakerOptions, make_partition_examples,
                                               reference_span)
from beam_pipelines.core.work_units import WorkUnit, shard_of
from beam_pipelines.io.bam import BamReader
from beam_pipelines.io.bed import read_confident_regions
from beam_pipelines.io.example_outputs import ExampleOutputs
from beam_pipelines.io.fasta import FastaReader
from beam_pipelines.io.truth import TruthReader

log = logging.getLogger("pileflow.make_examples")


# Python's cyclic collector runs a young-generation pass every 700 container allocations (and
# older ones every 10 of those); a 30x work unit allocates ~10^6 short-lived containers (reads,
# tuples, dicts, protos) and almost no cycles, so those passes only re-walk live objects.
# Raised for the worker process in setup(): ~13% less CPU per work unit without realignment and
# ~6% with it, on the bench dataset (bench/RESULTS.md); the same records.
GC_THRESHOLDS = (50_000, 20, 100)


def relax_gc() -> None:
  """Raises the process's GC thresholds to at least ``GC_THRESHOLDS`` (never lowers them)."""
  gc.set_threshold(*(max(now, want) for now, want in zip(gc.get_threshold(), GC_THRESHOLDS)))


# Side outputs a unit may write beside its examples, by name -> PartitionExamples field.
SIDE_OUTPUTS = {"gvcf": "gvcf", "small_model": "small_model",
                "small_model_calls": "small_model_calls"}


@dataclasses.dataclass(frozen=True)
class UnitResult:
  unit_index: int
  shard: int
  chunk_path: Optional[str]
  examples: int
  shape: Optional[Tuple[int, int, int]]
  counts: Dict[str, int]
  # side output name -> (chunk path or None when the unit had no record, records)
  side: Dict[str, Tuple[Optional[str], int]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class UnitOutput:
  """One unit's records in output order: the examples and each side output's."""
  records: List[bytes]
  counts: Dict[str, int]
  shape: Optional[Tuple[int, int, int]]
  side: Dict[str, List[bytes]]


class _MakeUnitExamplesFn(beam.DoFn):
  """Makes the examples of one work unit and writes them to the unit's chunk file."""

  def __init__(self, ref: str, reads: Tuple[str, ...], truth: Optional[str],
               confident: Optional[str], opts: ExampleMakerOptions,
               outputs: Optional[ExampleOutputs], total_units: int,
               label: str = "make_examples",
               side_outputs: Optional[Dict[str, ExampleOutputs]] = None):
    self._ref, self._reads, self._truth, self._confident = ref, reads, truth, confident
    self._opts, self._outputs, self._total_units = opts, outputs, total_units
    self._label, self._side_outputs = label, dict(side_outputs or {})
    unknown = set(self._side_outputs) - set(SIDE_OUTPUTS)
    if unknown:
      raise ValueError(f"unknown side outputs {sorted(unknown)}")

  def setup(self):
    relax_gc()
    self._fasta = FastaReader(self._ref)
    self._bam = BamReader(self._reads, reference=self._ref,
                          parse_hp=self._opts.parse_hp)
    self._truth_reader = (TruthReader(self._truth, self._opts.customized_info_field or None,
                                      self._opts.customized_classes)
                          if self._opts.training else None)
    self._confident_index = read_confident_regions(self._confident) \
        if self._opts.training else None
    self._counters = {}
    self._done = 0
    self._examples = 0
    self._started = time.time()

  def _count(self, counts: Dict[str, int]) -> None:
    for name, value in counts.items():
      if name not in self._counters:
        self._counters[name] = Metrics.counter(counters.NAMESPACE, name)
      self._counters[name].inc(value)

  def _make(self, unit: WorkUnit) -> UnitOutput:
    """Examples of one unit in output order, merged counts, the first image shape and the
    unit's side-output records (gVCF blocks, small-model examples or calls)."""
    records: List[bytes] = []
    side: Dict[str, List[bytes]] = {name: [] for name in SIDE_OUTPUTS}
    total = counters.merge([])
    shape = None
    lengths = self._fasta.contig_lengths()
    for part, raw in self._bam.fetch_many(unit.partitions):
      span = reference_span(part, raw, self._opts.pileup.width, lengths[part.contig])
      ref = self._fasta.window(part.contig, span.start, span.end)
      truths = self._truth_reader.fetch(part) if self._truth_reader else ()
      result = make_partition_examples(part, raw, ref, self._opts, truths,
                                       self._confident_index)
      records.extend(result.records)
      for name, field in SIDE_OUTPUTS.items():
        side[name].extend(getattr(result, field))
      total.update(result.counts)
      shape = shape or result.shape
    self._count(total)
    self._done += 1
    self._examples += len(records)
    elapsed = max(time.time() - self._started, 1e-9)
    # Printed, not logged: the multi-process DirectRunner relays worker logs through Beam's
    # logger, while worker stderr reaches the terminal (and Dataflow's worker logs) directly.
    print(f"{self._label}: unit {unit.index + 1}/{self._total_units} {unit.label}: "
          f"{len(records)} examples (this worker: {self._done} units, {self._examples} examples, "
          f"{self._examples / elapsed:.1f} examples/s)", file=sys.stderr, flush=True)
    return UnitOutput(records, total, shape, side)

  def process(self, unit):
    out = self._make(unit)
    path = self._outputs.write_chunk(unit.index, out.records) if out.records else None
    side = {}
    for name, outputs in self._side_outputs.items():
      recs = out.side[name]
      side[name] = (outputs.write_chunk(unit.index, recs) if recs else None, len(recs))
    yield UnitResult(unit.index, shard_of(unit.index, self._outputs.num_shards), path,
                     len(out.records), out.shape, dict(out.counts), side)

  def teardown(self):
    # A close failure here follows a read failure already raised from process(); raising
    # again would replace that (informative) error with "error while closing".
    for handle in (getattr(self, "_fasta", None), getattr(self, "_bam", None),
                   getattr(self, "_truth_reader", None)):
      if handle is not None:
        try:
          handle.close()
        except (OSError, ValueError) as e:
          log.debug("ignoring error while closing inputs: %s", e)


class _MakeUnitRecordsFn(_MakeUnitExamplesFn):
  """Emits one unit's serialized examples as elements, for a pipeline that shuffles them next
  (make_dataset): no chunk files, no unshuffled copy on disk. Small-model examples go to the
  ``small_model`` tagged output."""

  def process(self, unit):
    out = self._make(unit)
    yield from out.records
    for rec in out.side["small_model"]:
      yield beam.pvalue.TaggedOutput("small_model", rec)


class _AssembleShardFn(beam.DoFn):
  """Streams one shard's unit chunks, in unit (= genome) order, into its temporary shard."""

  def __init__(self, outputs: ExampleOutputs,
               side_outputs: Optional[Dict[str, ExampleOutputs]] = None):
    self._outputs, self._side_outputs = outputs, dict(side_outputs or {})

  def process(self, keyed):
    shard, results = keyed
    results = sorted(results, key=lambda r: r.unit_index)
    chunks = [r.chunk_path for r in results if r.chunk_path]
    shape = next((r.shape for r in results if r.shape), None)
    info = {"examples": sum(r.examples for r in results), "shape": list(shape) if shape else None,
            "units": len(results), "counts": dict(counters.merge(r.counts for r in results))}
    self._outputs.assemble_shard(shard, chunks, info)
    for name, outputs in self._side_outputs.items():
      outputs.assemble_shard(
          shard, [r.side[name][0] for r in results if r.side[name][0]],
          {"examples": sum(r.side[name][1] for r in results), "shape": None,
           "units": len(results)})
    yield shard


class MakeExamples(beam.PTransform):
  """Work units -> assembled temporary shards (the driver commits them after the run)."""

  def __init__(self, units: List[WorkUnit], ref: str, reads: Tuple[str, ...],
               truth: Optional[str], confident: Optional[str], opts: ExampleMakerOptions,
               outputs: ExampleOutputs,
               side_outputs: Optional[Dict[str, ExampleOutputs]] = None):
    super().__init__()
    self._units, self._outputs, self._side_outputs = units, outputs, dict(side_outputs or {})
    self._fn = _MakeUnitExamplesFn(ref, reads, truth, confident, opts, outputs, len(units),
                                   side_outputs=self._side_outputs)

  def expand(self, pbegin):
    return (pbegin
            | "CreateUnits" >> beam.Create(self._units)
            | "Rebalance" >> beam.Reshuffle()
            | "MakeUnitExamples" >> beam.ParDo(self._fn)
            | "KeyByShard" >> beam.Map(lambda r: (r.shard, r))
            | "GroupChunksByShard" >> beam.GroupByKey()
            | "AssembleShard" >> beam.ParDo(_AssembleShardFn(self._outputs,
                                                             self._side_outputs)))


class MakeExampleRecords(beam.PTransform):
  """Work units -> PCollection of serialized examples (unordered), for make_dataset; with
  ``small_model=True`` a dict {"examples": ..., "small_model": ...} of two PCollections."""

  def __init__(self, units: List[WorkUnit], ref: str, reads: Tuple[str, ...],
               truth: Optional[str], confident: Optional[str], opts: ExampleMakerOptions,
               label: str, small_model: bool = False):
    super().__init__()
    self._units, self._small_model = units, small_model
    self._fn = _MakeUnitRecordsFn(ref, reads, truth, confident, opts, None, len(units), label)

  def expand(self, pbegin):
    made = (pbegin
            | "CreateUnits" >> beam.Create(self._units)
            | "Rebalance" >> beam.Reshuffle()
            | "MakeUnitRecords" >> beam.ParDo(self._fn).with_outputs("small_model",
                                                                      main="examples"))
    if self._small_model:
      return {"examples": made.examples, "small_model": made.small_model}
    return made.examples
