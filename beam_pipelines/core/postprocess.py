"""From per-image class probabilities to one VCF call per candidate (pure numpy, no TensorFlow).

This is DeepVariant's ``postprocess_variants`` rule (v1.5 defaults), written for pileflow:

**Images of one candidate.** A candidate with alts ``a1 < ... < an`` has one image per
single alt (``[i]``) and, unless make_examples ran with ``--multi_allelic_mode
exclude_het_alt_images``, one per pair (``[i, j]``) (spec 2.9). Each image's model output is
``(p_ref/ref, p_ref/alts, p_alts/alts)`` over "the alleles shown" (spec 4.6).

**1. Drop weak alts (multi-allelic only).** For every single-alt image, its QUAL is
``phred(1 - p_ref/ref)`` (bounded at 100). Alts whose image QUAL is below
``multi_allelic_qual_filter`` (1.0) are removed, except that if that would remove every alt,
the alt with the highest QUAL stays. Images showing a removed alt are ignored, and the
candidate's AD/VAF lose the removed alts' entries.

**2. Combine: minimum over the images that inform a genotype, then normalise.** Each remaining
image adds its three probabilities to the genotypes they speak for:
``p_ref/ref`` -> (ref, ref); ``p_ref/alts`` -> (ref, a) for each alt a shown;
``p_alts/alts`` -> (a, b) for every pair of alts a, b shown (a == b included). A genotype's
probability is the *minimum* over everything it received (an image that shows an allele and
finds little support for it vetoes the genotype), and the vector over the genotypes in VCF
order (0/0, 0/1, 1/1, 0/2, 1/2, 2/2, ...) is divided by its sum (all zeros -> uniform).
A genotype no image informs (a het-alt 1/2 when pair images were excluded) gets 0.

Worked example, alts [A, G], images [0] -> (0.1, 0.8, 0.1), [1] -> (0.2, 0.7, 0.1),
[0, 1] -> (0.05, 0.05, 0.9): 0/0 = min(0.1, 0.2, 0.05) = 0.05; 0/1 = min(0.8, 0.05) = 0.05;
1/1 = min(0.1, 0.9) = 0.1; 0/2 = min(0.7, 0.05) = 0.05; 1/2 = 0.9; 2/2 = min(0.1, 0.9) = 0.1;
sum 1.25 -> 1/2 called with probability 0.72.

A biallelic candidate's single image is used as is.

**3. Call.** GT = argmax genotype; GQ = ``round(phred(1 - p[GT]))``; QUAL =
``phred(1 - p(0/0))`` i.e. the phred of ``sum(p[non-ref])``; both bounded at 100 (DeepVariant's
max confidence ``1 - 1e-10``). PL = ``int(-10 * (GL - max GL))`` (truncated, as Nucleus'
VCF writer converts) with ``GL = log10(max(p, 1e-10))``. A candidate whose AD sums to 0 (no
read supports any allele) gets GT ``./.``, GQ 0, PL ``0,0`` and FILTER ``NoCall``; otherwise
FILTER = ``RefCall`` if GT is 0/0, else ``LowQual`` if QUAL < ``qual_filter`` (1.0), else
``PASS``. A RefCall with GQ < ``cnn_homref_call_min_gq``
(20) gets GT ``./.``. Finally alleles are simplified: a suffix shared by REF and every ALT is
trimmed (each allele keeps at least one base), which matters after alts were removed.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

MAX_CONFIDENCE = 1.0 - 1e-10
# The GL floor, written as Nucleus does: 1 - MAX_CONFIDENCE is not exactly 1e-10 in floating
# point, and a GL of -9.99999999 would print PL 99 where DeepVariant prints 100.
MIN_PERROR = 1e-10
MAX_PHRED = 100.0
FILTER_PASS = "PASS"
FILTER_REF_CALL = "RefCall"
FILTER_LOW_QUAL = "LowQual"
FILTER_NO_CALL = "NoCall"
DEFAULT_QUAL_FILTER = 1.0
DEFAULT_MULTI_ALLELIC_QUAL_FILTER = 1.0
DEFAULT_CNN_HOMREF_CALL_MIN_GQ = 20.0


@dataclasses.dataclass(frozen=True)
class ImagePrediction:
  """One image's alt indices (into the candidate's alts) and its 3 class probabilities."""
  alt_indices: Tuple[int, ...]
  probs: Tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class Call:
  """The VCF call of one candidate. ``start`` is 0-based; ``genotype`` (-1, -1) means ./.."""
  contig: str
  start: int
  ref: str
  alts: Tuple[str, ...]
  genotype: Tuple[int, int]
  gq: int
  qual: float
  pls: Tuple[int, ...]
  filter: str
  dp: int
  ad: Tuple[int, ...]
  vaf: Tuple[float, ...]
  genotype_probabilities: Tuple[float, ...]

  @property
  def end(self) -> int:
    return self.start + len(self.ref)


def phred(perror: float) -> float:
  """-10 log10(perror), with perror = 0 mapped to infinity."""
  return math.inf if perror <= 0 else -10.0 * math.log10(perror)


def ptrue_to_bounded_phred(ptrue: float) -> float:
  """Phred of (1 - ptrue) with ptrue capped at 1 - 1e-10 (so at most 100)."""
  return phred(1.0 - min(max(ptrue, 0.0), MAX_CONFIDENCE))


def genotype_ordering(n_alleles: int) -> List[Tuple[int, int]]:
  """Diploid genotypes in VCF likelihood order: (0,0), (0,1), (1,1), (0,2), (1,2), (2,2), ..."""
  return [(j, i) for i in range(n_alleles) for j in range(i + 1)]


def expected_alt_indices(n_alts: int, with_pairs: bool = True) -> List[Tuple[int, ...]]:
  singles = [(i,) for i in range(n_alts)]
  return singles + (list(itertools.combinations(range(n_alts), 2)) if with_pairs else [])


def image_qual(probs: Sequence[float]) -> float:
  """QUAL of one image: phred(1 - p_ref/ref) = bounded phred of p(any alt)."""
  return round(ptrue_to_bounded_phred(min(float(probs[1]) + float(probs[2]), 1.0)), 7)


def alts_to_remove(alts: Sequence[str], images: Sequence[ImagePrediction],
                   multi_allelic_qual_filter: float) -> set:
  """Step 1 of the module docstring: alts whose single-alt image QUAL is below the filter."""
  remove, best_qual, best_alt = set(), None, None
  if not multi_allelic_qual_filter or len(alts) < 2:
    return remove
  for image in images:
    if len(image.alt_indices) != 1:
      continue
    alt = alts[image.alt_indices[0]]
    qual = image_qual(image.probs)
    if best_qual is None or qual > best_qual:
      best_qual, best_alt = qual, alt
    if qual < multi_allelic_qual_filter:
      remove.add(alt)
  if len(remove) == len(alts) and best_alt is not None:
    remove.discard(best_alt)
  return remove


def merge_predictions(ref: str, alts: Sequence[str], images: Sequence[ImagePrediction],
                      multi_allelic_qual_filter: float = DEFAULT_MULTI_ALLELIC_QUAL_FILTER
                      ) -> Tuple[Tuple[str, ...], np.ndarray]:
  """(kept alts, genotype probabilities in VCF order) for one candidate (module docstring).

  Raises:
    ValueError: no images, an image index outside the alts, or a duplicated image.
  """
  if not images:
    raise ValueError(f"{ref}>{','.join(alts)}: no image predictions to merge")
  seen = set()
  for image in images:
    if image.alt_indices in seen:
      raise ValueError(f"{ref}>{','.join(alts)}: two images show alts {list(image.alt_indices)}")
    seen.add(image.alt_indices)
    if not image.alt_indices or max(image.alt_indices) >= len(alts) or min(image.alt_indices) < 0:
      raise ValueError(f"{ref}>{','.join(alts)}: image alt indices "
                       f"{list(image.alt_indices)} outside the {len(alts)} alts")
  if len(alts) == 1:
    return tuple(alts), np.asarray(images[0].probs, dtype=np.float64)
  removed = alts_to_remove(alts, images, multi_allelic_qual_filter)
  received: Dict[Tuple[str, str], List[float]] = {}
  for image in images:
    shown = [alts[i] for i in image.alt_indices]
    if removed.intersection(shown):
      continue
    p11, p12, p22 = (float(p) for p in image.probs)
    received.setdefault((ref, ref), []).append(p11)
    for a in shown:
      received.setdefault((ref, a), []).append(p12)
    for a, b in itertools.product(shown, shown):
      received.setdefault((a, b), []).append(p22)
  kept = tuple(a for a in alts if a not in removed)
  alleles = (ref,) + kept
  probs = np.array([min(received.get((alleles[j], alleles[i]), [0.0]))
                    for j, i in genotype_ordering(len(alleles))], dtype=np.float64)
  total = probs.sum()
  if total <= 0:
    probs = np.ones_like(probs)
    total = probs.sum()
  return kept, probs / total


def simplify_alleles(ref: str, alts: Sequence[str]) -> Tuple[str, Tuple[str, ...]]:
  """Trims a suffix shared by ref and all alts while every allele keeps >= 1 base.

  ``CAA > [CA]`` -> ``CA > [C]``; ``A > [G]`` unchanged.
  """
  alleles = [ref, *alts]
  while all(len(a) > 1 for a in alleles) and len({a[-1] for a in alleles}) == 1:
    alleles = [a[:-1] for a in alleles]
  return alleles[0], tuple(alleles[1:])


def call_from_probabilities(probs: np.ndarray, *, qual_filter: float = DEFAULT_QUAL_FILTER,
                            min_homref_gq: float = DEFAULT_CNN_HOMREF_CALL_MIN_GQ,
                            no_reads: bool = False
                            ) -> Tuple[Tuple[int, int], int, float, Tuple[int, ...], str]:
  """(genotype, GQ, QUAL, PLs, FILTER) from genotype probabilities in VCF order (step 3).

  ``no_reads``: the candidate's AD sums to 0, so nothing can be genotyped (NoCall).
  """
  probs = np.asarray(probs, dtype=np.float64)
  order = genotype_ordering(_n_alleles(len(probs)))
  index = int(np.argmax(probs))
  genotype = order[index]
  gq = int(np.around(ptrue_to_bounded_phred(float(probs[index]))))
  qual = round(ptrue_to_bounded_phred(min(float(probs[1:].sum()), 1.0)), 7)
  gls = np.log10(np.maximum(probs, MIN_PERROR))
  pls = tuple(int(v) for v in -10.0 * (gls - gls.max()))
  if no_reads:
    return (-1, -1), 0, qual, (0, 0), FILTER_NO_CALL
  if genotype == (0, 0):
    filt = FILTER_REF_CALL
    if gq < min_homref_gq:
      genotype = (-1, -1)
  elif qual < qual_filter:
    filt = FILTER_LOW_QUAL
  else:
    filt = FILTER_PASS
  return genotype, gq, qual, pls, filt


def _n_alleles(n_genotypes: int) -> int:
  n = 1
  while n * (n + 1) // 2 < n_genotypes:
    n += 1
  if n * (n + 1) // 2 != n_genotypes:
    raise ValueError(f"{n_genotypes} genotype probabilities do not fit a diploid call")
  return n


def call_candidate(contig: str, start: int, ref: str, alts: Sequence[str],
                   images: Sequence[ImagePrediction], *, dp: int, ad: Sequence[int],
                   qual_filter: float = DEFAULT_QUAL_FILTER,
                   multi_allelic_qual_filter: float = DEFAULT_MULTI_ALLELIC_QUAL_FILTER,
                   min_homref_gq: float = DEFAULT_CNN_HOMREF_CALL_MIN_GQ) -> Call:
  """The whole rule of the module docstring for one candidate at 0-based ``start``.

  ``ad`` is the candidate's AD (ref count first, then one per alt, in ``alts`` order); VAF is
  recomputed from it as ``ad[i] / dp`` for the kept alts.
  """
  kept, probs = merge_predictions(ref, alts, images, multi_allelic_qual_filter)
  genotype, gq, qual, pls, filt = call_from_probabilities(
      probs, qual_filter=qual_filter, min_homref_gq=min_homref_gq,
      no_reads=bool(ad) and sum(ad) == 0)
  ad = list(ad) if ad else [0] * (len(alts) + 1)
  keep_ad = [ad[0]] + [ad[1 + i] for i, a in enumerate(alts) if a in kept]
  vaf = tuple((c / dp) if dp else 0.0 for c in keep_ad[1:])
  new_ref, new_alts = simplify_alleles(ref, kept)
  return Call(contig=contig, start=start, ref=new_ref, alts=new_alts, genotype=genotype, gq=gq,
              qual=qual, pls=pls, filter=filt, dp=int(dp), ad=tuple(int(c) for c in keep_ad),
              vaf=vaf, genotype_probabilities=tuple(float(p) for p in probs))


# ---- VCF text ------------------------------------------------------------------------------------
VCF_HEADER_META = (
    '##FILTER=<ID=PASS,Description="All filters passed">',
    '##FILTER=<ID=RefCall,Description="Genotyping model thinks this site is reference.">',
    '##FILTER=<ID=LowQual,Description="Confidence in this variant being real is below calling '
    'threshold.">',
    '##FILTER=<ID=NoCall,Description="Site has depth=0 resulting in no call.">',
    '##INFO=<ID=END,Number=1,Type=Integer,Description="End position (for use with symbolic '
    'alleles)">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Conditional genotype quality">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    '##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description="Minimum DP observed within the GVCF '
    'block.">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Read depth for each allele">',
    '##FORMAT=<ID=VAF,Number=A,Type=Float,Description="Variant allele fractions.">',
    '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled genotype likelihoods '
    'rounded to the closest integer">',
    '##FORMAT=<ID=MED_DP,Number=1,Type=Integer,Description="Median DP observed within the GVCF '
    'block rounded to the nearest integer.">',
)


def vcf_header(contigs: Sequence[Tuple[str, int]], sample_name: str,
               extra_lines: Sequence[str] = ()) -> str:
  """The VCF header text (VCFv4.2, DeepVariant's FILTER/FORMAT lines, contigs in order)."""
  lines = ["##fileformat=VCFv4.2", *VCF_HEADER_META, *extra_lines]
  lines += [f"##contig=<ID={name},length={length}>" for name, length in contigs]
  lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                          "FORMAT", sample_name]))
  return "\n".join(lines) + "\n"


