"""gVCF reference-confidence records of one partition, as DeepVariant's make_examples writes them.

Why: cohort tools (GLnexus, joint genotyping) need, for every position, how sure the caller
is that nothing is there. DeepVariant computes it from two counts per position, before any
model runs, and postprocess_variants later merges these records with the calls.

**Per position p** of the partition, from the allele counter (``core/allele_counter.py``):
``n_ref`` = ref_supporting_read_count(p), ``n_total`` = DP(p) (``TotalAlleleCounts``: ref
reads plus good non-reference alleles). With ``p_error`` (0.001) and ploidy 2::

    log10 P(0/0) = n_ref log10(1 - e) + n_alt log10(e)
    log10 P(0/1) = -n_total log10(2)
    log10 P(1/1) = n_ref log10(e) + n_alt log10(1 - e)

normalised so the three probabilities sum to 1 (all log10(1/3) when n_total = 0). The raw GQ
is ``floor(phred(1 - P(0/0)))`` capped at ``max_gq`` (50). Counts above 100 reads are first
scaled to 100 (``n_ref' = ceil(n_ref / n_total * 100)``), as DeepVariant's cached table does.
GQ is quantized to bins of ``gq_resolution`` (``--gvcf_gq_binsize``): 0 stays 0, else
``(gq - 1) // bin * bin + 1``.

**Blocks.** Consecutive positions with the same (quantized GQ, P(0/0) is the largest) merge
into one record ``<*>`` from the first to the last position: GT 0/0, GQ = the smallest raw
GQ, GL = that position's likelihoods, MIN_DP = the smallest DP (MED_DP = int(median DP) with
``include_med_dp``), REF = the first position's base. Positions where P(0/0) is not the
largest get one record each with GT ./., their own GQ, GL and DP as MIN_DP. Positions whose
reference base is an IUPAC ambiguity code (N, R, ...) get no record and break blocks; any
other non-ACGT base is an error. Blocks never span partitions (DeepVariant computes them per
partition). Worked example: DP 45 all reference gives GL (-1.3e-14, -13.527, -134.980) and
GQ 50, the golden's first block.

Coordinates are 0-based half-open.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from typing import List, Tuple

import numpy as np

from schemas.protos import variants_pb2

GVCF_ALT = "<*>"
CANONICAL_BASES = frozenset("ACGT")
IUPAC_CODES = frozenset("ACGTRYSWKMBDHVN")
MAX_CACHE_COVERAGE = 100
LOG_10 = math.log(10.0)


@dataclasses.dataclass(frozen=True)
class GvcfOptions:
  """DeepVariant's VariantCallerOptions for gVCF (v1.5 defaults; gq_resolution is
  ``--gvcf_gq_binsize``)."""
  gq_resolution: int = 1
  p_error: float = 0.001
  max_gq: int = 50
  include_med_dp: bool = False

  def validate(self) -> "GvcfOptions":
    if self.gq_resolution < 1:
      raise ValueError(f"--gvcf_gq_binsize must be >= 1, got {self.gq_resolution}")
    return self


def _log10sumexp(values: np.ndarray) -> float:
  m = float(np.max(values * LOG_10))
  return (m + math.log(float(np.sum(np.exp(values * LOG_10 - m))))) / LOG_10


def _normalize_log10(values) -> np.ndarray:
  values = np.asarray(values, dtype=np.float64)
  return np.minimum(values - _log10sumexp(values), 0.0)


def _log10_ptrue_to_phred(log10_ptrue: float, cap: float) -> float:
  perror = -math.expm1(log10_ptrue * LOG_10)  # 1 - 10^log10_ptrue, precise near 1
  if perror <= 0.0:
    return cap
  phred = -10.0 * math.log10(perror)
  return phred if math.isfinite(phred) else cap


def rescale_counts(n_ref: int, n_total: int, max_reads: int = MAX_CACHE_COVERAGE
                   ) -> Tuple[int, int]:
  if n_total > max_reads:
    n_ref = int(math.ceil(n_ref / float(n_total) * max_reads))
    n_total = max_reads
  return n_ref, n_total


def reference_confidence(n_ref: int, n_total: int, opts: GvcfOptions = GvcfOptions()
                         ) -> Tuple[int, np.ndarray]:
  """(raw GQ, normalised log10 likelihoods of 0/0, 0/1, 1/1) from the two counts."""
  if n_ref < 0 or n_total < n_ref:
    raise ValueError(f"need 0 <= n_ref <= n_total, got n_ref={n_ref} n_total={n_total}")
  n_ref, n_total = rescale_counts(n_ref, n_total)
  if n_total == 0:
    probs = _normalize_log10([-1.0, -1.0, -1.0])
  else:
    n_alt = n_total - n_ref
    p_error = float(np.float32(opts.p_error))  # a float field of DeepVariant's options proto
    logp = math.log(p_error) / LOG_10
    log1p = math.log1p(-p_error) / LOG_10
    probs = _normalize_log10([n_ref * log1p + n_alt * logp,
                              -n_total * math.log(2) / LOG_10,
                              n_ref * logp + n_alt * log1p])
  gq = _log10_ptrue_to_phred(float(probs[0]), opts.max_gq)
  return int(min(math.floor(gq), opts.max_gq)), probs


def quantize_gq(raw_gq: int, binsize: int) -> int:
  return 0 if raw_gq < 1 else (raw_gq - 1) // binsize * binsize + 1


@dataclasses.dataclass(frozen=True)
class _Site:
  pos: int
  ref_base: str
  raw_gq: int
  likelihoods: np.ndarray
  depth: int
  key: Tuple[int, bool]


def _record(contig: str, ref_base: str, start: int, end: int, sample: str,
            genotype: Tuple[int, int], likelihoods, gq: int, min_dp: int,
            med_dp=None) -> bytes:
  v = variants_pb2.Variant(reference_name=contig, reference_bases=ref_base,
                           alternate_bases=[GVCF_ALT], start=start, end=end)
  call = v.calls.add(call_set_name=sample, genotype=list(genotype),
                     genotype_likelihood=[float(x) for x in likelihoods])
  call.info["GQ"].values.add().int_value = int(gq)
  call.info["MIN_DP"].values.add().int_value = int(min_dp)
  if med_dp is not None:
    call.info["MED_DP"].values.add().int_value = int(med_dp)
  return v.SerializeToString(deterministic=True)


def gvcf_records(contig: str, start: int, ref_bases: str, ref_support: np.ndarray,
                 depths: np.ndarray, sample: str, opts: GvcfOptions) -> List[bytes]:
  """Serialized gVCF ``Variant`` records of the positions ``start .. start + len(ref_bases)``.

  ``ref_support[i]`` and ``depths[i]`` are the counts of position ``start + i``.
  """
  sites: List[_Site] = []
  out: List[bytes] = []

  def flush():
    if not sites:
      return
    if sites[0].key[1]:
      low = min(range(len(sites)), key=lambda i: sites[i].raw_gq)
      med = (int(statistics.median(s.depth for s in sites)) if opts.include_med_dp else None)
      out.append(_record(contig, sites[0].ref_base, sites[0].pos, sites[-1].pos + 1, sample,
                         (0, 0), sites[0].likelihoods, sites[low].raw_gq,
                         min(s.depth for s in sites), med))
    else:
      for s in sites:
        out.append(_record(contig, s.ref_base, s.pos, s.pos + 1, sample, (-1, -1),
                           s.likelihoods, s.raw_gq, s.depth,
                           s.depth if opts.include_med_dp else None))
    sites.clear()

  for i, base in enumerate(ref_bases):
    pos = start + i
    if base not in CANONICAL_BASES:
      if base not in IUPAC_CODES:
        raise ValueError(f"{contig}:{pos + 1}: reference base {base!r} is not a DNA or IUPAC "
                         "code; cannot compute gVCF confidence")
      flush()
      continue
    raw_gq, likelihoods = reference_confidence(int(ref_support[i]), int(depths[i]), opts)
    key = (quantize_gq(raw_gq, opts.gq_resolution),
           bool(np.amax(likelihoods) == likelihoods[0]))
    if sites and sites[-1].key != key:
      flush()
    sites.append(_Site(pos, base, raw_gq, likelihoods, int(depths[i]), key))
  flush()
  return out


# ---- the .g.vcf: calls merged with the reference blocks (postprocess_variants) ------------------
def block_line(variant: variants_pb2.Variant) -> str:
  """A reference-confidence record as a gVCF line, as Nucleus writes it: QUAL 0, FILTER '.',
  INFO END, FORMAT GT:GQ:MIN_DP[:MED_DP]:PL (header order, PL last), PL = truncated
  ``-10 * (GL - max GL)``."""
  call = variant.calls[0]
  gt = ("./." if tuple(call.genotype) == (-1, -1)
        else "/".join(str(g) for g in call.genotype))
  gls = list(call.genotype_likelihood)
  top = max(gls) if gls else 0.0
  pls = ",".join(str(int(-10.0 * (g - top))) for g in gls)
  keys = ["GT", "GQ", "MIN_DP"] + (["MED_DP"] if "MED_DP" in call.info else []) + ["PL"]
  values = [gt] + [str(call.info[k].values[0].int_value) for k in keys[1:-1]] + [pls]
  return "\t".join([variant.reference_name, str(variant.start + 1), ".", variant.reference_bases,
                    ",".join(variant.alternate_bases), "0", ".", f"END={variant.end}",
                    ":".join(keys), ":".join(values)])


@dataclasses.dataclass(frozen=True)
class CallSpan:
  """A call's place (contig index in the reference, 0-based [start, end)) and its gVCF line."""
  contig_index: int
  start: int
  end: int
  line: str


