"""Unit tests of the pure simulator (beam_pipelines/core/simulation.py): no files, no pysam.

The key property is exactness: every read, walked along its CIGAR, must equal the haplotype it
came from except at the injected errors it reports (XE), and its NM must be its edit distance to
the reference. Statistical checks use tolerances of >= 4 standard deviations (stated per test).
"""
import dataclasses

import numpy as np
import pytest

from beam_pipelines.core import reads as reads_lib
from beam_pipelines.core import regions as regions_lib
from beam_pipelines.core import simulation as sim

F = reads_lib


def _cfg(**kw):
  base = dict(contigs=(("c1", 40_000),), coverage=20.0, seed=11, snp_rate=0.002,
              indel_rate=0.001, multiallelic_fraction=0.1)
  base.update(kw)
  return sim.SimulationConfig(**base).validate()


@pytest.fixture(scope="module")
def contig_sim():
  cfg = _cfg()
  return cfg, sim.simulate_contig(cfg, "c1", 40_000)


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("sim1:200000,sim2:100000", (("sim1", 200000), ("sim2", 100000))),  # the documented form
    ("a:5k", (("a", 5000),)),  # k suffix
    ("a:2m", (("a", 2_000_000),)),  # m suffix
    ("a:1_000", (("a", 1000),)),  # underscores as digit separators
])
def test_parse_contigs(text, expected):
  assert sim.parse_contigs(text) == expected


@pytest.mark.parametrize("text", [
    "sim1",  # no length
    "sim1:abc",  # length not a number
    ":100",  # no name
    "a:-5",  # negative length
])
def test_parse_contigs_rejects(text):
  with pytest.raises(sim.SimulationConfigError, match="--contigs"):
    sim.parse_contigs(text)


@pytest.mark.parametrize("changes,message", [
    (dict(coverage=-3.0), "--coverage must be > 0, got -3"),  # negative coverage
    (dict(coverage=0.0), "--coverage must be > 0, got 0"),  # zero coverage
    (dict(read_length=300), "is longer than contig 'c1'"),  # read longer than the contig
    (dict(read_length=500, contigs=(("c1", 10_000),)), "--insert_size_mean"),  # read > fragment
    (dict(read_length=20), "--read_length must be >= 50"),  # too short to always align
    (dict(insert_sd=-1.0), "--insert_size_sd must be >= 0"),  # negative sd
    (dict(error_rate=0.5), "--error_rate must be in"),  # absurd error rate
    (dict(hom_alt_fraction=1.5), "--hom_alt_fraction must be in [0, 1]"),  # not a fraction
    (dict(duplicate_fraction=-0.1), "--duplicate_fraction"),  # negative fraction
    (dict(regions=("chrX:1-100",)), "--regions: region 'chrX:1-100': contig 'chrX'"),  # unknown
    (dict(regions=("c1:10-5",)), "--regions"),  # end before start
    (dict(contigs=(("c1", 1000), ("c1", 2000))), "listed twice"),  # duplicate contig
    (dict(contigs=(("bad name", 1000),)), "contig name 'bad name'"),  # whitespace in a name
    (dict(sample_name="two words"), "--sample_name"),  # SM cannot hold whitespace
])
def test_validate_names_flag(changes, message):
  cfg = dataclasses.replace(sim.SimulationConfig(contigs=(("c1", 200),), read_length=150),
                            **changes)
  with pytest.raises(sim.SimulationConfigError) as e:
    cfg.validate()
  assert message in str(e.value)


def test_default_config_is_valid_and_round_trips_flags():
  cfg = sim.SimulationConfig().validate()
  flags = cfg.command_line_flags()
  assert "--contigs=sim1:200000,sim2:100000" in flags  # brief's default dataset
  assert "--seed=1" in flags and not any("output" in f for f in flags)  # no paths in @PG CL


# --- reference ------------------------------------------------------------------------------


