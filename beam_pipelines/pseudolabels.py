"""Pseudolabels from a base model's calls: ``python -m beam_pipelines.pseudolabels``.

::

  python -m beam_pipelines.pseudolabels --calls base_on_new.vcf.gz --ref ref.fa \\
      --output_dir pseudo [--min_gq 20] [--top_fraction 0.8]
  python -m beam_pipelines.make_dataset --ref ref.fa \\
      --sample "name=S reads=new.bam truth=pseudo/truth.vcf.gz confident=pseudo/confident.bed" ...
  python -m trainer.train --config=small --config.init_checkpoint=BASE/... (the usual fine-tune)

``--calls`` is the VCF ``beam_pipelines.call`` (or DeepVariant) wrote for the new data,
RefCall records included: they are the hom-ref labels. The selection rule is in
``beam_pipelines/core/pseudolabels.py``. Writes ``truth.vcf.gz`` (+ ``.tbi``), ``confident.bed``
and ``pseudolabels.json`` (per class: sites offered, kept, the lowest GQ kept), atomically; an
existing output is replaced only with ``--overwrite``.

Exit codes: 0 done; 2 bad flags or input (one line naming the file and record); 1 a failure.
"""
from __future__ import annotations

from schemas import errors as _startup  # first: a Ctrl-C during the imports below is one line
_startup.interrupt_exits_quietly('pseudolabels')

import json
import os
import sys
from typing import List, Optional, Sequence

from beam_pipelines import flags
from beam_pipelines.core import pseudolabels as core
from beam_pipelines.io import fasta as fasta_io
from beam_pipelines.io import vcf_output
from schemas import _files
from schemas import errors
from schemas import output_paths

PROG = "pseudolabels"
OUTPUTS = ("truth.vcf.gz", "truth.vcf.gz.tbi", "confident.bed", "pseudolabels.json")


class PseudolabelError(errors.InputError):
  """A calls VCF that cannot be turned into labels; one line naming the file and record."""


def read_calls(path: str) -> tuple:
  """(header text, called sites) of a bgzipped or plain VCF with GT and GQ (pysam)."""
  import pysam
  if not os.path.exists(path):
    raise PseudolabelError(f"--calls {path}: no such file")
  try:
    vcf = pysam.VariantFile(path)
  except (OSError, ValueError) as e:
    raise PseudolabelError(f"--calls {path}: not a readable VCF ({e})") from None
  if not list(vcf.header.samples):
    raise PseudolabelError(f"--calls {path}: no sample column; pseudolabels need genotypes")
  sites = []
  with vcf:
    try:
      for rec in vcf:
        sample = rec.samples[0]
        gq = sample.get("GQ") if "GQ" in rec.format else None
        sites.append(core.CalledSite(rec.contig, rec.start, rec.stop,
                                     tuple(sample.get("GT") or (None,)), gq,
                                     str(rec).rstrip("\n"), "RefCall" in rec.filter.keys()))
    except (OSError, ValueError) as e:
      where = f"{sites[-1].contig}:{sites[-1].start + 1}" if sites else "the first record"
      raise PseudolabelError(f"--calls {path}: unreadable record after {where} ({e})") \
          from None
    header = str(vcf.header)
  return header, sites


def run(args) -> dict:
  out = args.output_dir
  paths = [os.path.join(out, name) for name in OUTPUTS]
  output_paths.check_file_outputs(paths, "--output_dir", args.overwrite, shown=out)
  try:
    with fasta_io.FastaReader(args.ref) as fasta:
      contigs = list(fasta.contig_lengths())
  except fasta_io.FastaError as e:
    raise PseudolabelError(f"--ref {e}") from None
  header, sites = read_calls(args.calls)
  unknown = sorted({s.contig for s in sites} - set(contigs))
  if unknown:
    raise PseudolabelError(f"--calls {args.calls}: contig {unknown[0]} is not in --ref "
                           f"{args.ref}; calls and reference must match")
  try:
    chosen = core.select(sites, min_gq=args.min_gq, top_fraction=args.top_fraction)
  except ValueError as e:
    raise flags.UsageError(str(e)) from None
  variants = [s for s in chosen.kept if core.site_class(s) != core.HOM_REF]
  os.makedirs(out, exist_ok=True)
  n = vcf_output.write_vcf(paths[0], header, [[s.line for s in variants]])
  spans = core.confident_spans(chosen.kept, contigs)
  bed = "".join(f"{c}\t{s}\t{e}\n" for c, s, e in spans)
  _files.atomic_write_bytes(paths[2], bed.encode())
  record = {"calls": os.path.abspath(args.calls), "min_gq": args.min_gq,
            "top_fraction": args.top_fraction, "offered": chosen.counts_in,
            "kept": chosen.counts_kept, "lowest_gq_kept": chosen.min_gq_kept,
            "truth_variants": n, "confident_bp": sum(e - s for _, s, e in spans)}
  _files.atomic_write_bytes(paths[3], (json.dumps(record, indent=1) + "\n").encode())
  return record


def build_parser():
  p = flags.OneLineArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
  p.add_argument("--calls", required=True, help="the base model's VCF on the new data")
  p.add_argument("--ref", required=True, help="reference FASTA with .fai")
  p.add_argument("--output_dir", required=True)
  p.add_argument("--min_gq", type=int, default=20, help="least GQ of a kept call")
  p.add_argument("--top_fraction", type=float, default=1.0,
                 help="per class, the share of the calls passing --min_gq kept, highest GQ "
                      "first (keeps the calls' class balance)")
  p.add_argument("--overwrite", action="store_true", help="replace earlier outputs")
  return p


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
  r = flags.run_or_fail(PROG, lambda: run(args), (PseudolabelError,))
  kept = ", ".join(f"{k} {r['kept'][k]}/{r['offered'][k]}" for k in r["kept"])
  print(f"{PROG}: kept {kept} (GQ >= {args.min_gq}, top {args.top_fraction:g} per class); "
        f"{r['truth_variants']} truth variants, {r['confident_bp']} confident bp; wrote "
        f"{args.output_dir}/truth.vcf.gz, confident.bed, pseudolabels.json")
  return errors.EXIT_OK


if __name__ == "__main__":
  sys.exit(main())
