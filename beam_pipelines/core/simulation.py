"""Simulated genome, truth variants and paired-end reads: pileflow's embedded default dataset.

Why simulate: the README's first command, the end-to-end tests and the benchmarks need a dataset
that is small, free, realistic enough that a caller trained on it learns something, and *exact by
construction*: every alignment comes from the simulation itself, so the truth (variants,
haplotype of origin, injected sequencing errors) is known base by base.

Pure numpy; no pysam, Beam or TensorFlow. ``beam_pipelines.io.simulation_writer`` turns the
results into FASTA/VCF/BED/BAM files. Coordinates are 0-based half-open everywhere here; VCF
POS, BED and SAM POS conversions happen only in the writer.

What is simulated, per contig (all random choices come from generators seeded by
``(seed, stage, crc32(contig name))`` so a contig's reference and truth do not change when, say,
the coverage or another contig changes):

* reference: GC content varying in kb-scale domains, homopolymers (5-20 bp), short tandem
  repeats (unit 2-6 bp x 5-20 copies), a low-complexity region (a 20-60 bp unit tandemly
  repeated with 2% divergence), a segmental duplication (an identical copy of a 2-5 kb stretch)
  and a few N runs of 100-2,000 bp. Contigs shorter than ``MIN_CONTIG_FOR_LARGE_FEATURES`` get
  only the small features.
* truth: diploid SNPs, insertions and deletions of 1-30 bp, multi-allelic sites (GT 1/2), het
  and hom-alt, phased and unphased, never overlapping (at least one reference base between two
  variant spans), never within one base of an N. Alleles are VCF style with the anchor base;
  indels are placed where drawn (not left-aligned inside homopolymers) but represented exactly.
* haplotypes: the two sequences plus, per haplotype base, its reference position (-1 for
  inserted bases).
* reads: fragments of length ~ Normal(insert_mean, insert_sd) clipped to
  ``[read_length, insert_mean + 4 * insert_sd]`` (and to the simulated span), start uniform on a
  haplotype; the left read forward and the right read reverse, read1/read2 chosen at random per
  fragment; qualities from a profile decaying from ~Q36 to ~Q25 along the read (in sequencing
  direction), substitution errors with probability ``10^(-Q/10)`` scaled so the mean rate equals
  ``error_rate``; CIGARs from the haplotype -> reference map; adapter-like random tails
  soft-clipped on a few reads; MAPQ 60 except over the low-complexity region and segmental
  duplication; PCR duplicates, secondary and supplementary copies, QC-fail pairs and pairs with
  an unmapped mate.

Decisions where the brief left room (also in the report):

* Only the segmental duplication and the low-complexity region lower MAPQ (fully inside: 0-3,
  partly inside: 5-30). Short homopolymers and STRs leave MAPQ at 60, as with a real aligner.
* Fragments touching an N are dropped (no reads in assembly gaps), so coverage dips there.
* A fragment that starts or ends inside an insertion gets those inserted bases soft-clipped,
  as an aligner would; the read's position is its first reference-aligned base.
* ``--regions`` restricts reads only: the reference, the truth and the confident regions still
  cover whole contigs. Each region is padded by the longest fragment so that coverage inside the
  region is flat.
* Fractions: duplicate, QC-fail and mate-unmapped fractions are per fragment; secondary and
  supplementary fractions are per primary mapped read (each adds one extra record).
* Extra SAM tags: ``NM`` (edit distance to the reference), ``HP`` (haplotype of origin, 1 or 2),
  ``XE`` (number of injected sequencing errors in the M/I bases; 0 means the read equals its
  haplotype there). Secondary and supplementary copies are placed at random positions of the
  simulated spans of the same contig (like alignments to a paralog), so their bases disagree
  with the reference there; they carry NM (and SA for supplementary) but no HP/XE.
"""
from __future__ import annotations

import dataclasses
import re
import zlib
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from beam_pipelines.core import reads as reads_lib
from beam_pipelines.core import regions as regions_lib

# Base codes used throughout: index into ALPHABET.
ALPHABET = b"ACGTN"
A, C, G, T, N = range(5)
_ASCII = np.frombuffer(ALPHABET, dtype=np.uint8)
_CODE_OF = np.full(256, N, dtype=np.uint8)
for _i, _ch in enumerate(ALPHABET):
  _CODE_OF[_ch] = _i
  _CODE_OF[ord(chr(_ch).lower())] = _i

MIN_CONTIG_FOR_LARGE_FEATURES = 20_000
MIN_READ_LENGTH = 50
MAX_INDEL_LENGTH = 30
MAPQ_UNIQUE = 60

# Random-stream identifiers: each (seed, stage, contig) gets its own generator.
_STAGE_REFERENCE, _STAGE_VARIANTS, _STAGE_READS, _STAGE_CONFIDENT = 1, 2, 3, 4
_STAGE_HOTSPOTS = 5
# Per-read rate range of a systematic-error hotspot (the share of reads showing its wrong base).
HOTSPOT_READ_RATE = (0.08, 0.35)

FEATURE_HOMOPOLYMER = "homopolymer"
FEATURE_STR = "short_tandem_repeat"
FEATURE_LOW_COMPLEXITY = "low_complexity"
FEATURE_SEGDUP_SOURCE = "segdup_source"
FEATURE_SEGDUP_COPY = "segdup_copy"
FEATURE_N_RUN = "n_run"
LOW_MAPQ_FEATURES = (FEATURE_LOW_COMPLEXITY, FEATURE_SEGDUP_SOURCE, FEATURE_SEGDUP_COPY)

# Read-kind counter names (simulation.json, the CLI summary and the tests use these).
READ_KINDS = ("records", "fragments", "primary_mapped", "duplicate", "secondary",
              "supplementary", "qcfail", "mate_unmapped", "unmapped", "soft_clipped",
              "low_mapq")

_CONTIG_NAME = re.compile(r"^[A-Za-z0-9_.|\-]+$")


class SimulationConfigError(ValueError):
  """A simulation option that cannot work; the message names the flag and the value."""


# Config field -> command-line flag, so validate() can name what the user typed.
FLAG_OF = {
    "contigs": "--contigs", "coverage": "--coverage", "read_length": "--read_length",
    "insert_mean": "--insert_size_mean", "insert_sd": "--insert_size_sd",
    "error_rate": "--error_rate", "snp_rate": "--snp_rate", "indel_rate": "--indel_rate",
    "multiallelic_fraction": "--multiallelic_fraction",
    "hom_alt_fraction": "--hom_alt_fraction", "phased_fraction": "--phased_fraction",
    "duplicate_fraction": "--duplicate_fraction", "secondary_fraction": "--secondary_fraction",
    "supplementary_fraction": "--supplementary_fraction",
    "qcfail_fraction": "--qcfail_fraction", "mate_unmapped_fraction": "--mate_unmapped_fraction",
    "soft_clip_fraction": "--soft_clip_fraction",
    "systematic_error_rate": "--systematic_error_rate", "sample_name": "--sample_name",
    "seed": "--seed", "regions": "--regions", "bgzip_reference": "--bgzip_reference",
}


