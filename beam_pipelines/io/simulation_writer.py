"""Writes a simulated dataset (``beam_pipelines.core.simulation``) as real genomics files.

Layout of the output directory (names in the constants below):

  reference.fa (+ .fai)                     the simulated contigs, 60 bases a line
  reference.fa.gz (+ .fai, .gzi)            only with ``bgzip_reference``
  truth.vcf.gz (+ .tbi)                     GT-only truth, one sample column named sample_name
  confident.bed                             confident regions, 0-based half-open (BED)
  reads.bam (+ .bai)                        coordinate-sorted reads with @SQ/@RG/@PG
  simulation.json                           config and counts (variants, reads by kind, ...)

Why these choices:
* Same config -> same bytes. Nothing written carries a timestamp, an absolute path or a
  process id: BGZF blocks have MTIME 0, the @PG line lists only the config flags, samtools'
  own @PG is suppressed, and simulation.json is written with sorted keys.
* Atomic output: everything is written into a hidden temporary sibling of the output directory
  that is renamed into place only when complete, so a failed run leaves nothing that looks
  finished (and, when the failure is in the checks, nothing at all).
* Speed: SAM records are formatted as text from the column arrays in coordinate order and
  converted to BAM once by the samtools bundled in pysam (``pysam.view``); building a
  ``pysam.AlignedSegment`` per read is several times slower.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Dict, List

import numpy as np
import pysam

from beam_pipelines.core import simulation as sim
from schemas import output_paths

REFERENCE_FASTA = "reference.fa"
REFERENCE_FASTA_GZ = "reference.fa.gz"
TRUTH_VCF = "truth.vcf.gz"
CONFIDENT_BED = "confident.bed"
READS_BAM = "reads.bam"
SUMMARY_JSON = "simulation.json"
FORMAT_VERSION = "pileflow-simulation/1"
READ_GROUP_ID = "rg1"
PROGRAM_ID = "pileflow.simulate"


class OutputDirError(output_paths.OutputPathError):
  """The output directory cannot be used; the message names it and says why."""


def check_output_dir(output_dir: str, overwrite: bool) -> None:
  """Fails fast (before anything is written) when ``output_dir`` cannot receive the dataset.

  The one output-path policy (schemas.output_paths): a non-empty directory pileflow did not
  make is refused whatever the flags; an earlier simulation's directory needs --overwrite.
  """
  try:
    output_paths.check_dir_output(output_dir, "--output_dir", overwrite)
  except output_paths.OutputPathError as e:
    raise OutputDirError(str(e)) from None


def _wrap(seq: str, width: int = 60) -> str:
  return "\n".join(seq[i:i + width] for i in range(0, len(seq), width)) + "\n"


def _vcf_header(cfg: sim.SimulationConfig) -> List[str]:
  lines = ["##fileformat=VCFv4.2",
           '##FILTER=<ID=PASS,Description="All filters passed">',
           f"##source={PROGRAM_ID}"]
  lines += [f"##contig=<ID={n},length={l}>" for n, l in cfg.contigs]
  lines += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                       cfg.sample_name])]
  return [l + "\n" for l in lines]


def _sam_header(cfg: sim.SimulationConfig) -> str:
  lines = ["@HD\tVN:1.6\tSO:coordinate"]
  lines += [f"@SQ\tSN:{n}\tLN:{l}" for n, l in cfg.contigs]
  lines.append(f"@RG\tID:{READ_GROUP_ID}\tSM:{cfg.sample_name}\tPL:ILLUMINA\t"
               f"LB:{cfg.sample_name}-lib1\tPU:{cfg.sample_name}.sim.1")
  cl = " ".join(["python -m beam_pipelines.simulate"] + cfg.command_line_flags())
  lines.append(f"@PG\tID:{PROGRAM_ID}\tPN:{PROGRAM_ID}\tVN:1\tCL:{cl}")
  return "\n".join(lines) + "\n"


def _sam_lines(table: sim.ReadTable, read_length: int):
  """SAM text of a contig's records in coordinate order (generator of strings)."""
  order = table.coordinate_order()
  seq_text = table.seq.tobytes().decode("ascii")
  qual_text = (table.qual + 33).tobytes().decode("ascii")
  contig = table.contig
  names = table.fragment
  flag, pos, mapq = table.flag.tolist(), (table.pos + 1).tolist(), table.mapq.tolist()
  mpos, tlen = (table.mate_pos + 1).tolist(), table.tlen.tolist()
  lo, nm, xe, hp = table.seq_lo.tolist(), table.nm.tolist(), table.xe.tolist(), table.hp.tolist()
  cigar, sa = table.cigar, table.sa
  rg = f"RG:Z:{READ_GROUP_ID}"
  for i in order.tolist():
    a, b = i * read_length + lo[i], (i + 1) * read_length
    tags = rg
    if nm[i] >= 0:
      tags += f"\tNM:i:{nm[i]}"
    if hp[i]:
      tags += f"\tHP:i:{hp[i]}"
    if xe[i] >= 0:
      tags += f"\tXE:i:{xe[i]}"
    if sa[i] is not None:
      tags += f"\tSA:Z:{sa[i]}"
    yield (f"{sim.fragment_name(contig, int(names[i]))}\t{flag[i]}\t{contig}\t{pos[i]}\t"
           f"{mapq[i]}\t{cigar[i]}\t=\t{mpos[i]}\t{tlen[i]}\t{seq_text[a:b]}\t"
           f"{qual_text[a:b]}\t{tags}\n")


