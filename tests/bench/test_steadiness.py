from runs import make_run

from bench import steadiness
from bench.model import CpuSteadiness
from bench.report import render


def test_each_slice_is_told_against_the_median_slice():
    reading = steadiness.summarize(0, [50, 100, 100, 100, 100, 100, 100, 100, 100, 120], slice_s=0.25)
    assert (reading.slowest, reading.p10, reading.fastest, reading.slices) == (0.5, 1.0, 1.2, 10)


def test_only_a_slice_far_under_the_median_makes_the_host_unsteady():
    steady = CpuSteadiness(cpu=0, slices=8, slice_s=0.25, slowest=0.9, p10=0.95, fastest=1.1)
    shaky = CpuSteadiness(cpu=1, slices=8, slice_s=0.25, slowest=0.5, p10=0.7, fastest=1.4)
    assert steadiness.unsteady([steady, shaky]) == [shaky]


def test_the_probe_spins_on_every_cpu_asked_for():
    readings = steadiness.probe([0], seconds=0.5, slice_s=0.1)
    assert [r.cpu for r in readings] == [0]
    assert readings[0].slices >= 3 and 0 < readings[0].slowest <= 1 <= readings[0].fastest


def test_the_report_warns_when_the_host_was_unsteady_and_not_otherwise():
    run = make_run()
    assert "unsteady" not in render(run, {})
    run.metadata.steadiness_at_start = [CpuSteadiness(cpu=0, slices=32, slice_s=0.25, slowest=0.55, p10=0.7,
                                                      fastest=1.3)]
    text = render(run, {})
    assert "The host's CPUs were unsteady" in text and "CPU 0: slowest 0.55" in text
