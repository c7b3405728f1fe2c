"""Compare called variants with truth inside confident regions, like hap.py (pure Python).

No files here: records come in as ``VcfRecord``-like tuples and the reference as a
``fetch(contig, start, end) -> str`` callable, so every rule is tested on hand-built pairs
(tests/unit/test_vcf_compare.py). ``beam_pipelines.evaluate`` is the thin file adapter and CLI.
Coordinates are 0-based, half-open.

**Units.** Both sides are split into alleles (one per called alt, like ``bcftools norm -m-``).
An allele's *copies* is how many times its index appears in the sample's GT (1 het, 2 hom; a
1/2 record gives two alleles with 1 copy each). Records whose GT calls no alt (0/0, ./.) are
not variants. Query records whose FILTER is neither PASS nor '.' are skipped and counted in
``QUERY.FILTERED``; filtered truth records are skipped too.

**Normalisation.** Each allele is trimmed (shared suffix, then shared prefix, keeping one
anchor base for indels) and indels are left-aligned against the reference (the vt/bcftools
norm algorithm), so an indel written anywhere inside a homopolymer or repeat gets one
representation. Equal-length substitutions longer than 1 bp (MNPs) are split into SNPs at the
differing bases. Type: SNP if REF and ALT are 1 bp after this, else INDEL (complex
replacements count as INDEL, as in hap.py).

**Confident regions.** A truth allele counts only if its normalised REF span lies inside one
confident interval; a query allele outside them is ``QUERY.UNK`` (never FP), matched or not.

**Matching.**
1. *Exact*: same contig, position, REF and ALT after normalisation, one to one.
2. *Haplotype*: the remaining alleles of both sides are clustered (spans closer than
   ``cluster_gap`` bp). In a cluster with at most ``max_cluster_alleles`` alleles per side,
   every subset of truth alleles and every subset of query alleles that can be applied
   together (no overlaps) is turned into the sequence it spells over the cluster window; the
   largest pair of subsets spelling the same sequence is matched (vcfeval's
   "squash-ploidy" allele matching). This catches e.g. an MNP or a complex allele written as
   separate SNPs/indels.
   Left unmatched (reported as FN/FP): equivalences that need alleles more than
   ``cluster_gap`` apart, clusters with more alleles than the limit, and equivalences that hold
   only per haplotype with different phasings on the two sides (not tested separately).

**Genotypes.** A matched truth allele whose copies differ from its match's (exact match) or
whose cluster's copies differ from the query's (haplotype match: sets of copies compared) is a
genotype error, counted in ``FP.gt``. By default (``genotype_match=True``, hap.py's default
scoring) a genotype error is a FN for its truth allele and a FP for the query allele: the
right allele with the wrong zygosity is not a correct call. With ``genotype_match=False``
it stays a TP on both sides (allele-level, like ``vcfeval --squash-ploidy``).

**Metrics** per type: recall = TRUTH.TP / (TRUTH.TP + TRUTH.FN), precision = QUERY.TP /
(QUERY.TP + QUERY.FP), F1 their harmonic mean (0 when undefined, as hap.py prints NaN);
Frac_NA = QUERY.UNK / QUERY.TOTAL. FP.al counts the query FPs that sit where a truth allele
starts but match none (a wrong allele at a true site). TiTv_ratio (SNP rows) is transitions
over transversions and het_hom_ratio het over hom-alt, both per allele over the truth
alleles counted in TRUTH.TOTAL and over every query allele; '' when the denominator is 0.
Optional strata (BED) keep the alleles whose span overlaps the stratum.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

Fetch = Callable[[str, int, int], str]
SNP, INDEL = "SNP", "INDEL"
TYPES = (SNP, INDEL)
ALL_SUBSET = "*"
TRUTH, QUERY = "truth", "query"
# Outcomes of one allele.
TP, FN, FP, UNK = "TP", "FN", "FP", "UNK"
SUMMARY_COLUMNS = ("Type", "Subset", "TRUTH.TOTAL", "TRUTH.TP", "TRUTH.FN", "QUERY.TOTAL",
                   "QUERY.TP", "QUERY.FP", "QUERY.UNK", "FP.gt", "FP.al", "QUERY.FILTERED",
                   "METRIC.Recall", "METRIC.Precision", "METRIC.Frac_NA", "METRIC.F1_Score",
                   "TRUTH.TOTAL.TiTv_ratio", "QUERY.TOTAL.TiTv_ratio",
                   "TRUTH.TOTAL.het_hom_ratio", "QUERY.TOTAL.het_hom_ratio")
TRANSITIONS = frozenset({("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")})


@dataclasses.dataclass(frozen=True)
class Record:
  """A VCF record as the comparison sees it (``start`` 0-based; GT of the one sample)."""
  contig: str
  start: int
  ref: str
  alts: Tuple[str, ...]
  genotype: Tuple[Optional[int], ...]
  passing: bool = True


@dataclasses.dataclass
class Allele:
  """One normalised alt allele of one side, and what the comparison decided about it."""
  side: str
  contig: str
  start: int
  ref: str
  alt: str
  copies: int
  confident: bool = True
  outcome: str = ""
  gt_mismatch: bool = False
  match_kind: str = ""  # 'exact' | 'haplotype' | ''

  @property
  def end(self) -> int:
    return self.start + len(self.ref)

  @property
  def vtype(self) -> str:
    return SNP if len(self.ref) == 1 and len(self.alt) == 1 else INDEL

  @property
  def key(self) -> Tuple[str, int, str, str]:
    return (self.contig, self.start, self.ref, self.alt)


# ---- Normalisation -------------------------------------------------------------------------------
def normalize(contig: str, start: int, ref: str, alt: str,
              fetch: Optional[Fetch]) -> List[Tuple[int, str, str]]:
  """Trimmed, left-aligned (pos, ref, alt) allele(s); MNPs come back as several SNPs.

  ``start`` and the returned positions are 0-based. Without ``fetch`` indels are trimmed but
  not shifted. Example on reference ``GAAAAC`` (0-based): deleting the A at 3, written
  ``(3, 'AA', 'A')``, becomes ``(0, 'GA', 'G')``.
  """
  if len(ref) == len(alt):
    return [(start + i, r, a) for i, (r, a) in enumerate(zip(ref, alt)) if r != a]
  pos, orig_ref, orig_alt = start, ref, alt
  if fetch is None:
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
      ref, alt = ref[:-1], alt[:-1]
  else:
    # Trim the shared suffix, extending left by one reference base whenever an allele empties.
    while True:
      changed = False
      if ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
        changed = True
      if (not ref or not alt) and pos > 0:
        base = fetch(contig, pos - 1, pos)
        if len(base) != 1:
          break
        pos -= 1
        ref, alt = base + ref, base + alt
        changed = True
      if not changed:
        break
    if not ref or not alt:  # at the contig start: nothing to anchor with, keep the record
      return normalize(contig, start, orig_ref, orig_alt, None)
  # Trim the shared prefix but keep one anchor base.
  while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
    ref, alt, pos = ref[1:], alt[1:], pos + 1
  return [(pos, ref, alt)]


def alleles_of(record: Record, side: str, fetch: Optional[Fetch]) -> List[Allele]:
  """The called alt alleles of ``record``, normalised (module docstring, "Units")."""
  out = []
  called = [g for g in record.genotype if g is not None]
  for index, alt in enumerate(record.alts, start=1):
    copies = called.count(index)
    if copies == 0 or alt in ("*", "<*>", "<NON_REF>") or alt.startswith("<"):
      continue
    for pos, r, a in normalize(record.contig, record.start, record.ref, alt, fetch):
      out.append(Allele(side, record.contig, pos, r, a, copies))
  return out


# ---- Haplotype matching --------------------------------------------------------------------------
def _spell(alleles: Sequence[Allele], window_start: int, window_ref: str) -> Optional[str]:
  """The window's sequence with ``alleles`` applied, or None if two of them overlap."""
  out, cursor = [], window_start
  for a in sorted(alleles, key=lambda x: (x.start, x.end)):
    if a.start < cursor:
      return None
    out.append(window_ref[cursor - window_start:a.start - window_start])
    out.append(a.alt)
    cursor = a.end
  out.append(window_ref[cursor - window_start:])
  return "".join(out)


