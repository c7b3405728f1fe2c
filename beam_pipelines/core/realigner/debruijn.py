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

How it is fast and still exact. The outcome depends on details a faster structure could easily
change (the ``max_num_paths`` cut depends on BFS order, i.e. on each vertex's successor order,
which v1.5 takes from the order edges were first inserted), so every step below is exact, not
probabilistic, and keeps that order:

* **One byte array per window**: the reference, then every read with MAPQ >= ``min_mapq``
  (upper-cased), concatenated in input order. ``rem[i]`` is the number of usable bases from
  ``i`` on within its own sequence (reference: all bases, N included, to its end; a read: good
  bases in a row). A k-mer starting at ``i`` is a vertex iff ``rem[i] >= k`` and two consecutive
  k-mers form an edge iff ``rem[i] >= k + 1``; scanning positions in array order is exactly the
  order the string implementation inserted edges (reference edges first, then reads, runs, and
  positions in order).
* **K-mers become integer ids**: the rank of the k-mer's first occurrence in that array order.
  The first level packs k-mers into an int64 (2 bits a base for A/C/G/T windows, 3 with an N in
  the reference) and hashes the packed value, which is injective, so ids are exact; levels too
  long to pack, and every later level, use ``id_{m+1}(i) = rank of (id_m(i), base[i + m])``,
  one pass through a direct-address table (no string compare, no hash collisions).
* **An edge is a (k+1)-mer** (its prefix and suffix k-mers are the two vertices), so the edge
  ids are the level-(k+1) ids, their first-occurrence order is the edge insertion order, and
  the graph for the next k reuses them as vertices: a cyclic k costs one more pass, not a new
  graph.
* The cycle check (Kahn), the pruning and the BFS run on integer arrays in numba kernels; only
  spelling the finished paths touches bases again.

The id kernels live in ``kmer_ids.py``; this module builds, checks, prunes and walks the graph.

