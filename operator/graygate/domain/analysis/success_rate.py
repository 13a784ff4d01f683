"""The `requestSuccessRate` rules of the `prometheus` gate: is the canary failing users, and more than stable?

Three questions, each a `Part` of the verdict:

1. **Does the canary's share reach its pods?** While the canary carries weight w, the stable version's pods serve
   S requests and the canary's should serve about S·w/(100-w). When they served less than a tenth of that, and
   at least 20 were expected (a grace of a few seconds at any real rate; under a fair share that few is a
   chance below one in a million), the canary's share is being answered by something else: the proxies' 503s
   when a subset selects no pods, or requests lost on the way. That is users failing, not "no data": `Fail`.
2. **Relative** (`maxIncreasePoints`): the callers' counts since the step began, through the anytime-valid
   comparison of `sequential`: `Fail` when the canary is surely worse than stable by more than the allowance,
   `Pass` when it surely is not, `Waiting` in between (more requests will tell; the step holds, and no count
   toward `inconclusiveLimit` grows). A pass also needs the last window to agree: a canary within the
   allowance over the step but above it over the last window is getting worse, and waits.
3. **Rising** (`failOnRise`): the canary's last window against the rest of its step, with the same bounds:
   `Fail` when the last window is surely worse by more than the allowance.
4. **Absolute** (`min`): the canary's success rate over the last window (at least `minRequests`), reported next
   to the stable's. With `unlessStableBelow`, a canary below `min` while stable is below it too is
   `Inconclusive`: the fault is shared, not the canary's.

Any part that sees the canary's callers failing more than stable plus the allowance sets `harm`, so a release
that pauses undecided takes the canary's traffic away first.
"""

from __future__ import annotations

import math

from graygate.api.gates.prometheus import RequestSuccessRate
from graygate.api.status import Outcome
from graygate.domain.analysis.readings import Part, QueryReading, Reader, total
from graygate.domain.analysis.sequential import Counts, Excess, compare

__all__ = ["GRACE", "SILENT", "judge_success_rate"]

GRACE = 20.0
"""Canary requests a fair share would have served before its silence counts against it."""

SILENT = 0.1
"""The share of its expected requests below which a canary is silent."""


def codes(reading: QueryReading | None) -> Counts | None:
    """(5xx responses, all responses) from a `sum by (response_code)` reading; None when it found nothing."""
    by_code = Reader.by_label(reading, "response_code")
    if by_code is None:
        return None
    counted = {code: max(0.0, value) for code, value in by_code.items()}
    errors = math.fsum(value for code, value in counted.items() if code.startswith("5"))
    return Counts(errors, math.fsum(counted.values()))


def _rate(role: str, counts: Counts | None) -> str:
    if counts is None or counts.requests <= 0:
        return f"{role} no requests"
    return f"{role} {100 * (1 - counts.rate):.2f}% success ({counts.describe()} failed)"


def _harm(canary: Counts, stable: Counts | None, allowance: float, within: str) -> str | None:
    baseline = stable.rate if stable is not None and stable.requests > 0 else 0.0
    if canary.errors <= 0 or canary.rate <= baseline + allowance:
        return None
    return f"users are failing on the canary: {canary.describe()} of its requests failed {within}"


def judge_success_rate(
    rule: RequestSuccessRate, step: Reader, recent: Reader, readings: dict[str, QueryReading | None], weight: int | None
) -> tuple[list[Part], str]:
    """The parts and the shown value of one `requestSuccessRate` check (see the module docstring). `readings` are
    the measurement's, by role; `step` and `recent` read the since-the-step and last-window answers."""
    canary, stable = codes(readings["canary"]), codes(readings["stable"])
    shown = [f"callers {step.within}: {_rate('canary', canary)}, {_rate('stable', stable)}"]
    parts: list[Part] = []
    if (silent := _unanswered(readings, weight, canary, step.within, shown)) is not None:
        parts.append(silent)
    if rule.max_increase_points is not None:
        parts.append(_relative(rule, canary, stable, readings, step, recent))
    if rule.fail_on_rise and canary is not None:
        parts.append(_rising(rule, canary, codes(readings["canary_recent"]), recent))
    if rule.min is not None:
        parts.append(_absolute(rule, readings, recent, shown))
    return parts, "; ".join(shown)


def _rising(rule: RequestSuccessRate, step: Counts, latest: Counts | None, recent: Reader) -> Part:
    """The last window against the step before it. The two counts come from different queries (the window's
    `increase()` extrapolates), so the earlier part is clamped to what the step's own counts leave."""
    if latest is None or latest.requests <= 0:
        return Part(Outcome.PASS, f"no canary requests {recent.within}: nothing rising")
    latest = Counts(min(latest.errors, step.errors), min(latest.requests, step.requests))
    earlier = Counts(max(0.0, step.errors - latest.errors), max(0.0, step.requests - latest.requests))
    earlier = Counts(min(earlier.errors, earlier.requests), earlier.requests)
    allowance = (rule.max_increase_points or 0) / 100
    comparison = compare(latest, earlier, allowance=allowance, alpha=round(1 - rule.confidence, 6))
    said = f"{recent.within} {latest.describe()} failed, earlier in the step {earlier.describe()}"
    evidence = {"recentErrors": f"{latest.errors:.0f}", "recentRequests": f"{latest.requests:.0f}"}
    if comparison.excess is Excess.ABOVE:
        why = f"the canary's error rate is rising within the step: {said}, surely more than +{allowance * 100:g} pts"
        return Part(Outcome.FAIL, why, evidence, f"users are failing on the canary more and more: {said}")
    return Part(Outcome.PASS, f"not rising: {said}", evidence)