def _match_cluster(truth: List[Allele], query: List[Allele], fetch: Fetch) -> None:
  """Marks the largest equivalent (truth subset, query subset) of one cluster as matched."""
  contig = truth[0].contig
  lo = min(a.start for a in truth + query)
  hi = max(a.end for a in truth + query)
  window_ref = fetch(contig, lo, hi)
  if len(window_ref) != hi - lo:
    return
  by_seq: Dict[str, Tuple[int, ...]] = {}
  for k in range(len(truth), 0, -1):
    for subset in itertools.combinations(range(len(truth)), k):
      seq = _spell([truth[i] for i in subset], lo, window_ref)
      if seq is not None and seq != window_ref and seq not in by_seq:
        by_seq[seq] = subset
  best = None
  for k in range(len(query), 0, -1):
    for subset in itertools.combinations(range(len(query)), k):
      seq = _spell([query[i] for i in subset], lo, window_ref)
      t = by_seq.get(seq) if seq is not None else None
      if t is not None and (best is None or len(t) + len(subset) > len(best[0]) + len(best[1])):
        best = (t, subset)
  if best is None:
    return
  t_alleles = [truth[i] for i in best[0]]
  q_alleles = [query[i] for i in best[1]]
  gt_ok = {a.copies for a in t_alleles} == {a.copies for a in q_alleles}
  for a in t_alleles + q_alleles:
    a.match_kind = "haplotype"
  for a in t_alleles + q_alleles:
    a.gt_mismatch = not gt_ok


