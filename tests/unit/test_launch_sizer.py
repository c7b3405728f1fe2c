"""launch.sizer: the estimate reproduces its own bench figures and scales as documented."""

import pytest

from launch import sizer

FIG = sizer.load_figures()
BENCH = sizer.Workload(genome_bp=5_000_000, coverage=30.0)  # bench/make_examples.py's dataset


def test_figures_name_their_source():
  for block in ("make_examples", "shuffle", "parallel", "dataflow", "prices_usd"):
    assert len(FIG[block]["source"]) > 40, block


def test_bench_workload_reproduces_the_bench_figures():
  est = sizer.estimate(BENCH, sizer.Workers("n2-standard-8", 1, startup_s=0.0))
  assert est.make_examples_core_hours * 3600 == pytest.approx(84.85)  # 16.97 core-s/Mbp x 5
  assert est.examples == 8090                                         # the bench's count
  assert est.examples_gb == pytest.approx(0.059674, rel=1e-3)         # its shard bytes
  assert est.shuffle_core_hours * 3600 == pytest.approx(26.88, rel=1e-2)  # the shuffle run


@pytest.mark.parametrize("work,me_factor,examples_factor", [
    (sizer.Workload(5_000_000, 60.0), 2.0, 1.0),                 # twice the reads per bp
    (sizer.Workload(5_000_000, 30.0, (1.0, 0.5)), 1.5, 2.0),     # one more fraction at half depth
    (sizer.Workload(50_000_000, 30.0), 10.0, 10.0),              # ten times the genome
    (sizer.Workload(5_000_000, 15.0, (1.0,), 12), 0.5, 1.0),     # channels change bytes only
])
def test_scaling(work, me_factor, examples_factor):
  base = sizer.estimate(BENCH, sizer.Workers("n2-standard-8", 1))
  est = sizer.estimate(work, sizer.Workers("n2-standard-8", 1))
  assert est.make_examples_core_hours == pytest.approx(base.make_examples_core_hours * me_factor)
  assert est.examples == pytest.approx(base.examples * examples_factor, abs=1)
  byte_factor = examples_factor * work.channels / 6
  assert est.shuffle_core_hours == pytest.approx(base.shuffle_core_hours * byte_factor, rel=1e-3)


def test_wall_time_and_cost_by_hand():
  work = sizer.Workload(3_100_000_000, 30.0, (1.0, 0.5), 7)  # a 30x WGS, two fractions
  est = sizer.estimate(work, sizer.Workers("n2-standard-8", 50, disk_gb=50))
  me_core_s = 3100 * 16.97 * 1.5
  sh_core_s = 3100 * 1618.0 * 2 * 7376 * 7 / 6 / 1e9 * 451.4
  assert est.make_examples_core_hours == pytest.approx(me_core_s / 3600)
  assert est.shuffle_core_hours == pytest.approx(sh_core_s / 3600, rel=1e-3)
  wall_s = 240 + 120 + (me_core_s + sh_core_s) / (50 * 8 * 0.9)  # start-up + install + compute
  assert est.wall_hours == pytest.approx(wall_s / 3600, rel=1e-3)
  hours = wall_s / 3600 * 50
  cost = hours * (8 * 0.056 + 32 * 0.003557 + 50 * 0.000054)
  assert est.cost_usd == pytest.approx(cost, rel=1e-3)
  # order of magnitude: ~22 make_examples core-hours for a 30x WGS at 1.5 x its reads
  assert 10 < est.core_hours < 50


def test_more_workers_buy_wall_time_not_core_hours():
  few = sizer.estimate(BENCH, sizer.Workers("n2-standard-8", 2, startup_s=0.0))
  many = sizer.estimate(BENCH, sizer.Workers("n2-standard-8", 4, startup_s=0.0))
  assert many.core_hours == few.core_hours
  assert many.wall_hours == pytest.approx(few.wall_hours / 2)
  assert many.cost_usd == pytest.approx(few.cost_usd)  # same worker-hours without start-up


def test_custom_image_skips_the_install():
  a = sizer.estimate(BENCH, sizer.Workers("n2-standard-8", 1, setup_file=True))
  b = sizer.estimate(BENCH, sizer.Workers("n2-standard-8", 1, setup_file=False))
  assert (a.startup_s - b.startup_s) == FIG["dataflow"]["setup_file_install_s"]


def test_coverage_from_the_bench_bam_size():
  assert sizer.coverage_from_bam(121_521_020, 5_000_000) == pytest.approx(30.0)


@pytest.mark.parametrize("genome_bp,workers,warning", [
    (3_100_000_000, 8, None),                          # WGS on 8 machines: ~19 core-h, 0.43 h
    (3_100_000_000, 500, "shorter than worker start-up"),  # 500 machines: mostly start-up
    (5_000_000, 1, "shorter than worker start-up"),    # 5 Mbp: seconds of work
])
def test_startup_warning(genome_bp, workers, warning):
  est = sizer.estimate(sizer.Workload(genome_bp, 30.0), sizer.Workers("n2-standard-8", workers))
  assert (warning is None) == (not est.warnings)
  if warning:
    assert warning in est.warnings[0]


def test_memory_warning_on_a_highcpu_machine():
  est = sizer.estimate(sizer.Workload(3_000_000_000, 30.0),
                       sizer.Workers("n2-highcpu-16", 10, shuffle_memory_budget_gb=16))
  assert any("MiB per vCPU" in w for w in est.warnings)  # 1 GiB per vCPU vs ~1.26 GiB needed


@pytest.mark.parametrize("work,workers,message", [
    (sizer.Workload(0, 30.0), sizer.Workers("n2-standard-8", 1), "genome size"),
    (sizer.Workload(1_000, -1.0), sizer.Workers("n2-standard-8", 1), "coverage"),
    (sizer.Workload(1_000, 30.0, (1.5,)), sizer.Workers("n2-standard-8", 1), "fractions"),
    (BENCH, sizer.Workers("m9-mega-1", 1), "unknown machine type"),
    (BENCH, sizer.Workers("n2-standard-8", 0), "workers must be"),
])
def test_bad_inputs(work, workers, message):
  with pytest.raises(ValueError, match=message):
    sizer.estimate(work, workers)


def test_cli(capsys):
  assert sizer.main(["--genome_mbp", "3100", "--coverage", "30", "--downsample_fraction",
                     "1.0,0.5", "--machine_type", "n2-standard-8", "--workers", "64"]) == 0
  out = capsys.readouterr().out
  assert "3,100.0 Mbp at 30.0x, fractions 1,0.5" in out
  assert "core-hours: make_examples 21.92," in out  # 3100 x 16.97 x 1.5 / 3600
  assert sizer.main(["--genome_mbp", "1", "--coverage", "30", "--workers", "1",
                     "--machine_type", "nope"]) == 2
