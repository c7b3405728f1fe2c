"""Small one-contig FASTA + BAM pairs made with pysam, for end-to-end tests that need reads of
a precise shape (spliced alignments, HP tags) rather than GIAB's."""
from typing import Dict, Iterable, Optional, Tuple

import pysam

# (0-based start, CIGAR string, read bases, read name, tags)
Record = Tuple[int, str, str, str, Optional[Dict[str, object]]]


def write_inputs(d, ref: str, records: Iterable[Record], *, contig: str = "r",
                 sample: str = "s", name: str = "reads") -> Tuple[str, str]:
  """Writes ``d/ref.fa`` (+ .fai) holding ``ref`` as ``contig`` and ``d/<name>.bam`` (+ .bai)
  holding ``records`` (MAPQ 60, all bases Q40, read group ``rg`` of ``sample``), sorted by
  start. Returns (FASTA path, BAM path)."""
  fa = d / "ref.fa"
  fa.write_text(f">{contig}\n" + "\n".join(ref[i:i + 60] for i in range(0, len(ref), 60)) + "\n")
  pysam.faidx(str(fa))
  header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": contig, "LN": len(ref)}],
            "RG": [{"ID": "rg", "SM": sample}]}
  bam = d / f"{name}.bam"
  with pysam.AlignmentFile(str(bam), "wb", header=header) as out:
    for start, cigar, seq, qname, tags in sorted(records, key=lambda r: (r[0], r[3])):
      a = pysam.AlignedSegment(out.header)
      a.query_name, a.reference_id, a.reference_start = qname, 0, start
      a.cigarstring, a.query_sequence, a.mapping_quality = cigar, seq, 60
      a.query_qualities = pysam.qualitystring_to_array("I" * len(seq))
      a.set_tag("RG", "rg")
      for key, value in (tags or {}).items():
        a.set_tag(key, value)
      out.write(a)
  pysam.index(str(bam))
  return str(fa), str(bam)
