"""Presets and the command-line override rules of trainer.train."""
import pytest

from trainer import configs
from trainer import train


def _with_data(cfg):
  cfg.train_dataset_pbtxt = "t.pbtxt"
  cfg.tune_dataset_pbtxt = "v.pbtxt"
  return cfg


@pytest.mark.parametrize("name,key,value", [
    ("base", "optimizer", "rmsprop"),           # DeepVariant base: RMSprop
    ("base", "best_checkpoint_metric", "tune/f1_weighted"),  # DeepVariant's default metric
    ("wgs", "optimizer", "sgd"),                # DeepVariant wgs: SGD + Nesterov
    ("wgs", "label_smoothing", 0.01),           # wgs smooths labels more
    ("exome", "num_validation_examples", 0),    # exome tunes on the whole tune set
    ("scratch", "optimizer", "adamw"),          # from scratch: AdamW
    ("tiny", "model_type", "tiny"),             # test preset uses the tiny backbone
    ("wgs+test", "batch_size", 4),              # +test shrinks any preset
    ("trainer/configs.py:wgs", "learning_rate", 0.01),  # DeepVariant's file:name spelling
])
def test_presets(name, key, value):
  cfg = configs.get_config(name)
  assert cfg[key] == value
  configs.validate(_with_data(cfg))


def test_unknown_preset_lists_known():
  with pytest.raises(ValueError, match="known: base, exome, scratch, small, small_model, tiny, wgs"):
    configs.get_config("hifi")


@pytest.mark.parametrize("argv,key,value", [
    (["--config.batch_size=32"], "batch_size", 32),          # int typed from the preset
    (["--config.learning_rate", "0.5"], "learning_rate", 0.5),  # space-separated value
    (["--config.use_ema=false"], "use_ema", False),           # bool spelled false
    (["--config.class_weights=1,2,1"], "class_weights", "1,2,1"),  # strings stay strings
])
def test_overrides_are_typed(argv, key, value):
  _, overrides = train.split_config_overrides(argv + ["--config.train_dataset_pbtxt=a",
                                                      "--config.tune_dataset_pbtxt=b"])
  cfg = train.resolve_config("base", overrides)
  assert cfg[key] == value


@pytest.mark.parametrize("override,message", [
    (("batch_sise", "3"), "unknown config key"),               # typo in the key
    (("batch_size", "big"), "expected an integer"),            # wrong type
    (("optimizer", "lamb"), "must be one of sgd"),             # not a known optimizer
    (("class_weights", "1,2"), "expected 3 non-negative"),     # one weight per label
    (("fine_tune_mode", "frozen_backbone_new_head"), "needs --config.init_checkpoint"),
    (("best_checkpoint_metric", "f1"), "must name a tune metric"),
])
def test_bad_overrides(override, message):
  with pytest.raises(ValueError, match=message):
    train.resolve_config("base", [override, ("train_dataset_pbtxt", "a"),
                                  ("tune_dataset_pbtxt", "b")])


def test_cli_bad_flag_is_one_line(capsys):
  with pytest.raises(SystemExit) as e:
    train.main(["--config=base", "--experiment_dir=/tmp/x", "--config.nope=1"])
  err = capsys.readouterr().err
  assert e.value.code == 2 and err.count("\n") == 1 and "--config.nope" in err


def test_missing_dataset_config_is_a_config_error(capsys):
  with pytest.raises(SystemExit):
    train.main(["--config=base", "--experiment_dir=/tmp/x"])
  assert "train_dataset_pbtxt" in capsys.readouterr().err