def _clusters(alleles: List[Allele], gap: int) -> Iterable[List[Allele]]:
  alleles = sorted(alleles, key=lambda a: (a.contig, a.start, a.end))
  group: List[Allele] = []
  group_end = None
  for a in alleles:
    if group and (a.contig != group[0].contig or a.start > group_end + gap):
      yield group
      group = []
    if not group:
      group_end = a.end
    group.append(a)
    group_end = max(group_end, a.end)
  if group:
    yield group


# ---- Comparison ----------------------------------------------------------------------------------
@dataclasses.dataclass
class Comparison:
  """All alleles with their outcome, plus counts of what was skipped."""
  truth: List[Allele]
  query: List[Allele]
  query_filtered: Dict[str, int]   # by type of the skipped records' alleles

  def alleles(self) -> List[Allele]:
    return self.truth + self.query


def compare(truth_records: Sequence[Record], query_records: Sequence[Record],
            confident: Optional[Callable[[str, int, int], bool]], fetch: Optional[Fetch], *,
            cluster_gap: int = 10, max_cluster_alleles: int = 8,
            genotype_match: bool = True) -> Comparison:
  """Matches query alleles to truth alleles (module docstring); returns per-allele outcomes.

  ``genotype_match``: a genotype error is a FN and a FP (hap.py's default) rather than a TP.

  ``confident(contig, start, end)`` says whether a span lies in the confident regions (None:
  everything is confident). ``fetch`` gives reference bases (None: no left-alignment and no
  haplotype matching).
  """
  filtered: Dict[str, int] = {SNP: 0, INDEL: 0}
  truth: List[Allele] = []
  query: List[Allele] = []
  for r in truth_records:
    if r.passing:
      truth.extend(alleles_of(r, TRUTH, fetch))
  for r in query_records:
    alleles = alleles_of(r, QUERY, fetch)
    if r.passing:
      query.extend(alleles)
    else:
      for a in alleles:
        if confident is None or confident(a.contig, a.start, a.end):
          filtered[a.vtype] += 1
  for a in truth + query:
    a.confident = confident is None or confident(a.contig, a.start, a.end)

  # 1. exact matches after normalisation
  by_key: Dict[Tuple[str, int, str, str], List[Allele]] = {}
  for a in truth:
    by_key.setdefault(a.key, []).append(a)
  for q in query:
    bucket = by_key.get(q.key)
    if bucket:
      t = bucket.pop(0)
      t.match_kind = q.match_kind = "exact"
      t.gt_mismatch = q.gt_mismatch = t.copies != q.copies

  # 2. haplotype matches among the rest
  if fetch is not None:
    rest = [a for a in truth + query if not a.match_kind]
    for cluster in _clusters(rest, cluster_gap):
      t = [a for a in cluster if a.side == TRUTH]
      q = [a for a in cluster if a.side == QUERY]
      if t and q and len(t) <= max_cluster_alleles and len(q) <= max_cluster_alleles:
        _match_cluster(t, q, fetch)

  def correct(a: Allele) -> bool:
    return bool(a.match_kind) and not (genotype_match and a.gt_mismatch)
  for a in truth:
    a.outcome = (TP if correct(a) else FN) if a.confident else UNK
  for a in query:
    a.outcome = UNK if not a.confident else (TP if correct(a) else FP)
  return Comparison(truth=truth, query=query, query_filtered=filtered)


# ---- Summary -------------------------------------------------------------------------------------
def _ratio(a: int, b: int) -> float:
  return a / b if b else 0.0


def _titv(alleles: Sequence[Allele]) -> object:
  """Transitions / transversions among SNP alleles ('' when there is no transversion)."""
  ti = sum((a.ref, a.alt) in TRANSITIONS for a in alleles)
  tv = len(alleles) - ti
  return ti / tv if tv else ""


def _het_hom(alleles: Sequence[Allele]) -> object:
  """Het alleles (1 copy) / hom-alt alleles (2 copies) ('' when there is no hom-alt)."""
  het = sum(a.copies == 1 for a in alleles)
  hom = sum(a.copies >= 2 for a in alleles)
  return het / hom if hom else ""