def test_reference_features_are_what_they_claim(contig_sim):
  _, cs = contig_sim
  codes = cs.contig.codes
  hps = cs.contig.features_of(sim.FEATURE_HOMOPOLYMER)
  assert len(hps) >= 20
  for f in hps:
    assert 5 <= f.end - f.start <= 20  # homopolymers of 5-20 bp
    assert len(set(codes[f.start:f.end].tolist())) == 1
  strs = cs.contig.features_of(sim.FEATURE_STR)
  assert strs
  for f in strs:
    seg = codes[f.start:f.end]
    periods = [u for u in range(2, 7) if len(seg) >= 5 * u and np.array_equal(seg[u:], seg[:-u])]
    assert periods, f  # a 2-6 bp unit repeated >= 5 times
  nruns = cs.contig.features_of(sim.FEATURE_N_RUN)
  assert nruns and all(100 <= f.end - f.start <= 2000 for f in nruns)
  assert int(np.sum(codes == sim.N)) == sum(f.end - f.start for f in nruns)  # N only in runs
  (src,), (dst,) = (cs.contig.features_of(sim.FEATURE_SEGDUP_SOURCE),
                    cs.contig.features_of(sim.FEATURE_SEGDUP_COPY))
  assert np.array_equal(codes[src.start:src.end], codes[dst.start:dst.end])  # exact copy
  assert cs.contig.features_of(sim.FEATURE_LOW_COMPLEXITY)


def test_reference_gc_varies_in_domains():
  contig = sim.generate_reference("g", 300_000, np.random.default_rng(3))
  acgt = contig.codes[contig.codes < 4]
  gc = ((acgt == sim.C) | (acgt == sim.G))[:290_000].reshape(-1, 1000).mean(1)
  # Uniform 50% GC would give a per-kb sd of ~0.016; domains of 30-62% GC give ~0.08.
  assert gc.std() > 0.05
  assert 0.35 < gc.mean() < 0.55


def test_reference_is_deterministic():
  a = sim.generate_reference("g", 50_000, sim.rng_for(5, 1, "g"))
  b = sim.generate_reference("g", 50_000, sim.rng_for(5, 1, "g"))
  c = sim.generate_reference("g", 50_000, sim.rng_for(6, 1, "g"))
  assert np.array_equal(a.codes, b.codes) and a.features == b.features  # same seed
  assert not np.array_equal(a.codes, c.codes)  # another seed


def test_short_contig_has_only_small_features():
  contig = sim.generate_reference("s", 5_000, np.random.default_rng(0))
  assert not contig.features_of(sim.FEATURE_N_RUN, *sim.LOW_MAPQ_FEATURES)


# --- truth ----------------------------------------------------------------------------------


def test_variants_are_normalised_and_apart(contig_sim):
  _, cs = contig_sim
  text = cs.contig.sequence
  vs = cs.variants
  assert len(vs) > 60
  for prev, v in zip(vs, vs[1:]):
    assert v.start > prev.end  # >= 1 reference base between variant spans
  for v in vs:
    assert text[v.start:v.end] == v.ref  # REF matches the reference
    assert "N" not in text[v.start - 1:v.end + 1]  # never in or next to an N run
    assert len(set(v.alts)) == len(v.alts) and v.ref not in v.alts
    for alt in v.alts:
      if len(alt) != len(v.ref):
        assert alt[0] == v.ref[0]  # anchored indel
        assert 1 <= abs(len(alt) - len(v.ref)) <= sim.MAX_INDEL_LENGTH
      sim.allele_ref_map(v.ref, alt, v.start)  # raises unless anchor + one edit
    if len(v.alts) > 1:
      assert sorted(v.haplotype_alleles) == [1, 2]  # multi-allelic sites are 1/2
  kinds = {v.kind for v in vs}
  assert {"snp", "insertion", "deletion"} <= kinds
  assert {v.zygosity for v in vs} == {"het", "hom_alt", "het_alt"}
  assert {v.phased for v in vs} == {True, False}


