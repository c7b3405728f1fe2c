"""The integer-array de Bruijn assembler against a plain string-k-mer statement of its spec.

The oracle below is the module docstring of ``debruijn`` written as the most direct Python
(k-mers as strings, edges in a dict in insertion order, paths as tuples), slow but obviously
right; the kernels must agree with it on every output: the chosen k, the edges with their
weights and insertion order, the pruned adjacency, and the haplotypes (including the [] that
the ``max_num_paths`` cut gives and the [ref] of a window without a graph).
"""
import collections
import dataclasses

import numpy as np
import pytest

from beam_pipelines.core.reads import Read, parse_cigar
from beam_pipelines.core.realigner import debruijn
from beam_pipelines.core.realigner.options import DeBruijnOptions

# ------------------------------------------------------------------------------------------
# Oracle.
# ------------------------------------------------------------------------------------------


def oracle_reference_k(ref, opts):
  """First k on the min_k/step_k grid, <= min(max_k, len(ref) - 1), with distinct ref k-mers."""
  for k in range(opts.min_k, min(opts.max_k, len(ref) - 1) + 1, opts.step_k):
    kmers = [ref[i:i + k] for i in range(len(ref) - k + 1)]
    if len(set(kmers)) == len(kmers):
      return k
  return None


def oracle_edges(ref, reads, k, opts):
  """{(u, v): [weight, from_reference]} in first-insertion order."""
  edges = {}

  def add(u, v, is_ref):
    entry = edges.setdefault((u, v), [0, False])
    entry[0] += 1
    entry[1] = entry[1] or is_ref

  for i in range(len(ref) - k):
    add(ref[i:i + k], ref[i + 1:i + 1 + k], True)
  for r in reads:
    if r.mapq < opts.min_mapq:
      continue
    seq = r.seq.upper()
    usable = [c in "ACGT" and int(q) >= opts.min_base_quality for c, q in zip(seq, r.qual)]
    for i in range(len(seq) - k):
      if all(usable[i:i + k + 1]):  # both k-mers (i and i + 1) lie on usable bases
        add(seq[i:i + k], seq[i + 1:i + 1 + k], False)
  return edges


def oracle_has_cycle(edges):
  """Depth-first search with three colours (iterative, graphs can be deep)."""
  succ = collections.defaultdict(list)
  for u, v in edges:
    succ[u].append(v)
  colour = {}
  for root in list(succ):
    if root in colour:
      continue
    colour[root] = 1
    stack = [(root, iter(succ[root]))]
    while stack:
      node, it = stack[-1]
      nxt = next(it, None)
      if nxt is None:
        colour[node] = 2
        stack.pop()
      elif colour.get(nxt) == 1:
        return True
      elif nxt not in colour:
        colour[nxt] = 1
        stack.append((nxt, iter(succ[nxt])))
  return False


def oracle_graph(ref, reads, opts):
  """(k, edges) of the first acyclic k, or None."""
  k = oracle_reference_k(ref, opts)
  if k is None:
    return None
  while k <= min(opts.max_k, len(ref) - 1):
    edges = oracle_edges(ref, reads, k, opts)
    if not oracle_has_cycle(edges):
      return k, edges
    k += opts.step_k
  return None


def _reach(start, nbrs):
  seen, todo = {start}, [start]
  while todo:
    for w in nbrs.get(todo.pop(), ()):
      if w not in seen:
        seen.add(w)
        todo.append(w)
  return seen


def oracle_pruned(ref, k, edges, opts):
  """Adjacency after the weight cut and the source->sink reachability cut."""
  succ, pred = {}, {}
  for (u, v), (w, is_ref) in edges.items():
    if is_ref or w >= opts.min_edge_weight:
      succ.setdefault(u, []).append(v)
      pred.setdefault(v, []).append(u)
  keep = _reach(ref[:k], succ) & _reach(ref[-k:], pred)
  return {u: [v for v in vs if v in keep] for u, vs in succ.items() if u in keep}


def oracle_haplotypes(ref, reads, opts):
  graph = oracle_graph(ref, reads, opts)
  if graph is None:
    return [ref]
  k, edges = graph
  adj = oracle_pruned(ref, k, edges, opts)
  source, sink = ref[:k], ref[-k:]
  if not adj.get(source):
    return []
  finished, pending = [], collections.deque([(source,)])
  while pending:
    if opts.max_num_paths and len(finished) + len(pending) > opts.max_num_paths:
      return []
    path = pending.popleft()
    for v in adj[path[-1]]:
      longer = path + (v,)
      (finished if v == sink or not adj.get(v) else pending).append(longer)
  return sorted(p[0] + "".join(km[-1] for km in p[1:]) for p in finished)


