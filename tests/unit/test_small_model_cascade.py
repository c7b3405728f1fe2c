"""The cascade inside the per-partition recipe: what the small model accepts gets no pileup,
what it does not (or may not) goes to the CNN unchanged; training writes labeled vectors."""
import numpy as np
import pytest

from beam_pipelines.core import call_outputs, counters
from beam_pipelines.core import example_maker as em
from beam_pipelines.core.small_model_cascade import SmallModelOptions
from schemas import example_format
from schemas import small_model as contract
from tests.unit import test_example_maker as base


def _constant_model(head_bias, window=contract.DEFAULT_VAF_CONTEXT_WINDOW_SIZE):
  """A model that ignores its inputs: softmax(head_bias) for every candidate."""
  n = len(contract.feature_names(window))
  return contract.SmallModel(
      feature_names=contract.feature_names(window), vaf_context_window_size=window,
      kernels=(np.zeros((n, 4), np.float32), np.zeros((4, 3), np.float32)),
      biases=(np.zeros(4, np.float32), np.asarray(head_bias, np.float32)),
      input_mean=np.zeros(n, np.float32), input_scale=np.ones(n, np.float32))


def _calling(small=None):
  return base._opts(training=False, small_model=small)


def _run(opts):
  return em.make_partition_examples(base.PART, base._reads(), base.REF, opts)


def test_a_confident_call_gets_no_pileup_and_becomes_a_call_variants_output():
  plain = _run(_calling())
  assert len(plain.records) == 1  # one candidate, the SNP
  sure = SmallModelOptions(model=_constant_model([0.0, 12.0, 0.0]))  # het, GQ ~49
  out = _run(_calling(sure))
  assert out.records == [] and len(out.small_model_calls) == 1
  assert out.counts[counters.SMALL_MODEL_SCORED] == 1
  assert out.counts[counters.SMALL_MODEL_CALLED] == 1
  assert out.counts[counters.CNN_CANDIDATES] == 0
  variant, pred = call_outputs.decode_output(out.small_model_calls[0])
  assert (variant.start, variant.reference_bases, list(variant.alternate_bases)) == \
      (base.SNP, base.SEQ[base.SNP], [base.ALT])
  assert pred.alt_indices == (0,) and pred.probs[1] > 0.9999
  # The CNN example and the small model's call describe the same candidate.
  cnn_variant = example_format.decode_example(plain.records[0]).variant
  assert call_outputs.candidate_key(variant) == call_outputs.candidate_key(cnn_variant)
  assert variant.calls[0].info["AD"] == cnn_variant.calls[0].info["AD"]


def test_unsure_calls_and_switched_off_types_go_to_the_cnn_byte_for_byte():
  plain = _run(_calling())
  unsure = SmallModelOptions(model=_constant_model([0.0, 2.0, 0.0]))  # GQ ~ 6: below 25
  off = SmallModelOptions(model=_constant_model([0.0, 12.0, 0.0]), snp_gq_threshold=-1)
  for opts in (unsure, off):
    out = _run(_calling(opts))
    assert out.records == plain.records and out.small_model_calls == []
    assert out.counts[counters.CNN_CANDIDATES] == 1
  assert _run(_calling(off)).counts[counters.SMALL_MODEL_SCORED] == 0


def test_training_writes_one_labeled_vector_per_confident_biallelic_candidate():
  opts = base._opts(small_model=SmallModelOptions(write_examples=True))
  out = em.make_partition_examples(base.PART, base._reads(), base.REF, opts, base.TRUTH,
                                   base.CONFIDENT)
  plain = em.make_partition_examples(base.PART, base._reads(), base.REF, base._opts(),
                                     base.TRUTH, base.CONFIDENT)
  assert out.records == plain.records  # the pileups are unchanged
  assert len(out.small_model) == 1 and out.counts[counters.SMALL_MODEL_EXAMPLES] == 1
  ex = contract.decode_example(out.small_model[0])
  assert ex.label == 1 and ex.genotype == (0, 1)
  assert ex.ids == ("c", str(base.SNP), str(base.SNP + 1), base.SEQ[base.SNP], base.ALT)
  names = contract.feature_names()
  feat = dict(zip(names, ex.features))
  assert (feat["num_reads_supports_ref"], feat["num_reads_supports_alt"]) == (12, 12)
  assert feat["variant_allele_frequency"] == 50 and feat["is_snp"] == 1
  assert feat["alt_mapping_quality"] == 60 and feat["alt_base_quality"] == 30