@pytest.mark.parametrize("alleles,expected_gt", [
    (((1, 0), True), "1|0"),  # phased keeps haplotype order
    (((1, 0), False), "0/1"),  # unphased is written sorted
    (((2, 1), False), "1/2"),  # het-alt unphased
    (((1, 1), True), "1|1"),  # phased hom-alt
])
def test_gt_string(alleles, expected_gt):
  hap, phased = alleles
  v = sim.SimVariant("c", 5, "A", ("G", "T"), hap, phased)
  assert v.gt_string() == expected_gt


@pytest.mark.parametrize("ref,alt,expected", [
    ("A", "G", [10]),  # SNP: base to base
    ("A", "ACC", [10, -1, -1]),  # insertion after the anchor
    ("ACG", "A", [10]),  # deletion of two bases after the anchor
    ("ACGT", "AGT", [10, 12, 13]),  # shorter deletion written against a longer REF
    ("AC", "ATTC", [10, -1, -1, 11]),  # insertion at a site whose REF spans a deletion
])
def test_allele_ref_map(ref, alt, expected):
  assert sim.allele_ref_map(ref, alt, 10).tolist() == expected


def test_allele_ref_map_rejects_non_anchored():
  with pytest.raises(ValueError):
    sim.allele_ref_map("AC", "GCC", 0)  # the anchor base changed


def test_build_haplotypes_by_hand():
  contig = sim.SimContig("h", sim.encode("ACGTACGTAC"), ())
  vs = [sim.SimVariant("h", 1, "C", ("T",), (1, 0), False),  # SNP on hap 0
        sim.SimVariant("h", 3, "TAC", ("T",), (1, 1), False),  # 2 bp deletion on both
        sim.SimVariant("h", 7, "T", ("TGG",), (0, 1), True)]  # insertion on hap 1
  h0, h1 = sim.build_haplotypes(contig, vs)
  assert h0.sequence == "ATGTGTAC"
  assert h0.to_ref.tolist() == [0, 1, 2, 3, 6, 7, 8, 9]
  assert h1.sequence == "ACGTGTGGAC"
  assert h1.to_ref.tolist() == [0, 1, 2, 3, 6, 7, -1, -1, 8, 9]


def test_confident_regions_leave_out_n_runs_and_some_variants(contig_sim):
  _, cs = contig_sim
  idx = regions_lib.IntervalIndex(cs.confident)
  for f in cs.contig.features_of(sim.FEATURE_N_RUN):
    for p in (max(0, f.start - 400), f.start, f.end - 1, min(cs.contig.length - 1, f.end + 400)):
      assert not idx.contains("c1", p)  # N run and its 500 bp flank excluded
  outside = [v for v in cs.variants if not idx.contains("c1", v.start)]
  assert outside and len(outside) < len(cs.variants) / 2  # a few, not most
  covered = sum(r.length for r in cs.confident)
  # On a 40 kb contig the five large features (each <= L/20) plus N flanks take up to ~35%.
  assert covered > 0.6 * cs.contig.length


# --- reads ----------------------------------------------------------------------------------