def _write_all(cfg: sim.SimulationConfig, out: str) -> Dict[str, object]:
  """Writes every file into ``out`` (a fresh directory); returns the summary dict."""
  fa_path = os.path.join(out, REFERENCE_FASTA)
  sam_path = os.path.join(out, ".reads.sam")
  vcf_text = os.path.join(out, ".truth.vcf")
  per_contig = {}
  read_totals = {k: 0 for k in sim.READ_KINDS}
  all_variants = []
  with open(fa_path, "w") as fa, open(sam_path, "w") as sam_f, open(vcf_text, "w") as vcf, \
      open(os.path.join(out, CONFIDENT_BED), "w") as bed:
    vcf.writelines(_vcf_header(cfg))
    sam_f.write(_sam_header(cfg))
    for cs in sim.iter_simulation(cfg):
      name = cs.contig.name
      fa.write(f">{name}\n")
      fa.write(_wrap(cs.contig.sequence))
      for v in cs.variants:
        vcf.write(f"{name}\t{v.start + 1}\t.\t{v.ref}\t{','.join(v.alts)}\t.\tPASS\t.\tGT\t"
                  f"{v.gt_string()}\n")
      bed.writelines(f"{r.contig}\t{r.start}\t{r.end}\n" for r in cs.confident)
      sam_f.writelines(_sam_lines(cs.reads, cfg.read_length))
      reads = sim.count_read_kinds(cs.reads)
      for k, v in reads.items():
        read_totals[k] += v
      features: Dict[str, int] = {}
      for f in cs.contig.features:
        features[f.kind] = features.get(f.kind, 0) + 1
      per_contig[name] = {
          "length": cs.contig.length,
          "variants": len(cs.variants),
          "reads": reads,
          "confident_bp": int(sum(r.length for r in cs.confident)),
          "features": features,
          "n_bases": int(np.count_nonzero(cs.contig.codes == sim.N)),
      }
      all_variants.extend(cs.variants)
  pysam.faidx(fa_path)
  files = [REFERENCE_FASTA, REFERENCE_FASTA + ".fai"]
  if cfg.bgzip_reference:
    gz = os.path.join(out, REFERENCE_FASTA_GZ)
    pysam.tabix_compress(fa_path, gz)
    pysam.faidx(gz)
    files += [REFERENCE_FASTA_GZ, REFERENCE_FASTA_GZ + ".fai", REFERENCE_FASTA_GZ + ".gzi"]
  vcf_gz = os.path.join(out, TRUTH_VCF)
  pysam.tabix_compress(vcf_text, vcf_gz)
  pysam.tabix_index(vcf_gz, preset="vcf")
  os.remove(vcf_text)
  bam = os.path.join(out, READS_BAM)
  pysam.view("-b", "--no-PG", "-o", bam, sam_path, catch_stdout=False)
  pysam.index(bam)
  os.remove(sam_path)
  files += [TRUTH_VCF, TRUTH_VCF + ".tbi", CONFIDENT_BED, READS_BAM, READS_BAM + ".bai",
            SUMMARY_JSON]
  summary = {
      "format": FORMAT_VERSION,
      "config": cfg.to_json(),
      "files": sorted(files),
      "variants": dict(total=len(all_variants), **sim.count_variants(all_variants)),
      "reads": read_totals,
      "confident_bp": sum(c["confident_bp"] for c in per_contig.values()),
      "contigs": per_contig,
  }
  with open(os.path.join(out, SUMMARY_JSON), "w") as f:
    f.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
  return summary


def write_simulation(cfg: sim.SimulationConfig, output_dir: str,
                     overwrite: bool = False) -> Dict[str, object]:
  """Validates, simulates and writes the dataset into ``output_dir`` atomically.

  Raises SimulationConfigError / OutputDirError before writing anything when an option or the
  output directory is unusable. Returns the summary that simulation.json holds.
  """
  cfg.validate()
  check_output_dir(output_dir, overwrite)
  path = os.path.abspath(output_dir)
  parent, base = os.path.split(path)
  try:
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{base}.tmp-", dir=parent)
  except OSError as e:
    raise OutputDirError(f"--output_dir {output_dir}: cannot create a directory in {parent} "
                         f"({e.strerror})") from None
  try:
    os.chmod(tmp, 0o755)
    summary = _write_all(cfg, tmp)
    output_paths.claim_dir(tmp, "simulate")
    if os.path.isdir(path):
      # Only the files this run writes are replaced; anything else in the folder stays.
      for root, _, names in os.walk(tmp):
        dest = os.path.join(path, os.path.relpath(root, tmp))
        os.makedirs(dest, exist_ok=True)
        for name in names:
          os.replace(os.path.join(root, name), os.path.join(dest, name))
      shutil.rmtree(tmp)
    else:
      os.rename(tmp, path)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return summary