# ------------------------------------------------------------------------------------------
# Case generators.
# ------------------------------------------------------------------------------------------


def _read(name, seq, qual=30, mapq=60):
  quals = qual if isinstance(qual, np.ndarray) else np.full(len(seq), qual, dtype=np.uint8)
  return Read(name=name, flag=0, contig="c", start=0, mapq=mapq, cigar=parse_cigar(f"{len(seq)}M"),
              seq=seq, qual=quals)


def _random_ref(rng, n, alphabet="ACGT"):
  """Random bases with tandem repeats and homopolymers spliced in (repeats force larger k)."""
  out = []
  while len(out) < n:
    kind = rng.randint(6)
    if kind == 0:  # tandem repeat of a short motif
      motif = "".join(rng.choice(list(alphabet), size=rng.randint(2, 5)))
      out.extend(motif * rng.randint(2, 4))
    elif kind == 1:  # homopolymer
      out.extend(rng.choice(list(alphabet)) * rng.randint(3, 9))
    else:
      out.extend(rng.choice(list(alphabet), size=rng.randint(3, 15)))
  return "".join(out[:n])


def _mutate(rng, seq):
  """A haplotype: a few SNPs, insertions (sometimes repeat expansions) and deletions."""
  s = list(seq)
  for _ in range(rng.randint(0, 4)):
    p = rng.randint(1, max(2, len(s) - 1))
    kind = rng.randint(5)
    if kind == 0:
      s[p] = "ACGT"[("ACGT".index(s[p]) + 1) % 4] if s[p] in "ACGT" else "A"
    elif kind == 1:
      s[p:p] = list("".join(rng.choice(list("ACGT"), size=rng.randint(1, 4))))
    elif kind == 2:
      del s[p:p + rng.randint(1, 4)]
    elif kind == 3:  # duplicate the preceding few bases (a repeat expansion: cycles at small k)
      w = rng.randint(2, 6)
      s[p:p] = s[max(0, p - w):p]
    else:  # a tandem-repeat expansion: cycles up to a large k
      s[p:p] = s[max(0, p - 4):p] * rng.randint(3, 8)
  return "".join(s)


def _random_reads(rng, haps, num, min_len, max_len):
  reads = []
  for n in range(num):
    hap = haps[rng.randint(len(haps))]
    length = rng.randint(min_len, max_len + 1)
    start = rng.randint(0, max(1, len(hap) - length + 1))
    seq = list(hap[start:start + length])
    for p in range(len(seq)):
      u = rng.rand()
      if u < 0.02:
        seq[p] = "ACGT"[rng.randint(4)]
      elif u < 0.03:
        seq[p] = "N"
      elif u < 0.04:
        seq[p] = seq[p].lower()
    qual = rng.randint(0, 41, size=len(seq)).astype(np.uint8)
    qual[rng.rand(len(seq)) < 0.8] = 35  # mostly good bases, some below 15
    reads.append(_read(f"r{n}", "".join(seq), qual, mapq=int(rng.choice([0, 13, 14, 60, 60]))))
  return reads


def _random_case(seed):
  rng = np.random.RandomState(seed)
  alphabet = "ACGT" if seed % 5 else "ACGTN"
  ref = _random_ref(rng, rng.randint(20, 140), alphabet)
  haps = [ref] + [_mutate(rng, ref) for _ in range(rng.randint(1, 4))]
  reads = _random_reads(rng, haps, rng.randint(0, 60), 8, 60)
  min_k = int(rng.randint(2, 12))
  span = rng.randint(0, 4) if seed % 7 == 0 else rng.randint(0, 25)  # narrow: often all cyclic
  opts = DeBruijnOptions(min_k=min_k, max_k=int(min_k + span),
                         step_k=int(rng.randint(1, 4)), min_mapq=14, min_base_quality=15,
                         min_edge_weight=int(rng.randint(1, 4)),
                         max_num_paths=int(rng.choice([0, 1, 2, 3, 5, 8, 256])))
  return ref, reads, opts


