import math

import numpy as np
import pytest
from scipy import stats

from bench import intervals
from bench.intervals import Interval, order, separated


@pytest.mark.parametrize(("q", "n"), [(0.5, 40), (0.9, 120), (0.99, 500)])
def test_order_statistic_bounds_cover_the_true_quantile_at_least_95_percent(q, n):
    """Brute force: draw many seeded samples from a known skewed distribution and count how often the interval holds
    the true quantile."""
    rng = np.random.default_rng(1234)
    true_q = float(-np.log(1.0 - q))  # quantile of the unit exponential
    draws = 2000
    covered = 0
    for _ in range(draws):
        iv = intervals.quantile(rng.exponential(size=n), q)
        covered += iv.low <= true_q <= iv.high
    coverage = covered / draws
    # At least the nominal 95 % (less 3 standard errors of the simulation), and not absurdly conservative.
    assert coverage >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / draws)
    assert coverage <= 0.995


def test_bound_ranks_match_the_binomial_tails():
    low, high = intervals.quantile_bound_ranks(100, 0.5)
    # The textbook ranks for the median of 100 samples at 95 %: the 40th and 61st order statistics.
    assert (low, high) == (40, 61)


def test_p99_of_few_requests_has_no_upper_bound():
    iv = intervals.quantile(np.arange(1, 18, dtype=float), 0.99)  # 17 requests, as a 4 s window at 4 it/s
    assert iv.high is None and iv.low is not None and iv.n == 17
    assert "…)" in iv.text()
    assert intervals.min_samples_for_quantile(0.99) == 368
    enough = intervals.quantile(np.arange(368, dtype=float), 0.99)
    fewer = intervals.quantile(np.arange(367, dtype=float), 0.99)
    assert enough.high is not None and fewer.high is None


def test_empty_samples_give_no_estimate():
    iv = intervals.quantile([], 0.5)
    assert iv.estimate is None and iv.n == 0 and not iv.bounded
    assert not separated(iv, intervals.quantile([1.0] * 100, 0.5))


def test_estimate_is_the_interpolated_sample_quantile_and_lies_inside_the_bounds():
    data = np.random.default_rng(7).lognormal(size=1000)
    iv = intervals.quantile(data, 0.9)
    assert iv.estimate == pytest.approx(np.quantile(data, 0.9))
    assert iv.low <= iv.estimate <= iv.high


def test_wilson_interval_of_a_proportion():
    iv = intervals.proportion(0, 100)
    assert iv.estimate == 0 and iv.low == pytest.approx(0, abs=1e-12) and iv.high == pytest.approx(0.037, abs=0.001)
    iv = intervals.proportion(50, 100)
    assert iv.low == pytest.approx(0.4038, abs=1e-3) and iv.high == pytest.approx(0.5962, abs=1e-3)


def test_poisson_interval_of_a_rate():
    iv = intervals.per_second(100, 10.0)
    assert iv.estimate == 10.0
    # Garwood interval for a count of 100: [81.37, 121.63].
    assert iv.low == pytest.approx(8.137, abs=1e-3) and iv.high == pytest.approx(12.163, abs=1e-3)
    zero = intervals.per_second(0, 10.0)
    assert zero.low == 0 and zero.high == pytest.approx(0.3689, abs=1e-3)


def test_rate_ratio_interval_covers_the_true_ratio_at_least_95_percent():
    """Seeded Poisson draws of two rates whose true ratio is 0.9, over windows of different lengths."""
    rng = np.random.default_rng(77)
    draws = 2000
    covered = 0
    for _ in range(draws):
        iv = intervals.rate_ratio(int(rng.poisson(0.9 * 2.0 * 60)), 60.0, int(rng.poisson(2.0 * 20)), 20.0)
        covered += iv.low <= 0.9 <= iv.high
    assert covered / draws >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / draws)


def test_rate_ratio_estimate_scales_by_the_windows_and_is_narrower_than_both_rates_compared():
    iv = intervals.rate_ratio(180, 60.0, 50, 20.0)
    assert iv.estimate == pytest.approx(1.2) and iv.low < 1.2 < iv.high
    # The same counts judged by overlapping the two rates' own intervals would need a wider margin.
    goodput, knee = intervals.per_second(180, 60.0), intervals.per_second(50, 20.0)
    assert iv.low > goodput.low / knee.high
    assert intervals.rate_ratio(5, 10.0, 0, 10.0).estimate is None


def test_mean_over_trials_and_one_trial_is_open():
    iv = intervals.mean([10.0, 12.0, 14.0])
    # t(0.975, 2) = 4.303, sd 2, n 3.
    assert iv.estimate == 12.0 and iv.high - iv.estimate == pytest.approx(4.303 * 2 / np.sqrt(3), rel=1e-3)
    single = intervals.mean([5.0])
    assert single.estimate == 5.0 and single.low is None and single.high is None


def test_separated_only_when_intervals_do_not_overlap():
    a = Interval(10, 9, 11, 100, "x")
    b = Interval(13, 12, 14, 100, "x")
    c = Interval(11.5, 10.5, 12.5, 100, "x")
    assert separated(a, b) and order(a, b) == -1 and order(b, a) == 1
    assert not separated(a, c) and not separated(c, b)
    open_high = Interval(10, 9, None, 10, "x")
    assert not separated(open_high, b)  # the open side could reach b
    assert separated(Interval(20, 19, None, 10, "x"), a)  # ...but a wholly lower interval is still told apart
    assert not separated(a, None)


