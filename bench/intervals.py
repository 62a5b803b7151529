"""95 % confidence intervals for the benchmark's figures, and the one rule for telling two figures apart.

- Percentiles of latency: distribution-free order-statistic bounds (the number of samples below the true quantile is
  Binomial(n, q)). No assumption about the latency distribution, which is skewed and often multi-modal here. When n
  is too small for a bound on one side (p99 needs n >= 368 for an upper bound), that side is open (None) and the
  figure cannot be told apart from anything on that side.
- Proportions (error rates, goodput fractions): Wilson score interval.
- Counts per second (throughput): exact Poisson (Garwood) interval on the count, divided by the window length.
  k6's constant-arrival-rate spaces arrivals evenly, so the count varies less than Poisson: this errs on the wide side.
- A ratio of two such rates (goodput against capacity): exact conditional interval. Given both counts' total, the
  first count is Binomial(total, p) with p = r1 t1 / (r1 t1 + r2 t2); Clopper-Pearson bounds on p give the ratio's.
  Narrower than comparing the two rates' own intervals, which would double-count the uncertainty.
- Figures measured once per trial (memory peaks, CPU, the CRUD capacity of one interleaved slot): Student-t interval
  of the mean over the trials; one trial gives an open interval. Paired trials (METRICS off over on in adjacent
  slots): the same on the log ratios, as a geometric mean.
- A searched capacity: the bracket between the last rate that met the objective and the first that did not.

Two figures are *separated* only when their intervals do not overlap; everything else "cannot be told apart".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence bounds; None for a bound the data cannot give (an open side)."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int
    method: str
    confidence: float = CONFIDENCE

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Interval | None:
        if not data:
            return None
        return cls(**{k: data.get(k) for k in ("estimate", "low", "high", "n", "method")},
                   confidence=data.get("confidence", CONFIDENCE))

    def text(self, digits: int = 1, unit: str = "", scale: float = 1.0) -> str:
        """'12.3 ms [11.0, 14.2] n=1,480'; an open side shows as '(' or ')' next to '…'."""
        if self.estimate is None:
            return f"n/a (n={self.n:,})"

        def num(value: float) -> str:
            return f"{value * scale:,.{digits}f}"

        low = f"[{num(self.low)}" if self.low is not None else "(…"
        high = f"{num(self.high)}]" if self.high is not None else "…)"
        return f"{num(self.estimate)}{unit} {low}, {high} n={self.n:,}"


def quantile_bound_ranks(n: int, q: float, confidence: float = CONFIDENCE) -> tuple[int | None, int | None]:
    """1-based ranks (l, u) of the order statistics bounding the q-quantile, each tail at most (1 - confidence) / 2.

    The number K of samples below the true quantile is Binomial(n, q); x_(l) <= quantile <= x_(u) exactly when
    l <= K <= u - 1. None for a side no order statistic can bound at this confidence (n too small).
    """
    if n <= 0:
        return None, None
    tail = (1.0 - confidence) / 2.0
    ks = np.arange(n + 1)
    cdf = sps.binom.cdf(ks, n, q)
    # Largest l with P(K <= l - 1) <= tail; l = 0 means even the smallest sample is not a safe lower bound.
    below = np.nonzero(cdf <= tail)[0]
    low_rank = int(below[-1]) + 1 if below.size else None
    # Smallest u with P(K >= u) <= tail, i.e. cdf(u - 1) >= 1 - tail; u = n + 1 would need a sample beyond the largest.
    above = np.nonzero(cdf >= 1.0 - tail)[0]
    high_rank = int(above[0]) + 1 if above.size else None
    if high_rank is not None and high_rank > n:
        high_rank = None
    return low_rank, high_rank


def quantile(samples: Sequence[float] | np.ndarray, q: float, confidence: float = CONFIDENCE) -> Interval:
    """The sample q-quantile (linear interpolation, as k6 reports it) with its order-statistic interval."""
    data = np.sort(np.asarray(samples, dtype=float))
    n = int(data.size)
    if n == 0:
        return Interval(None, None, None, 0, "order statistics", confidence)
    low_rank, high_rank = quantile_bound_ranks(n, q, confidence)
    return Interval(
        estimate=float(np.quantile(data, q)),
        low=float(data[low_rank - 1]) if low_rank is not None else None,
        high=float(data[high_rank - 1]) if high_rank is not None else None,
        n=n, method="order statistics", confidence=confidence,
    )


def min_samples_for_quantile(q: float, confidence: float = CONFIDENCE) -> int:
    """Fewest samples for which the q-quantile has both bounds (p99 at 95 %: 368)."""
    tail = (1.0 - confidence) / 2.0
    # Upper bound exists once P(K = n) = q^n <= tail; lower bound once (1 - q)^n <= tail.
    return max(math.ceil(math.log(tail) / math.log(q)), math.ceil(math.log(tail) / math.log(1.0 - q)))


def proportion(successes: int, total: int, confidence: float = CONFIDENCE) -> Interval:
    """Wilson score interval of successes / total (an error rate, the fraction of requests within the SLO)."""
    if total <= 0:
        return Interval(None, None, None, 0, "Wilson", confidence)
    ci = sps.binomtest(int(successes), int(total)).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(successes / total, float(ci.low), float(ci.high), int(total), "Wilson", confidence)


def per_second(count: int, duration_s: float, confidence: float = CONFIDENCE) -> Interval:
    """count / duration_s with the exact Poisson (Garwood) interval on the count."""
    if duration_s <= 0:
        return Interval(None, None, None, int(count), "Poisson", confidence)
    tail = (1.0 - confidence) / 2.0
    low = sps.chi2.ppf(tail, 2 * count) / 2.0 if count > 0 else 0.0
    high = sps.chi2.ppf(1.0 - tail, 2 * count + 2) / 2.0
    return Interval(count / duration_s, float(low) / duration_s, float(high) / duration_s, int(count), "Poisson",
                    confidence)


def rate_ratio(count: int, duration_s: float, base_count: int, base_duration_s: float,
               confidence: float = CONFIDENCE) -> Interval:
    """(count / duration_s) / (base_count / base_duration_s) with the exact conditional (binomial) interval."""
    total = int(count) + int(base_count)
    method = "Poisson rate ratio"
    if duration_s <= 0 or base_duration_s <= 0 or base_count <= 0:
        return Interval(None, None, None, total, method, confidence)
    ci = sps.binomtest(int(count), total).proportion_ci(confidence_level=confidence, method="exact")
    exposure = base_duration_s / duration_s

    def ratio(p: float) -> float | None:
        return None if p >= 1.0 else p / (1.0 - p) * exposure

    return Interval(count / base_count * exposure, ratio(float(ci.low)), ratio(float(ci.high)), total, method,
                    confidence)


def mean(values: Iterable[float], confidence: float = CONFIDENCE) -> Interval:
    """Student-t interval of the mean of per-trial values; open with a single value."""
    data = np.asarray(list(values), dtype=float)
    n = int(data.size)
    if n == 0:
        return Interval(None, None, None, 0, "t (trials)", confidence)
    centre = float(data.mean())
    if n == 1:
        return Interval(centre, None, None, 1, "t (trials)", confidence)
    half = float(sps.t.ppf(0.5 + confidence / 2.0, n - 1) * data.std(ddof=1) / math.sqrt(n))
    return Interval(centre, centre - half, centre + half, n, "t (trials)", confidence)


def geometric_mean(ratios: Iterable[float], confidence: float = CONFIDENCE) -> Interval:
    """Student-t interval of the mean log ratio, back on the ratio scale: for paired measurements (A over B in
    adjacent slots), where a host drifting between pairs must not count as a difference between A and B."""
    logs = mean(math.log(r) for r in ratios if r > 0)
    if logs.estimate is None:
        return Interval(None, None, None, 0, "t of log ratios (pairs)", confidence)

    def back(value: float | None) -> float | None:
        return math.exp(value) if value is not None else None

    return Interval(back(logs.estimate), back(logs.low), back(logs.high), logs.n, "t of log ratios (pairs)", confidence)


def bracket(passed: float | None, failed: float | None, steps: int) -> Interval:
    """A searched capacity: at least the last passing rate, below the first failing one (open when never failed)."""
    return Interval(passed, passed if passed is not None else 0.0, failed, steps, "search bracket", 1.0)


def separated(a: Interval | None, b: Interval | None) -> bool:
    """True only when both intervals are known and do not overlap (an open side overlaps everything that way)."""
    return order(a, b) != 0


def order(a: Interval | None, b: Interval | None) -> int:
    """-1 when a lies wholly below b, 1 when wholly above, 0 when they cannot be told apart."""
    if a is None or b is None or a.estimate is None or b.estimate is None:
        return 0
    if a.high is not None and b.low is not None and a.high < b.low:
        return -1
    if b.high is not None and a.low is not None and b.high < a.low:
        return 1
    return 0


def quantile_with_unanswered(answered: Sequence[float], unanswered: int, cutoff: float, q: float,
                             confidence: float = CONFIDENCE) -> Interval:
    """The q-quantile over answered and unanswered requests, an unanswered one counting as slower than `cutoff`.

    A service that starves a route must not look fast because only its few answers were timed. Where the estimate
    or a bound falls among the unanswered, it is `cutoff` read as "at least": the estimate is a lower bound and the
    upper side is open.
    """
    answered = [float(v) for v in answered]
    censor = max([cutoff, *answered])
    found = quantile(answered + [censor] * int(unanswered), q, confidence)
    if unanswered <= 0 or found.estimate is None:
        return found
    method = f"order statistics, {int(unanswered)} unanswered counted as > {cutoff:g}"
    high = None if found.high is None or found.high >= censor else found.high
    # Interpolating between an answer and an unanswered request would invent a latency nobody saw.
    estimate = censor if math.ceil(q * (found.n - 1)) >= len(answered) else found.estimate
    return Interval(estimate, found.low, high, found.n, method, confidence)


def order_by_margin(a: Interval | None, b: Interval | None, margin: float, floor: float = 0.0) -> int:
    """order(a, b), kept only when the nearer bounds also differ by more than the margin (a ratio >= 1) and by
    more than the floor (an absolute difference, in the figures' unit).

    Separation alone flips between two runs when the intervals barely part; the margin keeps a verdict from
    changing with differences too small to matter, and the floor does so where a ratio grows with the host's
    speed rather than the effect (the same 1 ms added to 1 ms or to 2.5 ms)."""
    side = order(a, b)
    if side < 0 and not _exceeds(b.low, a.high, margin, floor):
        return 0
    if side > 0 and not _exceeds(a.low, b.high, margin, floor):
        return 0
    return side


def order_readings(a: float | None, b: float | None, margin: float) -> int:
    """-1 / 1 when one single reading (a memory figure, no interval) exceeds the other by more than the margin."""
    if a is None or b is None:
        return 0
    if _exceeds(b, a, margin):
        return -1
    if _exceeds(a, b, margin):
        return 1
    return 0


def _exceeds(larger: float, smaller: float, margin: float, floor: float = 0.0) -> bool:
    return larger > smaller * margin and larger - smaller > floor


def count_and_seconds(rate: Interval) -> tuple[int, float] | None:
    """The count and the seconds behind a per_second interval (n over the estimate); None when it has no rate."""
    if rate.estimate is None or rate.estimate <= 0:
        return None
    return rate.n, rate.n / rate.estimate


def spanning(centre: Interval, readings: Sequence[Interval], method: str) -> Interval:
    """centre's estimate and n, its bounds widened to hold every reading's interval too (an open side stays open).

    For a quantity read more than once while the host changed speed: each reading's interval holds it only at the
    time of that reading, so what lies between them is bounded by all of them together."""

    def widest(bounds: list[float | None], pick: Any) -> float | None:
        return None if any(b is None for b in bounds) else pick(bounds)

    every = [centre, *readings]
    return Interval(centre.estimate, widest([i.low for i in every], min), widest([i.high for i in every], max),
                    centre.n, method, centre.confidence)


def rate_share(count: int, duration_s: float, readings: Sequence[tuple[int, float]], method: str) -> Interval:
    """count / duration_s over a base rate read once or more (count, seconds each): the exact rate ratio against the
    readings pooled, its bounds spanning the ratio against each reading alone where there are several."""
    pooled = rate_ratio(count, duration_s, sum(n for n, _ in readings), sum(seconds for _, seconds in readings))
    if len(readings) < 2:
        return pooled
    return spanning(pooled, [rate_ratio(count, duration_s, n, seconds) for n, seconds in readings], method)


def dispersion(groups: Sequence[Sequence[int]]) -> tuple[float, int]:
    """Pearson's chi-square over its degrees of freedom for counts of equal windows, each group around its own mean
    (1 = as much spread as Poisson counting gives; more = the windows differ beyond it), and those degrees."""
    chi_square, degrees = 0.0, 0
    for counts in groups:
        if len(counts) < 2:
            continue
        centre = sum(counts) / len(counts)
        if centre > 0:
            chi_square += sum((c - centre) ** 2 for c in counts) / centre
        degrees += len(counts) - 1
    return (chi_square / degrees if degrees else 1.0), degrees


def windowed_rate_ratio(counts: Sequence[int], seconds_each: float, base_counts: Sequence[int],
                        base_seconds_each: float, confidence: float = CONFIDENCE) -> Interval:
    """The rate of counts over that of base_counts, each read in several equal windows taken in turn: the exact
    interval of the pooled counts, widened on the log scale by the square root of the windows' dispersion where they
    differ beyond Poisson counting (quasi-Poisson).

    For a rate whose host changes speed within minutes: windows of both kinds in turn put the drift into both pooled
    counts alike, and what the windows still differ by widens the interval rather than hiding in it."""
    pooled = rate_ratio(sum(counts), seconds_each * len(counts), sum(base_counts), base_seconds_each * len(base_counts),
                        confidence)
    phi, degrees = dispersion([counts, base_counts])
    method = f"Poisson rate ratio of {len(counts)} windows against {len(base_counts)} taken in turn"
    if phi <= 1.0 or pooled.estimate is None or pooled.estimate <= 0:
        return replace(pooled, method=f"{method}, dispersion {phi:.2f} on {degrees} df: not widened")
    # As quasi-Poisson inference does: Student's t on the dispersion's degrees rather than the normal quantile, since
    # the dispersion is itself estimated from a handful of windows.
    tail = 0.5 + confidence / 2.0
    stretch = math.sqrt(phi) * float(sps.t.ppf(tail, degrees) / sps.norm.ppf(tail))

    def widened(bound: float | None) -> float | None:
        if bound is None or bound <= 0:
            return None if bound is None else 0.0
        return math.exp(math.log(pooled.estimate) + stretch * (math.log(bound) - math.log(pooled.estimate)))

    return Interval(pooled.estimate, widened(pooled.low), widened(pooled.high), pooled.n,
                    f"{method}, widened by the square root of their dispersion {phi:.2f} and t on {degrees} df", confidence)
