"""The allele counter's per-read CIGAR walk, compiled: reads in as flat arrays, match blocks and
indel/clip alleles out.

Why a kernel: at 30x the counter walks ~5,000 reads per work unit, and the walk in Python (two
passes over each read's CIGAR, five list appends per match block) cost ~6 us per read, more
than decoding the read. Here it is one compiled loop over ``read_arrays.pack``'s arrays; Python
is left only for the rare indel/clip alleles (their bases become strings) and for error messages.
The realigner's window selector applies the same rules, so it calls this walk too.

The rules are ``allele_counter``'s module docstring, step by step (pass 1 builds the read's
allele list with positionless placeholders for unusable indels; pass 2 drops the first of two
consecutive alleles at one position). Outputs, in read order then allele-list order:
  * blocks ``(read, element, first ref pos, global seq offset, length)``: the parts of M/=/X
    operations that fall in ``[s, e)``, less an anchor base given up to an indel/clip;
  * indels ``(read, element, anchor, op, read offset, length, is_low_quality, base quality,
    ref pos after the anchor)`` with ``op`` the CIGAR code (I, S or D) of an accepted allele;
  * an error ``(code, read, a, b)``: 0 none; 1 SEQ/QUAL/CIGAR lengths disagree (``a`` = CIGAR
    query length); 2 a deletion ``[a, b)`` runs past the reference window inside the contig;
    3 an unknown CIGAR operation ``a``. The walk stops at the first, as the Python walk raised.
"""
from __future__ import annotations

import numpy as np

from beam_pipelines.core.jit import njit
from beam_pipelines.core.read_arrays import ReadArrays
from beam_pipelines.core.reference import RefWindow, ReferenceWindowError

ERROR_NONE, ERROR_LENGTHS, ERROR_DELETION_PAST_WINDOW, ERROR_UNKNOWN_OP = 0, 1, 2, 3
_NO_POS = -(1 << 62)  # a placeholder's position: never equal to a real one

# byte -> is it an upper-case A/C/G/T: the bases that make alleles.
IS_ACGT = np.zeros(256, dtype=np.bool_)
for _b in b"ACGT":
  IS_ACGT[_b] = True


def walk(packed: ReadArrays, ref: RefWindow, s: int, e: int, min_base_quality: int,
         min_mapping_quality: int):
  """``walk_reads`` over packed reads and a reference window: (blocks, indels, error, the
  reference as uint8 codes)."""
  ref_arr = np.frombuffer(ref.seq.encode("ascii"), dtype=np.uint8)
  blocks, indels, error = walk_reads(
      packed.starts, packed.mapq, packed.seq_offsets, packed.qual_lens, packed.cigar_ops,
      packed.cigar_lens, packed.cigar_offsets, packed.seq, packed.qual, ref_arr, ref.start,
      ref.end, ref.contig_length, s, e, min_base_quality, min_mapping_quality, IS_ACGT)
  return blocks, indels, error, ref_arr


def raise_walk_error(error: np.ndarray, reads, ref: RefWindow) -> None:
  """Raises what ``walk_reads`` reported (``error``), naming the read (``reads[error[1]]``)."""
  code, ri, a, b = (int(x) for x in error)
  read = reads[ri]
  if code == ERROR_LENGTHS:
    raise ValueError(
        f"read {read.key} at {read.contig}:{read.start + 1}: SEQ length {len(read.seq)}, QUAL "
        f"length {len(read.qual)} and CIGAR {read.cigar_string()} query length {a} disagree")
  if code == ERROR_DELETION_PAST_WINDOW:
    raise ReferenceWindowError(
        f"read {read.key}: deletion {ref.contig}:[{a},{b}) runs past the reference window end "
        f"{ref.end}; fetch counting_span(reads, region)")
  raise ValueError(f"read {read.key}: unknown CIGAR operation {a}")