def _assert_same(ref, reads, opts):
  """Every observable of the fast assembler equals the oracle's."""
  assert debruijn.smallest_acyclic_reference_k(ref, opts) == oracle_reference_k(ref, opts)
  want_graph = oracle_graph(ref, reads, opts)
  graph = debruijn.build_graph(ref, reads, opts)
  if want_graph is None:
    assert graph is None
  else:
    k, edges = want_graph
    assert graph is not None and graph.k == k
    assert not graph.has_cycle()
    assert list(graph.weights.items()) == [(e, w) for e, (w, _) in edges.items()]
    assert graph.ref_edges == {e for e, (_, is_ref) in edges.items() if is_ref}
    assert graph.pruned_adjacency(opts.min_edge_weight) == oracle_pruned(ref, k, edges, opts)
  assert debruijn.candidate_haplotypes(ref, reads, opts) == oracle_haplotypes(ref, reads, opts)


# ------------------------------------------------------------------------------------------
# Tests.
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(300))
def test_random_windows_match_oracle(seed):
  """Repeats, homopolymers, N (reference and reads), lower case, low quality, low MAPQ, small k
  (so several k are tried), all step sizes and path limits: every output equals the oracle."""
  _assert_same(*_random_case(seed))


def test_random_cases_cover_every_outcome():
  """The random cases are only worth their time if they reach every branch of the outcome."""
  outcomes = collections.Counter()
  for seed in range(300):
    ref, reads, opts = _random_case(seed)
    graph = oracle_graph(ref, reads, opts)
    haps = oracle_haplotypes(ref, reads, opts)
    k0 = oracle_reference_k(ref, opts)
    if k0 is None:
      outcomes["no reference k"] += 1
    elif graph is None:
      outcomes["cyclic up to max_k"] += 1
    elif graph[0] > k0:
      outcomes["later k"] += 1
    if graph is not None:
      outcomes["[]" if not haps else ("ref only" if haps == [ref] else "alternatives")] += 1
  assert set(outcomes) == {"no reference k", "cyclic up to max_k", "later k", "[]", "ref only",
                           "alternatives"}, outcomes
  assert min(outcomes.values()) >= 5, outcomes


@pytest.mark.parametrize("ref_alphabet,min_k,reason", [
    ("ACGT", 40, "2 bits a base: 40-mers do not fit 62 bits, ids go on by extension"),
    ("ACGTN", 30, "3 bits a base (N in the reference): 30-mers need extension past 20"),
    ("ACGTNRYKMSWBDHV", 20, "15 letters, 4 bits: extension past 15"),
    ("ACGTacgtNnRYKMSWBDHVX", 14, "21 letters (lower case in the reference too), 5 bits"),
])
def test_long_k_and_wide_alphabets(ref_alphabet, min_k, reason):
  """K-mers longer than one packed word are identified exactly (by extension)."""
  rng = np.random.RandomState(min_k)
  extra = [c for c in ref_alphabet if c not in "ACGT"]
  for trial in range(4):
    ref = list(rng.choice(list("ACGT"), size=150))
    for c, p in zip(extra, rng.choice(150, size=len(extra), replace=False)):
      ref[p] = c  # every extra letter once: the alphabet (bits a letter) is what is tested
    ref = "".join(ref)
    reads = _random_reads(rng, [ref, _mutate(rng, ref)], 30, 40, 100)
    opts = DeBruijnOptions(min_k=min_k, max_k=101, min_edge_weight=1 + trial % 2)
    _assert_same(ref, reads, opts)


def test_many_distinct_kmers_grow_the_hash_table():
  """More than 2,048 distinct k-mers (the first table's limit) restarts with a larger table."""
  rng = np.random.RandomState(11)
  ref = "".join(rng.choice(list("ACGT"), size=400))
  reads = [_read(f"r{n}", "".join(rng.choice(list("ACGT"), size=100))) for n in range(60)]
  opts = DeBruijnOptions()
  assert len(oracle_edges(ref, reads, 10, opts)) > 4000
  _assert_same(ref, reads, opts)


def _bubbles(num_snps, depth=3):
  """Reference with ``num_snps`` well-spaced SNPs, each alternative seen by ``depth`` reads."""
  ref = "".join(np.random.RandomState(5).choice(list("ACGT"), size=60 + 40 * num_snps))
  reads = []
  for s in range(num_snps):
    p = 50 + 40 * s
    alt = ref[:p] + "ACGT"[("ACGT".index(ref[p]) + 1) % 4] + ref[p + 1:]
    reads += [_read(f"s{s}_{d}", alt[p - 20:p + 21]) for d in range(depth)]
  return ref, reads


