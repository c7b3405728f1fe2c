"""HP tags from the BAM (--parse_sam_aux_fields, --add_hp_channel, --sort_by_haplotypes), as a
haplotagged long-read BAM gives them: a het SNP whose alt reads are HP 1 and ref reads HP 2,
plus untagged reads, read back from the examples make_examples writes."""
import json

import numpy as np
import pytest

from beam_pipelines import make_dataset_config, make_examples
from schemas import example_format, tfrecord
from tests import synthetic_bam

SNP = 700


def _write_inputs(d):
  rng = np.random.RandomState(5)
  ref = "".join(rng.choice(list("ACGT"), 1500))
  alt = "A" if ref[SNP] != "A" else "C"
  records = []
  for i in range(24):  # i % 3: 0 -> HP1 with the alt, 1 -> HP2 ref, 2 -> untagged ref
    start = 400 + 10 * i
    seq = ref[start:start + 500]
    hp = (1, 2, None)[i % 3]
    if hp == 1:
      seq = seq[:SNP - start] + alt + seq[SNP - start + 1:]
    records.append((start, f"{len(seq)}M", seq, f"q{i}", None if hp is None else {"HP": hp}))
  return synthetic_bam.write_inputs(d, ref, records, name="hp")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
  d = tmp_path_factory.mktemp("hp")
  return d, _write_inputs(d)


def _run(inputs, name, *extra):
  d, (fa, bam) = inputs
  out = str(d / name / "ex.tfrecord.gz")
  rc = make_examples.main(["--mode", "calling", "--ref", fa, "--reads", bam, "--examples", out,
                           "--regions", "r:1-1500", "--realign_reads=false", *extra])
  return rc, out


def test_hp_channel_and_haplotype_sorting_from_bam_tags(inputs):
  rc, out = _run(inputs, "hp", "--add_hp_channel", "--sort_by_haplotypes")
  assert rc == 0
  (e,) = [example_format.decode_example(r) for r in tfrecord.read_records(out)]
  assert e.variant.start == SNP and e.shape == (100, 221, 7)
  with open(out + ".example_info.json") as f:
    assert json.load(f)["channels"] == [1, 2, 3, 4, 5, 6, 7]
  rows = e.image[5:29]
  # sorted: the 8 untagged reads (HP channel 0), then the 8 HP1 (127), then the 8 HP2 (254)
  assert rows[:, 110, 6].tolist() == [0] * 8 + [127] * 8 + [254] * 8
  # and the HP1 rows are exactly the alt-supporting ones (channel 5: 254 supports)
  assert (rows[8:16, 110, 4] == 254).all() and (rows[np.r_[0:8, 16:24], 110, 4] != 254).all()
  # within a haplotype, by start: the untagged reads q2, q5, ... ascending
  firsts = [int(np.flatnonzero(r[:, 0])[0]) for r in rows[:8]]
  assert firsts == sorted(firsts)


def test_without_the_flags_the_image_is_the_plain_one(inputs):
  rc, out = _run(inputs, "plain")
  assert rc == 0
  (e,) = [example_format.decode_example(r) for r in tfrecord.read_records(out)]
  assert e.shape == (100, 221, 6)
  firsts = [int(np.flatnonzero(r[:, 0])[0]) for r in e.image[5:29]]
  assert firsts == sorted(firsts)  # start order, haplotypes mixed


def test_hp_flags_with_tag_parsing_off_is_one_line(inputs, capsys):
  with pytest.raises(SystemExit) as e:
    _run(inputs, "off", "--add_hp_channel", "--noparse_sam_aux_fields")
  err = capsys.readouterr().err.strip().splitlines()
  assert e.value.code == 2 and len(err) == 1
  assert "--add_hp_channel need(s) each read's HP tag" in err[0]
  assert "--noparse_sam_aux_fields" in err[0]
  d, _ = inputs
  assert not (d / "off").exists() or not any((d / "off").iterdir())


def test_make_dataset_passes_the_hp_flags_to_make_examples():
  p = make_dataset_config.flags.OneLineArgumentParser(prog="make_dataset")
  make_dataset_config.add_flags(p)
  args, _ = p.parse_known_args(["--ref", "r.fa", "--sample", "name=a reads=a.bam truth=t.vcf.gz "
                                "confident=c.bed", "--output_dir", "o", "--split", "train=r:1-100",
                                "--add_hp_channel",
                                "--sort_by_haplotypes", "--hp_tag_for_assembly_polishing=1"])
  cfg = make_dataset_config.from_args(args)
  me = cfg.examples_config(cfg.samples[0], ())
  assert (me.add_hp_channel, me.sort_by_haplotypes, me.hp_tag_for_assembly_polishing,
          me.parse_sam_aux_fields) == (True, True, 1, None)
