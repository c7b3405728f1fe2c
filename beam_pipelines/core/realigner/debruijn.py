"""De Bruijn graph assembly of a window's candidate haplotypes (spec 6 step 2).

What it does, as DeepVariant v1.5's ``DeBruijnGraph::Build``:

1. **Smallest usable k.** Starting at ``min_k`` (10) in steps of ``step_k`` (1) up to
   ``min(max_k, len(ref) - 1)``, the first k for which the window's reference has no repeated
   k-mer. None -> no graph.
2. **Graph for one k.** Vertices are k-mers. The reference adds an edge between each pair of
   consecutive k-mers (weight +1, marked "reference"). Every read with MAPQ >= ``min_mapq``
   adds edges between consecutive k-mers of its full sequence (soft clips included), skipping
   any k-mer that covers a base that is not A/C/G/T or has quality < ``min_base_quality``;
   each occurrence adds 1 to the edge weight.
3. **Acyclic or next k.** If the whole graph (before pruning, read-only parts included) has a
   cycle, try the next k; if every k up to the limit is cyclic, there is no graph.
4. **Prune.** Drop non-reference edges with weight < ``min_edge_weight`` (2), then every vertex
   that is not both reachable from the first reference k-mer (source) and able to reach the
   last one (sink).
5. **Haplotypes.** Breadth-first enumeration of source->sink paths; as soon as finished plus
   pending paths exceed ``max_num_paths`` (256) the window gives no haplotypes at all. Each
   path spells a haplotype (first base of every k-mer + the rest of the last one); the list is
   sorted (byte order).

The caller drops a window whose haplotypes are only the reference (or none).

Why k-mers as Python strings: windows are a few hundred bases and ~100 reads, so a graph has
~10^4 k-mers; string hashing in dicts is the fastest structure Python offers for that, and the
per-read bad-base scan is one numpy expression.
"""
from __future__ import annotations

import collections
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from beam_pipelines.core.reads import Read
from beam_pipelines.core.realigner.options import DeBruijnOptions

_ACGT = np.zeros(256, dtype=bool)
for _b in b"ACGT":
  _ACGT[_b] = True


def smallest_acyclic_reference_k(ref: str, opts: DeBruijnOptions) -> Optional[int]:
  """First k in [min_k, min(max_k, len(ref) - 1)] with no repeated k-mer in ``ref``."""
  max_k = min(opts.max_k, len(ref) - 1)
  k = opts.min_k
  while k <= max_k:
    seen: Set[str] = set()
    ok = True
    for i in range(len(ref) - k + 1):
      kmer = ref[i:i + k]
      if kmer in seen:
        ok = False
        break
      seen.add(kmer)
    if ok:
      return k
    k += opts.step_k
  return None


def _good_runs(read: Read, min_base_quality: int) -> List[Tuple[int, int]]:
  """[start, end) runs of bases usable in k-mers (upper-case A/C/G/T with quality >= min)."""
  seq = np.frombuffer(read.seq.upper().encode("ascii"), dtype=np.uint8)
  good = _ACGT[seq] & (np.asarray(read.qual) >= min_base_quality)
  if good.all():
    return [(0, len(seq))]
  padded = np.concatenate(([False], good, [False])).astype(np.int8)
  edges = np.flatnonzero(np.diff(padded))
  return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