def test_model_window_must_match_the_run():
  with pytest.raises(ValueError, match="differs from the trained small model"):
    SmallModelOptions(model=_constant_model([0, 1, 0], window=11), vaf_context_window_size=51)


def test_saved_model_round_trips(tmp_path):
  model = _constant_model([0.5, 1.0, -1.0])
  rng = np.random.default_rng(0)
  k0 = rng.normal(size=model.kernels[0].shape).astype(np.float32)
  model = contract.SmallModel(model.feature_names, 51, (k0, model.kernels[1]), model.biases,
                              model.input_mean, model.input_scale, temperature=1.7)
  contract.save(str(tmp_path / "m"), model)
  back = contract.load(str(tmp_path / "m"))
  x = rng.integers(0, 100, size=(5, 70))
  np.testing.assert_allclose(back.predict_proba(x), model.predict_proba(x), rtol=1e-6)
  assert back.temperature == 1.7
  np.testing.assert_allclose(contract.gq_of([[0.999, 0.001, 0.0]]), [30.0], atol=1e-6)
  with pytest.raises(contract.SmallModelError, match="no small_model.json"):
    contract.load(str(tmp_path))


def _multi_allelic_site():
  from beam_pipelines.core.allele_counter import count_alleles
  from beam_pipelines.core.candidates import VscOptions, call_candidates
  from beam_pipelines.core.regions import Range
  from tests.unit.test_small_model_features import REF, _read
  reads = [_read(f"a{i}", 0, "10M", "ACCTACGTAC") for i in range(3)]
  reads += [_read(f"b{i}", 0, "10M", "ACTTACGTAC") for i in range(3)]
  counts = count_alleles(reads, REF, Range("c", 0, 10), support_stats=True)
  cands = call_candidates(counts, VscOptions(), "c")
  return counts, cands


def test_multi_allelic_sites_go_to_the_cnn_unless_asked_then_one_call_per_image():
  from beam_pipelines.core.small_model_cascade import call_easy_candidates, training_examples
  counts, cands = _multi_allelic_site()
  (multi,) = [c for c in cands if len(c.alts) == 2]
  model = _constant_model([0.0, 12.0, 0.0], window=51)
  default = call_easy_candidates(counts, [multi], SmallModelOptions(model=model), "S")
  assert default.accepted == [] and default.remaining == [multi] and default.scored == 0
  asked = call_easy_candidates(counts, [multi], SmallModelOptions(
      model=model, call_multiallelics=True), "S")
  assert asked.remaining == [] and asked.scored == 1
  preds = [call_outputs.decode_output(b)[1] for b in asked.accepted]
  assert [p.alt_indices for p in preds] == [(0,), (1,), (0, 1)]  # the CNN's image order
  # One unsure image keeps the whole site for the CNN.
  unsure = SmallModelOptions(model=model, call_multiallelics=True, snp_gq_threshold=60)
  assert call_easy_candidates(counts, [multi], unsure, "S").remaining == [multi]
  # Training: one labeled vector per image, labeled as the image is (genotype 1/2).
  made = training_examples(counts, [(multi, (1, 2))], SmallModelOptions(write_examples=True))
  exs = [contract.decode_example(b) for b in made]
  assert [e.label for e in exs] == [1, 1, 2]
  assert [e.ids[-1] for e in exs] == ["C", "T", "C|T"]
  only_single = training_examples(counts, [(multi, (1, 2))],
                                  SmallModelOptions(write_examples=True),
                                  exclude_het_alt_images=True)
  assert len(only_single) == 2