def summarize(comparison: Comparison,
              strata: Optional[Mapping[str, Callable[[str, int, int], bool]]] = None
              ) -> List[Dict[str, object]]:
  """hap.py-like rows: per type (SNP, INDEL) for all alleles ('*') and per stratum.

  ``strata`` maps a name to ``overlaps(contig, start, end)``; a stratum row counts the alleles
  whose span overlaps it (QUERY.FILTERED is given for '*' only).
  """
  subsets = [(ALL_SUBSET, None)] + sorted((strata or {}).items())
  rows = []
  for vtype in TYPES:
    for name, overlaps in subsets:
      def keep(a: Allele) -> bool:
        return a.vtype == vtype and (overlaps is None or overlaps(a.contig, a.start, a.end))
      truth = [a for a in comparison.truth if keep(a) and a.outcome != UNK]
      query = [a for a in comparison.query if keep(a)]
      t_tp = sum(a.outcome == TP for a in truth)
      t_fn = sum(a.outcome == FN for a in truth)
      q_tp = sum(a.outcome == TP for a in query)
      q_fp = sum(a.outcome == FP for a in query)
      q_unk = sum(a.outcome == UNK for a in query)
      recall, precision = _ratio(t_tp, t_tp + t_fn), _ratio(q_tp, q_tp + q_fp)
      f1 = _ratio(2 * recall * precision, recall + precision)
      truth_at = {(a.contig, a.start) for a in truth}
      fp_al = sum(a.outcome == FP and not a.match_kind and (a.contig, a.start) in truth_at
                  for a in query)
      rows.append({
          "Type": vtype, "Subset": name, "TRUTH.TOTAL": t_tp + t_fn, "TRUTH.TP": t_tp,
          "TRUTH.FN": t_fn, "QUERY.TOTAL": len(query), "QUERY.TP": q_tp, "QUERY.FP": q_fp,
          "QUERY.UNK": q_unk,
          "FP.gt": sum(bool(a.match_kind) and a.gt_mismatch for a in truth), "FP.al": fp_al,
          "QUERY.FILTERED": comparison.query_filtered.get(vtype, 0) if overlaps is None else "",
          "METRIC.Recall": recall, "METRIC.Precision": precision,
          "METRIC.Frac_NA": _ratio(q_unk, len(query)), "METRIC.F1_Score": f1,
          "TRUTH.TOTAL.TiTv_ratio": _titv(truth) if vtype == SNP else "",
          "QUERY.TOTAL.TiTv_ratio": _titv(query) if vtype == SNP else "",
          "TRUTH.TOTAL.het_hom_ratio": _het_hom(truth),
          "QUERY.TOTAL.het_hom_ratio": _het_hom(query),
      })
  return rows


def overall_scores(rows: Sequence[Mapping[str, object]]) -> Dict[str, float]:
  """recall/precision/F1 over SNP + INDEL together (the '*' rows), plus the per-type F1s.

  What a checkpoint is selected on: keys ``f1``, ``recall``, ``precision``, ``f1_snp``,
  ``f1_indel``, ``recall_snp``, ``recall_indel`` (the fine-tuning sweep's overfitting guard),
  ``fp_gt``.
  """
  main = [r for r in rows if r["Subset"] == ALL_SUBSET]
  t_tp = sum(int(r["TRUTH.TP"]) for r in main)
  t_fn = sum(int(r["TRUTH.FN"]) for r in main)
  q_tp = sum(int(r["QUERY.TP"]) for r in main)
  q_fp = sum(int(r["QUERY.FP"]) for r in main)
  recall, precision = _ratio(t_tp, t_tp + t_fn), _ratio(q_tp, q_tp + q_fp)
  out = {"recall": recall, "precision": precision,
         "f1": _ratio(2 * recall * precision, recall + precision),
         "fp_gt": float(sum(int(r["FP.gt"]) for r in main))}
  for r in main:
    out[f"f1_{str(r['Type']).lower()}"] = float(r["METRIC.F1_Score"])
    out[f"recall_{str(r['Type']).lower()}"] = float(r["METRIC.Recall"])
  return out


def format_table(rows: Sequence[Mapping[str, object]]) -> str:
  """The rows as an aligned text table (what ``beam_pipelines.evaluate`` prints)."""
  cols = SUMMARY_COLUMNS
  def cell(v):
    return f"{v:.4f}" if isinstance(v, float) else str(v)
  cells = [[cell(r[c]) for c in cols] for r in rows]
  widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c)
            for i, c in enumerate(cols)]
  lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
  lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
  return "\n".join(lines)


def to_csv(rows: Sequence[Mapping[str, object]]) -> str:
  out = [",".join(SUMMARY_COLUMNS)]
  for r in rows:
    out.append(",".join(f"{r[c]:.6f}" if isinstance(r[c], float) else str(r[c])
                        for c in SUMMARY_COLUMNS))
  return "\n".join(out) + "\n"
