"""The cases of the reliability sweep (issue 14): bad input for every entry point, and controls.

Why a separate module: bench/reliability_sweep.py is the runner and the checks; this file is
only data (what to run, what exit code the rule in schemas/errors.py demands) plus small helpers
that make broken copies of the real GIAB files. Every case says in one line why its input is bad,
so a FAIL line can be read without opening this file.

Expected exit codes follow the rule, not what the code does today:
  0 good input (controls), 2 bad input (a flag, a file or a record the user can fix, including a
  corrupt or truncated file found part-way), 1 a run failure that is not the input, 130 SIGINT.
Output paths follow schemas/output_paths.py: a file output that is a directory (or ends in '/')
is refused, a non-empty directory pileflow did not make is refused, an existing output needs
--overwrite (every tool: the policy is "the same for every tool"), and missing parent folders of
an output are created.

Templates: every argument is ``str.format_map``-ed with ``{fx[NAME]}`` (a fixture folder,
absolute) and ``{work}`` (the case's working folder, which is also its cwd).
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import random
import shutil
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "giab-chr20"))
BAM = os.path.join(DATA, "NA12878_S1.chr20.10_10p1mb.bam")
REF = os.path.join(DATA, "ucsc.hg19.chr20.unittest.fasta.gz")
TRUTH = os.path.join(DATA, "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz")
BED = os.path.join(DATA, "test_nist.b37_chr20_100kbp_at_10mb.bed")
GOLDEN = os.path.join(DATA, "golden.training_examples.tfrecord.gz")
REGION = "chr20:10,000,000-10,010,000"     # the golden region: a make_examples run of ~5 s
WINDOW = "chr20:10,000,000-10,100,000"     # the whole window: long enough to interrupt
PROC = "/proc/pileflow-sweep"              # a folder nobody can create, not even root

# Module -> the prog name its messages start with.
PROG = {
    "beam_pipelines.simulate": "simulate", "beam_pipelines.make_examples": "make_examples",
    "beam_pipelines.shuffle": "shuffle", "beam_pipelines.make_dataset": "make_dataset",
    "beam_pipelines.report": "report", "beam_pipelines.show_examples": "show_examples",
    "trainer.train": "train", "beam_pipelines.call": "call", "beam_pipelines.evaluate": "evaluate",
    "launch.dataflow": "launch.dataflow", "launch.vertex": "launch.vertex",
}


class SetupError(RuntimeError):
  """A case's own preparation failed (not a finding about the case: it could not be run)."""


