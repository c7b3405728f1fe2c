"""Training labels for candidates: DeepVariant v1.5's positional and haplotype labelers (spec 4).

Why two labelers: the positional one matches a candidate to the truth record that starts at the
same position, which is simple but blind to representation differences (an indel left- vs
right-shifted in a homopolymer, a SNP + indel written as one complex allele). The haplotype
labeler (DeepVariant's default) instead searches genotype assignments for the candidates and for
the truth that spell the *same pair of haplotype sequences* over a small reference window, and
reads the candidate genotypes off the best such assignment.

Both work on one partition at a time, exactly as make_examples labels "all candidates of R
together" (spec 2.3 step 6); the truth records handed in are those the truth VCF returns for R
(tabix overlap semantics) and are filtered here by `select_truths` (spec 4.1).

Coordinates are 0-based half-open throughout (``Candidate.start``, ``TruthVariant.start``,
``RefWindow``, ``Range``).

Worked example (haplotype labeler, the reason it exists)::

  reference  (pos 10..15)  C A A A A G
  candidate  start=11 AA>A   (deletes the A at 12)
  truth      start=13 AA>A   (deletes the A at 14), GT 1/1

  Positionally these are different records: the positional labeler labels the candidate 0/0.
  Both spell the haplotype "CAAAG", so the haplotype labeler gives the candidate 1/1.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from beam_pipelines.core.reference import RefWindow
from beam_pipelines.core.regions import IntervalIndex, Range
from beam_pipelines.core.variants import SYMBOLIC_ALTS, Candidate, TruthVariant, real_alts

Genotype = Tuple[int, ...]

# Grouping limits of the haplotype labeler (spec 4.3 step 2).
MAX_GT_OPTIONS_PRODUCT = 100_000
MAX_GROUP_SIZE = 8
MAX_SEPARATION = 30
FORCE_GROUP_WITHIN_BP = 0
# Reference bases appended after the last variant of a group (spec 4.3 step 3).
REF_WINDOW_PADDING = 20

# CPython's iteration order of the set {(i, j) for j in range(n + 1) for i in range(j + 1)},
# built in that insertion order (Nucleus' genotype_ordering_in_likelihoods), for n alts.
# DeepVariant enumerates candidate genotypes in this order and ties between equally good
# matches go to the first one found, so the order is part of the labels (spec 4.3, 12.3).
# The 1- and 2-alt orders are those written in the spec; 3 and 4 were produced by CPython 3.11
# (int-tuple hashes are not randomised, so the order is a constant of the interpreter).
_CANDIDATE_GENOTYPE_ORDER: Dict[int, Tuple[Genotype, ...]] = {
    0: ((0, 0),),
    1: ((0, 1), (1, 1), (0, 0)),
    2: ((0, 1), (1, 2), (0, 0), (1, 1), (0, 2), (2, 2)),
    3: ((0, 1), (1, 2), (0, 0), (1, 1), (0, 3), (2, 3), (0, 2), (3, 3), (2, 2), (1, 3)),
    4: ((0, 1), (4, 4), (2, 4), (1, 2), (0, 4), (3, 4), (0, 0), (1, 1), (0, 3), (1, 4), (2, 3),
        (0, 2), (3, 3), (2, 2), (1, 3)),
}


class LabelingError(ValueError):
  """Labeling cannot proceed (no haplotype match, reference window too small); names the region."""


@dataclasses.dataclass(frozen=True)
class LabeledCandidate:
  """A candidate with its training genotype.

  Attributes:
    candidate: the candidate as given (alleles not rewritten; see label_positional).
    genotype: label genotype, e.g. (0, 1); sorted for the haplotype labeler, in truth-GT order
      for the positional one (spec 1.4).
    is_confident: candidate start inside the confident regions; only confident candidates
      become examples (spec 4.2).
  """
  candidate: Candidate
  genotype: Genotype
  is_confident: bool


@dataclasses.dataclass(frozen=True)
class LabelingMetrics:
  """DeepVariant's LabelingMetrics message (spec 1.4), field order = proto field numbers.

  Why a value type with ``+``: each partition produces its own metrics and the run summary is
  their sum (a Beam CombineGlobally(sum) works because ``sum`` starts from ``LabelingMetrics()``
  via ``__radd__`` with 0).
  """
  n_truth_variant_sites: int = 0
  n_truth_variant_alleles: int = 0
  n_candidate_variant_sites: int = 0
  n_candidate_variant_alleles: int = 0
  n_non_confident_candidate_variant_sites: int = 0
  n_true_positive_sites: int = 0
  n_true_positive_alleles: int = 0
  n_false_negative_sites: int = 0
  n_false_negative_alleles: int = 0
  n_false_positive_sites: int = 0
  n_false_positive_alleles: int = 0
  n_inexact_position_matches: int = 0
  n_exact_position_matches: int = 0
  n_exact_position_and_allele_matches: int = 0
  n_exact_position_and_allele_and_genotype_matches: int = 0
  n_truth_multiallelics_sites_with_missed_alleles: int = 0

  @staticmethod
  def field_names() -> Tuple[str, ...]:
    return _METRIC_FIELDS

  def to_dict(self) -> Dict[str, int]:
    return {f: getattr(self, f) for f in _METRIC_FIELDS}

  @classmethod
  def from_dict(cls, values: Mapping[str, int]) -> "LabelingMetrics":
    unknown = set(values) - set(_METRIC_FIELDS)
    if unknown:
      raise ValueError(f"unknown LabelingMetrics fields: {sorted(unknown)}")
    return cls(**{k: int(v) for k, v in values.items()})

  def __add__(self, other):
    if not isinstance(other, LabelingMetrics):
      return NotImplemented
    return LabelingMetrics(*(getattr(self, f) + getattr(other, f) for f in _METRIC_FIELDS))

  def __radd__(self, other):
    if other == 0:  # sum() starts from 0.
      return self
    return self.__add__(other)


# The 16 counters, in proto field-number order; the one list every consumer iterates.
_METRIC_FIELDS = tuple(f.name for f in dataclasses.fields(LabelingMetrics))


# ---------------------------------------------------------------------------------------------
# Truth selection (spec 4.1), shared by both labelers.


def select_truths(truths: Iterable[TruthVariant], confident: IntervalIndex,
                  region: Optional[Range] = None) -> List[TruthVariant]:
  """Truth records usable for labeling a partition (spec 4.1).

  Keeps records that are not filtered, whose 0-based ``start`` lies inside a confident
  interval (their end is ignored), and, when ``region`` (0-based half-open) is given, that
  overlap it with tabix semantics (``start < region.end and end > region.start``, so a deletion
  starting before the partition but reaching into it is kept). Order is preserved.
  """
  out = []
  for t in truths:
    if t.filtered or not confident.contains(t.contig, t.start):
      continue
    if region is not None and not (t.contig == region.contig and t.start < region.end
                                   and t.end > region.start):
      continue
    out.append(t)
  return out


# ---------------------------------------------------------------------------------------------
# Positional labeler (spec 4.4).


def _simplify(alleles: Sequence[str]) -> Tuple[str, ...]:
  """Trims the longest suffix common to all alleles, never leaving an allele empty.

  >>> _simplify(('CAA', 'CA')), _simplify(('A', 'AT')), _simplify(('TAC', 'GAC', 'TC'))
  (('CA', 'C'), ('A', 'AT'), ('TA', 'GA', 'T'))
  """
  shortest = min(len(a) for a in alleles)
  n = 0
  for i in range(1, shortest):
    if len({a[-i] for a in alleles}) != 1:
      break
    n = i
  return tuple(a[:-n] for a in alleles) if n else tuple(alleles)


def _positional_genotype(cand_ref: str, cand_alts: Sequence[str], truth_ref: str,
                         truth_alts: Sequence[str], truth_gt: Genotype) -> Genotype:
  """Maps each truth GT allele (in GT order) to the candidate's allele index.

  The truth's ref -> 0; an alt -> 1 + index of the candidate alt that equals it once each
  (ref, alt) pair is suffix-trimmed on its own (so candidate AGT>AGTGT equals truth A>AGT);
  an alt the candidate lacks -> 0. A missing allele ('.', -1) also maps to 0: it names no
  sequence the candidate could carry (decision; DeepVariant does not define this case).
  """
  cand_keys = [_simplify((cand_ref, a)) for a in cand_alts]
  out = []
  for g in truth_gt:
    if g <= 0 or g > len(truth_alts):
      out.append(0)
      continue
    allele = truth_alts[g - 1]
    if allele == truth_ref:
      out.append(0)
      continue
    key = _simplify((truth_ref, allele))
    out.append(next((i + 1 for i, k in enumerate(cand_keys) if k == key), 0))
  return tuple(out)


def label_positional(candidates: Sequence[Candidate], truths: Iterable[TruthVariant],
                     confident: IntervalIndex, *,
                     region: Optional[Range] = None) -> List[LabeledCandidate]:
  """DeepVariant's positional labeler (spec 4.4); returns confident candidates only.

  For each candidate (0-based ``start``): candidates whose start is outside the confident
  regions are dropped, even when a truth record matches them. Matches are the selected truth
  records (``select_truths``, with ``region`` if given) with exactly the same start; candidate
  and truth alleles are first simplified by trimming the suffix common to ref and all alts
  (a no-op for very-sensitive-caller candidates). The best match is the *last* match whose
  simplified ref and alt list equal the candidate's, else the *first* match; no match gives
  (0, 0). The genotype is the truth GT mapped allele by allele, kept in truth-GT order (not
  sorted): truth 1|0 on an identical candidate gives (1, 0). A reference-site candidate (no
  real alt, e.g. ".") always gets (0, 0). Haploid truth GTs stay haploid: (1,) -> (1,).

  The returned ``LabeledCandidate.candidate`` is the candidate as given: simplification only
  affects matching, so the allele strings keep agreeing with ``ad`` / ``allele_support``.

  Example: candidate A>C,T (alts sorted) against truth A>T,C GT 1/2 gives (2, 1).
  """
  out = []
  for cand, match in match_positional(candidates, truths, confident, region=region):
    if match is None or not real_alts(cand.alts):
      out.append(LabeledCandidate(cand, (0, 0), True))
      continue
    truth, t_alleles, cand_alleles = match
    genotype = _positional_genotype(cand_alleles[0], cand_alleles[1:], t_alleles[0],
                                    t_alleles[1:], truth.genotype)
    out.append(LabeledCandidate(cand, genotype, True))
  return out


def match_positional(candidates: Sequence[Candidate], truths: Iterable[TruthVariant],
                     confident: IntervalIndex, *, region: Optional[Range] = None):
  """The positional labeler's matching (see ``label_positional``), for confident candidates:
  (candidate, None) without a truth at its start, else (candidate, (truth, truth alleles
  simplified, candidate alleles simplified))."""
  by_start: Dict[Tuple[str, int], List[TruthVariant]] = collections.defaultdict(list)
  for t in select_truths(truths, confident, region):
    by_start[(t.contig, t.start)].append(t)
  out = []
  for cand in candidates:
    if not confident.contains(cand.contig, cand.start):
      continue
    cand_alleles = _simplify((cand.ref,) + tuple(cand.alts)) if cand.alts else (cand.ref,)
    matches = []
    for t in by_start.get((cand.contig, cand.start), ()):
      t_alleles = _simplify((t.ref,) + tuple(t.alts)) if t.alts else (t.ref,)
      matches.append((t, t_alleles))
    if not matches:
      out.append((cand, None))
      continue
    best = matches[0]
    for m in matches:
      if m[1] == cand_alleles:
        best = m
    out.append((cand, (best[0], best[1], cand_alleles)))
  return out


def customized_class_label(candidate: Candidate, truth: Optional[TruthVariant],
                           alt_indices: Sequence[int], classes: Sequence[str]) -> int:
  """DeepVariant's customized-classes label of one image (labeler/customized_classes_labeler).

  0 (the first class, usually 'ref') unless the positional match ``truth`` has a non-0/0 GT,
  the same REF as the candidate, and the image shows the truth's first alt; then the index of
  the truth's class (its ``info_class``) in ``classes``. A truth without the INFO field is
  labelled 0 (DeepVariant 1.5 does so); a class not in ``classes`` is an error naming the
  record. Example: classes ref,class1,class2; truth C>T type=class2 GT 0/1; candidate C>T:
  label 2.
  """
  if truth is None:
    return 0
  if tuple(truth.genotype) == (0, 0):
    return 0
  if truth.ref != candidate.ref or not truth.alts:
    return 0
  if truth.info_class is None:
    return 0
  if truth.info_class not in classes:
    raise LabelingError(f"truth record {truth.contig}:{truth.start + 1} has class "
                        f"{truth.info_class!r}, not one of --customized_classes_labeler_"
                        f"classes_list {','.join(classes)}")
  if any(candidate.alts[i] == truth.alts[0] for i in alt_indices):
    return classes.index(truth.info_class)
  return 0


# ---------------------------------------------------------------------------------------------
# Haplotype labeler (spec 4.3).


@dataclasses.dataclass(frozen=True)
class _Var:
  """A candidate or truth reduced to what haplotype construction needs (0-based start)."""
  start: int
  ref: str
  alts: Tuple[str, ...]

  @property
  def end(self) -> int:
    return self.start + len(self.ref)


def _num_genotypes(n_alts: int) -> int:
  """Unphased diploid genotypes over ref + n alts: (n + 1)(n + 2) / 2."""
  return (n_alts + 1) * (n_alts + 2) // 2


def candidate_genotype_options(n_alts: int) -> Tuple[Genotype, ...]:
  """All unphased genotypes (i <= j) over ref + ``n_alts`` alts, in DeepVariant's order.

  DeepVariant iterates a Python set of int tuples; the order is tabulated above for up to 4
  alts and computed the same way (a set of int tuples, whose hashes are not randomised) beyond.
  """
  if n_alts in _CANDIDATE_GENOTYPE_ORDER:
    return _CANDIDATE_GENOTYPE_ORDER[n_alts]
  return tuple({(i, j) for j in range(n_alts + 1) for i in range(j + 1)})


def truth_genotype_options(gt: Genotype) -> Tuple[Genotype, ...]:
  """The truth GT plus every way of having missed some of its alt alleles, sorted.

  >>> truth_genotype_options((1, 1)), truth_genotype_options((1, 2))
  (((0, 0), (0, 1), (1, 1)), ((0, 0), (0, 1), (0, 2), (1, 2)))
  """
  options = {(0, 0), tuple(gt)} | {(0, a) for a in set(gt) - {0}}
  return tuple(sorted(options))


def _group_variants(candidates: Sequence[Candidate], truths: Sequence[TruthVariant]):
  """Greedy grouping of candidates and truths (spec 4.3 step 2).

  Candidates and truths are merged by start (candidates first on ties, each list's own order
  kept). A variant joins the current group iff the group is empty, or the product of genotype
  counts would stay < MAX_GT_OPTIONS_PRODUCT, the group holds < MAX_GROUP_SIZE variants of the
  same kind, and ``start - member.end + 1 <= MAX_SEPARATION`` for some member. Independently, a
  variant whose end minus the previous variant's end is <= FORCE_GROUP_WITHIN_BP (0) is forced
  into the current group (so a variant nested inside, or ending with, the previous one is never
  separated from it).

  Decision: the spec states the forced rule per variant, and that is what is implemented. A
  later DeepVariant source first bundles runs of equal ``end`` and tests a bundle as a whole;
  the two differ only when the first variant of an equal-end run is admitted and a later one
  alone would not be (here both join; there both open a new group).

  Returns a list of (candidates, truths) lists per group.
  """
  merged = sorted([(c.start, 0, i, c) for i, c in enumerate(candidates)] +
                  [(t.start, 1, i, t) for i, t in enumerate(truths)],
                  key=lambda x: (x[0], x[1], x[2]))
  groups = []
  current: List[Tuple[int, object]] = []
  product = 1
  prev_end = 0
  for _, kind, _, v in merged:
    n_gt = _num_genotypes(len(v.alts))
    new_product = product * n_gt
    if not current:
      include = True
    else:
      include = (new_product < MAX_GT_OPTIONS_PRODUCT
                 and sum(1 for k, _ in current if k == kind) < MAX_GROUP_SIZE
                 and any(v.start - m.end + 1 <= MAX_SEPARATION for _, m in current))
    if include or v.end - prev_end <= FORCE_GROUP_WITHIN_BP:
      current.append((kind, v))
      product = new_product
    else:
      groups.append(current)
      current = [(kind, v)]
      product = n_gt
    prev_end = v.end
  if current:
    groups.append(current)
  return [([v for k, v in g if k == 0], [v for k, v in g if k == 1]) for g in groups]


class _RefSlice:
  """Reference bases of the group window ``[start, end)`` (0-based half-open)."""

  def __init__(self, seq: str, start: int):
    self.seq = seq
    self.start = start
    self.end = start + len(seq)

  def bases(self, start: int, end: int) -> str:
    if start < self.start or end > self.end or end < start:
      raise LabelingError(f"[{start},{end}) outside labeling window [{self.start},{self.end})")
    return self.seq[start - self.start:end - self.start]


def _build_haplotype(variants: Sequence[_Var], alleles: Sequence[int], ref: _RefSlice,
                     ref_start: int, ref_end: int) -> Optional[str]:
  """Spells one haplotype over ``[ref_start, ref_end)`` with the reference cursor rule.

  Allele 0 appends only the first reference base and moves the cursor to start + 1 (so the
  bases of an absent deletion are still read from the reference); an alt appends the alt and
  moves the cursor to ``end``. A variant starting before the cursor can only take allele 0,
  otherwise the haplotype is impossible (None). A symbolic alt ('.', '<*>') spells nothing and
  is impossible too (it could never equal a truth haplotype anyway).

  Example: ref CAGC at 9..12, A>C at 10, G>T at 11, alleles (0, 1), from 9 to 13 -> "CATC".
  """
  parts = []
  pos = ref_start
  for v, a in zip(variants, alleles):
    if v.start < pos:
      if a != 0:
        return None
      continue
    prefix = ref.bases(pos, v.start)
    if a == 0:
      parts.append(prefix + v.ref[0])
      pos = v.start + 1
    else:
      alt = v.alts[a - 1]
      if alt in SYMBOLIC_ALTS or alt.startswith("<"):
        return None
      parts.append(prefix + alt)
      pos = v.end
  if pos < ref_end:
    parts.append(ref.bases(pos, ref_end))
  return "".join(parts)


def _clusters(variants: Sequence[_Var]) -> List[List[int]]:
  """Splits sorted variants into runs that overlap (transitively) and must be phased jointly."""
  out: List[List[int]] = []
  for i, v in enumerate(variants):
    if out and any(variants[j].start < v.end and v.start < variants[j].end for j in out[-1]):
      out[-1].append(i)
    else:
      out.append([i])
  return out


def _diploid_prefixes(variants: Sequence[_Var], genotypes: Sequence[Genotype], ref: _RefSlice,
                      start: int, end: int) -> List[Tuple[str, ...]]:
  """All (one- or two-string) haplotype pairs one overlap cluster can spell from ``start``.

  Every phased choice (one allele of each genotype) is spelled in sorted order of the choices;
  each is paired with its complement (the other allele of every two-allele genotype), and a
  pair is listed once, from the choice met first. A pair is a tuple, (h1, h2) in that order,
  or (h,) when both spell the same sequence; DeepVariant uses a set of strings there, whose
  iteration order is hash-randomised, so this fixed order is our own (deterministic) choice.
  """
  phased: Dict[Genotype, str] = {}
  for choice in sorted(set(itertools.product(*genotypes))):
    h = _build_haplotype(variants, choice, ref, start, end)
    if h:
      phased[choice] = h
  out = []
  done = set()
  for choice, h in phased.items():
    comp = tuple(g[1] if c == g[0] and len(g) == 2 else g[0] for c, g in zip(choice, genotypes))
    h2 = phased.get(comp)
    if h2 is not None and comp not in done:
      done.add(choice)
      out.append((h,) if h == h2 else (h, h2))
  return out


def _dedup(strings) -> Tuple[str, ...]:
  return tuple(dict.fromkeys(strings))


def _extend(prefix: Tuple[str, ...], suffix: Tuple[str, ...]):
  """All diploid joins of a prefix pair and a suffix pair (1 or 2 strings each)."""
  if len(prefix) == 1:
    yield _dedup(prefix[0] + h for h in suffix)
  elif len(suffix) == 1:
    yield _dedup((prefix[0] + suffix[0], prefix[1] + suffix[0]))
  else:
    yield _dedup((prefix[0] + suffix[0], prefix[1] + suffix[1]))
    yield _dedup((prefix[0] + suffix[1], prefix[1] + suffix[0]))


def _enumerate_haplotypes(variants: Sequence[_Var], options: Sequence[Sequence[Genotype]],
                          ref: _RefSlice) -> "collections.OrderedDict":
  """Maps each reachable haplotype set to the genotype combinations that spell it.

  Combinations are visited in ``itertools.product`` order of ``options``; a haplotype set is a
  frozenset of one or two strings covering the whole window. Keys appear in first-seen order
  and each key's list keeps visiting order (this order decides ties, see _best_match).
  The joins across independent clusters follow DeepVariant's recursion: the first cluster's
  choices vary fastest. Per-cluster results are cached by (cluster, its genotypes).
  """
  clusters = _clusters(variants)
  starts = [ref.start]
  for cl in clusters:
    starts.append(max(variants[i].end for i in cl))
  tail = (ref.bases(starts[-1], ref.end),) if starts[-1] != ref.end else ("",)
  cache: Dict[Tuple[int, Tuple[Genotype, ...]], List[Tuple[str, ...]]] = {}
  result: "collections.OrderedDict" = collections.OrderedDict()
  for combo in itertools.product(*options):
    prefix_lists = []
    for ci, cl in enumerate(clusters):
      key = (ci, tuple(combo[i] for i in cl))
      if key not in cache:
        cache[key] = _diploid_prefixes([variants[i] for i in cl], key[1], ref, starts[ci],
                                       starts[ci + 1])
      if not cache[key]:
        prefix_lists = None
        break
      prefix_lists.append(cache[key])
    if prefix_lists is None:
      continue
    haps = [tail]
    for plist in reversed(prefix_lists):
      haps = [e for s in haps for p in plist for e in _extend(p, s)]
    for h in haps:
      result.setdefault(frozenset(h), []).append(combo)
  return result


def _n_zeros(gt: Genotype) -> int:
  return sum(1 for g in gt if g == 0)


def _best_match(cand_vars: Sequence[_Var], truth_vars: Sequence[_Var],
                truth_gts: Sequence[Genotype], ref: _RefSlice):
  """Best (candidate genotypes, truth genotypes) that spell equal haplotype sets, or None.

  Truth options: its GT and every missed-allele variant (sorted); candidate options: all
  genotypes in DeepVariant's set order. With no truths, candidates only get (0, 0); with no
  candidates, truths only get (0, 0). For truth, when several combinations give the same
  haplotype set the last enumerated is kept. Matches are visited key by key in the order the
  candidate haplotype sets were first seen, and within a key in enumeration order; the best is
  the first with minimal (FN, FP, TP): FN = missed truth alleles (zeros added to a truth GT),
  FP = candidates at (0, 0), TP = candidates non-ref.
  """
  if cand_vars:
    t_options = [truth_genotype_options(gt) for gt in truth_gts]
  else:
    t_options = [((0, 0),)] * len(truth_vars)
  if truth_vars:
    c_options = [candidate_genotype_options(len(v.alts)) for v in cand_vars]
  else:
    c_options = [((0, 0),)] * len(cand_vars)

  truth_haps = {k: v[-1] for k, v in _enumerate_haplotypes(truth_vars, t_options, ref).items()}
  cand_haps = _enumerate_haplotypes(cand_vars, c_options, ref)
  original_zeros = sum(_n_zeros(gt) for gt in truth_gts)
  best = None
  best_score = None
  for key, combos in cand_haps.items():
    tgt = truth_haps.get(key)
    if tgt is None:
      continue
    fn = sum(_n_zeros(gt) for gt in tgt) - original_zeros
    for cgt in combos:
      fp = sum(1 for gt in cgt if all(g == 0 for g in gt))
      score = (fn, fp, len(cgt) - fp)
      if best_score is None or score < best_score:
        best, best_score = (cgt, tgt), score
  return best


def _truth_gt_for_labeling(gt: Genotype) -> Genotype:
  """Missing alleles ('.', -1) of a kept truth GT read as reference (decision, see below)."""
  return tuple(0 if g < 0 else g for g in gt)


def _group_metrics(cands: Sequence[Candidate], cand_gts: Sequence[Genotype],
                   truths: Sequence[TruthVariant], original_gts: Sequence[Genotype],
                   truth_gts: Sequence[Genotype], confident: IntervalIndex) -> Dict[str, int]:
  m = dict.fromkeys(_METRIC_FIELDS, 0)
  for t, og, ag in zip(truths, original_gts, truth_gts):
    n_alts = len({g for g in og if g > 0})
    m["n_truth_variant_sites"] += 1
    m["n_truth_variant_alleles"] += n_alts
    m["n_true_positive_sites"] += any(g > 0 for g in ag)
    m["n_false_negative_sites"] += all(g == 0 for g in ag)
    if n_alts > 1 and len({g for g in ag if g > 0}) < n_alts:
      m["n_truth_multiallelics_sites_with_missed_alleles"] += 1
    for o, a in zip(og, ag):
      if o > 0:
        if a > 0:
          m["n_true_positive_alleles"] += 1
        elif a == 0:
          m["n_false_negative_alleles"] += 1
  truth_by_pos = {t.start: (t, gt) for t, gt in zip(truths, truth_gts)}
  for c, gt in zip(cands, cand_gts):
    if not confident.contains(c.contig, c.start):
      m["n_non_confident_candidate_variant_sites"] += 1
      continue
    n_alts = len(c.alts)
    m["n_candidate_variant_sites"] += 1
    m["n_candidate_variant_alleles"] += n_alts
    m["n_false_positive_sites"] += all(g == 0 for g in gt)
    m["n_false_positive_alleles"] += n_alts - len({g for g in gt if g > 0})
    hit = truth_by_pos.get(c.start)
    if hit is not None:
      t, tgt = hit
      m["n_exact_position_matches"] += 1
      if sorted(c.alts) == sorted(t.alts):
        m["n_exact_position_and_allele_matches"] += 1
        if sorted(gt) == sorted(tgt):
          m["n_exact_position_and_allele_and_genotype_matches"] += 1
    elif any(g > 0 for g in gt):
      m["n_inexact_position_matches"] += 1
  return m


def label_haplotypes(candidates: Sequence[Candidate], truths: Iterable[TruthVariant],
                     confident: IntervalIndex, ref: RefWindow, *,
                     region: Optional[Range] = None
                     ) -> Tuple[List[LabeledCandidate], LabelingMetrics]:
  """DeepVariant's haplotype labeler for one partition (spec 4.3).

  Args:
    candidates: the partition's candidates on ``ref.contig`` (0-based starts), any order.
    truths: truth records for the partition (e.g. TruthReader.fetch(partition)); filtered here
      with ``select_truths`` (and ``region``), then records whose raw GT sums to <= 0 are
      dropped (0/0, ./., 1/. ...).
    confident: confident regions; gate both truths (by start) and ``is_confident``.
    ref: reference bases covering every group window ``[min start - 1, max end + 20)``
      (clipped to the contig); a window outside it raises LabelingError.
    region: the partition (0-based half-open), to drop truths that do not overlap it.

  Returns:
    One LabeledCandidate per candidate, sorted by start (stable), with its sorted label
    genotype and ``is_confident``: the caller keeps confident ones only (spec 4.2), and the
    LabelingMetrics of this partition (sum them over partitions).

  Raises:
    LabelingError: a group for which no candidate and truth genotypes spell the same
      haplotypes. All-reference always spells the reference on both sides, so this only
      happens when a candidate's or truth's ref allele disagrees with the reference (wrong
      build or contig); DeepVariant fails the run there too, and so do we, naming the group.

  Decisions: a kept truth GT with a missing allele (e.g. 2/.) has it read as 0 for options,
  haplotypes and metrics. Candidates with symbolic alts can only take the reference allele
  when spelling haplotypes (their metrics still count ``len(alts)`` alleles, as DeepVariant).
  """
  cands = sorted(candidates, key=lambda c: c.start)
  for c in cands:
    if c.contig != ref.contig:
      raise LabelingError(f"candidate {c.contig}:{c.start + 1} is not on the reference "
                          f"window's contig {ref.contig}")
  kept = []
  for t in select_truths(truths, confident, region):
    if t.contig != ref.contig:
      raise LabelingError(f"truth {t.contig}:{t.start + 1} is not on the reference window's "
                          f"contig {ref.contig}")
    if sum(t.genotype) > 0:
      kept.append(t)
  kept.sort(key=lambda t: t.start)

  labels: Dict[int, Genotype] = {}
  metrics = dict.fromkeys(_METRIC_FIELDS, 0)
  index_of = {id(c): i for i, c in enumerate(cands)}
  for g_cands, g_truths in _group_variants(cands, kept):
    members = list(g_cands) + list(g_truths)
    lo = max(min(v.start for v in members) - 1, 0)
    hi = min(max(v.end for v in members) + REF_WINDOW_PADDING, ref.contig_length)
    where = Range(ref.contig, lo, hi).to_literal()
    if not ref.covers(lo, hi):
      raise LabelingError(
          f"labeling window {where} is not inside the fetched reference window "
          f"{ref.contig}:[{ref.start},{ref.end}); fetch a larger margin around the partition")
    window = _RefSlice(ref.bases(lo, hi), lo)
    cand_vars = [_Var(c.start, c.ref, tuple(c.alts)) for c in g_cands]
    truth_vars = [_Var(t.start, t.ref, tuple(t.alts)) for t in g_truths]
    original = [_truth_gt_for_labeling(t.genotype) for t in g_truths]
    match = _best_match(cand_vars, truth_vars, original, window)
    if match is None:
      desc = "; ".join([f"candidate {c.start + 1} {c.ref}>{','.join(c.alts)}" for c in g_cands] +
                       [f"truth {t.start + 1} {t.ref}>{','.join(t.alts)} GT {t.genotype}"
                        for t in g_truths])
      raise LabelingError(
          f"no genotype assignment makes candidates and truth spell the same haplotypes in "
          f"{where} ({desc}); do the ref alleles agree with the reference?")
    cand_gts, truth_gts = match
    for c, gt in zip(g_cands, cand_gts):
      labels[index_of[id(c)]] = tuple(sorted(gt))
    for k, v in _group_metrics(g_cands, cand_gts, g_truths, original, truth_gts,
                               confident).items():
      metrics[k] += v
  out = [LabeledCandidate(c, labels[i], confident.contains(c.contig, c.start))
         for i, c in enumerate(cands)]
  return out, LabelingMetrics(**metrics)