def _from_template(block: variants_pb2.Variant, start: int, end: int, fetch_base
                   ) -> variants_pb2.Variant:
  out = variants_pb2.Variant()
  out.CopyFrom(block)
  out.start, out.end = start, end
  if start != block.start:
    out.reference_bases = fetch_base(block.reference_name, start)
  return out


def merge_gvcf(calls, blocks, fetch_base):
  """gVCF lines in reference order from sorted ``calls`` (CallSpan) and sorted ``blocks``
  ((contig index, Variant)): DeepVariant's merge (Nucleus merge_variants.cc).

  A call is written where it stands; a block overlapping a call is cut: the part before the
  call stays (same REF), the part after it starts at the call's end with the reference base
  there (``fetch_base(contig, pos)``); a block inside a call disappears.
  """
  calls, blocks = iter(calls), iter(blocks)
  call, block = next(calls, None), next(blocks, None)
  while call is not None or block is not None:
    if block is None or (call is not None and (
        call.contig_index < block[0] or
        (call.contig_index == block[0] and call.end <= block[1].start))):
      yield call.line
      call = next(calls, None)
    elif call is None or block[0] < call.contig_index or block[1].end <= call.start:
      yield block_line(block[1])
      block = next(blocks, None)
    else:
      v = block[1]
      if v.start < call.start:
        yield block_line(_from_template(v, v.start, call.start, fetch_base))
      if v.end > call.end:
        block = (block[0], _from_template(v, call.end, v.end, fetch_base))
      else:
        block = next(blocks, None)
