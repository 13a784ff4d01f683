"""What Prometheus answered, and the small vocabulary the `prometheus` gate's rules share to read it.

Why apart from the rules: the success-rate, latency and custom-query rules each read answers the same way (no
series or NaN is "no data" and follows `onNoData`; several series where one was asked for is an `Error`), and
each gives its outcome as `Part`s that `prometheus.judge_prometheus` folds into one verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from graygate.api.gates.prometheus import NoDataPolicy
from graygate.api.status import Outcome

__all__ = [
    "Part",
    "Problem",
    "QueryReading",
    "Reader",
    "SeriesValue",
    "millis",
    "number",
    "outcome_of",
    "quantile_label",
    "ratio",
    "seconds",
    "total",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesValue:
    """One series of an instant vector: its labels and its value (which may be NaN)."""

    labels: tuple[tuple[str, str], ...] = ()
    value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryReading:
    """One resolved query and what Prometheus answered: the series (possibly none), or why there was no answer."""

    query: str
    series: tuple[SeriesValue, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Part:
    """One rule's outcome with its reason, the numbers behind it, and users seen failing, if any."""

    outcome: Outcome
    reason: str
    evidence: Mapping[str, str] = field(default_factory=dict)
    harm: str | None = None


class Problem(Exception):
    """A reading that cannot be judged: it carries the part to report (no data, or several series)."""

    def __init__(self, part: Part) -> None:
        super().__init__(part.reason)
        self.part = part


_NO_DATA: dict[NoDataPolicy, Outcome] = {
    "fail": Outcome.FAIL,
    "inconclusive": Outcome.INCONCLUSIVE,
    "pass": Outcome.PASS,
}


class Reader:
    """Reads answers under one gate's no-data policy, naming the span they cover in its reasons."""

    def __init__(self, on_no_data: NoDataPolicy, within: str) -> None:
        self.policy = on_no_data
        self.within = within

    def no_data(self, role: str) -> Problem:
        why = f"no data: the {role} query found no series (or NaN) {self.within} (onNoData: {self.policy})"
        return Problem(Part(_NO_DATA[self.policy], why))

    def value(self, reading: QueryReading | None, role: str) -> float:
        """The one value of a reading; raises `Problem` for no data or several series."""
        if reading is None or not reading.series or all(math.isnan(s.value) for s in reading.series):
            raise self.no_data(role)
        if len(reading.series) > 1:
            reason = f"the {role} query returned {len(reading.series)} series; aggregate it to one (sum, max, ...)"
            raise Problem(Part(Outcome.ERROR, reason))
        return reading.series[0].value

    @staticmethod
    def by_label(reading: QueryReading | None, label: str) -> dict[str, float] | None:
        """The reading's values by one label (NaN series left out); None when it found nothing."""
        if reading is None:
            return None
        counted = {dict(s.labels).get(label, ""): s.value for s in reading.series if not math.isnan(s.value)}
        return counted or None


def total(series: Sequence[SeriesValue]) -> float:
    """The sum of a reading's series, NaN ones left out; NaN when nothing is left."""
    values = [one.value for one in series if not math.isnan(one.value)]
    return math.fsum(values) if values else math.nan


def seconds(duration: str) -> float:
    """A PromQL duration as `promql_duration` writes it (`95s`, `1500ms`) in seconds; 0 for an empty one."""
    if duration.endswith("ms"):
        return float(duration[:-2]) / 1000
    if duration.endswith("s"):
        return float(duration[:-1])
    return 0.0


def outcome_of(ok: bool) -> Outcome:
    """Pass when `ok`, else Fail."""
    return Outcome.PASS if ok else Outcome.FAIL


def number(value: float) -> str:
    """A value as people read it: 4 significant digits."""
    return f"{value:.4g}"


def millis(value: float) -> str:
    """A latency in milliseconds: `412ms`, `4.5ms`."""
    return f"{value:.0f}ms" if value >= 10 else f"{value:.2g}ms"


def quantile_label(quantile: float) -> str:
    """`p99` for 0.99."""
    return f"p{quantile * 100:g}"


def ratio(what: str, canary: float, stable: float, limit: float, show: Callable[[float], str]) -> Part:
    """The canary's value against `limit` times the stable's: Pass, Fail, or Inconclusive when no ratio can be
    taken (a stable value of zero or less)."""
    if canary <= 0 and stable >= 0:
        return Part(Outcome.PASS, f"{what} {show(canary)} is not above stable's {show(stable)}")
    if stable <= 0:
        return Part(Outcome.INCONCLUSIVE, f"stable's value is {show(stable)}; no ratio can be taken")
    times = canary / stable
    ok = times <= limit
    relation = "within" if ok else "over"
    return Part(outcome_of(ok), f"{what} {show(canary)} is {times:.2f}x stable's {show(stable)}, {relation} {limit:g}x")