def parse_contigs(text: str) -> Tuple[Tuple[str, int], ...]:
  """'sim1:200000,sim2:100000' -> (('sim1', 200000), ('sim2', 100000)).

  Lengths may use '_' or 'k'/'m' suffixes ('sim1:200k'). Raises SimulationConfigError.
  """
  out = []
  for item in text.split(","):
    item = item.strip()
    name, sep, length = item.rpartition(":")
    if not sep or not name:
      raise SimulationConfigError(f"--contigs: {item!r} is not of the form name:length")
    length = length.strip().lower().replace("_", "")
    mult = 1
    if length.endswith("k"):
      mult, length = 1_000, length[:-1]
    elif length.endswith("m"):
      mult, length = 1_000_000, length[:-1]
    if not length.isdigit():
      raise SimulationConfigError(f"--contigs: length of {name!r} must be a positive integer, "
                                  f"got {item.rpartition(':')[2]!r}")
    out.append((name, int(length) * mult))
  return tuple(out)


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
  """Everything that determines the simulated dataset; same config -> same bytes.

  Rates are per reference base (snp_rate, indel_rate) or per base read (error_rate, the mean
  substitution error rate). Fractions are described in the module docstring.
  """
  contigs: Tuple[Tuple[str, int], ...] = (("sim1", 200_000), ("sim2", 100_000))
  coverage: float = 30.0
  read_length: int = 150
  insert_mean: float = 400.0
  insert_sd: float = 80.0
  error_rate: float = 0.002
  snp_rate: float = 0.001
  indel_rate: float = 0.0002
  multiallelic_fraction: float = 0.03
  hom_alt_fraction: float = 0.35
  phased_fraction: float = 0.2
  duplicate_fraction: float = 0.01
  secondary_fraction: float = 0.005
  supplementary_fraction: float = 0.005
  qcfail_fraction: float = 0.005
  mate_unmapped_fraction: float = 0.005
  soft_clip_fraction: float = 0.02
  # Hotspots per reference base where a share of reads shows the same wrong base, as
  # context-specific sequencer errors do: the source of most hom-ref (class 0) candidates.
  systematic_error_rate: float = 0.0005
  sample_name: str = "SIM"
  seed: int = 1
  regions: Tuple[str, ...] = ()
  bgzip_reference: bool = False

  @property
  def contig_lengths(self) -> Dict[str, int]:
    return dict(self.contigs)

  @property
  def max_fragment_length(self) -> int:
    """Upper clip of the fragment-length distribution (mean + 4 sd, at least a read)."""
    return max(self.read_length, int(round(self.insert_mean + 4 * self.insert_sd)))

  def region_ranges(self) -> List[regions_lib.Range]:
    """The parsed ``regions`` (0-based half-open), or whole contigs when none are given."""
    lengths = self.contig_lengths
    if not self.regions:
      return [regions_lib.Range(n, 0, l) for n, l in self.contigs]
    try:
      parsed = [regions_lib.parse_literal(r, lengths) for r in self.regions]
    except regions_lib.RegionError as e:
      raise SimulationConfigError(f"--regions: {e}") from None
    return regions_lib.merge(parsed, [n for n, _ in self.contigs])

  def command_line_flags(self) -> List[str]:
    """The flags that reproduce this config (no output path: goes into the BAM @PG CL so that
    the same config gives the same bytes wherever it is written)."""
    out = []
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      flag = FLAG_OF[field.name]
      if field.name == "contigs":
        out.append(f"{flag}={','.join(f'{n}:{l}' for n, l in value)}")
      elif field.name == "regions":
        if value:
          out.append(f"{flag} {' '.join(value)}")
      elif field.name == "bgzip_reference":
        if value:
          out.append(flag)
      else:
        out.append(f"{flag}={value:g}" if isinstance(value, float) else f"{flag}={value}")
    return out

  def to_json(self) -> Dict[str, object]:
    d = dataclasses.asdict(self)
    d["contigs"] = [[n, l] for n, l in self.contigs]
    d["regions"] = list(self.regions)
    return d

  def validate(self) -> "SimulationConfig":
    """Raises SimulationConfigError naming the flag for the first unusable option."""
    def fail(field, msg):
      raise SimulationConfigError(f"{FLAG_OF[field]} {msg}")

    if not self.contigs:
      fail("contigs", "must name at least one contig")
    seen = set()
    for name, length in self.contigs:
      if not _CONTIG_NAME.match(name):
        fail("contigs", f"contig name {name!r} may only use letters, digits and _.|-")
      if name in seen:
        fail("contigs", f"contig {name!r} is listed twice")
      seen.add(name)
      if not isinstance(length, (int, np.integer)) or length <= 0:
        fail("contigs", f"length of {name!r} must be > 0, got {length}")
    if not self.coverage > 0:
      fail("coverage", f"must be > 0, got {self.coverage:g}")
    if self.coverage > 1000:
      fail("coverage", f"must be <= 1000, got {self.coverage:g}")
    if self.read_length < MIN_READ_LENGTH:
      fail("read_length", f"must be >= {MIN_READ_LENGTH}, got {self.read_length}")
    shortest = min(self.contigs, key=lambda c: c[1])
    if self.read_length > shortest[1]:
      fail("read_length", f"({self.read_length}) is longer than contig {shortest[0]!r} "
                          f"({shortest[1]} bp)")
    if not self.insert_mean > 0:
      fail("insert_mean", f"must be > 0, got {self.insert_mean:g}")
    if self.read_length > self.insert_mean:
      fail("read_length", f"({self.read_length}) must be <= --insert_size_mean "
                          f"({self.insert_mean:g}): a read cannot be longer than its fragment")
    if not self.insert_sd >= 0:
      fail("insert_sd", f"must be >= 0, got {self.insert_sd:g}")
    if not 0 <= self.error_rate <= 0.1:
      fail("error_rate", f"must be in [0, 0.1], got {self.error_rate:g}")
    if not 0 <= self.snp_rate <= 0.05:
      fail("snp_rate", f"must be in [0, 0.05], got {self.snp_rate:g}")
    if not 0 <= self.indel_rate <= 0.01:
      fail("indel_rate", f"must be in [0, 0.01], got {self.indel_rate:g}")
    if not 0 <= self.systematic_error_rate <= 0.01:
      fail("systematic_error_rate", f"must be in [0, 0.01], got {self.systematic_error_rate:g}")
    for field in ("multiallelic_fraction", "hom_alt_fraction", "phased_fraction"):
      value = getattr(self, field)
      if not 0 <= value <= 1:
        fail(field, f"must be in [0, 1], got {value:g}")
    for field in ("duplicate_fraction", "secondary_fraction", "supplementary_fraction",
                  "qcfail_fraction", "mate_unmapped_fraction", "soft_clip_fraction"):
      value = getattr(self, field)
      if not 0 <= value <= 0.5:
        fail(field, f"must be in [0, 0.5], got {value:g}")
    if not self.sample_name or any(ch.isspace() for ch in self.sample_name):
      fail("sample_name", f"must be non-empty without whitespace, got {self.sample_name!r}")
    if not 0 <= self.seed < 2**63:
      fail("seed", f"must be in [0, 2^63), got {self.seed}")
    self.region_ranges()  # raises for unknown contigs / malformed literals.
    return self