@dataclasses.dataclass
class Ctx:
  """What a setup step may use: the working folder (cwd of the case) and the fixtures."""
  work: str
  tmp: str
  fx: Dict[str, str]
  env: Dict[str, str]

  def path(self, rel: str) -> str:
    return os.path.join(self.work, rel)

  def tool(self, module: str, args: Sequence[str], timeout: float = 300) -> None:
    """Runs an entry point as a setup step (an earlier run); it must exit 0."""
    args = expand(args, self)
    r = subprocess.run([sys.executable, "-m", module, *args], cwd=self.work, env=self.env,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
      last = (r.stderr.strip().splitlines() or ["(no stderr)"])[-1]
      raise SetupError(f"setup run of {module} exited {r.returncode}: {last[:300]}")


Setup = Callable[[Ctx], None]


@dataclasses.dataclass
class Case:
  id: str                          # "<entry>.<what>"; <entry> is the prog name
  module: str
  args: Tuple[str, ...]
  expect: int                      # what the rule says: 0, 1, 2 or 130
  why: str                         # one line: what is wrong with the input (or "control")
  needs: Tuple[str, ...] = ()      # fixtures
  setup: Tuple[Setup, ...] = ()
  plant: Tuple[str, ...] = ()      # user files planted (relative to the working folder)
  produces: Tuple[str, ...] = ()   # globs that must exist after an exit 0
  interrupt: Optional[str] = None  # "at2s": SIGINT 2 s after start; "running": 2 s after the
                                   # tool's first own output line
  timeout: float = 120.0

  @property
  def entry(self) -> str:
    return self.id.split(".", 1)[0]


@dataclasses.dataclass
class Fixture:
  name: str
  module: str
  args: Tuple[str, ...]
  needs: Tuple[str, ...] = ()
  produces: Tuple[str, ...] = ()
  timeout: float = 300.0


def expand(args: Sequence[str], ctx: Ctx) -> List[str]:
  m = {"fx": ctx.fx, "work": ctx.work}
  return [a.format_map(m) for a in args]


# ---- setup helpers: each returns a step that makes one file in the working folder -------------
def _dst(ctx: Ctx, rel: str) -> str:
  p = ctx.path(rel)
  os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
  return p


def _src(ctx: Ctx, src: str) -> str:
  return src.format_map({"fx": ctx.fx, "work": ctx.work})


def copy(src: str, rel: str, sidecars: Sequence[str] = ()) -> Setup:
  def step(ctx):
    s = _src(ctx, src)
    shutil.copyfile(s, _dst(ctx, rel))
    for suffix in sidecars:
      shutil.copyfile(s + suffix, _dst(ctx, rel + suffix))
  return step


def copytree(src: str, rel: str) -> Setup:
  def step(ctx):
    shutil.copytree(_src(ctx, src), ctx.path(rel))
  return step


def remove(rel: str) -> Setup:
  def step(ctx):
    p = ctx.path(rel)
    shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
  return step


def truncate(src: str, rel: str, fraction: float = 0.5, sidecars: Sequence[str] = ()) -> Setup:
  """The first ``fraction`` of the bytes (indexes copied whole, so only the data is short)."""
  def step(ctx):
    s = _src(ctx, src)
    with open(s, "rb") as f:
      data = f.read()
    with open(_dst(ctx, rel), "wb") as f:
      f.write(data[:int(len(data) * fraction)])
    for suffix in sidecars:
      shutil.copyfile(s + suffix, _dst(ctx, rel + suffix))
  return step


def scramble(src: str, rel: str, sidecars: Sequence[str] = ()) -> Setup:
  """2,000 bytes in the middle replaced (a damaged BGZF block; header and index intact)."""
  def step(ctx):
    s = _src(ctx, src)
    with open(s, "rb") as f:
      data = bytearray(f.read())
    mid = len(data) // 2
    data[mid:mid + 2000] = bytes((b * 7 + 3) & 255 for b in data[mid:mid + 2000])
    with open(_dst(ctx, rel), "wb") as f:
      f.write(bytes(data))
    for suffix in sidecars:
      shutil.copyfile(s + suffix, _dst(ctx, rel + suffix))
  return step


def garbage(rel: str, nbytes: int = 8192, gz: bool = False, seed: int = 14) -> Setup:
  """Random bytes; with ``gz`` a valid gzip stream of random bytes (bad TFRecord framing)."""
  def step(ctx):
    data = random.Random(seed).randbytes(nbytes)
    with open(_dst(ctx, rel), "wb") as f:
      f.write(gzip.compress(data) if gz else data)
  return step


def text(rel: str, content: str) -> Setup:
  def step(ctx):
    with open(_dst(ctx, rel), "w") as f:
      f.write(content)
  return step


def bad_crc(src: str, rel: str) -> Setup:
  """A TFRecord.gz whose gzip is fine but one payload byte is flipped (record CRC fails)."""
  def step(ctx):
    with gzip.open(_src(ctx, src), "rb") as f:
      raw = bytearray(f.read())
    raw[len(raw) // 2] ^= 0xFF
    with gzip.open(_dst(ctx, rel), "wb") as f:
      f.write(bytes(raw))
  return step


def edit_text(src: str, rel: str, edit: Callable[[str], str]) -> Setup:
  """A text file (plain or gzip) rewritten by ``edit``; written plain."""
  def step(ctx):
    s = _src(ctx, src)
    opener = gzip.open if s.endswith(".gz") else open
    with opener(s, "rt") as f:
      content = f.read()
    with open(_dst(ctx, rel), "w") as f:
      f.write(edit(content))
  return step


def vcf_renamed(src: str, rel: str, old: str = "chr20", new: str = "20",
                index: bool = True) -> Setup:
  """A bgzipped (+ tabix) VCF whose contig ``old`` is called ``new`` (CHROM and ##contig)."""
  def edit(content):
    out = []
    for line in content.splitlines():
      if line.startswith("##contig=<ID=" + old + ","):
        line = line.replace("ID=" + old + ",", "ID=" + new + ",", 1)
      elif not line.startswith("#") and line.split("\t", 1)[0] == old:
        line = new + line[len(old):]
      out.append(line)
    return "\n".join(out) + "\n"

  def step(ctx):
    import pysam  # the venv's; only this helper needs it
    plain = ctx.path(rel[:-3] if rel.endswith(".gz") else rel)
    edit_text(src, os.path.relpath(plain, ctx.work), edit)(ctx)
    if index:
      pysam.tabix_index(plain, preset="vcf", force=True)  # bgzips to plain.gz, removes plain
    else:
      pysam.tabix_compress(plain, plain + ".gz", force=True)
      os.remove(plain)
  return step


def mkdir(rel: str) -> Setup:
  def step(ctx):
    os.makedirs(ctx.path(rel), exist_ok=True)
  return step


def earlier_run(module: str, args: Sequence[str]) -> Setup:
  """The same tool run once before (its outputs then exist)."""
  def step(ctx):
    ctx.tool(module, args)
  return step


# ---- shared argument lists ---------------------------------------------------------------------
def flags(base: Sequence[Tuple[str, Optional[str]]], **over: Optional[str]) -> Tuple[str, ...]:
  """``base`` as (flag, value) pairs with overrides: ``--x=None`` drops a flag, a new name adds
  it. Keyword names are flags without the dashes."""
  d = dict(base)
  for k, v in over.items():
    d["--" + k] = v
  out: List[str] = []
  for k, v in d.items():
    if v is None:
      continue
    out += [k] if v == "" else [k, v]
  return tuple(out)


ME = (("--mode", "training"), ("--ref", REF), ("--reads", BAM), ("--truth_variants", TRUTH),
      ("--confident_regions", BED), ("--regions", REGION), ("--partition_size", "1000"),
      ("--examples", "out/train.tfrecord.gz"))
ME_CALLING = (("--mode", "calling"), ("--ref", REF), ("--reads", BAM), ("--regions", REGION),
              ("--examples", "out/calling.tfrecord.gz"))
SH = (("--input_pattern_list", GOLDEN), ("--output_pattern_prefix", "out/train"),
      ("--output_dataset_config_pbtxt", "out/train.pbtxt"), ("--output_dataset_name", "golden"),
      ("--num_shards", "2"))
SAMPLE = f"name=HG001 reads={BAM} truth={TRUTH} confident={BED}"
MD = (("--ref", REF), ("--sample", SAMPLE), ("--split", "train=chr20:10,000,001-10,005,000"),
      ("--split2", "tune=chr20:10,005,001-10,010,000"), ("--output_dir", "ds"),
      ("--num_shards", "2"), ("--allow_label_imbalance", ""))
SIM = (("--output_dir", "sim"), ("--contigs", "s1:20000"), ("--seed", "1"))
SE = (("--examples", GOLDEN), ("--output_dir", "pics"), ("--num", "2"))
TR = (("--config", "tiny"), ("--experiment_dir", "exp"),
      ("--config.train_dataset_pbtxt", "{fx[golden]}/train.pbtxt"),
      ("--config.tune_dataset_pbtxt", "{fx[golden]}/train.pbtxt"), ("--config.num_epochs", "1"))
CA = (("--examples", "{fx[calling]}/c.tfrecord@2.gz"), ("--model", "{fx[model]}"),
      ("--ref", REF), ("--outfile", "out/calls.vcf.gz"))
EV = (("--calls", "{fx[calls]}/c.vcf.gz"), ("--truth", TRUTH), ("--confident_regions", BED),
      ("--ref", REF), ("--regions", REGION), ("--output_csv", "out/summary.csv"))
DF_HEAD = ("submit", "make_examples", "--project", "my-proj", "--region", "us-central1",
           "--temp_location", "gs://my-bucket/tmp", "--dry_run", "render", "--")
DF_ME = flags(ME, examples="gs://my-bucket/ex/train.tfrecord@8.gz")
VX = (("--project", "my-proj"), ("--region", "us-central1"),
      ("--experiment_dir", "gs://my-bucket/exp1"),
      ("--image_uri", "us-central1-docker.pkg.dev/my-proj/pileflow/trainer:0.1.0"),
      ("--dry_run", ""))
VX_TRAINER = ("--", "--config=tiny",
              "--config.train_dataset_pbtxt=gs://my-bucket/ds/train/dataset_config.pbtxt",
              "--config.tune_dataset_pbtxt=gs://my-bucket/ds/tune/dataset_config.pbtxt")


def _md(**over) -> Tuple[str, ...]:
  """make_dataset flags; --split2 is a second --split (a dict cannot hold one key twice)."""
  return tuple("--split" if a == "--split2" else a for a in flags(MD, **over))


def _bed20(content: str) -> str:
  return content.replace("chr20\t", "20\t")


# ---- fixtures: good outputs of the tools themselves, built once per sweep ----------------------
FIXTURES: List[Fixture] = [
    Fixture("golden", "beam_pipelines.shuffle",
            ("--input_pattern_list", GOLDEN, "--output_pattern_prefix", "{fx[golden]}/train",
             "--output_dataset_config_pbtxt", "{fx[golden]}/train.pbtxt",
             "--output_dataset_name", "golden", "--num_shards", "2"),
            produces=("train.pbtxt",)),
    Fixture("examples7", "beam_pipelines.make_examples",
            flags(ME, examples="{fx[examples7]}/train.tfrecord@2.gz", channels="insert_size"),
            produces=("train.tfrecord-00001-of-00002.gz",)),
    Fixture("calling", "beam_pipelines.make_examples",
            flags(ME_CALLING, examples="{fx[calling]}/c.tfrecord@2.gz"),
            produces=("c.tfrecord-00001-of-00002.gz",)),
    Fixture("sim", "beam_pipelines.simulate",
            ("--output_dir", "{fx[sim]}", "--contigs", "s1:30000", "--seed", "3"),
            produces=("reference.fa", "reads.bam")),
    Fixture("dataset", "beam_pipelines.make_dataset", _md(output_dir="{fx[dataset]}"),
            produces=("train/dataset_config.pbtxt", "tune/dataset_config.pbtxt")),
    Fixture("model", "trainer.train", flags(TR, experiment_dir="{fx[model]}"), needs=("golden",),
            produces=("export/saved_model",)),
    Fixture("calls", "beam_pipelines.call", flags(CA, outfile="{fx[calls]}/c.vcf.gz"),
            needs=("calling", "model"), produces=("c.vcf.gz",)),
]


# ---- the cases ------------------------------------------------------------------------------------
def _cases() -> List[Case]:
  c: List[Case] = []

  def add(id, module, args, expect, why, **kw):
    c.append(Case(id, module, tuple(args), expect, why, **kw))

  # ---- make_examples ----
  m = "beam_pipelines.make_examples"
  add("make_examples.control_training", m, flags(ME, examples="out/train.tfrecord@2.gz"), 0,
      "control: golden flags, 2 shards", plant=("out/keep.txt",),
      produces=("out/train.tfrecord-00000-of-00002.gz", "out/train.tfrecord-00001-of-00002.gz"))
  add("make_examples.control_calling", m, flags(ME_CALLING), 0, "control: calling mode",
      produces=("out/calling.tfrecord.gz",))
  add("make_examples.missing_ref", m, flags(ME, ref="nope/ref.fa"), 2, "--ref does not exist")
  add("make_examples.missing_reads", m, flags(ME, reads="nope.bam"), 2, "--reads does not exist")
  add("make_examples.missing_truth", m, flags(ME, truth_variants="nope.vcf.gz"), 2,
      "--truth_variants does not exist")
  add("make_examples.missing_confident_bed", m, flags(ME, confident_regions="nope.bed"), 2,
      "--confident_regions does not exist")
  add("make_examples.missing_regions_bed", m, flags(ME, regions="nope.bed"), 2,
      "--regions names a BED file that does not exist")
  add("make_examples.bam_without_index", m, flags(ME, reads="in/reads.bam"), 2,
      "BAM copied without its .bai", setup=(copy(BAM, "in/reads.bam"),))
  add("make_examples.truncated_bam", m, flags(ME, reads="in/trunc.bam"), 2,
      "BAM cut at half its bytes (index intact)",
      setup=(truncate(BAM, "in/trunc.bam", 0.5, (".bai",)),))
  add("make_examples.bam_header_only", m, flags(ME, reads="in/trunc.bam"), 2,
      "BAM cut at 2% of its bytes: header, then a broken block (index intact)",
      setup=(truncate(BAM, "in/trunc.bam", 0.02, (".bai",)),))
  add("make_examples.scrambled_bam_block", m, flags(ME, reads="in/bad.bam", regions=WINDOW), 2,
      "2 kB in the middle of the BAM overwritten (a corrupt BGZF block)",
      setup=(scramble(BAM, "in/bad.bam", (".bai",)),))
  add("make_examples.garbage_bam", m, flags(ME, reads="in/garbage.bam"), 2,
      "--reads is random bytes (with a copied .bai)",
      setup=(garbage("in/garbage.bam"), copy(BAM + ".bai", "in/garbage.bam.bai")))
  add("make_examples.garbage_fasta", m, flags(ME, ref="in/ref.fa"), 2,
      "--ref is random bytes, no .fai", setup=(garbage("in/ref.fa"),))
  add("make_examples.text_not_fasta", m, flags(ME, ref="in/ref.fa"), 2,
      "--ref is a text file that is not FASTA", setup=(text("in/ref.fa", "hello\nworld\n"),))
  add("make_examples.truth_without_index", m, flags(ME, truth_variants="in/truth.vcf.gz"), 2,
      "truth VCF copied without its .tbi", setup=(copy(TRUTH, "in/truth.vcf.gz"),))
  add("make_examples.truth_plain_vcf", m, flags(ME, truth_variants="in/truth.vcf"), 2,
      "truth VCF uncompressed (must be bgzipped + tabix)",
      setup=(edit_text(TRUTH, "in/truth.vcf", lambda s: s),))
  add("make_examples.truncated_truth_gz", m, flags(ME, truth_variants="in/truth.vcf.gz"), 2,
      "truth .vcf.gz cut at 60% (its .tbi copied)",
      setup=(truncate(TRUTH, "in/truth.vcf.gz", 0.6, (".tbi",)),))
  add("make_examples.bed_bad_line", m, flags(ME, confident_regions="in/conf.bed"), 2,
      "confident BED with a line 'chr20<TAB>abc<TAB>def'",
      setup=(edit_text(BED, "in/conf.bed", lambda s: s + "chr20\tabc\tdef\n"),))
  add("make_examples.bed_end_before_start", m, flags(ME, confident_regions="in/conf.bed"), 2,
      "confident BED with an interval whose end is before its start",
      setup=(edit_text(BED, "in/conf.bed", lambda s: "chr20\t10005000\t10004000\n" + s),))
  add("make_examples.bed_empty", m, flags(ME, confident_regions="in/conf.bed"), 2,
      "confident BED is empty", setup=(text("in/conf.bed", ""),))
  add("make_examples.bed_contig_20", m, flags(ME, confident_regions="in/conf.bed"), 2,
      "confident BED says '20', reference says 'chr20'",
      setup=(edit_text(BED, "in/conf.bed", _bed20),))
  add("make_examples.truth_contig_20", m, flags(ME, truth_variants="in/truth.vcf.gz"), 2,
      "truth VCF says '20', reference says 'chr20'",
      setup=(vcf_renamed(TRUTH, "in/truth.vcf.gz"),))
  add("make_examples.regions_contig_20", m, flags(ME, regions="20:10,000,000-10,010,000"), 2,
      "--regions says '20', reference says 'chr20'")
  add("make_examples.regions_bed_contig_20", m, flags(ME, regions="in/regions.bed"), 2,
      "--regions BED says '20'",
      setup=(text("in/regions.bed", "20\t10000000\t10010000\n"),))
  add("make_examples.region_outside_reference", m, flags(ME, regions="chr20:70,000,000-70,001,000"),
      2, "region past the end of chr20 (63 Mb)")
  add("make_examples.region_unknown_contig", m, flags(ME, regions="chr99:1-100"), 2,
      "region on a contig the reference lacks")
  add("make_examples.region_end_before_start", m, flags(ME, regions="chr20:10,010,000-10,000,000"),
      2, "region literal whose end is before its start")
  add("make_examples.bam_vs_other_reference", m,
      flags(ME_CALLING, ref="{fx[sim]}/reference.fa", regions="s1:1-10000"), 2,
      "hg19 chr20 reads against the simulated reference", needs=("sim",))
  add("make_examples.sim_bam_vs_giab_reference", m,
      flags(ME_CALLING, reads="{fx[sim]}/reads.bam"), 2,
      "simulated reads (contig s1) against the hg19 chr20 reference", needs=("sim",))
  add("make_examples.typo_regoins", m, flags(ME, regions=None, regoins=REGION), 2,
      "misspelt --regoins (would otherwise cover the whole BAM)")
  add("make_examples.dv_phase_reads", m, flags(ME, phase_reads="true"), 2,
      "DeepVariant flag pileflow lacks: --phase_reads")
  add("make_examples.dv_write_run_info", m, flags(ME, write_run_info=""), 2,
      "DeepVariant flag pileflow lacks: --write_run_info")
  add("make_examples.partition_size_text", m, flags(ME, partition_size="abc"), 2,
      "--partition_size abc")
  add("make_examples.partition_size_zero", m, flags(ME, partition_size="0"), 2,
      "--partition_size 0")
  add("make_examples.downsample_fraction_1_5", m, flags(ME, downsample_fraction="1.5"), 2,
      "--downsample_fraction 1.5 (must be in (0,1])")
  add("make_examples.unknown_channel", m, flags(ME, channels="no_such_channel"), 2,
      "--channels no_such_channel")
  add("make_examples.bad_bool", m, flags(ME, keep_duplicates="maybe"), 2,
      "--keep_duplicates maybe")
  add("make_examples.stray_word", m, flags(ME) + ("chr20",), 2,
      "a stray positional word")
  add("make_examples.training_without_truth", m, flags(ME, truth_variants=None), 2,
      "--mode training without --truth_variants")
  add("make_examples.examples_at_x", m, flags(ME, examples="out@x.gz"), 2,
      "--examples out@x.gz (shard count not a number)")
  add("make_examples.examples_at_0", m, flags(ME, examples="out@0.gz"), 2,
      "--examples out@0.gz (zero shards)")
  add("make_examples.examples_under_proc", m, flags(ME, examples=PROC + "/out.tfrecord.gz"), 2,
      "--examples under /proc (cannot be written)")
  add("make_examples.examples_is_dir", m, flags(ME, examples="DIR"), 2,
      "--examples DIR, an existing user directory", plant=("DIR/keep.txt",))
  add("make_examples.examples_dir_slash", m, flags(ME, examples="DIR/"), 2,
      "--examples DIR/ (names a directory)", plant=("DIR/keep.txt",))
  add("make_examples.examples_dot", m, flags(ME, examples="."), 2,
      "--examples . (the working directory)")
  add("make_examples.examples_under_file", m, flags(ME, examples="notes.txt/out.tfrecord.gz"), 2,
      "--examples inside a path whose parent is a file")
  earlier = flags(ME, examples="out/train.tfrecord@2.gz")
  add("make_examples.rerun_without_overwrite", m, earlier, 2,
      "outputs of an earlier run exist, no --overwrite", setup=(earlier_run(m, earlier),),
      plant=("out/keep.txt",))
  add("make_examples.rerun_with_overwrite", m, earlier + ("--overwrite",), 0,
      "control: rerun with --overwrite", setup=(earlier_run(m, earlier),),
      plant=("out/keep.txt",), produces=("out/train.tfrecord-00001-of-00002.gz",))
  add("make_examples.sigint_at_2s", m, flags(ME, regions=WINDOW), 130,
      "SIGINT 2 s after start", interrupt="at2s", plant=("out/keep.txt",))
  add("make_examples.sigint_running", m, flags(ME, regions=WINDOW), 130,
      "SIGINT 2 s after the first progress line", interrupt="running", plant=("out/keep.txt",))
  add("make_examples.sigint_multiprocess", m,
      flags(ME, regions=WINDOW, examples="out/train.tfrecord@2.gz",
            direct_running_mode="multi_processing", direct_num_workers="2"), 130,
      "SIGINT (process group, as Ctrl-C) 2 s into a multi-process run", interrupt="running",
      plant=("out/keep.txt",))

  # ---- shuffle ----
  s = "beam_pipelines.shuffle"
  add("shuffle.control", s, flags(SH), 0, "control: golden examples, 2 shards",
      plant=("out/keep.txt",),
      produces=("out/train-00000-of-00002.tfrecord.gz", "out/train.pbtxt"))
  add("shuffle.pattern_matches_nothing", s, flags(SH, input_pattern_list="in/nothing-*.gz"), 2,
      "input pattern matches no files")
  add("shuffle.garbage_tfrecord_gz", s, flags(SH, input_pattern_list="in/g.tfrecord.gz"), 2,
      "input .tfrecord.gz is random bytes (not gzip)", setup=(garbage("in/g.tfrecord.gz"),))
  add("shuffle.gzip_of_garbage", s, flags(SH, input_pattern_list="in/g.tfrecord.gz"), 2,
      "input is valid gzip of random bytes (bad TFRecord framing)",
      setup=(garbage("in/g.tfrecord.gz", gz=True),))
  add("shuffle.truncated_gzip", s, flags(SH, input_pattern_list="in/t.tfrecord.gz"), 2,
      "input .tfrecord.gz cut at 60%", setup=(truncate(GOLDEN, "in/t.tfrecord.gz", 0.6),))
  add("shuffle.bad_crc", s, flags(SH, input_pattern_list="in/c.tfrecord.gz"), 2,
      "one payload byte flipped (record CRC)", setup=(bad_crc(GOLDEN, "in/c.tfrecord.gz"),))
  add("shuffle.mixed_channels", s,
      flags(SH, input_pattern_list=GOLDEN + ",{fx[examples7]}/train.tfrecord-?????-of-00002.gz"),
      2, "inputs with 6 and 7 channels", needs=("examples7",))
  add("shuffle.num_shards_zero", s, flags(SH, num_shards="0"), 2, "--num_shards 0")
  add("shuffle.bad_memory_budget", s, flags(SH, memory_budget="lots"), 2, "--memory_budget lots")
  add("shuffle.typo_num_sharsd", s, flags(SH, num_shards=None, num_sharsd="2"), 2,
      "misspelt --num_sharsd")
  add("shuffle.bad_runner", s, flags(SH, runner="DirectRuner"), 2, "--runner DirectRuner (typo)")
  add("shuffle.config_without_name", s, flags(SH, output_dataset_name=None), 2,
      "--output_dataset_config_pbtxt without --output_dataset_name")
  add("shuffle.prefix_dir_slash", s, flags(SH, output_pattern_prefix="DIR/"), 2,
      "--output_pattern_prefix DIR/ (a directory)", plant=("DIR/keep.txt",))
  add("shuffle.prefix_dot", s, flags(SH, output_pattern_prefix=".",
                                     output_dataset_config_pbtxt="cfg.pbtxt"), 2,
      "--output_pattern_prefix . (the working directory)")
  add("shuffle.prefix_under_proc", s, flags(SH, output_pattern_prefix=PROC + "/train"), 2,
      "--output_pattern_prefix under /proc")
  add("shuffle.config_is_dir", s, flags(SH, output_dataset_config_pbtxt="DIR"), 2,
      "--output_dataset_config_pbtxt DIR, an existing directory", plant=("DIR/keep.txt",))
  earlier = flags(SH)
  add("shuffle.rerun_without_overwrite", s, earlier, 2, "shards of an earlier run exist",
      setup=(earlier_run(s, earlier),), plant=("out/keep.txt",))
  add("shuffle.rerun_with_overwrite", s, earlier + ("--overwrite",), 0,
      "control: rerun with --overwrite", setup=(earlier_run(s, earlier),),
      plant=("out/keep.txt",), produces=("out/train-00001-of-00002.tfrecord.gz",))

  # ---- make_dataset ----
  d = "beam_pipelines.make_dataset"
  add("make_dataset.control", d, _md(), 0, "control: 2 splits of the golden region",
      produces=("ds/train/dataset_config.pbtxt", "ds/tune/dataset_config.pbtxt"))
  add("make_dataset.overlapping_splits", d,
      _md(split="train=chr20:10,000,001-10,006,000"), 2, "splits overlap by 1 kb")
  add("make_dataset.split_contig_20", d, _md(split="train=20:10,000,001-10,005,000"), 2,
      "--split region says '20', reference says 'chr20'")
  add("make_dataset.split_without_regions", d, _md(split="train"), 2, "--split train (no =)")
  add("make_dataset.sample_without_truth", d, _md(sample=f"name=HG001 reads={BAM}"), 2,
      "--sample without truth= and confident=")
  add("make_dataset.sample_bad_syntax", d, _md(sample=f"HG001 {BAM}"), 2,
      "--sample without key=value pairs")
  add("make_dataset.sample_missing_reads", d,
      _md(sample=f"name=HG001 reads=nope.bam truth={TRUTH} confident={BED}"), 2,
      "--sample reads= does not exist")
  add("make_dataset.sample_bed_contig_20", d,
      _md(sample=f"name=HG001 reads={BAM} truth={TRUTH} confident=in/conf.bed"), 2,
      "sample's confident BED says '20'", setup=(edit_text(BED, "in/conf.bed", _bed20),))
  add("make_dataset.sample_truncated_bam", d,
      _md(sample=f"name=HG001 reads=in/t.bam truth={TRUTH} confident={BED}"), 2,
      "sample's BAM cut at half (index intact)", setup=(truncate(BAM, "in/t.bam", 0.5, (".bai",)),))
  add("make_dataset.typo_num_shrads", d, _md(num_shards=None, num_shrads="2"), 2,
      "misspelt --num_shrads")
  add("make_dataset.dv_phase_reads", d, _md(phase_reads="true"), 2,
      "DeepVariant flag pileflow lacks: --phase_reads")
  add("make_dataset.output_user_dir", d, _md(output_dir="DIR"), 2,
      "--output_dir DIR holds a user's file", plant=("DIR/keep.txt",))
  add("make_dataset.output_dot", d, _md(output_dir="."), 2,
      "--output_dir . (non-empty working directory)")
  add("make_dataset.output_under_proc", d, _md(output_dir=PROC + "/ds"), 2,
      "--output_dir under /proc")
  earlier = _md()
  add("make_dataset.rerun_without_overwrite", d, earlier, 2, "splits of an earlier run exist",
      setup=(earlier_run(d, earlier),), plant=("ds/keep.txt",))
  add("make_dataset.rerun_with_overwrite", d, earlier + ("--overwrite",), 0,
      "control: rerun with --overwrite", setup=(earlier_run(d, earlier),),
      plant=("ds/keep.txt",), produces=("ds/train/dataset_config.pbtxt",))

  # ---- simulate ----
  sm = "beam_pipelines.simulate"
  add("simulate.control", sm, flags(SIM), 0, "control: 20 kb",
      produces=("sim/reference.fa", "sim/reads.bam", "sim/truth.vcf.gz"))
  add("simulate.bad_contigs", sm, flags(SIM, contigs="s1:abc"), 2, "--contigs s1:abc")
  add("simulate.negative_coverage", sm, flags(SIM, coverage="-1"), 2, "--coverage -1")
  add("simulate.fraction_over_1", sm, flags(SIM, duplicate_fraction="1.5"), 2,
      "--duplicate_fraction 1.5")
  add("simulate.region_unknown_contig", sm, flags(SIM, regions="s9:1-100"), 2,
      "--regions on a contig not simulated")
  add("simulate.typo_covrage", sm, flags(SIM, covrage="10"), 2, "misspelt --covrage")
  add("simulate.output_user_dir", sm, flags(SIM, output_dir="DIR"), 2,
      "--output_dir DIR holds a user's file", plant=("DIR/keep.txt",))
  add("simulate.output_dot", sm, flags(SIM, output_dir="."), 2,
      "--output_dir . (non-empty working directory)")
  add("simulate.output_is_file", sm, flags(SIM, output_dir="notes.txt"), 2,
      "--output_dir is an existing file")
  add("simulate.output_under_proc", sm, flags(SIM, output_dir=PROC + "/sim"), 2,
      "--output_dir under /proc")
  add("simulate.rerun_without_overwrite", sm, flags(SIM), 2, "an earlier simulation exists",
      setup=(earlier_run(sm, flags(SIM)),), plant=("sim/keep.txt",))
  add("simulate.rerun_with_overwrite", sm, flags(SIM) + ("--overwrite",), 0,
      "control: rerun with --overwrite", setup=(earlier_run(sm, flags(SIM)),),
      plant=("sim/keep.txt",), produces=("sim/reads.bam",))

  # ---- report ----
  r = "beam_pipelines.report"
  add("report.control_dataset_dir", r, ("--dataset_dir", "ds"), 0,
      "control: a copy of a make_dataset output", needs=("dataset",),
      setup=(copytree("{fx[dataset]}", "ds"),), produces=("ds/report.html",))
  add("report.control_examples", r, ("--examples", f"train={GOLDEN}", "--output", "r.html"), 0,
      "control: --examples NAME=PATTERN", produces=("r.html",))
  orig = _md(output_dir="orig")
  add("report.copy_of_deleted_dataset", r, ("--dataset_dir", "COPY"), 0,
      "a copied dataset whose original was deleted: must work from COPY's own shards",
      setup=(earlier_run(d, orig), copytree("{work}/orig", "COPY"), remove("orig")),
      produces=("COPY/report.html",))
  add("report.missing_dataset_dir", r, ("--dataset_dir", "nope"), 2,
      "--dataset_dir does not exist")
  add("report.empty_dataset_dir", r, ("--dataset_dir", "empty"), 2,
      "--dataset_dir is an empty directory", setup=(mkdir("empty"),))
  add("report.no_input", r, ("--output", "r.html"), 2,
      "none of --dataset_dir, --manifest, --examples")
  add("report.garbage_manifest", r, ("--manifest", "in/m.json", "--output", "r.html"), 2,
      "--manifest is not JSON", setup=(text("in/m.json", "{not json\n"),))
  add("report.examples_garbage", r, ("--examples", "train=in/g.tfrecord.gz", "--output",
                                     "r.html"), 2,
      "--examples file is random bytes", setup=(garbage("in/g.tfrecord.gz"),))
  add("report.examples_no_match", r, ("--examples", "train=in/none-*.gz", "--output", "r.html"),
      2, "--examples pattern matches nothing")
  add("report.examples_no_name", r, ("--examples", GOLDEN, "--output", "r.html"), 0,
      "control: --examples without NAME= (documented: named after its first file)",
      produces=("r.html",))
  add("report.output_is_dir", r, ("--examples", f"train={GOLDEN}", "--output", "DIR"), 2,
      "--output DIR, an existing directory", plant=("DIR/keep.txt",))
  add("report.output_under_proc", r, ("--examples", f"train={GOLDEN}", "--output",
                                      PROC + "/r.html"), 2, "--output under /proc")
  earlier = ("--examples", f"train={GOLDEN}", "--output", "r.html")
  add("report.rerun_without_overwrite", r, earlier, 2, "the report exists, no --overwrite",
      setup=(earlier_run(r, earlier),))
  add("report.rerun_with_overwrite", r, earlier + ("--overwrite",), 0,
      "control: rerun with --overwrite", setup=(earlier_run(r, earlier),), produces=("r.html",))

  # ---- show_examples ----
  se = "beam_pipelines.show_examples"
  add("show_examples.control", se, flags(SE), 0, "control: 2 golden pictures",
      produces=("pics/*.png",))
  add("show_examples.missing_examples", se, flags(SE, examples="nope.tfrecord.gz"), 2,
      "--examples does not exist")
  add("show_examples.garbage_examples", se, flags(SE, examples="in/g.tfrecord.gz"), 2,
      "--examples file is random bytes", setup=(garbage("in/g.tfrecord.gz"),))
  add("show_examples.truncated_gzip", se, flags(SE, examples="in/t.tfrecord.gz", num="0"), 2,
      "--examples .tfrecord.gz cut at 60%", setup=(truncate(GOLDEN, "in/t.tfrecord.gz", 0.6),))
  add("show_examples.examples_at_0", se, flags(SE, examples="in/x@0.gz"), 2,
      "--examples x@0.gz")
  add("show_examples.bad_region", se, flags(SE, regions="chr20:abc"), 2, "--regions chr20:abc")
  add("show_examples.bad_label", se, flags(SE, labels="7"), 2, "--labels 7 (labels are 0-2)")
  add("show_examples.bad_variant_type", se, flags(SE, variant_types="mnp"), 2,
      "--variant_types mnp")
  add("show_examples.output_user_dir", se, flags(SE, output_dir="DIR"), 2,
      "--output_dir DIR holds a user's file", plant=("DIR/keep.txt",))
  add("show_examples.output_dot", se, flags(SE, output_dir="."), 2,
      "--output_dir . (non-empty working directory)")
  add("show_examples.output_under_proc", se, flags(SE, output_dir=PROC + "/pics"), 2,
      "--output_dir under /proc")
  add("show_examples.rerun_without_overwrite", se, flags(SE), 2,
      "pictures of an earlier run exist, no --overwrite", setup=(earlier_run(se, flags(SE)),))
  add("show_examples.rerun_with_overwrite", se, flags(SE) + ("--overwrite",), 0,
      "control: rerun with --overwrite", setup=(earlier_run(se, flags(SE)),),
      produces=("pics/*.png",))

  # ---- trainer.train ----
  t = "trainer.train"
  g = ("golden",)
  add("train.control", t, flags(TR), 0, "control: tiny, 1 epoch of the golden examples",
      needs=g, produces=("exp/best_checkpoint.json", "exp/export/saved_model"))
  add("train.missing_dataset_config", t, flags(TR, **{"config.train_dataset_pbtxt": "nope.pbtxt"}),
      2, "--config.train_dataset_pbtxt does not exist", needs=g)
  add("train.garbage_dataset_config", t,
      flags(TR, **{"config.train_dataset_pbtxt": "in/c.pbtxt"}), 2,
      "dataset config is not a pbtxt", needs=g, setup=(garbage("in/c.pbtxt", 2000),))
  add("train.config_matches_no_files", t,
      flags(TR, **{"config.train_dataset_pbtxt": "in/c.pbtxt"}), 2,
      "dataset config's tfrecord_path matches no files", needs=g,
      setup=(text("in/c.pbtxt", 'name: "x"\ntfrecord_path: "nothing-?????-of-00002.gz"\n'
                                "num_examples: 5\n"),))
  add("train.corrupt_shard", t, flags(TR, **{"config.train_dataset_pbtxt": "in/c.pbtxt"}), 2,
      "dataset config points at a shard with a flipped byte (CRC)", needs=g,
      setup=(bad_crc(GOLDEN, "in/c.tfrecord.gz"), copy(GOLDEN + ".example_info.json",
                                                        "in/c.tfrecord.gz.example_info.json"),
             text("in/c.pbtxt", 'name: "c"\ntfrecord_path: "{work}/in/c.tfrecord.gz"\n'
                                "num_examples: 49\n")))
  add("train.unknown_preset", t, flags(TR, config="nonexistent"), 2, "--config nonexistent",
      needs=g)
  add("train.unknown_override_key", t, flags(TR, **{"config.learning_rat": "0.1"}), 2,
      "misspelt --config.learning_rat", needs=g)
  add("train.bad_override_value", t, flags(TR, **{"config.batch_size": "abc"}), 2,
      "--config.batch_size=abc", needs=g)
  add("train.unknown_optimizer", t, flags(TR, **{"config.optimizer": "sgdd"}), 2,
      "--config.optimizer=sgdd", needs=g)
  add("train.typo_experiment_dri", t, flags(TR, experiment_dir=None, experiment_dri="exp"), 2,
      "misspelt --experiment_dri", needs=g)
  add("train.missing_init_checkpoint", t,
      flags(TR, **{"config.init_checkpoint": "nope/model.ckpt"}), 2,
      "--config.init_checkpoint does not exist", needs=g)
  add("train.experiment_user_dir", t, flags(TR, experiment_dir="DIR"), 2,
      "--experiment_dir DIR holds a user's file", needs=g, plant=("DIR/keep.txt",))
  add("train.experiment_dot", t, flags(TR, experiment_dir="."), 2,
      "--experiment_dir . (non-empty working directory)", needs=g)
  add("train.experiment_is_file", t, flags(TR, experiment_dir="notes.txt"), 2,
      "--experiment_dir is an existing file", needs=g)
  add("train.experiment_under_proc", t, flags(TR, experiment_dir=PROC + "/exp"), 2,
      "--experiment_dir under /proc", needs=g)
  add("train.rerun_resumes", t, flags(TR), 0,
      "control: rerun in its own experiment dir resumes (documented)", needs=g,
      setup=(earlier_run(t, flags(TR)),), produces=("exp/best_checkpoint.json",))
  long_run = flags(TR, **{"config.num_epochs": "2000"})
  add("train.sigint_at_2s", t, long_run, 130, "SIGINT 2 s after start", needs=g,
      interrupt="at2s")
  add("train.sigint_running", t, long_run, 130, "SIGINT 2 s after the first progress line",
      needs=g, interrupt="running")

  # ---- beam_pipelines.call ----
  ca = "beam_pipelines.call"
  cn = ("calling", "model")
  add("call.control", ca, flags(CA), 0, "control: calling examples + the tiny model", needs=cn,
      plant=("out/keep.txt",), produces=("out/calls.vcf.gz", "out/calls.vcf.gz.tbi"))
  add("call.missing_model", ca, flags(CA, model="nope"), 2, "--model does not exist", needs=cn)
  add("call.model_is_user_dir", ca, flags(CA, model="DIR"), 2,
      "--model is a directory with no model in it", needs=cn, plant=("DIR/keep.txt",))
  add("call.missing_examples", ca, flags(CA, examples="nope.tfrecord.gz"), 2,
      "--examples does not exist", needs=cn)
  add("call.garbage_examples", ca, flags(CA, examples="in/g.tfrecord.gz"), 2,
      "--examples is random bytes", needs=cn,
      setup=(garbage("in/g.tfrecord.gz"),
             copy("{fx[calling]}/c.tfrecord-00000-of-00002.gz.example_info.json",
                  "in/g.tfrecord.gz.example_info.json")))
  add("call.truncated_examples", ca, flags(CA, examples="in/t.tfrecord.gz"), 2,
      "--examples .gz cut at 60%", needs=cn,
      setup=(truncate("{fx[calling]}/c.tfrecord-00000-of-00002.gz", "in/t.tfrecord.gz", 0.6),
             copy("{fx[calling]}/c.tfrecord-00000-of-00002.gz.example_info.json",
                  "in/t.tfrecord.gz.example_info.json")))
  add("call.examples_at_x", ca, flags(CA, examples="{fx[calling]}/c.tfrecord@x.gz"), 2,
      "--examples c.tfrecord@x.gz", needs=cn)
  add("call.other_reference", ca, flags(CA, ref="{fx[sim]}/reference.fa"), 2,
      "examples made against hg19 chr20, --ref is the simulated reference",
      needs=cn + ("sim",))
  add("call.channel_mismatch", ca,
      flags(CA, examples="{fx[examples7]}/train.tfrecord@2.gz"), 2,
      "7-channel examples, 6-channel model", needs=cn + ("examples7",))
  add("call.outfile_not_vcf_gz", ca, flags(CA, outfile="out/calls.vcf"), 2,
      "--outfile does not end in .vcf.gz", needs=cn)
  add("call.outfile_is_dir", ca, flags(CA, outfile="DIR"), 2,
      "--outfile DIR, an existing directory", needs=cn, plant=("DIR/keep.txt",))
  add("call.outfile_dir_slash", ca, flags(CA, outfile="DIR/"), 2, "--outfile DIR/", needs=cn,
      plant=("DIR/keep.txt",))
  add("call.outfile_under_proc", ca, flags(CA, outfile=PROC + "/calls.vcf.gz"), 2,
      "--outfile under /proc", needs=cn)
  add("call.batch_size_zero", ca, flags(CA, batch_size="0"), 2, "--batch_size 0", needs=cn)
  add("call.rerun_without_overwrite", ca, flags(CA), 2,
      "the VCF of an earlier run exists, no --overwrite (output-path policy)", needs=cn,
      setup=(earlier_run(ca, flags(CA)),))
  add("call.rerun_with_overwrite", ca, flags(CA) + ("--overwrite",), 0,
      "control: rerun with --overwrite (output-path policy)", needs=cn,
      setup=(earlier_run(ca, flags(CA)),), produces=("out/calls.vcf.gz",))

  # ---- beam_pipelines.evaluate ----
  e = "beam_pipelines.evaluate"
  en = ("calls",)
  add("evaluate.control", e, flags(EV), 0, "control: the tiny model's calls", needs=en,
      plant=("out/keep.txt",), produces=("out/summary.csv",))
  add("evaluate.missing_calls", e, flags(EV, calls="nope.vcf.gz"), 2, "--calls does not exist",
      needs=en)
  add("evaluate.garbage_calls", e, flags(EV, calls="in/c.vcf.gz"), 2, "--calls is random bytes",
      needs=en, setup=(garbage("in/c.vcf.gz"),))
  add("evaluate.truncated_calls", e, flags(EV, calls="in/c.vcf.gz"), 2,
      "--calls .vcf.gz cut at 50%", needs=en,
      setup=(truncate("{fx[calls]}/c.vcf.gz", "in/c.vcf.gz", 0.5),))
  add("evaluate.calls_contig_20", e, flags(EV, calls="in/c.vcf.gz"), 2,
      "calls say '20', reference says 'chr20'", needs=en,
      setup=(vcf_renamed("{fx[calls]}/c.vcf.gz", "in/c.vcf.gz"),))
  add("evaluate.truth_contig_20", e, flags(EV, truth="in/t.vcf.gz"), 2,
      "truth says '20', reference says 'chr20'", needs=en,
      setup=(vcf_renamed(TRUTH, "in/t.vcf.gz"),))
  add("evaluate.bed_contig_20", e, flags(EV, confident_regions="in/conf.bed"), 2,
      "confident BED says '20'", needs=en, setup=(edit_text(BED, "in/conf.bed", _bed20),))
  add("evaluate.regions_contig_20", e, flags(EV, regions="20:10,000,000-10,010,000"), 2,
      "--regions says '20'", needs=en)
  add("evaluate.bed_bad_line", e, flags(EV, confident_regions="in/conf.bed"), 2,
      "confident BED with a line 'chr20<TAB>abc<TAB>def'", needs=en,
      setup=(edit_text(BED, "in/conf.bed", lambda s: s + "chr20\tabc\tdef\n"),))
  add("evaluate.other_reference", e, flags(EV, ref="{fx[sim]}/reference.fa"), 2,
      "hg19 calls and truth against the simulated reference", needs=en + ("sim",))
  add("evaluate.bad_stratification", e, flags(EV, stratification="nobed"), 2,
      "--stratification without NAME=", needs=en)
  add("evaluate.csv_missing_parent", e, flags(EV, output_csv="new/sub/summary.csv"), 0,
      "--output_csv in folders that do not exist yet (policy: parents are created)", needs=en,
      produces=("new/sub/summary.csv",))
  add("evaluate.csv_under_proc", e, flags(EV, output_csv=PROC + "/s.csv"), 2,
      "--output_csv under /proc", needs=en)
  add("evaluate.csv_is_dir", e, flags(EV, output_csv="DIR"), 2,
      "--output_csv DIR, an existing directory", needs=en, plant=("DIR/keep.txt",))
  local_calls = flags(EV, calls="in/c.vcf.gz", output_csv=None)
  add("evaluate.rerun_without_overwrite", e, local_calls, 2,
      "<calls>.summary.csv of an earlier run exists, no --overwrite (output-path policy)",
      needs=en, setup=(copy("{fx[calls]}/c.vcf.gz", "in/c.vcf.gz", (".tbi",)),
                       earlier_run(e, local_calls)))
  add("evaluate.rerun_with_overwrite", e, local_calls + ("--overwrite",), 0,
      "control: rerun with --overwrite (output-path policy)", needs=en,
      setup=(copy("{fx[calls]}/c.vcf.gz", "in/c.vcf.gz", (".tbi",)),
             earlier_run(e, local_calls)), produces=("in/c.summary.csv",))

  # ---- launch.dataflow (dry runs) ----
  f = "launch.dataflow"
  add("launch.dataflow.control", f, DF_HEAD + DF_ME, 0,
      "control: dry run of make_examples (local inputs warned, gs:// output)",
      produces=("render/job.json", "render/pipeline.json"))
  add("launch.dataflow.temp_location_local", f,
      tuple("/tmp/x" if a == "gs://my-bucket/tmp" else a for a in DF_HEAD) + DF_ME, 2,
      "--temp_location /tmp/x (workers cannot write it)")
  add("launch.dataflow.missing_project", f, DF_HEAD[:2] + DF_HEAD[4:] + DF_ME, 2,
      "no --project")
  add("launch.dataflow.unknown_pipeline", f, ("submit", "call_variants") + DF_HEAD[2:] + DF_ME,
      2, "pipeline call_variants is not one of the three")
  add("launch.dataflow.typo_regoins", f,
      DF_HEAD + flags(DF_ME_PAIRS, regions=None, regoins=REGION), 2,
      "pipeline flag misspelt: --regoins")
  add("launch.dataflow.dv_phase_reads", f,
      DF_HEAD + flags(DF_ME_PAIRS, phase_reads="true"), 2,
      "DeepVariant flag pileflow lacks, after --")
  add("launch.dataflow.examples_at_x", f,
      DF_HEAD + flags(DF_ME_PAIRS, examples="gs://my-bucket/ex/train@x.gz"), 2,
      "--examples gs://.../train@x.gz")
  add("launch.dataflow.region_unknown_contig", f,
      DF_HEAD + flags(DF_ME_PAIRS, regions="chr99:1-100"), 2, "region on chr99")
  add("launch.dataflow.max_workers_text", f,
      DF_HEAD[:-1] + ("--max_workers", "many", "--") + DF_ME, 2, "--max_workers many")
  add("launch.dataflow.dry_run_user_dir", f,
      tuple("DIR" if a == "render" else a for a in DF_HEAD) + DF_ME, 2,
      "--dry_run DIR holds a user's file", plant=("DIR/keep.txt",))
  add("launch.dataflow.dry_run_is_file", f,
      tuple("notes.txt" if a == "render" else a for a in DF_HEAD) + DF_ME, 2,
      "--dry_run names an existing file")
  add("launch.dataflow.dry_run_under_proc", f,
      tuple(PROC + "/render" if a == "render" else a for a in DF_HEAD) + DF_ME, 2,
      "--dry_run under /proc")

  # ---- launch.vertex (dry runs) ----
  v = "launch.vertex"
  add("launch.vertex.control", v, flags(VX) + VX_TRAINER, 0,
      "control: dry run of a container CustomJob")
  add("launch.vertex.experiment_dir_local", v, flags(VX, experiment_dir="/tmp/exp") + VX_TRAINER,
      2, "--experiment_dir /tmp/exp (Vertex cannot write it)")
  add("launch.vertex.bucket_uppercase", v, flags(VX, experiment_dir="gs://B/exp") + VX_TRAINER,
      2, "--experiment_dir gs://B/exp (not a valid bucket name)")
  add("launch.vertex.unknown_accelerator", v,
      flags(VX, accelerator_type="NVIDIA_TESLA_K9000", accelerator_count="1") + VX_TRAINER, 2,
      "--accelerator_type NVIDIA_TESLA_K9000")
  add("launch.vertex.replica_count_zero", v, flags(VX, replica_count="0") + VX_TRAINER, 2,
      "--replica_count 0")
  add("launch.vertex.image_and_staging", v,
      flags(VX, staging_bucket="gs://my-bucket/staging") + VX_TRAINER, 2,
      "--image_uri and --staging_bucket together")
  add("launch.vertex.typo_machien_type", v, flags(VX, machien_type="n1-standard-8") + VX_TRAINER,
      2, "misspelt --machien_type")
  add("launch.vertex.trainer_unknown_preset", v,
      flags(VX) + ("--", "--config=nonexistent") + VX_TRAINER[2:], 2,
      "trainer flags after -- name a preset that does not exist")
  return c


DF_ME_PAIRS = tuple((k, v) for k, v in dict(
    (a, b) for a, b in zip(DF_ME[0::2], DF_ME[1::2])).items())
CASES: List[Case] = _cases()
