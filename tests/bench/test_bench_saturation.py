import pytest

from bench.config import SloConfig
from bench.saturation import search, slo_verdict

SLO = SloConfig(p99_ms={"crud": 100.0}, max_error_rate=0.01, max_dropped_fraction=0.01)


def fake_server(capacity: float):
    """Windows of a server whose p99 explodes past `capacity`; records the offered rates."""
    offered = []

    def measure(rate: float) -> dict:
        offered.append(rate)
        p99 = 10.0 if rate <= capacity else 5000.0
        return {"latency_ms": {"all": {"p99": p99}}, "error_rate": 0.0, "dropped_fraction": 0.0}

    return measure, offered


def test_doubles_then_bisects_within_the_step_budget():
    measure, offered = fake_server(capacity=70)
    found = search(measure, start_rate=10, max_steps=6, max_rate=1000, p99_limit_ms=100, slo=SLO)
    assert offered[:4] == [10, 20, 40, 80]
    assert offered[4] == 60  # bisection between the last pass (40) and the first fail (80)
    assert len(offered) <= 6
    assert found["max_rate"] is not None and 40 <= found["max_rate"] <= 70
    assert [s["meets_slo"] for s in found["steps"]] == [r <= 70 for r in offered]


def test_first_step_failing_searches_downwards():
    measure, offered = fake_server(capacity=3)
    found = search(measure, start_rate=10, max_steps=3, max_rate=1000, p99_limit_ms=100, slo=SLO)
    assert offered == [10, 5, 2.5]
    assert found["max_rate"] == 2.5


def test_never_failing_is_reported_as_capped():
    measure, offered = fake_server(capacity=1e9)
    found = search(measure, start_rate=10, max_steps=3, max_rate=1000, p99_limit_ms=100, slo=SLO)
    assert offered == [10, 20, 40] and found["max_rate"] == 40 and found["capped"]


def test_max_rate_is_respected():
    measure, offered = fake_server(capacity=1e9)
    search(measure, start_rate=10, max_steps=10, max_rate=25, p99_limit_ms=100, slo=SLO)
    assert offered == [10, 20, 25]


@pytest.mark.parametrize(
    ("window", "ok", "why"),
    [
        ({"latency_ms": {"all": {"p99": 50}}, "error_rate": 0.0, "dropped_fraction": 0.0}, True, "meets SLO"),
        ({"latency_ms": {"all": {"p99": 150}}, "error_rate": 0.0, "dropped_fraction": 0.0}, False, "p99 150 ms > 100 ms"),
        ({"latency_ms": {"all": {"p99": 50}}, "error_rate": 0.05, "dropped_fraction": 0.0}, False, "errors 5.0%"),
        ({"latency_ms": {"all": {"p99": 50}}, "error_rate": 0.0, "dropped_fraction": 0.2}, False, "dropped 20.0%"),
        ({"latency_ms": {}, "error_rate": 0.0}, False, "no completed requests"),
        ({"latency_ms": {"all": {"p99": 50}}, "error_rate": 0.0, "unfinished_fraction": 0.1}, False, "10.0% of iterations unfinished"),
    ],
)
def test_slo_verdict_names_the_reason(window, ok, why):
    verdict, reason = slo_verdict(window, 100, SLO)
    assert verdict is ok
    assert why in reason