def walk_read(row_seq, pos, cigar, hap, ref_codes):
  """Compares a read to its haplotype along its CIGAR. Returns (hap mismatches, ref edit
  distance, aligned bases) or raises AssertionError when the CIGAR is not the true alignment.

  Independent of the simulator's own bookkeeping: uses only the haplotype's reference map.
  """
  to_ref = hap.to_ref
  ref_to_hap = np.full(len(ref_codes), -1, dtype=np.int64)
  aligned = np.flatnonzero(to_ref >= 0)
  ref_to_hap[to_ref[aligned]] = aligned
  ops = reads_lib.parse_cigar(cigar)
  q, r = 0, pos
  hpos = None
  hap_mm = ref_nm = n = 0
  for op, ln in ops:
    if op == F.CIGAR_S:
      q += ln
    elif op == F.CIGAR_H:
      continue
    elif op == F.CIGAR_M:
      hp = ref_to_hap[r:r + ln]
      if hpos is None:
        hpos = int(hp[0])
      assert np.array_equal(hp, hpos + np.arange(ln)), "M bases not contiguous on haplotype"
      bases = row_seq[q:q + ln]
      hap_mm += int(np.sum(bases != hap.codes[hpos:hpos + ln]))
      ref_nm += int(np.sum(bases != ref_codes[r:r + ln]))
      q, r, hpos, n = q + ln, r + ln, hpos + ln, n + ln
    elif op == F.CIGAR_I:
      assert hpos is not None and np.all(to_ref[hpos:hpos + ln] == -1), "I is not an insertion"
      hap_mm += int(np.sum(row_seq[q:q + ln] != hap.codes[hpos:hpos + ln]))
      ref_nm += ln
      q, hpos, n = q + ln, hpos + ln, n + ln
    elif op == F.CIGAR_D:
      assert np.all(ref_to_hap[r:r + ln] == -1), "D bases present on the haplotype"
      ref_nm += ln
      r += ln
    else:
      raise AssertionError(f"unexpected op {op}")
  assert q == len(row_seq)
  return hap_mm, ref_nm, n


def test_cigars_are_exact_and_tags_agree(contig_sim):
  cfg, cs = contig_sim
  t = cs.reads
  flag = t.flag.astype(int)
  primary = np.flatnonzero((flag & (F.FLAG_UNMAPPED | F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY))
                           == 0)
  with_indel = [i for i in primary if any(ch in t.cigar[i] for ch in "ID")]
  assert len(with_indel) > 100  # the indel path is exercised
  total_mm = total_bases = 0
  for i in primary:
    row = sim.encode(t.seq[i].tobytes().decode())
    hap_mm, ref_nm, n = walk_read(row, int(t.pos[i]), t.cigar[i], cs.haplotypes[t.hp[i] - 1],
                                  cs.contig.codes)
    assert hap_mm == t.xe[i]  # mismatches vs the haplotype are exactly the injected errors
    assert ref_nm == t.nm[i]  # NM is the edit distance to the reference
    total_mm += hap_mm
    total_bases += n
  rate = total_mm / total_bases
  # ~24k reads x 150 bp at 0.002 -> ~7k errors (sd ~1%); 15% relative tolerance.
  assert abs(rate - cfg.error_rate) < 0.15 * cfg.error_rate, rate


def test_qualities_decay_along_the_read(contig_sim):
  _, cs = contig_sim
  t = cs.reads
  flag = t.flag.astype(int)
  fwd = (flag & (F.FLAG_REVERSE | F.FLAG_UNMAPPED | F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY)) == 0
  rev = ((flag & F.FLAG_REVERSE) != 0) & ((flag & (F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY)) == 0)
  q_fwd = t.qual[fwd].astype(float)
  q_rev = t.qual[rev][:, ::-1].astype(float)  # back to sequencing direction
  for q in (q_fwd, q_rev):
    assert 35 < q[:, :10].mean() < 37  # ~Q36 at the start
    assert 24 < q[:, -10:].mean() < 27  # ~Q25 at the end
    assert q.min() >= 2 and q.max() <= 41  # capped