All positions are 0-based offsets into the window (the caller's ``ref`` starts at offset 0).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from beam_pipelines.core.jit import njit
from beam_pipelines.core.read_arrays import bases_and_quals
from beam_pipelines.core.reads import Read
from beam_pipelines.core.realigner.kmer_ids import (alphabet, edge_ids, extend_ids, level_ids,
                                                    reference_k, usable_run_lengths)
from beam_pipelines.core.realigner.options import DeBruijnOptions

# ----------------------------------------------------------------------------------------------
# Kernels: integer arrays in, integer arrays out.
# ----------------------------------------------------------------------------------------------

@njit
def _csr(nv, src, dst, mask):
  """Successor lists (CSR) of the edges with ``mask`` set, each list in edge-id order."""
  off = np.zeros(nv + 1, dtype=np.int64)
  for e in range(src.shape[0]):
    if mask[e]:
      off[src[e] + 1] += 1
  for v in range(nv):
    off[v + 1] += off[v]
  fill = off[:-1].copy()
  adj = np.empty(off[nv], dtype=np.int32)
  for e in range(src.shape[0]):
    if mask[e]:
      adj[fill[src[e]]] = dst[e]
      fill[src[e]] += 1
  return off, adj


@njit
def _has_cycle(nv, eu, ev):
  """True if the graph (all edges) has a cycle (Kahn's algorithm)."""
  indeg = np.zeros(nv, dtype=np.int64)
  for e in range(ev.shape[0]):
    indeg[ev[e]] += 1
  off, adj = _csr(nv, eu, ev, np.ones(eu.shape[0], dtype=np.bool_))
  stack = np.empty(nv, dtype=np.int64)
  top = 0
  for v in range(nv):
    if indeg[v] == 0:
      stack[top] = v
      top += 1
  seen = 0
  while top > 0:
    top -= 1
    u = stack[top]
    seen += 1
    for j in range(off[u], off[u + 1]):
      w = adj[j]
      indeg[w] -= 1
      if indeg[w] == 0:
        stack[top] = w
        top += 1
  return seen != nv


@njit
def _no_graph():
  """``_build``'s answer when there is no graph (k = -1, empty arrays)."""
  none = np.zeros(0, dtype=np.int32)
  return -1, none, 0, none, none, none, np.zeros(0, dtype=np.bool_), np.zeros(0, dtype=np.uint8)


@njit
def _build(text, qual, min_base_quality, nref, read_ends, min_k, max_k, step_k):
  """The acyclic graph for the smallest workable k (steps 1-3), as integer arrays.

  Returns (k, vertex id per window position (-1 where none), vertex count, eu, ev, ew, eref,
  vlast); k = -1 when there is no graph.
  """
  sym, sigma, bits = alphabet(text, nref)
  rem = usable_run_lengths(text, qual, min_base_quality, nref, read_ends)
  n = text.shape[0]
  k = reference_k(sym, rem, nref, min_k, max_k, step_k, sigma, bits)
  if k < 0:
    return _no_graph()
  vid, vcount = level_ids(sym, rem, n, k, sigma, bits)
  while True:
    eid = np.empty(n, dtype=np.int32)
    ecount, eu, ev, ew, eref, vlast = edge_ids(vid, vcount, sym, text, rem, nref, k, sigma, eid)
    if not _has_cycle(vcount, eu, ev):
      return k, vid, vcount, eu, ev, ew, eref, vlast
    target = k + step_k
    if target > max_k:
      return _no_graph()
    # Vertices of the next k are the (k+1)-mers (edge ids) extended to the target length.
    vid, vcount = eid, ecount
    m = k + 1
    while m < target:
      nxt = np.empty(n, dtype=np.int32)
      vcount = extend_ids(vid, vcount, sym, rem, n, m, sigma, nxt)
      vid = nxt
      m += 1
    k = target


@njit
def _reachable(nv, start, off, adj):
  seen = np.zeros(nv, dtype=np.bool_)
  stack = np.empty(nv, dtype=np.int64)
  seen[start] = True
  stack[0] = start
  top = 1
  while top > 0:
    top -= 1
    u = stack[top]
    for j in range(off[u], off[u + 1]):
      w = adj[j]
      if not seen[w]:
        seen[w] = True
        stack[top] = w
        top += 1
  return seen


@njit
def _prune(nv, eu, ev, ew, eref, source, sink, min_edge_weight):
  """(vertices kept, edges kept): step 4's weight cut, then source->sink reachability."""
  heavy = np.empty(eu.shape[0], dtype=np.bool_)
  for e in range(eu.shape[0]):
    heavy[e] = eref[e] or ew[e] >= min_edge_weight
  off, adj = _csr(nv, eu, ev, heavy)
  poff, padj = _csr(nv, ev, eu, heavy)
  keep = _reachable(nv, source, off, adj) & _reachable(nv, sink, poff, padj)
  kept = np.empty(eu.shape[0], dtype=np.bool_)
  for e in range(eu.shape[0]):
    kept[e] = heavy[e] and keep[eu[e]] and keep[ev[e]]
  return keep, kept


@njit
def _bfs(off, adj, source, sink, max_num_paths, node, parent, queue, term):
  """Step 5's breadth-first path enumeration over successor lists ``off``/``adj``.

  The string implementation's BFS step by step: a FIFO of paths (here parent pointers into
  ``node``/``parent``), the ``max_num_paths`` test before every pop (none after the last one),
  each vertex's successors in edge insertion order, and a path ends when it reaches the sink
  or a vertex without successors. Returns (status, finished paths): status 1 done (``term``
  lists the finished paths' last entries in finishing order), 0 cut by ``max_num_paths``,
  -1 out of room (the caller retries with larger arrays; fixed arrays keep this loop tight).

  After pruning every popped path has at least one successor, so finished + pending never
  decreases and the cut amounts to "more than ``max_num_paths`` paths"; the order is kept
  anyway, as it costs nothing and keeps this a literal transcription of v1.5's loop.
  """
  cap = node.shape[0]
  node[0] = source
  parent[0] = -1
  npaths = 1
  queue[0] = 0
  head = 0
  tail = 1
  nterm = 0
  while head < tail:
    if max_num_paths != 0 and nterm + (tail - head) > max_num_paths:
      return 0, nterm
    p = queue[head]
    head += 1
    u = node[p]
    if npaths + off[u + 1] - off[u] > cap:
      return -1, nterm
    for j in range(off[u], off[u + 1]):
      v = adj[j]
      node[npaths] = v
      parent[npaths] = p
      if v == sink or off[v + 1] == off[v]:
        term[nterm] = npaths
        nterm += 1
      else:
        queue[tail] = npaths
        tail += 1
      npaths += 1
  return 1, nterm


@njit
def _haplotypes(text, k, vid, nref, nv, eu, ev, ew, eref, vlast, min_edge_weight,
                max_num_paths):
  """Steps 4-5: (ok, spelled bytes, offsets); ok False means no haplotypes ([]).

  Haplotypes come out in BFS finishing order (the caller sorts). Each path spells the source
  k-mer (the reference's first k bases) followed by the last base of every later vertex.
  """
  source = vid[0]
  sink = vid[nref - k]
  keep, kept = _prune(nv, eu, ev, ew, eref, source, sink, min_edge_weight)
  off, adj = _csr(nv, eu, ev, kept)
  empty = np.zeros(0, dtype=np.uint8)
  no_offsets = np.zeros(1, dtype=np.int64)
  if not keep[source] or off[source + 1] == off[source]:
    return False, empty, no_offsets
  cap = max(4096, 8 * nv)
  while True:
    node = np.empty(cap, dtype=np.int32)
    parent = np.empty(cap, dtype=np.int64)
    queue = np.empty(cap, dtype=np.int64)
    term = np.empty(cap, dtype=np.int64)
    status, nterm = _bfs(off, adj, source, sink, max_num_paths, node, parent, queue, term)
    if status >= 0:
      break
    cap *= 4
  if status == 0:
    return False, empty, no_offsets
  offsets = np.zeros(nterm + 1, dtype=np.int64)
  for t in range(nterm):
    length = k - 1
    p = term[t]
    while p >= 0:
      length += 1
      p = parent[p]
    offsets[t + 1] = offsets[t] + length
  out = np.empty(offsets[nterm], dtype=np.uint8)
  for t in range(nterm):
    pos = offsets[t + 1] - 1
    p = term[t]
    while parent[p] >= 0:
      out[pos] = vlast[node[p]]
      pos -= 1
      p = parent[p]
    for j in range(k):
      out[offsets[t] + j] = text[j]
  return True, out, offsets


# ----------------------------------------------------------------------------------------------
# Python surface.
# ----------------------------------------------------------------------------------------------

def _check_options(opts: DeBruijnOptions) -> None:
  """Fails fast on k ranges the string implementation would loop on forever or misread."""
  if opts.min_k < 1 or opts.step_k < 1:
    raise ValueError(f"DeBruijnOptions: min_k ({opts.min_k}) and step_k ({opts.step_k}) "
                     "must be >= 1")


def _reference_bytes(ref: str) -> np.ndarray:
  """The reference as uint8 (a FASTA window is ASCII; anything else fails here, loudly)."""
  return np.frombuffer(ref.encode("ascii"), dtype=np.uint8)


_NO_QUALS = np.zeros(0, dtype=np.uint8)
_NO_ENDS = np.zeros(0, dtype=np.int64)


def _window_arrays(ref: str, reads: Sequence[Read], min_mapq: int):
  """(window bytes: reference + upper-cased reads with MAPQ >= min_mapq, the reads' qualities
  concatenated, read end offsets in the window array)."""
  used = [r for r in reads if r.mapq >= min_mapq]
  if not used:
    return _reference_bytes(ref), _NO_QUALS, _NO_ENDS
  read_bytes, qual, offsets = bases_and_quals(used, upper=True)
  window = np.concatenate([_reference_bytes(ref), read_bytes])
  return window, qual, offsets[1:] + len(ref)


class DeBruijnGraph:
  """The graph for one k (see module docstring), as integer arrays; built by ``build_graph``.

  Vertex ids are first-occurrence ranks of k-mers in the window array; edge ``e`` goes from
  ``eu[e]`` to ``ev[e]`` with ``ew[e]`` occurrences and ``eref[e]`` set for reference edges;
  edge ids are in insertion order.
  """

  def __init__(self, ref: str, text: np.ndarray, k: int, vid: np.ndarray, num_vertices: int,
               eu: np.ndarray, ev: np.ndarray, ew: np.ndarray, eref: np.ndarray,
               vlast: np.ndarray):
    self.ref = ref
    self.k = k
    self._text = text
    self._vid = vid
    self._vlast = vlast
    self.num_vertices = num_vertices
    self.eu, self.ev, self.ew, self.eref = eu, ev, ew, eref
    self.source = ref[:k]
    self.sink = ref[len(ref) - k:]

  def kmer(self, v: int) -> str:
    """The k-mer of vertex id ``v`` (for inspection; not on the hot path)."""
    i = int(np.flatnonzero(self._vid == v)[0])
    return self._text[i:i + self.k].tobytes().decode("ascii")

  def _kmers(self) -> List[str]:
    """Every vertex's k-mer, by id (ids are first-occurrence ranks, so one pass finds them)."""
    ids, first = np.unique(self._vid, return_index=True)
    raw = self._text.tobytes()
    return [raw[i:i + self.k].decode("ascii") for i in first[ids >= 0].tolist()]

  @property
  def weights(self) -> Dict[Tuple[str, str], int]:
    """{(k-mer, next k-mer): occurrences} in edge insertion order (for inspection)."""
    names = self._kmers()
    return {(names[u], names[v]): w
            for u, v, w in zip(self.eu.tolist(), self.ev.tolist(), self.ew.tolist())}

  @property
  def ref_edges(self) -> Set[Tuple[str, str]]:
    """The (k-mer, next k-mer) pairs marked as reference edges (never pruned)."""
    names = self._kmers()
    return {(names[u], names[v]) for u, v in zip(self.eu[self.eref].tolist(),
                                                  self.ev[self.eref].tolist())}

  def has_cycle(self) -> bool:
    """True if any cycle exists in the unpruned graph (False for anything build_graph returns)."""
    return bool(_has_cycle(self.num_vertices, self.eu, self.ev))

  def pruned_adjacency(self, min_edge_weight: int) -> Dict[str, List[str]]:
    """Successor lists after pruning (edges in insertion order), by k-mer; for inspection."""
    source = int(self._vid[0])
    sink = int(self._vid[len(self.ref) - self.k])
    keep, kept = _prune(self.num_vertices, self.eu, self.ev, self.ew, self.eref, source, sink,
                        min_edge_weight)
    heavy = self.eref | (self.ew >= min_edge_weight)
    names = self._kmers()
    adj: Dict[str, List[str]] = {}
    for e in np.flatnonzero(heavy).tolist():
      u, v = int(self.eu[e]), int(self.ev[e])
      if keep[u]:
        succ = adj.setdefault(names[u], [])
        if kept[e]:
          succ.append(names[v])
    return adj

  def candidate_haplotypes(self, opts: DeBruijnOptions) -> List[str]:
    """Sorted haplotypes of all source->sink paths, or [] past ``max_num_paths``."""
    ok, spelled, offsets = _haplotypes(self._text, self.k, self._vid, len(self.ref),
                                       self.num_vertices, self.eu, self.ev, self.ew, self.eref,
                                       self._vlast, opts.min_edge_weight, opts.max_num_paths)
    if not ok:
      return []
    raw = spelled.tobytes()
    bounds = offsets.tolist()
    return sorted(raw[a:b].decode("ascii") for a, b in zip(bounds, bounds[1:]))


def smallest_acyclic_reference_k(ref: str, opts: DeBruijnOptions) -> Optional[int]:
  """First k in [min_k, min(max_k, len(ref) - 1)] (steps of step_k) with no repeated k-mer in
  ``ref``; None if there is none."""
  _check_options(opts)
  text = _reference_bytes(ref)
  sym, sigma, bits = alphabet(text, len(ref))
  rem = np.arange(len(ref), 0, -1, dtype=np.int32)
  k = reference_k(sym, rem, len(ref), opts.min_k, min(opts.max_k, len(ref) - 1), opts.step_k,
                   sigma, bits)
  return None if k < 0 else int(k)


def build_graph(ref: str, reads: Sequence[Read],
                opts: DeBruijnOptions = DeBruijnOptions()) -> Optional[DeBruijnGraph]:
  """The acyclic graph of the smallest workable k for window reference ``ref``, or None.

  ``reads`` are the window's reads in input order (the order fixes edge insertion order).
  """
  _check_options(opts)
  text, qual, ends = _window_arrays(ref, reads, opts.min_mapq)
  k, vid, nv, eu, ev, ew, eref, vlast = _build(text, qual, opts.min_base_quality, len(ref), ends,
                                               opts.min_k, min(opts.max_k, len(ref) - 1),
                                               opts.step_k)
  if k < 0:
    return None
  return DeBruijnGraph(ref, text, int(k), vid, int(nv), eu, ev, ew, eref, vlast)


def candidate_haplotypes(ref: str, reads: Sequence[Read],
                         opts: DeBruijnOptions = DeBruijnOptions()) -> List[str]:
  """Haplotypes assembled for one window; ``[ref]`` when no graph can be built (as v1.5)."""
  graph = build_graph(ref, reads, opts)
  if graph is None:
    return [ref]
  return graph.candidate_haplotypes(opts)