class DeBruijnGraph:
  """The graph for one k (see module docstring); built by ``build_graph``."""

  def __init__(self, ref: str, read_runs: Sequence[Tuple[str, List[Tuple[int, int]]]], k: int):
    self.k = k
    self.ref = ref
    weights: Dict[Tuple[str, str], int] = collections.Counter()
    ref_kmers = [ref[i:i + k] for i in range(len(ref) - k + 1)]
    ref_edges = set(zip(ref_kmers, ref_kmers[1:]))
    weights.update(zip(ref_kmers, ref_kmers[1:]))
    for seq, runs in read_runs:
      for a, b in runs:
        if b - a <= k:
          continue
        kmers = [seq[i:i + k] for i in range(a, b - k + 1)]
        weights.update(zip(kmers, kmers[1:]))
    self.source = ref_kmers[0]
    self.sink = ref_kmers[-1]
    self.weights = weights
    self.ref_edges = ref_edges

  def has_cycle(self) -> bool:
    """True if any cycle exists anywhere in the (unpruned) graph (Kahn's algorithm)."""
    succ: Dict[str, List[str]] = collections.defaultdict(list)
    indeg: Dict[str, int] = collections.defaultdict(int)
    for u, v in self.weights:
      succ[u].append(v)
      indeg[v] += 1
      indeg.setdefault(u, 0)
    stack = [v for v, d in indeg.items() if d == 0]
    seen = 0
    while stack:
      u = stack.pop()
      seen += 1
      for v in succ.get(u, ()):
        indeg[v] -= 1
        if indeg[v] == 0:
          stack.append(v)
    return seen != len(indeg)

  def pruned_adjacency(self, min_edge_weight: int) -> Dict[str, List[str]]:
    """Successor lists after pruning (edges kept in insertion order)."""
    succ: Dict[str, List[str]] = collections.defaultdict(list)
    pred: Dict[str, List[str]] = collections.defaultdict(list)
    for (u, v), w in self.weights.items():
      if w >= min_edge_weight or (u, v) in self.ref_edges:
        succ[u].append(v)
        pred[v].append(u)
    fwd = _reachable(self.source, succ)
    bwd = _reachable(self.sink, pred)
    keep = fwd & bwd
    return {u: [v for v in vs if v in keep] for u, vs in succ.items() if u in keep}

  def candidate_haplotypes(self, opts: DeBruijnOptions) -> List[str]:
    """Sorted haplotypes of all source->sink paths, or [] past ``max_num_paths``."""
    adj = self.pruned_adjacency(opts.min_edge_weight)
    if not adj.get(self.source):
      return []
    terminated: List[tuple] = []
    queue = collections.deque([(self.source, None)])
    while queue:
      if opts.max_num_paths and len(terminated) + len(queue) > opts.max_num_paths:
        return []
      path = queue.popleft()
      for v in adj.get(path[0], ()):
        ext = (v, path)
        if v == self.sink or not adj.get(v):
          terminated.append(ext)
        else:
          queue.append(ext)
    haplotypes = []
    for path in terminated:
      kmers = []
      node = path
      while node is not None:
        kmers.append(node[0])
        node = node[1]
      kmers.reverse()
      haplotypes.append("".join(km[0] for km in kmers) + kmers[-1][1:])
    return sorted(haplotypes)


def _reachable(start: str, adj: Dict[str, List[str]]) -> Set[str]:
  seen = {start}
  stack = [start]
  while stack:
    u = stack.pop()
    for v in adj.get(u, ()):
      if v not in seen:
        seen.add(v)
        stack.append(v)
  return seen


def build_graph(ref: str, reads: Sequence[Read],
                opts: DeBruijnOptions = DeBruijnOptions()) -> Optional[DeBruijnGraph]:
  """The acyclic graph of the smallest workable k for window reference ``ref``, or None."""
  k = smallest_acyclic_reference_k(ref, opts)
  if k is None:
    return None
  max_k = min(opts.max_k, len(ref) - 1)
  read_runs = [(r.seq.upper(), _good_runs(r, opts.min_base_quality))
               for r in reads if r.mapq >= opts.min_mapq]
  while k <= max_k:
    graph = DeBruijnGraph(ref, read_runs, k)
    if not graph.has_cycle():
      return graph
    k += opts.step_k
  return None


def candidate_haplotypes(ref: str, reads: Sequence[Read],
                         opts: DeBruijnOptions = DeBruijnOptions()) -> List[str]:
  """Haplotypes assembled for one window; ``[ref]`` when no graph can be built (as v1.5)."""
  graph = build_graph(ref, reads, opts)
  if graph is None:
    return [ref]
  return graph.candidate_haplotypes(opts)