def test_pairs_flags_and_insert_sizes(contig_sim):
  cfg, cs = contig_sim
  t = cs.reads
  flag = t.flag.astype(int)
  proper = (flag & F.FLAG_PROPER_PAIR) != 0
  extra = (flag & (F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY)) != 0
  assert not np.any(proper & extra)
  pos_tlen = t.tlen[proper & (t.tlen > 0)]
  # 5k pairs, sd 80 -> the mean is within +-5 bp at > 4 sd; the sd within 10%.
  assert abs(pos_tlen.mean() - cfg.insert_mean) < 6
  assert abs(pos_tlen.std() - cfg.insert_sd) < 0.1 * cfg.insert_sd
  # Mates point at each other.
  by_key = {}
  for i in np.flatnonzero(~extra):
    by_key.setdefault(int(t.fragment[i]), []).append(i)
  for pair in by_key.values():
    a, b = pair
    assert t.mate_pos[a] == t.pos[b] and t.mate_pos[b] == t.pos[a]
    assert t.tlen[a] == -t.tlen[b]
    assert (flag[a] & F.FLAG_READ1) != (flag[b] & F.FLAG_READ1)
    if (flag[a] | flag[b]) & F.FLAG_UNMAPPED:
      um, m = (a, b) if flag[a] & F.FLAG_UNMAPPED else (b, a)
      assert flag[m] & F.FLAG_MATE_UNMAPPED and not flag[m] & F.FLAG_PROPER_PAIR
      assert t.pos[um] == t.pos[m] and t.cigar[um] == "*"  # placed at its mate (SAM rec.)
    else:
      assert flag[a] & F.FLAG_PROPER_PAIR and flag[b] & F.FLAG_PROPER_PAIR
      assert bool(flag[a] & F.FLAG_REVERSE) == bool(flag[b] & F.FLAG_MATE_REVERSE)


def test_low_mapq_only_over_repeats(contig_sim):
  _, cs = contig_sim
  t = cs.reads
  flag = t.flag.astype(int)
  primary = (flag & (F.FLAG_UNMAPPED | F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY)) == 0
  mask = np.zeros(cs.contig.length + 1, dtype=bool)
  for f in cs.contig.features_of(*sim.LOW_MAPQ_FEATURES):
    mask[f.start:f.end] = True
  low = np.flatnonzero(primary & (t.mapq < 20))
  assert len(low) > 50
  for i in low:
    r = t.to_reads([i])[0]
    assert mask[r.start:r.end].any()  # low MAPQ only where the sequence is ambiguous
  assert np.all(t.mapq[primary & (t.mapq < 60)] <= 30)


def test_read_kinds_near_configured_fractions():
  cfg = _cfg(contigs=(("c1", 60_000),), coverage=30.0, duplicate_fraction=0.02,
             secondary_fraction=0.02, supplementary_fraction=0.02, qcfail_fraction=0.02,
             mate_unmapped_fraction=0.02, soft_clip_fraction=0.05)
  cs = sim.simulate_contig(cfg, "c1", 60_000)
  k = sim.count_read_kinds(cs.reads)
  frags, prim = k["fragments"], k["primary_mapped"]
  # ~6k fragments / 12k reads at 2%: expected ~120 / ~240 with sd ~11-16; +-30% is > 3 sd.
  for name, got, expected in [
      ("duplicate", k["duplicate"] / 2, 0.02 * frags),  # both reads of a copied fragment
      ("qcfail", k["qcfail"] / 2, 0.02 * frags),  # both reads of a fragment
      ("unmapped", k["unmapped"], 0.02 * frags),  # one mate per chosen fragment
      ("secondary", k["secondary"], 0.02 * prim),  # per primary mapped read (less N drops)
      ("supplementary", k["supplementary"], 0.02 * prim),
      ("soft_clipped", k["soft_clipped"], 0.05 * prim),  # plus insertion-edge clips
  ]:
    assert abs(got - expected) < 0.3 * expected, (name, got, expected)
  assert k["mate_unmapped"] == k["unmapped"]


def test_regions_restrict_reads():
  cfg = _cfg(contigs=(("c1", 40_000),), regions=("c1:20,001-22,000",))
  cs = sim.simulate_contig(cfg, "c1", 40_000)
  pad = cfg.max_fragment_length
  assert cs.reads.pos.min() >= 20_000 - pad  # every record, secondary copies included,
  assert cs.reads.pos.max() < 22_000 + pad  # lies in the padded region
  pos = cs.reads.pos[(cs.reads.flag & (F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY)) == 0]
  inside = np.sum((pos >= 20_000) & (pos < 22_000 - cfg.read_length))
  # 20x over 2 kb with 150 bp reads: ~ 20 * 1850 / 150 = 247 read starts.
  assert 180 < inside < 320
  assert len(cs.variants) > 40  # truth still covers the whole contig