def _unanswered(
    readings: dict[str, QueryReading | None], weight: int | None, canary: Counts | None, within: str, shown: list[str]
) -> Part | None:
    stable_reading, canary_reading = readings["stable_served"], readings["canary_served"]
    if weight is None or not 0 < weight < 100 or stable_reading is None:
        return None
    stable_served = total(stable_reading.series)
    served = total(canary_reading.series) if canary_reading is not None else math.nan
    served = 0.0 if math.isnan(served) else served
    if math.isnan(stable_served) or stable_served <= 0:
        return None
    shown.append(f"pods served {within}: canary {served:.0f}, stable {stable_served:.0f}")
    expected = stable_served * weight / (100 - weight)
    if expected < GRACE or served >= SILENT * expected:
        return None
    callers = ""
    if canary is not None and canary.requests > 0:
        callers = f"; the callers saw {canary.describe()} of the requests sent to it fail"
    harm = (
        f"users are failing: the canary carries {weight}% of the traffic, but its pods served {served:.0f} requests "
        f"{within} while the stable's served {stable_served:.0f} (about {expected:.0f} expected on the canary): "
        f"its share reaches no pod{callers}"
    )
    evidence = {"canaryServed": f"{served:.0f}", "stableServed": f"{stable_served:.0f}", "expected": f"{expected:.0f}"}
    return Part(Outcome.FAIL, harm, evidence, harm)


def _relative(
    rule: RequestSuccessRate,
    canary: Counts | None,
    stable: Counts | None,
    readings: dict[str, QueryReading | None],
    step: Reader,
    recent: Reader,
) -> Part:
    allowance = (rule.max_increase_points or 0) / 100
    if canary is None or canary.requests <= 0:
        return Part(Outcome.WAITING, f"the canary's callers recorded no requests {step.within} yet")
    harm = _harm(canary, stable, allowance, step.within)
    if stable is None or stable.requests <= 0:
        why = f"the stable side recorded no requests {step.within}; nothing to compare the canary with"
        return Part(Outcome.WAITING, why, harm=harm)
    comparison = compare(canary, stable, allowance=allowance, alpha=round(1 - rule.confidence, 6))
    evidence = comparison.evidence()
    if comparison.excess is Excess.ABOVE:
        return Part(Outcome.FAIL, comparison.describe(), evidence, harm or comparison.describe())
    if comparison.excess is Excess.UNSURE:
        return Part(Outcome.WAITING, comparison.describe(), evidence, harm)
    latest, latest_stable = codes(readings["canary_recent"]), codes(readings["stable_recent"])
    if latest is not None and (worse := _harm(latest, latest_stable, allowance, recent.within)) is not None:
        why = (
            f"{comparison.describe()}; but {recent.within} {_rate('canary', latest)} against "
            f"{_rate('stable', latest_stable)}: waiting until it settles"
        )
        return Part(Outcome.WAITING, why, evidence, worse)
    return Part(Outcome.PASS, comparison.describe(), evidence)


def _absolute(
    rule: RequestSuccessRate, readings: dict[str, QueryReading | None], recent: Reader, shown: list[str]
) -> Part:
    floor = rule.min or 0.0
    canary, stable = codes(readings["canary_recent"]), codes(readings["stable_recent"])
    shown.append(f"{recent.within}: {_rate('canary', canary)}, {_rate('stable', stable)}")
    if canary is None:
        return recent.no_data("canary").part
    if canary.requests < rule.min_requests:
        served = f"the canary served {canary.requests:.0f} requests {recent.within}"
        why = f"{served}, fewer than minRequests {rule.min_requests}"
        return Part(Outcome.INCONCLUSIVE, why)
    success = 100 * (1 - canary.rate)
    beside = ""
    stable_success: float | None = None
    if stable is not None and stable.requests > 0:
        stable_success = 100 * (1 - stable.rate)
        beside = f" (stable {stable_success:.2f}% {recent.within})"
    evidence = {
        "canaryErrors": f"{canary.errors:.0f}",
        "canaryRequests": f"{canary.requests:.0f}",
        "min": f"{floor:g}%",
        "window": recent.within,
    }
    if stable is not None:
        evidence |= {"stableErrors": f"{stable.errors:.0f}", "stableRequests": f"{stable.requests:.0f}"}
    if success >= floor:
        return Part(Outcome.PASS, f"canary success rate {success:.2f}% is at least min {floor:g}%{beside}", evidence)
    shared = stable_success is not None and stable_success < floor
    if shared and rule.unless_stable_below and stable is not None and stable.requests >= rule.min_requests:
        why = (
            f"canary success rate {success:.2f}% is below min {floor:g}%, but so is the stable's{beside}: "
            "a fault both share, not the canary's (unlessStableBelow)"
        )
        return Part(Outcome.INCONCLUSIVE, why, evidence)
    note = ", no better" if shared else ""
    why = f"canary success rate {success:.2f}% is below min {floor:g}%{beside}{note}"
    harm = f"users are failing on the canary: {canary.describe()} of its requests failed {recent.within}"
    return Part(Outcome.FAIL, why, evidence, harm)
