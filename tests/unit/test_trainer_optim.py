"""Learning-rate schedule values (the worked example in trainer/optim.py) and optimizers."""
import pytest

from trainer import configs
from trainer import optim


@pytest.mark.parametrize("step,lr", [
    (0, 0.001),       # warmup starts at lr / 10
    (50, 0.0055),     # halfway up the ramp
    (100, 0.01),      # warmup done, first stair
    (199, 0.01),      # staircase: still the first stair
    (200, 0.005),     # decay_steps = 100 steps/epoch * 2 epochs: halved
    (400, 0.0025),    # two stairs
])
def test_warmup_exponential_decay(step, lr):
  sched = optim.WarmupExponentialDecay(0.01, decay_steps=200, decay_rate=0.5, warmup_steps=100)
  assert float(sched(step)) == pytest.approx(lr, rel=1e-5)


def test_no_warmup_starts_at_peak():
  sched = optim.WarmupExponentialDecay(0.064, decay_steps=10, decay_rate=0.94)
  assert float(sched(0)) == pytest.approx(0.064) and float(sched(10)) == pytest.approx(0.06016)


@pytest.mark.parametrize("name,cls", [("sgd", "SGD"), ("rmsprop", "RMSprop"), ("adam", "Adam"),
                                      ("adamw", "AdamW"), ("nadam", "Nadam")])
def test_optimizers(name, cls):
  cfg = configs.get_config("base")
  cfg.optimizer = name
  opt = optim.make_optimizer(cfg, optim.make_schedule(cfg, 100))
  assert type(opt).__name__ == cls and opt.use_ema  # base keeps an EMA of the weights
  if name == "sgd":
    assert opt.nesterov