# ---------------------------------------------------------------------------------------------
# Value types.


@dataclasses.dataclass(frozen=True)
class Feature:
  """A simulated reference feature on ``[start, end)`` (0-based half-open)."""
  kind: str
  start: int
  end: int


@dataclasses.dataclass(frozen=True)
class SimContig:
  """One simulated reference contig: base codes (see ALPHABET) and its features."""
  name: str
  codes: np.ndarray
  features: Tuple[Feature, ...]

  @property
  def length(self) -> int:
    return int(self.codes.shape[0])

  @property
  def sequence(self) -> str:
    return decode(self.codes)

  def features_of(self, *kinds: str) -> List[Feature]:
    return [f for f in self.features if f.kind in kinds]


@dataclasses.dataclass(frozen=True)
class SimVariant:
  """A truth variant with the haplotype each allele sits on.

  Attributes:
    contig, start, ref, alts: VCF-style alleles (anchor base kept for indels), 0-based start.
    haplotype_alleles: allele index on haplotype 0 and on haplotype 1 (the simulation's truth,
      known even when the VCF genotype is written unphased).
    phased: whether the VCF writes the genotype phased ('0|1') or unphased ('0/1').
  """
  contig: str
  start: int
  ref: str
  alts: Tuple[str, ...]
  haplotype_alleles: Tuple[int, int]
  phased: bool

  @property
  def end(self) -> int:
    return self.start + len(self.ref)

  @property
  def kind(self) -> str:
    """'snp', 'insertion', 'deletion' or 'complex' (a multi-allelic insertion + deletion)."""
    if len(self.ref) == 1 and all(len(a) == 1 for a in self.alts):
      return "snp"
    if all(len(a) > len(self.ref) for a in self.alts):
      return "insertion"
    if all(len(a) < len(self.ref) for a in self.alts):
      return "deletion"
    return "complex"

  @property
  def zygosity(self) -> str:
    """'het' (0/1), 'hom_alt' (1/1) or 'het_alt' (1/2)."""
    a, b = self.haplotype_alleles
    if a == 0 or b == 0:
      return "het"
    return "hom_alt" if a == b else "het_alt"

  @property
  def genotype(self) -> Tuple[int, int]:
    """GT as written to the VCF: haplotype order when phased, sorted when unphased."""
    return self.haplotype_alleles if self.phased else tuple(sorted(self.haplotype_alleles))

  def gt_string(self) -> str:
    return ("|" if self.phased else "/").join(str(a) for a in self.genotype)

  def to_truth(self):
    from beam_pipelines.core.variants import TruthVariant
    return TruthVariant(self.contig, self.start, self.ref, self.alts, self.genotype)


@dataclasses.dataclass(frozen=True)
class Haplotype:
  """One haplotype of a contig: base codes and, per base, its reference position (-1: inserted)."""
  contig: str
  index: int
  codes: np.ndarray
  to_ref: np.ndarray

  @property
  def sequence(self) -> str:
    return decode(self.codes)


@dataclasses.dataclass(frozen=True)
class ReadTable:
  """All SAM records of one contig as columns (cheap to build, sort and write).

  Row order is generation order, not coordinate order. ``pos`` is 0-based; unmapped mates carry
  their mate's position (SAM recommendation). ``seq`` holds ASCII bases and ``qual`` Phred
  scores, both in stored (reference-forward) orientation, ``read_length`` columns per row; a
  row's bases are ``seq[i, seq_lo[i]:]`` (``seq_lo`` > 0 only for hard-clipped supplementary
  records). ``nm``/``xe`` are -1 and ``hp`` 0 where the tag is absent.
  """
  contig: str
  fragment: np.ndarray
  flag: np.ndarray
  pos: np.ndarray
  mapq: np.ndarray
  cigar: List[str]
  mate_pos: np.ndarray
  tlen: np.ndarray
  seq: np.ndarray
  qual: np.ndarray
  seq_lo: np.ndarray
  nm: np.ndarray
  xe: np.ndarray
  hp: np.ndarray
  sa: List[Optional[str]]

  def __len__(self):
    return int(self.flag.shape[0])

  def name(self, i: int) -> str:
    return fragment_name(self.contig, int(self.fragment[i]))

  def coordinate_order(self) -> np.ndarray:
    """Row indices in coordinate order (ties broken by generation order: deterministic)."""
    return np.lexsort((np.arange(len(self)), self.pos))

  def to_reads(self, rows: Optional[Sequence[int]] = None) -> List[reads_lib.Read]:
    """Converts rows to core ``Read`` objects (for tests and in-memory pipelines)."""
    out = []
    for i in (range(len(self)) if rows is None else rows):
      flag = int(self.flag[i])
      mapped = not flag & reads_lib.FLAG_UNMAPPED
      mate_placed = int(self.mate_pos[i]) >= 0
      out.append(reads_lib.Read(
          name=self.name(i), flag=flag, contig=self.contig, start=int(self.pos[i]),
          mapq=int(self.mapq[i]),
          cigar=reads_lib.parse_cigar(self.cigar[i]) if mapped else (),
          seq=self.seq[i, self.seq_lo[i]:].tobytes().decode(),
          qual=self.qual[i, self.seq_lo[i]:].copy(), tlen=int(self.tlen[i]),
          mate_contig=self.contig if mate_placed else None,
          mate_start=int(self.mate_pos[i])))
    return out


@dataclasses.dataclass(frozen=True)
class ContigSimulation:
  """Everything simulated for one contig."""
  contig: SimContig
  variants: Tuple[SimVariant, ...]
  haplotypes: Tuple[Haplotype, Haplotype]
  reads: ReadTable
  confident: Tuple[regions_lib.Range, ...]


def fragment_name(contig: str, fragment: int) -> str:
  return f"{contig}-{fragment:07d}"


def decode(codes: np.ndarray) -> str:
  return _ASCII[codes].tobytes().decode()


def encode(text: str) -> np.ndarray:
  return _CODE_OF[np.frombuffer(text.encode(), dtype=np.uint8)]


def rng_for(seed: int, stage: int, contig: str) -> np.random.Generator:
  """The generator of one (seed, stage, contig): a pure function of stable ids."""
  return np.random.default_rng(np.random.SeedSequence([seed, stage, zlib.crc32(contig.encode())]))


# ---------------------------------------------------------------------------------------------
# Reference.


def _place_intervals(rng, length, sizes, taken, spacing=1000):
  """Places intervals of the given sizes without overlapping ``taken`` (plus spacing).

  Rejection sampling; an interval that cannot be placed in 200 tries is skipped. Returns the
  start of each interval (None when skipped) and extends ``taken``.
  """
  starts = []
  for size in sizes:
    placed = None
    lo, hi = spacing, length - spacing - size
    if hi > lo:
      for _ in range(200):
        s = int(rng.integers(lo, hi))
        if all(s + size + spacing <= a or s >= b + spacing for a, b in taken):
          placed = s
          break
    if placed is not None:
      taken.append((placed, placed + size))
    starts.append(placed)
  return starts