@pytest.mark.parametrize("num_snps,max_num_paths,expected,reason", [
    (2, 4, 4, "four paths, never more than four pending: all four haplotypes"),
    (2, 3, 0, "four pending paths exceed three: no haplotypes at all"),
    (2, 0, 4, "0 means no limit"),
    (3, 7, 0, "eight paths pending at once exceed seven"),
    (8, 256, 256, "256 paths fit exactly; path bookkeeping outgrows its first arrays"),
    (8, 255, 0, "one path too many"),
    (8, 0, 256, "no limit, same 256 paths"),
])
def test_max_num_paths_cut(num_snps, max_num_paths, expected, reason):
  """The cut is tested before every pop, on finished + pending paths (BFS order matters)."""
  ref, reads = _bubbles(num_snps)
  opts = DeBruijnOptions(max_num_paths=max_num_paths)
  haps = debruijn.candidate_haplotypes(ref, reads, opts)
  assert len(haps) == expected
  assert haps == oracle_haplotypes(ref, reads, opts)


@pytest.mark.parametrize("ref,reads,expected,reason", [
    ("ACGTACGTTGCA", [], ["ACGTACGTTGCA"], "no reads: the reference is the only path"),
    ("ACGTACGTTG", [], ["ACGTACGTTG"], "len(ref) - 1 < min_k 10: no graph, [ref]"),
    ("", [], [""], "empty reference: no graph, [ref]"),
    ("A" * 200, [], ["A" * 200], "homopolymer: every k repeats, no graph, [ref]"),
    ("ACGTTGCAAGGCTTACCGATGGCATCGAT", [_read("short", "ACGTTGCA")],
     ["ACGTTGCAAGGCTTACCGATGGCATCGAT"], "a read shorter than k adds nothing"),
])
def test_edge_cases(ref, reads, expected, reason):
  opts = DeBruijnOptions()
  assert debruijn.candidate_haplotypes(ref, reads, opts) == expected
  assert oracle_haplotypes(ref, reads, opts) == expected


def test_reference_k_brute_force_on_repeats():
  """Smallest k above the longest repeated substring (overlapping occurrences count)."""
  ref = "GATTACA" + "CAGCAGCAGCAG" + "TTGACCAGTGACGT"
  # Longest repeated substring: CAGCAGCAG (9 letters, at offsets 7 and 10).
  assert debruijn.smallest_acyclic_reference_k(ref, DeBruijnOptions(min_k=2)) == 10
  assert debruijn.smallest_acyclic_reference_k(ref, DeBruijnOptions(min_k=2, step_k=3)) == 11
  assert debruijn.smallest_acyclic_reference_k(ref, DeBruijnOptions(min_k=2, max_k=9)) is None


def test_read_repeat_expansion_moves_to_a_larger_k():
  """Reads with an extra CAG unit make the small-k graph cyclic; the next acyclic k is used."""
  ref = "TTGACCATGCAG" + "CAGCAG" + "TTACGGATCCATGAAGCTTGC"
  alt = "TTGACCATGCAG" + "CAGCAGCAG" + "TTACGGATCCATGAAGCTTGC"
  reads = [_read(f"e{d}", alt) for d in range(3)]
  opts = DeBruijnOptions(min_k=4)
  graph = debruijn.build_graph(ref, reads, opts)
  k0 = debruijn.smallest_acyclic_reference_k(ref, opts)
  assert graph is not None and graph.k > k0
  _assert_same(ref, reads, opts)
  assert debruijn.candidate_haplotypes(ref, reads, opts) == sorted([ref, alt])


def test_qualities_of_another_dtype_take_the_general_path():
  """int64 qualities (not the documented uint8) still give the same haplotypes."""
  ref, reads = _bubbles(2)
  wide = [dataclasses.replace(r, qual=r.qual.astype(np.int64)) for r in reads]
  assert debruijn.candidate_haplotypes(ref, wide) == debruijn.candidate_haplotypes(ref, reads)
  assert len(debruijn.candidate_haplotypes(ref, reads)) == 4


def test_quality_length_mismatch_is_an_error():
  ref, reads = _bubbles(1)
  bad = dataclasses.replace(reads[0], qual=reads[0].qual[:-1])
  with pytest.raises(ValueError, match="s0_0/0"):
    debruijn.candidate_haplotypes(ref, [bad] + reads[1:])


@pytest.mark.parametrize("opts,reason", [
    (DeBruijnOptions(min_k=0), "k = 0 has no k-mers"),
    (DeBruijnOptions(step_k=0), "step 0 would never end"),
])
def test_invalid_k_range_is_rejected(opts, reason):
  with pytest.raises(ValueError, match="min_k"):
    debruijn.candidate_haplotypes("ACGT" * 10, [], opts)