def test_simulation_is_deterministic_per_seed():
  cfg = _cfg(contigs=(("c1", 25_000),), coverage=5.0)
  a = sim.simulate_contig(cfg, "c1", 25_000)
  b = sim.simulate_contig(cfg, "c1", 25_000)
  c = sim.simulate_contig(dataclasses.replace(cfg, seed=12), "c1", 25_000)
  assert np.array_equal(a.reads.seq, b.reads.seq) and a.reads.cigar == b.reads.cigar
  assert np.array_equal(a.reads.qual, b.reads.qual) and a.variants == b.variants
  assert not np.array_equal(a.contig.codes, c.contig.codes)
  # Changing the coverage leaves reference and truth unchanged (separate random streams).
  d = sim.simulate_contig(dataclasses.replace(cfg, coverage=7.0), "c1", 25_000)
  assert np.array_equal(a.contig.codes, d.contig.codes) and a.variants == d.variants


def test_to_reads_gives_core_reads(contig_sim):
  _, cs = contig_sim
  t = cs.reads
  i = next(i for i in range(len(t)) if "D" in t.cigar[i])
  r = t.to_reads([i])[0]
  assert isinstance(r, reads_lib.Read)
  assert r.cigar_string() == t.cigar[i] and r.start == t.pos[i]
  assert len(r.seq) == len(r.qual) == cfg_read_length(r)
  assert r.end > r.start + sum(n for op, n in r.cigar if op == F.CIGAR_M)  # D extends the span


def cfg_read_length(read):
  return sum(n for op, n in read.cigar if op in F.READ_CONSUMING)


def test_systematic_hotspots_make_recurrent_errors():
  """Hotspots are where hom-ref candidates come from: a share of reads shows one wrong base."""
  cfg = _cfg(systematic_error_rate=0.002, error_rate=0.0, snp_rate=0.0, indel_rate=0.0,
             coverage=40.0)
  contig, _, haps = sim.simulate_truth(cfg, "c1", 40_000)
  hot_p, hot_b = sim.systematic_hotspots(cfg, contig)
  spots = np.flatnonzero(hot_p)
  assert 40 <= len(spots) <= 120  # binomial(40k, 0.002): mean 80
  assert (contig.codes[spots] < 4).all() and (hot_b[spots] != contig.codes[spots]).all()
  lo, hi = sim.HOTSPOT_READ_RATE
  assert ((hot_p[spots] >= lo) & (hot_p[spots] <= hi)).all()
  assert sim.systematic_hotspots(_cfg(systematic_error_rate=0.0), contig) == (None, None)
  # With no random errors and no variants, every mismatch of a primary read is a hotspot base.
  reads = sim.simulate_reads(cfg, contig, haps, sim.rng_for(cfg.seed, 3, "c1")).to_reads()
  shown = total = 0
  for r in reads:
    if r.flag & (F.FLAG_UNMAPPED | F.FLAG_SECONDARY | F.FLAG_SUPPLEMENTARY) or \
        r.cigar != ((F.CIGAR_M, len(r.seq)),):
      continue
    pos = np.arange(r.start, r.start + len(r.seq))
    seq = np.frombuffer(r.seq.encode(), dtype=np.uint8)
    ref = np.frombuffer(sim.decode(contig.codes[pos]).encode(), dtype=np.uint8)
    mism = pos[seq != ref]
    assert np.isin(mism, spots).all()
    covered = np.isin(pos, spots)
    total += int(covered.sum())
    shown += len(mism)
  # The expected share is the mean of hot_p over covered spots, ~0.215; 0.12..0.32 is wide.
  assert 0.12 < shown / total < 0.32