def generate_reference(name: str, length: int, rng: np.random.Generator) -> SimContig:
  """A contig with GC domains, homopolymers, STRs, a low-complexity region, a segmental
  duplication and N runs (the last three only for contigs >= MIN_CONTIG_FOR_LARGE_FEATURES).

  Why these features: they are where real callers struggle (homopolymer/STR indels, low MAPQ
  in repeats, gaps) and where confident regions are usually cut.
  """
  # GC content in domains of ~3 kb (exponential lengths, at least 300 bp).
  n_dom = length // 300 + 2
  dom_len = np.maximum(300, rng.exponential(3000, n_dom)).astype(np.int64)
  dom_gc = rng.uniform(0.30, 0.62, n_dom)
  gc = np.repeat(dom_gc, dom_len)[:length]
  u = rng.random((2, length))
  is_gc = u[0] < gc
  low = u[1] < 0.5
  codes = np.where(is_gc, np.where(low, C, G), np.where(low, A, T)).astype(np.uint8)

  small: List[Feature] = []
  writer = np.full(length, -1, dtype=np.int32)  # which small feature wrote each base last
  n_hp = length // 1000 + 1
  hp_len = np.minimum(20, 4 + rng.geometric(0.25, n_hp))
  hp_start = rng.integers(0, max(1, length - 20), n_hp)
  hp_base = rng.integers(0, 4, n_hp)
  for s, l, b in zip(hp_start.tolist(), hp_len.tolist(), hp_base.tolist()):
    e = min(length, s + l)
    codes[s:e] = b
    writer[s:e] = len(small)
    small.append(Feature(FEATURE_HOMOPOLYMER, s, e))
  n_str = length // 2000 + 1
  for _ in range(n_str):
    unit = rng.integers(0, 4, int(rng.integers(2, 7)))
    if np.all(unit == unit[0]):
      unit[-1] = (unit[0] + 1) % 4
    copies = int(rng.integers(5, 21))
    s = int(rng.integers(0, max(1, length - len(unit) * copies)))
    rep = np.tile(unit, copies)[:length - s]
    codes[s:s + len(rep)] = rep
    writer[s:s + len(rep)] = len(small)
    small.append(Feature(FEATURE_STR, s, s + len(rep)))
  # A small feature partly overwritten by a later one is no longer what it claims to be.
  small = [f for i, f in enumerate(small) if np.all(writer[f.start:f.end] == i)]

  large: List[Feature] = []
  if length >= MIN_CONTIG_FOR_LARGE_FEATURES:
    taken: List[Tuple[int, int]] = []
    cap = length // 20
    per_mb = length // 1_000_000
    # Low-complexity: a 20-60 bp unit repeated with 2% point divergence.
    for _ in range(1 + per_mb):
      size = min(cap, int(rng.integers(1000, 3001)))
      (s,) = _place_intervals(rng, length, [size], taken)
      if s is None:
        continue
      unit = rng.integers(0, 4, int(rng.integers(20, 61)))
      rep = np.tile(unit, size // len(unit) + 1)[:size].astype(np.uint8)
      mut = rng.random(size) < 0.02
      rep[mut] = (rep[mut] + rng.integers(1, 4, int(mut.sum()))) % 4
      codes[s:s + size] = rep
      large.append(Feature(FEATURE_LOW_COMPLEXITY, s, s + size))
    # Segmental duplication: an identical copy, so reads inside either copy are ambiguous.
    for _ in range(1 + per_mb):
      size = min(cap, int(rng.integers(2000, 5001)))
      src, dst = _place_intervals(rng, length, [size, size], taken)
      if src is None or dst is None:
        continue
      codes[dst:dst + size] = codes[src:src + size]
      large.append(Feature(FEATURE_SEGDUP_SOURCE, src, src + size))
      large.append(Feature(FEATURE_SEGDUP_COPY, dst, dst + size))
    # N runs (assembly gaps).
    n_runs = 2 + per_mb
    sizes = [min(cap, int(rng.integers(100, 2001))) for _ in range(n_runs)]
    for s, size in zip(_place_intervals(rng, length, sizes, taken), sizes):
      if s is not None:
        codes[s:s + size] = N
        large.append(Feature(FEATURE_N_RUN, s, s + size))
  # Small features overwritten by a large one are no longer what they claim to be.
  kept = [f for f in small
          if all(f.end <= g.start or f.start >= g.end for g in large
                 if g.kind != FEATURE_SEGDUP_SOURCE)]
  features = tuple(sorted(large + kept, key=lambda f: (f.start, f.end, f.kind)))
  return SimContig(name, codes, features)


# ---------------------------------------------------------------------------------------------
# Truth variants.

_TRANSITION = {A: G, G: A, C: T, T: C}


def _indel_length(rng) -> int:
  """Mostly 1-4 bp (geometric), with a tail up to MAX_INDEL_LENGTH."""
  if rng.random() < 0.85:
    return int(min(MAX_INDEL_LENGTH, rng.geometric(0.5)))
  return int(rng.integers(5, MAX_INDEL_LENGTH + 1))


def _snp_alleles(ref_code: int, n_alts: int, rng) -> List[str]:
  """Alt bases: transitions twice as likely as each transversion (Ti/Tv ~ 2)."""
  others = [b for b in range(4) if b != ref_code]
  weights = np.array([2.0 if b == _TRANSITION[ref_code] else 1.0 for b in others])
  picks = rng.choice(others, size=n_alts, replace=False, p=weights / weights.sum())
  return [chr(ALPHABET[int(b)]) for b in picks]


def _indel_alleles(text: str, p: int, n_alts: int, rng) -> Tuple[str, List[str]]:
  """Ref and alt alleles of an indel site anchored at 0-based ``p``.

  Each alt is one edit after the anchor: deletion of k bases or insertion of S (random bases,
  or a tandem duplication of the next k reference bases). With several alts the ref allele
  spans the longest deletion and every alt is written against it, e.g. deletions of 1 and 3 at
  ``ACGTA``: ref ``ACGT``, alts ``AGT`` and ``A``.
  """
  edits: List[Tuple[str, object]] = []
  while len(edits) < n_alts:
    k = _indel_length(rng)
    if rng.random() < 0.5:
      edit = ("del", k)
    elif rng.random() < 0.3:
      edit = ("ins", text[p + 1:p + 1 + k])
    else:
      edit = ("ins", decode(rng.integers(0, 4, k).astype(np.uint8)))
    if edit not in edits and (edit[0] == "del" or edit[1]):
      edits.append(edit)
  m = 1 + max([k for kind, k in edits if kind == "del"] + [0])
  ref = text[p:p + m]
  alts = [ref[0] + ref[1 + k:] if kind == "del" else ref[0] + k + ref[1:] for kind, k in edits]
  return ref, alts


def generate_variants(contig: SimContig, cfg: SimulationConfig,
                      rng: np.random.Generator) -> List[SimVariant]:
  """Diploid truth variants of one contig, sorted, non-overlapping, away from N runs.

  Sites are drawn as a Poisson process with rate snp_rate + indel_rate per base; a site that
  would overlap (or touch) the previous variant, or come within one base of an N, is dropped,
  so realised counts are slightly below the rates.
  """
  length = contig.length
  rate = cfg.snp_rate + cfg.indel_rate
  if rate <= 0 or length < 4 * MAX_INDEL_LENGTH:
    return []
  text = contig.sequence
  ncum = np.concatenate([[0], np.cumsum(contig.codes == N)])
  n = int(rng.poisson(rate * length))
  pos = np.sort(rng.integers(1, length - MAX_INDEL_LENGTH - 2, n))
  u = rng.random((n, 5))
  out: List[SimVariant] = []
  prev_end = 0
  for i, p in enumerate(pos.tolist()):
    if p <= prev_end:  # keep >= 1 reference base between variant spans
      continue
    multi = u[i, 1] < cfg.multiallelic_fraction
    n_alts = 2 if multi else 1
    if u[i, 0] < cfg.indel_rate / rate:
      ref, alts = _indel_alleles(text, p, n_alts, rng)
    else:
      ref_code = int(contig.codes[p])
      if ref_code == N:
        continue
      ref, alts = text[p], _snp_alleles(ref_code, n_alts, rng)
    end = p + len(ref)
    if ncum[min(length, end + 1)] - ncum[p - 1] > 0:
      continue
    if multi:
      hap = (1, 2) if u[i, 4] < 0.5 else (2, 1)
    elif u[i, 2] < cfg.hom_alt_fraction:
      hap = (1, 1)
    else:
      hap = (0, 1) if u[i, 4] < 0.5 else (1, 0)
    phased = bool(u[i, 3] < cfg.phased_fraction)
    out.append(SimVariant(contig.name, p, ref, tuple(alts), hap, phased))
    prev_end = end
  return out


def allele_ref_map(ref: str, alt: str, start: int) -> np.ndarray:
  """Reference position of each base of ``alt`` at a variant starting at 0-based ``start``.

  Alleles are "anchor + one edit" (see _indel_alleles), so: equal lengths map base to base;
  a longer alt has ``len(alt) - len(ref)`` inserted bases (-1) right after the anchor; a shorter
  alt skips ``len(ref) - len(alt)`` reference bases after the anchor.

  >>> allele_ref_map('A', 'ACC', 10).tolist(), allele_ref_map('ACG', 'A', 10).tolist()
  ([10, -1, -1], [10])
  """
  d = len(alt) - len(ref)
  if d == 0:
    return np.arange(start, start + len(ref), dtype=np.int64)
  if d > 0:
    if alt[0] != ref[0] or alt[1 + d:] != ref[1:]:
      raise ValueError(f"insertion {ref}->{alt} at {start} is not anchor + inserted bases")
    return np.concatenate([[start], np.full(d, -1), np.arange(start + 1, start + len(ref))])
  if alt[0] != ref[0] or alt[1:] != ref[1 - d:]:
    raise ValueError(f"deletion {ref}->{alt} at {start} is not anchor + deleted bases")
  return np.concatenate([[start], np.arange(start + 1 - d, start + len(ref))]).astype(np.int64)


def build_haplotypes(contig: SimContig,
                     variants: Sequence[SimVariant]) -> Tuple[Haplotype, Haplotype]:
  """Applies each variant's allele on each haplotype; keeps the map back to the reference."""
  haps = []
  for h in range(2):
    seqs, maps = [], []
    cur = 0
    for v in variants:
      allele = v.haplotype_alleles[h]
      if allele == 0:
        continue
      alt = v.alts[allele - 1]
      seqs.append(contig.codes[cur:v.start])
      maps.append(np.arange(cur, v.start, dtype=np.int64))
      seqs.append(encode(alt))
      maps.append(allele_ref_map(v.ref, alt, v.start))
      cur = v.end
    seqs.append(contig.codes[cur:])
    maps.append(np.arange(cur, contig.length, dtype=np.int64))
    haps.append(Haplotype(contig.name, h, np.concatenate(seqs).astype(np.uint8),
                          np.concatenate(maps).astype(np.int64)))
  return haps[0], haps[1]


def confident_regions(contig: SimContig, variants: Sequence[SimVariant],
                      rng: np.random.Generator, flank: int = 500) -> List[regions_lib.Range]:
  """Confident regions: the contig minus N runs (+- flank), the segmental duplication and
  low-complexity region (as GIAB excludes them), and a few stretches around ~1% of the truth
  variants (so the labeler sees candidates outside confident regions). 0-based half-open.
  """
  L = contig.length
  excl = []
  for f in contig.features:
    if f.kind == FEATURE_N_RUN:
      excl.append(regions_lib.Range(contig.name, max(0, f.start - flank), min(L, f.end + flank)))
    elif f.kind in LOW_MAPQ_FEATURES:
      excl.append(regions_lib.Range(contig.name, f.start, f.end))
  if variants:
    k = max(1, int(round(0.01 * len(variants))))
    for i in sorted(rng.choice(len(variants), size=min(k, len(variants)), replace=False)):
      v = variants[int(i)]
      excl.append(regions_lib.Range(contig.name, max(0, v.start - int(rng.integers(50, 500))),
                                    min(L, v.end + int(rng.integers(50, 500)))))
  return regions_lib.subtract([regions_lib.Range(contig.name, 0, L)], excl)


# ---------------------------------------------------------------------------------------------
# Reads.

_CHUNK = 50_000  # reads per block of per-base numpy work (bounds peak memory)


def quality_profile(read_length: int) -> np.ndarray:
  """Mean base quality along the read in sequencing direction: Q36 at the start to Q25 at the end
  (slow decay first, faster towards the 3' end, as on Illumina)."""
  x = np.arange(read_length) / max(1, read_length - 1)
  return 36.0 - 11.0 * x ** 1.5


def _draw_qualities(rng, n, read_length):
  """Profile + per-read offset (sd 1.5) + per-base noise (sd 2.5), rounded, capped 2..41."""
  q = (quality_profile(read_length).astype(np.float32)[None, :]
       + 1.5 * rng.standard_normal((n, 1), dtype=np.float32)
       + 2.5 * rng.standard_normal((n, read_length), dtype=np.float32))
  return np.clip(np.rint(q), 2, 41).astype(np.uint8)


def _cigar_string(ops) -> str:
  return "".join(f"{n}{reads_lib.CIGAR_CHARS[op]}" for op, n in ops)


def _align_slow(tr: np.ndarray):
  """Alignment of a haplotype stretch with an indel: ``tr`` holds the reference position of each
  base (-1 inserted). Returns (ref_start, ref_end, ops, lead, trail, indel_bases) where
  leading/trailing inserted bases become soft clips (``lead``/``trail`` of them)."""
  aligned = np.flatnonzero(tr >= 0)
  first, last = int(aligned[0]), int(aligned[-1])
  mid = tr[first:last + 1]
  is_ins = mid < 0
  ff = np.maximum.accumulate(mid)
  gap = np.zeros(len(mid), dtype=np.int64)
  gap[1:] = np.where(is_ins[1:], 0, mid[1:] - ff[:-1] - 1)
  brk = np.flatnonzero((np.diff(is_ins.astype(np.int8)) != 0) | (gap[1:] > 0)) + 1
  bounds = [0] + brk.tolist() + [len(mid)]
  ops = []
  indel = 0
  for a, b in zip(bounds[:-1], bounds[1:]):
    if gap[a] > 0:
      ops.append((reads_lib.CIGAR_D, int(gap[a])))
      indel += int(gap[a])
    if is_ins[a]:
      ops.append((reads_lib.CIGAR_I, b - a))
      indel += b - a
    else:
      ops.append((reads_lib.CIGAR_M, b - a))
  return int(mid[0]), int(mid[-1]) + 1, ops, first, len(tr) - 1 - last, indel


def _merge_ops(ops):
  out = []
  for op, n in ops:
    if n <= 0:
      continue
    if out and out[-1][0] == op:
      out[-1] = (op, out[-1][1] + n)
    else:
      out.append((op, n))
  return out


def read_spans(cfg: SimulationConfig, contig: SimContig) -> List[regions_lib.Range]:
  """Reference stretches of ``contig`` where fragments are drawn: the requested regions padded
  by the longest fragment (so coverage is flat inside them), or the whole contig."""
  pad = cfg.max_fragment_length
  spans = [regions_lib.Range(r.contig, max(0, r.start - pad), min(contig.length, r.end + pad))
           for r in cfg.region_ranges() if r.contig == contig.name]
  return regions_lib.merge(spans)


def systematic_hotspots(cfg: SimulationConfig, contig: SimContig):
  """Per-position share of reads showing a fixed wrong base, and that base (codes 0..3).

  Returns (None, None) when ``systematic_error_rate`` is 0. Hotspots never sit on N. A pure
  function of (seed, contig name), independent of the read stream.
  """
  if cfg.systematic_error_rate <= 0:
    return None, None
  rng = rng_for(cfg.seed, _STAGE_HOTSPOTS, contig.name)
  L = contig.length
  pos = np.unique(rng.integers(0, L, rng.binomial(L, cfg.systematic_error_rate)))
  pos = pos[contig.codes[pos] < 4]
  hot_p = np.zeros(L, dtype=np.float64)
  hot_b = np.zeros(L, dtype=np.uint8)
  hot_p[pos] = rng.uniform(*HOTSPOT_READ_RATE, len(pos))
  hot_b[pos] = (contig.codes[pos] + rng.integers(1, 4, len(pos))) & 3
  return hot_p, hot_b


def simulate_reads(cfg: SimulationConfig, contig: SimContig, haplotypes: Sequence[Haplotype],
                   rng: np.random.Generator,
                   spans: Optional[Sequence[regions_lib.Range]] = None) -> ReadTable:
  """Paired-end reads of one contig with exact alignments; see the module docstring.

  ``spans`` are 0-based half-open reference stretches (default: ``read_spans``).
  """
  rl = cfg.read_length
  L = contig.length
  if spans is None:
    spans = read_spans(cfg, contig)
  hap_len = np.array([len(h.codes) for h in haplotypes], dtype=np.int64)
  hap_off = np.array([0, hap_len[0]], dtype=np.int64)
  hot_p, hot_b = systematic_hotspots(cfg, contig)
  hapcat = np.concatenate([h.codes for h in haplotypes])
  tocat = np.concatenate([h.to_ref for h in haplotypes])
  hap_ffill = [np.maximum.accumulate(h.to_ref) for h in haplotypes]
  ffill = np.concatenate(hap_ffill)
  ins = tocat < 0
  gap_before = np.zeros(len(tocat), dtype=bool)
  gap_before[1:] = ~ins[1:] & (tocat[1:] != ffill[:-1] + 1)
  gap_before[hap_off[1]] = False
  ins_cum = np.concatenate([[0], np.cumsum(ins)])
  gap_cum = np.concatenate([[0], np.cumsum(gap_before)])
  n_cum = np.concatenate([[0], np.cumsum(hapcat == N)])
  ref_n_cum = np.concatenate([[0], np.cumsum(contig.codes == N)])
  low = np.zeros(L, dtype=bool)
  for f in contig.features_of(*LOW_MAPQ_FEATURES):
    low[f.start:f.end] = True
  low_cum = np.concatenate([[0], np.cumsum(low)])

  # --- fragments -------------------------------------------------------------------------
  hap, fstart, flen = [], [], []
  for span in spans:
    n = int(round(cfg.coverage * span.length / (2 * rl)))
    if n == 0:
      continue
    h = rng.integers(0, 2, n)
    # Haplotype stretch of the span: first base at or after span.start / span.end.
    hs = np.array([np.searchsorted(ff, span.start, "left") for ff in hap_ffill])
    he = np.array([np.searchsorted(ff, span.end, "left") for ff in hap_ffill])
    room = (he - hs)[h]
    f = np.rint(rng.normal(cfg.insert_mean, cfg.insert_sd, n)).astype(np.int64)
    f = np.clip(f, rl, cfg.max_fragment_length)
    f = np.minimum(f, room)
    s = hs[h] + np.floor(rng.random(n) * (room - f + 1)).astype(np.int64)
    g = s + hap_off[h]
    keep = (f >= rl) & (n_cum[g + f] - n_cum[g] == 0)
    hap.append(h[keep]); fstart.append(g[keep]); flen.append(f[keep])
  hap = np.concatenate(hap) if hap else np.zeros(0, np.int64)
  fstart = np.concatenate(fstart) if fstart else np.zeros(0, np.int64)
  flen = np.concatenate(flen) if flen else np.zeros(0, np.int64)
  # PCR duplicates: extra copies of some fragments (same molecule, fresh sequencing errors).
  dup_src = np.flatnonzero(rng.random(len(hap)) < cfg.duplicate_fraction)
  is_dup = np.concatenate([np.zeros(len(hap), bool), np.ones(len(dup_src), bool)])
  hap = np.concatenate([hap, hap[dup_src]])
  fstart = np.concatenate([fstart, fstart[dup_src]])
  flen = np.concatenate([flen, flen[dup_src]])
  nf = len(hap)
  read1_left = rng.random(nf) < 0.5
  if len(dup_src):  # a PCR copy keeps its source's read1/read2 orientation
    read1_left[nf - len(dup_src):] = read1_left[dup_src]
  qcfail = rng.random(nf) < cfg.qcfail_fraction
  mate_unmapped = rng.random(nf) < cfg.mate_unmapped_fraction
  unmapped_right = rng.random(nf) < 0.5

  # --- reads: rows [0, nf) are left reads (forward), [nf, 2nf) right reads (reverse) -----
  nr = 2 * nf
  gstart = np.concatenate([fstart, fstart + flen - rl])
  rev = np.concatenate([np.zeros(nf, bool), np.ones(nf, bool)])
  rhap = np.concatenate([hap, hap])
  unmapped = np.concatenate([mate_unmapped & ~unmapped_right, mate_unmapped & unmapped_right])
  clip_max = min(MAX_INDEL_LENGTH, rl // 4)
  clip = np.where(rng.random(nr) < cfg.soft_clip_fraction,
                  rng.integers(5, clip_max + 1, nr), 0).astype(np.int64)
  clip[unmapped] = 0
  x = gstart + np.where(rev, clip, 0)
  y = gstart + rl - np.where(rev, 0, clip)
  complex_ = ((ins_cum[y] - ins_cum[x] > 0) | (gap_cum[y] - gap_cum[x + 1] > 0)) & ~unmapped
  ref_start = tocat[x].astype(np.int64)
  ref_end = ref_start + (y - x)
  core_lo = np.where(rev, clip, 0)
  core_hi = np.where(rev, rl, rl - clip)
  indel_len = np.zeros(nr, dtype=np.int64)
  # Most reads are one of a few shapes (<clip>S<rest>M, ...): format each shape once.
  shapes, shape_of = np.unique(clip * 2 + rev, return_inverse=True)
  shape_text = np.array([_cigar_string(_merge_ops(
      [(reads_lib.CIGAR_S, k // 2 if k % 2 else 0), (reads_lib.CIGAR_M, rl - k // 2),
       (reads_lib.CIGAR_S, 0 if k % 2 else k // 2)])) for k in shapes.tolist()], dtype=object)
  cigars: List[str] = shape_text[shape_of].tolist()
  clip_l = clip.tolist()
  rev_l = rev.tolist()
  for i in np.flatnonzero(complex_).tolist():
    xs, ys = int(x[i]), int(y[i])
    rs, re_, ops, lead, trail, indel = _align_slow(tocat[xs:ys])
    c = clip_l[i]
    ops = ([(reads_lib.CIGAR_S, (c if rev_l[i] else 0) + lead)] + ops
           + [(reads_lib.CIGAR_S, trail + (0 if rev_l[i] else c))])
    cigars[i] = _cigar_string(_merge_ops(ops))
    ref_start[i], ref_end[i], indel_len[i] = rs, re_, indel
    core_lo[i] += lead
    core_hi[i] -= trail
  for i in np.flatnonzero(unmapped).tolist():
    cigars[i] = "*"

  # MAPQ from overlap with the segmental duplication / low-complexity region.
  span_len = ref_end - ref_start
  ovl = low_cum[np.clip(ref_end, 0, L)] - low_cum[np.clip(ref_start, 0, L)]
  mapq = np.full(nr, MAPQ_UNIQUE, dtype=np.int64)
  part = (ovl > 0) & (ovl < span_len)
  mapq[part] = rng.integers(5, 31, int(part.sum()))
  full = (ovl > 0) & (ovl >= span_len)
  mapq[full] = rng.integers(0, 4, int(full.sum()))
  # Duplicates keep their source's MAPQ: same molecule, same place.
  if len(dup_src):
    for off in (0, nf):
      mapq[off + nf - len(dup_src):off + nf] = mapq[off + dup_src]

  # --- per-base work in blocks ------------------------------------------------------------
  seq = np.empty((nr, rl), dtype=np.uint8)
  qual = np.empty((nr, rl), dtype=np.uint8)
  nm = np.full(nr, -1, dtype=np.int64)
  xe = np.full(nr, -1, dtype=np.int64)
  cols = np.arange(rl)
  refcodes = contig.codes
  phred_p = 10.0 ** (-np.arange(64) / 10.0)
  for lo in range(0, nr, _CHUNK):
    hi = min(nr, lo + _CHUNK)
    m = hi - lo
    gidx = gstart[lo:hi, None] + cols
    bases = hapcat[gidx]
    q = _draw_qualities(rng, m, rl)
    r = rev[lo:hi] & ~unmapped[lo:hi]  # unmapped mates are stored as sequenced
    q[r] = q[r, ::-1]
    pe = phred_p[q]
    if cfg.error_rate > 0:
      pe = np.minimum(1.0, pe * (cfg.error_rate / pe.mean()))
      err = rng.random((m, rl)) < pe
      n_err = int(err.sum())
      bases[err] = (bases[err] + rng.integers(1, 4, n_err, dtype=np.uint8)) & 3
    else:
      err = np.zeros((m, rl), dtype=bool)
    if hot_p is not None:
      rp = tocat[gidx]
      hp = np.where(rp >= 0, hot_p[np.maximum(rp, 0)], 0.0)
      hit = rng.random((m, rl)) < hp
      hit &= bases != hot_b[np.maximum(rp, 0)]
      bases[hit] = hot_b[rp[hit]]
      err |= hit
    cl = clip[lo:hi, None]
    tail = np.where(r[:, None], cols < cl, cols >= rl - cl)
    um = unmapped[lo:hi]
    tail[um] = True
    n_tail = int(tail.sum())
    bases[tail] = rng.integers(0, 4, n_tail, dtype=np.uint8)
    core = (cols >= core_lo[lo:hi, None]) & (cols < core_hi[lo:hi, None]) & ~um[:, None]
    refpos = np.where(core, tocat[gidx], -1)
    mism = (refpos >= 0) & (bases != refcodes[np.maximum(refpos, 0)])
    nm[lo:hi] = np.where(um, -1, mism.sum(1) + indel_len[lo:hi])
    xe[lo:hi] = np.where(um, -1, (err & core).sum(1))
    seq[lo:hi] = _ASCII[bases]
    qual[lo:hi] = q

  # --- pair fields and flags -------------------------------------------------------------
  F = reads_lib
  left, right = np.arange(nf), np.arange(nf, nr)
  both = ~mate_unmapped
  pos = ref_start.copy()
  # Unmapped mates sit at their mate's position.
  pos[left[unmapped[left]]] = ref_start[right[unmapped[left]]]
  pos[right[unmapped[right]]] = ref_start[left[unmapped[right]]]
  mate_pos = np.concatenate([pos[right], pos[left]])
  tl = np.maximum(ref_end[left], ref_end[right]) - np.minimum(ref_start[left], ref_start[right])
  left_is_leftmost = ref_start[left] <= ref_start[right]
  tlen = np.zeros(nr, dtype=np.int64)
  tlen[left] = np.where(both, np.where(left_is_leftmost, tl, -tl), 0)
  tlen[right] = -tlen[left]
  is_read1 = np.concatenate([read1_left, ~read1_left])
  flag = np.full(nr, F.FLAG_PAIRED, dtype=np.int64)
  flag |= np.where(is_read1, F.FLAG_READ1, F.FLAG_READ2)
  both2 = np.concatenate([both, both])
  flag |= np.where(both2, F.FLAG_PROPER_PAIR, 0)
  flag |= np.where(rev & ~unmapped, F.FLAG_REVERSE, 0)
  mate_rev = np.concatenate([rev[right] & ~unmapped[right], rev[left] & ~unmapped[left]])
  flag |= np.where(mate_rev, F.FLAG_MATE_REVERSE, 0)
  flag |= np.where(unmapped, F.FLAG_UNMAPPED, 0)
  mate_um = np.concatenate([unmapped[right], unmapped[left]])
  flag |= np.where(mate_um, F.FLAG_MATE_UNMAPPED, 0)
  flag |= np.where(np.concatenate([is_dup, is_dup]), F.FLAG_DUPLICATE, 0)
  flag |= np.where(np.concatenate([qcfail, qcfail]), F.FLAG_QCFAIL, 0)
  mapq[unmapped] = 0
  fragment = np.concatenate([np.arange(nf), np.arange(nf)])
  hp = np.where(unmapped, 0, rhap + 1)
  sa: List[Optional[str]] = [None] * nr

  # --- secondary and supplementary copies at random places of the simulated spans ---------
  primary = np.flatnonzero(~unmapped)
  extra_rows, extra_kind = [], []
  for kind, frac in ((F.FLAG_SECONDARY, cfg.secondary_fraction),
                     (F.FLAG_SUPPLEMENTARY, cfg.supplementary_fraction)):
    pick = primary[rng.random(len(primary)) < frac]
    extra_rows.append(pick)
    extra_kind.append(np.full(len(pick), kind, dtype=np.int64))
  src = np.concatenate(extra_rows)
  kind = np.concatenate(extra_kind)
  ne = len(src)
  e_lo = np.where(kind == F.FLAG_SUPPLEMENTARY, rng.integers(20, rl - 19, ne), 0)
  e_len = rl - e_lo
  # Placed uniformly inside the simulated spans (so --regions bounds every record).
  sp_start = np.array([sp.start for sp in spans], dtype=np.int64)
  sp_room = np.array([sp.length - rl + 1 for sp in spans], dtype=np.int64)
  which = rng.choice(len(spans), size=ne, p=sp_room / sp_room.sum()) if ne else \
      np.zeros(0, np.int64)
  e_pos = sp_start[which] + np.floor(rng.random(ne) * sp_room[which]).astype(np.int64)
  ok = ref_n_cum[e_pos + e_len] - ref_n_cum[e_pos] == 0
  src, kind, e_lo, e_len, e_pos = src[ok], kind[ok], e_lo[ok], e_len[ok], e_pos[ok]
  ne = len(src)
  e_flag = (flag[src] & ~F.FLAG_PROPER_PAIR) | kind
  e_mapq = np.where(kind == F.FLAG_SECONDARY, 0, rng.integers(0, 61, ne))
  e_nm = np.empty(ne, dtype=np.int64)
  e_cig = []
  for j in range(ne):
    i, p, lo_, ln = int(src[j]), int(e_pos[j]), int(e_lo[j]), int(e_len[j])
    e_nm[j] = int(np.count_nonzero(_CODE_OF[seq[i, lo_:]] != refcodes[p:p + ln]))
    if kind[j] == F.FLAG_SUPPLEMENTARY:
      cig = f"{lo_}H{ln}M"
      strand = "-" if flag[i] & F.FLAG_REVERSE else "+"
      sa[i] = f"{contig.name},{p + 1},{strand},{lo_}S{ln}M,{int(e_mapq[j])},{int(e_nm[j])};"
      e_cig.append((cig, f"{contig.name},{int(pos[i]) + 1},{strand},{cigars[i]},"
                          f"{int(mapq[i])},{int(nm[i])};"))
    else:
      e_cig.append((f"{rl}M", None))

  return ReadTable(
      contig=contig.name,
      fragment=np.concatenate([fragment, fragment[src]]),
      flag=np.concatenate([flag, e_flag]).astype(np.int32),
      pos=np.concatenate([pos, e_pos]).astype(np.int64),
      mapq=np.concatenate([mapq, e_mapq]).astype(np.uint8),
      cigar=cigars + [c for c, _ in e_cig],
      mate_pos=np.concatenate([mate_pos, mate_pos[src]]).astype(np.int64),
      tlen=np.concatenate([tlen, np.zeros(ne, np.int64)]),
      seq=np.concatenate([seq, seq[src]]),
      qual=np.concatenate([qual, qual[src]]),
      seq_lo=np.concatenate([np.zeros(nr, np.int64), e_lo]).astype(np.int64),
      nm=np.concatenate([nm, e_nm]),
      xe=np.concatenate([xe, np.full(ne, -1, np.int64)]),
      hp=np.concatenate([hp, np.zeros(ne, np.int64)]).astype(np.int8),
      sa=sa + [s for _, s in e_cig])


def count_read_kinds(table: ReadTable) -> Dict[str, int]:
  """Counters named in READ_KINDS, computed from flags (what samtools would count)."""
  F = reads_lib
  flag = table.flag.astype(np.int64)
  extra = (flag & (F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY)) != 0
  mapped = (flag & F.FLAG_UNMAPPED) == 0
  clipped = np.array(["S" in c for c in table.cigar], dtype=bool) if len(table) else \
      np.zeros(0, bool)
  return {
      "records": len(table),
      "fragments": int(len(np.unique(table.fragment))),
      "primary_mapped": int(np.sum(mapped & ~extra)),
      "duplicate": int(np.sum((flag & F.FLAG_DUPLICATE) != 0)),
      "secondary": int(np.sum((flag & F.FLAG_SECONDARY) != 0)),
      "supplementary": int(np.sum((flag & F.FLAG_SUPPLEMENTARY) != 0)),
      "qcfail": int(np.sum((flag & F.FLAG_QCFAIL) != 0)),
      "mate_unmapped": int(np.sum(mapped & ~extra & ((flag & F.FLAG_MATE_UNMAPPED) != 0))),
      "unmapped": int(np.sum(~mapped)),
      "soft_clipped": int(np.sum(clipped & mapped & ~extra)),
      "low_mapq": int(np.sum(mapped & ~extra & (table.mapq < 20))),
  }


def count_variants(variants: Sequence[SimVariant]) -> Dict[str, Dict[str, int]]:
  """Variant counters by kind, zygosity and phasing (for simulation.json)."""
  out = {"by_type": {k: 0 for k in ("snp", "insertion", "deletion", "complex")},
         "by_genotype": {k: 0 for k in ("het", "hom_alt", "het_alt")},
         "phasing": {"phased": 0, "unphased": 0}}
  for v in variants:
    out["by_type"][v.kind] += 1
    out["by_genotype"][v.zygosity] += 1
    out["phasing"]["phased" if v.phased else "unphased"] += 1
  return out


# ---------------------------------------------------------------------------------------------
# Whole genome.


def simulate_truth(cfg: SimulationConfig, name: str, length: int):
  """Reference, truth variants and haplotypes of one contig (no reads): cheap, deterministic;
  tests use it to know the haplotype of every unphased allele."""
  contig = generate_reference(name, length, rng_for(cfg.seed, _STAGE_REFERENCE, name))
  variants = generate_variants(contig, cfg, rng_for(cfg.seed, _STAGE_VARIANTS, name))
  return contig, tuple(variants), build_haplotypes(contig, variants)


def simulate_contig(cfg: SimulationConfig, name: str, length: int) -> ContigSimulation:
  contig, variants, haps = simulate_truth(cfg, name, length)
  reads = simulate_reads(cfg, contig, haps, rng_for(cfg.seed, _STAGE_READS, name))
  confident = confident_regions(contig, variants, rng_for(cfg.seed, _STAGE_CONFIDENT, name))
  return ContigSimulation(contig, variants, haps, reads, tuple(confident))


def iter_simulation(cfg: SimulationConfig) -> Iterator[ContigSimulation]:
  """Simulates contig by contig (in config order) so memory stays at one contig's reads."""
  cfg.validate()
  for name, length in cfg.contigs:
    yield simulate_contig(cfg, name, length)