@njit
def walk_reads(starts, mapq, seq_offsets, qual_lens, cigar_ops, cigar_lens, cigar_offsets,
               seq, qual, ref, ref_start, ref_end, contig_length, s, e, min_base_quality,
               min_mapping_quality, is_acgt):
  """(blocks, indels, error); see the module docstring."""
  n_ops = cigar_ops.shape[0]
  blocks = np.empty((n_ops, 5), dtype=np.int64)
  indels = np.empty((n_ops, 9), dtype=np.int64)
  error = np.zeros(4, dtype=np.int64)
  # Per-element scratch of one read (pass 1 -> pass 2).
  kind = np.empty(n_ops + 1, dtype=np.int64)
  first = np.empty(n_ops + 1, dtype=np.int64)
  last = np.empty(n_ops + 1, dtype=np.int64)   # match: last ref pos; indel: base quality
  payload = np.empty(n_ops + 1, dtype=np.int64)  # match: read offset; indel: op code
  e_q = np.empty(n_ops + 1, dtype=np.int64)
  e_len = np.empty(n_ops + 1, dtype=np.int64)
  e_low = np.empty(n_ops + 1, dtype=np.int64)
  e_rpos = np.empty(n_ops + 1, dtype=np.int64)
  nb = 0
  ni = 0
  for i in range(starts.shape[0]):
    if mapq[i] < min_mapping_quality:
      continue
    so = seq_offsets[i]
    length_seq = seq_offsets[i + 1] - so
    if length_seq == 0:
      continue
    rpos = starts[i]
    if rpos > e:
      continue
    c0 = cigar_offsets[i]
    c1 = cigar_offsets[i + 1]
    qlen = 0
    for c in range(c0, c1):
      op = cigar_ops[c]
      if op == 0 or op == 1 or op == 4 or op == 7 or op == 8:
        qlen += cigar_lens[c]
    if qlen != length_seq or qual_lens[i] != length_seq:
      error[0] = ERROR_LENGTHS
      error[1] = i
      error[2] = qlen
      return blocks[:nb], indels[:ni], error
    # Pass 1: the read's allele list.
    m = 0
    q = 0
    for c in range(c0, c1):
      op = cigar_ops[c]
      length = cigar_lens[c]
      if length <= 0:
        continue
      if op == 0 or op == 7 or op == 8:
        kind[m] = 0
        first[m] = rpos
        last[m] = rpos + length - 1
        payload[m] = q
        m += 1
        rpos += length
        q += length
      elif op == 1 or op == 4 or op == 2:
        anchor = rpos - 1
        valid = False
        bq = 0
        low = 0
        if s <= anchor < e:
          prev = seq[so + q - 1] if q > 0 else ref[anchor - ref_start]
          if is_acgt[prev] and op == 2:
            del_end = rpos + length
            if del_end <= contig_length:
              if del_end > ref_end:
                error[0] = ERROR_DELETION_PAST_WINDOW
                error[1] = i
                error[2] = rpos
                error[3] = del_end
                return blocks[:nb], indels[:ni], error
              valid = True
              for p in range(rpos, del_end):
                if not is_acgt[ref[p - ref_start]]:
                  valid = False
                  break
              if valid:
                bq = qual[so + q - 1] if q > 0 else 0
          elif is_acgt[prev]:
            valid = True
            qsum = 0
            for t in range(length):
              if not is_acgt[seq[so + q + t]]:
                valid = False
                break
              qsum += qual[so + q + t]
            if valid:
              low = 1 if qsum < min_base_quality * length else 0
              bq = qsum // length
        kind[m] = 1
        first[m] = anchor if valid else _NO_POS
        last[m] = bq
        payload[m] = op
        e_q[m] = q
        e_len[m] = length
        e_low[m] = low
        e_rpos[m] = rpos
        m += 1
        if op == 2:
          rpos += length
        else:
          q += length
      elif op == 3 or op == 6:
        rpos += length
      elif op == 5:
        pass
      else:
        error[0] = ERROR_UNKNOWN_OP
        error[1] = i
        error[2] = op
        return blocks[:nb], indels[:ni], error
    # Pass 2: of two consecutive alleles at one position, the first gives way.
    for k in range(m):
      nxt = first[k + 1] if k < m - 1 else _NO_POS
      if kind[k] == 0:
        f = first[k]
        length = last[k] - f + 1
        if nxt != _NO_POS and nxt == last[k]:
          length -= 1
        if length > 0 and f < e and f + length > s:
          blocks[nb, 0] = i
          blocks[nb, 1] = k
          blocks[nb, 2] = f
          blocks[nb, 3] = so + payload[k]
          blocks[nb, 4] = length
          nb += 1
      elif first[k] != _NO_POS and nxt != first[k]:
        indels[ni, 0] = i
        indels[ni, 1] = k
        indels[ni, 2] = first[k]
        indels[ni, 3] = payload[k]
        indels[ni, 4] = e_q[k]
        indels[ni, 5] = e_len[k]
        indels[ni, 6] = e_low[k]
        indels[ni, 7] = last[k]
        indels[ni, 8] = e_rpos[k]
        ni += 1
  return blocks[:nb], indels[:ni], error


def expand_blocks(blocks: np.ndarray, s: int, e: int):
  """The bases of ``walk_reads``' match blocks inside ``[s, e)``, one entry per (read, base):
  (block index, reference position, global seq offset), in block then position order."""
  lo = np.maximum(blocks[:, 2], s)
  hi = np.minimum(blocks[:, 2] + blocks[:, 4], e)
  shift = lo - blocks[:, 2]
  lens = np.maximum(hi - lo, 0)
  bid = np.repeat(np.arange(len(lens)), lens)
  off = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
  return bid, lo[bid] + off, blocks[bid, 3] + shift[bid] + off