def format_qual(qual: float) -> str:
  """QUAL as DeepVariant's VCF writer prints it: rounded to 1 decimal, half away from zero."""
  rounded = math.floor(qual * 10.0 + 0.5) / 10.0
  text = f"{rounded:.1f}"
  return text[:-2] if text.endswith(".0") else text


def vcf_line(call: Call) -> str:
  """One VCF data line (POS is 1-based) with FORMAT GT:GQ:DP:AD:VAF:PL."""
  gt = "./." if call.genotype == (-1, -1) else f"{call.genotype[0]}/{call.genotype[1]}"
  vaf = ",".join(f"{v:.6g}" for v in call.vaf) or "."
  sample = ":".join([gt, str(call.gq), str(call.dp), ",".join(str(c) for c in call.ad),
                     vaf, ",".join(str(p) for p in call.pls)])
  return "\t".join([call.contig, str(call.start + 1), ".", call.ref, ",".join(call.alts),
                    format_qual(call.qual), call.filter, ".", "GT:GQ:DP:AD:VAF:PL", sample])


# The GL DeepVariant gives every genotype with the gVCF allele <*> in a variant's gVCF record.
GVCF_ALT_GL = -99.0


def gvcf_line(call: Call) -> str:
  """The call's record in the gVCF, as Nucleus' merge writes it: ALT gains ``<*>``, AD and VAF
  gain a 0, and every genotype with ``<*>`` (n_alts + 2 of them) gets GL -99, i.e. PL 990
  after the zero shift; FILTER, QUAL and the rest as in the VCF."""
  extended = dataclasses.replace(
      call, alts=call.alts + (GVCF_ALT,), ad=call.ad + (0,), vaf=call.vaf + (0.0,),
      pls=call.pls + (int(-10.0 * GVCF_ALT_GL),) * (len(call.alts) + 2))
  return vcf_line(extended)


GVCF_ALT = "<*>"
