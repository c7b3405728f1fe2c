"""Paths of the real GIAB test data in ../shared/data/giab-chr20 (never copied into the repo)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "giab-chr20"))
BAM = os.path.join(DIR, "NA12878_S1.chr20.10_10p1mb.bam")
REF = os.path.join(DIR, "ucsc.hg19.chr20.unittest.fasta.gz")
TRUTH = os.path.join(DIR, "test_nist.b37_chr20_100kbp_at_10mb.vcf.gz")
CONFIDENT = os.path.join(DIR, "test_nist.b37_chr20_100kbp_at_10mb.bed")
GOLDEN = os.path.join(DIR, "golden.training_examples.tfrecord.gz")
GOLDEN_INFO = GOLDEN + ".example_info.json"
GOLDEN_REGION = "chr20:10,000,000-10,010,000"
WINDOW = "chr20:10,000,000-10,100,000"


def training_args(examples: str, region: str = GOLDEN_REGION, *extra: str):
  """make_examples flags of the golden run (README of the data folder)."""
  return ["--mode", "training", "--ref", REF, "--reads", BAM, "--truth_variants", TRUTH,
          "--confident_regions", CONFIDENT, "--regions", region, "--partition_size", "1000",
          "--examples", examples, *extra]