def test_search_bracket_and_round_trip():
    iv = intervals.bracket(8.0, 12.0, 4)
    assert (iv.low, iv.high) == (8.0, 12.0)
    assert intervals.bracket(8.0, None, 4).high is None  # never missed the SLO: a lower bound only
    assert Interval.from_dict(iv.to_dict()) == iv


def test_order_by_margin_needs_separation_and_the_nearer_bounds_beyond_the_margin():
    a = Interval(10, 9, 11, 100, "x")
    just_apart = Interval(13, 12, 14, 100, "x")  # separated, but 12 / 11 = 1.09
    far = Interval(16, 14, 18, 100, "x")  # 14 / 11 = 1.27
    assert order(a, just_apart) == -1 and intervals.order_by_margin(a, just_apart, 1.25) == 0
    assert intervals.order_by_margin(a, just_apart, 1.05) == -1
    assert intervals.order_by_margin(a, far, 1.25) == -1 and intervals.order_by_margin(far, a, 1.25) == 1
    assert intervals.order_by_margin(a, Interval(10.5, 10, 11, 100, "x"), 1.0) == 0  # overlapping: never
    assert intervals.order_by_margin(a, None, 1.0) == 0


def test_order_by_margin_with_a_floor_needs_the_nearer_bounds_that_far_apart_as_well():
    a, b = Interval(2.0, 1.9, 2.1, 100, "x"), Interval(4.0, 3.8, 4.2, 100, "x")
    assert intervals.order_by_margin(a, b, 1.5) == -1  # 3.8 / 2.1 = 1.8
    assert intervals.order_by_margin(a, b, 1.5, floor=1.69) == -1 and intervals.order_by_margin(b, a, 1.5, 1.69) == 1
    assert intervals.order_by_margin(a, b, 1.5, floor=1.71) == 0 and intervals.order_by_margin(b, a, 1.5, 1.71) == 0


def test_single_readings_are_told_apart_by_the_margin_alone():
    assert intervals.order_readings(100.0, 104.0, 1.05) == 0
    assert intervals.order_readings(100.0, 106.0, 1.05) == -1
    assert intervals.order_readings(106.0, 100.0, 1.05) == 1
    assert intervals.order_readings(None, 100.0, 1.05) == 0


def test_count_and_seconds_recover_a_rate_s_window():
    assert intervals.count_and_seconds(intervals.per_second(120, 20.0)) == (120, pytest.approx(20.0))
    assert intervals.count_and_seconds(intervals.per_second(0, 20.0)) is None


def test_text_shows_the_sample_count_with_thousands_separators():
    assert intervals.per_second(1200, 10.0).text(0).endswith("n=1,200")


def test_spanning_keeps_the_estimate_and_widens_to_every_reading():
    centre = Interval(1.0, 0.9, 1.1, 500, "pooled")
    found = intervals.spanning(centre, [Interval(0.8, 0.7, 0.95, 250, "a"), Interval(1.2, 1.05, 1.4, 250, "b")], "m")
    assert (found.estimate, found.low, found.high, found.n, found.method) == (1.0, 0.7, 1.4, 500, "m")
    opened = intervals.spanning(centre, [Interval(0.8, None, 0.95, 250, "a")], "m")
    assert opened.low is None and opened.high == 1.1


def test_dispersion_is_about_one_for_poisson_counts_and_grows_with_drift():
    rng = np.random.default_rng(3)
    poisson = [list(rng.poisson(700, size=4)) for _ in range(200)]
    assert 0.8 < np.mean([intervals.dispersion([counts])[0] for counts in poisson]) < 1.2
    assert intervals.dispersion([[700, 560, 700], [1300, 1300]]) == (pytest.approx(20.0 / 3), 3)
    assert intervals.dispersion([[700]]) == (1.0, 0)


def test_windows_that_agree_as_poisson_counts_keep_the_pooled_exact_interval():
    steady = intervals.windowed_rate_ratio([1300, 1310, 1290], 40, [700, 705, 695, 700], 20)
    pooled = intervals.rate_ratio(3900, 120, 2800, 80)
    assert (steady.estimate, steady.low, steady.high) == (pooled.estimate, pooled.low, pooled.high)
    assert "not widened" in steady.method


def test_windows_that_drift_widen_the_interval_by_the_root_of_their_dispersion():
    drifting = intervals.windowed_rate_ratio([1300, 1100, 1300], 40, [700, 560, 700, 600], 20)
    pooled = intervals.rate_ratio(3700, 120, 2560, 80)
    phi, degrees = intervals.dispersion([[1300, 1100, 1300], [700, 560, 700, 600]])
    assert phi > 4 and degrees == 5 and drifting.estimate == pooled.estimate
    t_over_z = stats.t.ppf(0.975, degrees) / stats.norm.ppf(0.975)
    assert math.log(drifting.estimate / drifting.low) == pytest.approx(
        math.sqrt(phi) * t_over_z * math.log(pooled.estimate / pooled.low))
    assert drifting.high / drifting.estimate > pooled.high / pooled.estimate
    assert "widened" in drifting.method


def test_windowed_rate_ratio_covers_the_true_ratio_when_every_window_drifts():
    """The host's speed wanders from window to window by 10 %; overload windows serve 0.85 of the knee's rate."""
    rng = np.random.default_rng(7)
    draws = 800
    covered = 0
    for _ in range(draws):
        speed = rng.normal(1.0, 0.10, size=7).clip(0.5)
        knees = list(rng.poisson(700 * speed[[0, 2, 4, 6]]))
        loads = list(rng.poisson(0.85 * 2 * 700 * speed[[1, 3, 5]]))
        share = intervals.windowed_rate_ratio(loads, 40, knees, 20)
        covered += share.low <= 0.85 <= share.high
    assert covered / draws >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / draws)
