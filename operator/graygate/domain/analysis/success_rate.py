"""The `requestSuccessRate` rules of the `prometheus` gate: is the canary failing users, and more than stable?

Three questions, each a `Part` of the verdict:

1. **Does the canary's share reach its pods?** With the callers' view, the canary's pods should serve about what
   the callers sent it; when they served less than a tenth of at least 20, and the callers saw most of those
   requests fail, the proxies are answering the canary's share themselves (503s when a subset selects no pods):
   that is users failing, not "no data": `Fail`. Without the callers' view (no series for the stable side
   either), the expectation comes from the weight: while the canary carries w, the stable's pods serve S and the
   canary's should serve about S·w/(100-w); less than a tenth of at least 20 (under a fair share, a chance below
   one in a million), once the step is a window old (its first scrapes still count the weight before it), is
   `Inconclusive` with harm: the stable's pods may also serve routes the release does not manage, so the weight
   is not proof, but a release that pauses on it takes the canary's traffic away first.
2. **Relative** (`maxIncreasePoints`): the callers' counts since the step began. `Fail` when the anytime-valid
   comparison of `sequential` shows the canary surely worse than stable by more than the allowance; `Pass` when
   it is within the allowance by that comparison or by the fixed-sample interval of `proportions` (several
   times sooner; see there what it costs); `Waiting` in between (more requests will tell; the step holds, and
   no count toward `inconclusiveLimit` grows). A pass also needs the last window to agree: a canary within the
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
from graygate.domain.analysis.proportions import Excess as WindowExcess
from graygate.domain.analysis.proportions import compare_error_rates
from graygate.domain.analysis.readings import Part, QueryReading, Reader, total
from graygate.domain.analysis.sequential import Counts, Excess, compare, count_text

__all__ = ["GRACE", "HARM_ERRORS", "SILENT", "judge_success_rate"]

GRACE = 20.0
"""Canary requests a fair share would have served before its silence counts against it."""

SILENT = 0.1
"""The share of its expected requests below which a canary is silent."""

HARM_ERRORS = 3
"""Failed canary requests needed before a verdict says users are failing on it."""


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
    """Users failing on the canary, as far as the counts show: more than stable plus the allowance, and at least
    `HARM_ERRORS` errors, so one unlucky request does not take a canary's traffic away."""
    baseline = stable.rate if stable is not None and stable.requests > 0 else 0.0
    if canary.errors < HARM_ERRORS or canary.rate <= baseline + allowance:
        return None
    return f"users are failing on the canary: {canary.describe()} of its requests failed {within}"


def judge_success_rate(
    rule: RequestSuccessRate,
    step: Reader,
    recent: Reader,
    readings: dict[str, QueryReading | None],
    weight: int | None,
    *,
    settled: bool = True,
) -> tuple[list[Part], str]:
    """The parts and the shown value of one `requestSuccessRate` check (see the module docstring). `readings` are
    the measurement's, by role; `step` and `recent` read the since-the-step and last-window answers; `settled`
    says the step is at least a window old, so its first scrapes no longer count the weight before it."""
    canary, stable = codes(readings["canary"]), codes(readings["stable"])
    shown = [f"callers {step.within}: {_rate('canary', canary)}, {_rate('stable', stable)}"]
    parts: list[Part] = []
    if (silent := _unanswered(readings, weight, (canary, stable), step.within, settled, shown)) is not None:
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
    # Clamped before a `Counts` is made: the window's extrapolated requests can leave fewer than its errors do.
    earlier_requests = max(0.0, step.requests - latest.requests)
    earlier = Counts(min(max(0.0, step.errors - latest.errors), earlier_requests), earlier_requests)
    allowance = (rule.max_increase_points or 0) / 100
    comparison = compare(latest, earlier, allowance=allowance, alpha=round(1 - rule.confidence, 6))
    said = f"{recent.within} {latest.describe()} failed, earlier in the step {earlier.describe()}"
    evidence = {"windowCanaryErrors": count_text(latest.errors), "windowCanaryRequests": count_text(latest.requests)}
    if comparison.excess is Excess.ABOVE:
        why = f"the canary's error rate is rising within the step: {said}, surely more than +{allowance * 100:g} pts"
        return Part(Outcome.FAIL, why, evidence, f"users are failing on the canary more and more: {said}")
    return Part(Outcome.PASS, f"not rising: {said}", evidence)


def _unanswered(
    readings: dict[str, QueryReading | None],
    weight: int | None,
    callers: tuple[Counts | None, Counts | None],
    within: str,
    settled: bool,
    shown: list[str],
) -> Part | None:
    canary_reading, stable_reading = readings["canary_served"], readings["stable_served"]
    served = total(canary_reading.series) if canary_reading is not None else math.nan
    served = 0.0 if math.isnan(served) else served
    stable_served = total(stable_reading.series) if stable_reading is not None else math.nan
    if not math.isnan(stable_served):
        shown.append(f"pods served {within}: canary {served:.0f}, stable {stable_served:.0f}")
    canary, stable = callers
    if stable is not None and stable.requests > 0:
        return _unanswered_callers(canary, served, within)
    if weight is None or not 0 < weight < 100 or not settled or math.isnan(stable_served) or stable_served <= 0:
        return None
    expected = stable_served * weight / (100 - weight)
    if expected < GRACE or served >= SILENT * expected:
        return None
    harm = (
        f"users may be failing: the canary carries {weight}% of the traffic, but its pods served {served:.0f} "
        f"requests {within} while the stable's served {stable_served:.0f} (about {expected:.0f} expected on the "
        "canary): its share may reach no pod"
    )
    evidence = {"canaryServed": f"{served:.0f}", "stableServed": f"{stable_served:.0f}", "expected": f"{expected:.0f}"}
    return Part(Outcome.INCONCLUSIVE, harm, evidence, harm)


def _unanswered_callers(canary: Counts | None, served: float, within: str) -> Part | None:
    """With the callers' view: the requests they sent the canary are the expectation, and users fail only when
    the callers saw most of them fail (a pod count that lags the callers' after a Prometheus restart, or a
    header route sending everything to stable, is no one failing)."""
    if canary is None or canary.requests < GRACE or served >= SILENT * canary.requests:
        return None
    if canary.errors < canary.requests / 2:
        return None
    harm = (
        f"users are failing: the callers sent the canary {canary.requests:.0f} requests {within} and saw "
        f"{canary.describe()} of them fail, while its pods served {served:.0f}: its share reaches no pod"
    )
    evidence = {"canaryServed": f"{served:.0f}", "callersToCanary": f"{canary.requests:.0f}"}
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
        return step.no_data("canary").part
    harm = _harm(canary, stable, allowance, step.within)
    if stable is None or stable.requests <= 0:
        # more requests cannot help while stable serves none (a `setWeight: 100` step): not a wait, a question
        why = f"the stable side recorded no requests {step.within}; nothing to compare the canary with"
        return Part(Outcome.INCONCLUSIVE, why, harm=harm)
    comparison = compare(canary, stable, allowance=allowance, alpha=round(1 - rule.confidence, 6))
    evidence = comparison.evidence()
    if comparison.excess is Excess.ABOVE:
        return Part(Outcome.FAIL, comparison.describe(), evidence, harm or comparison.describe())
    interval = compare_error_rates(
        Counts(canary.errors, canary.requests),
        Counts(stable.errors, stable.requests),
        allowance=allowance,
        confidence=rule.confidence,
    )
    evidence |= {"passBound": f"{100 * interval.upper:+.2f} pts (fixed-sample, at {rule.confidence:g})"}
    if comparison.excess is not Excess.WITHIN and interval.excess is not WindowExcess.WITHIN:
        needed = f"to pass, at most +{allowance * 100:g} pts at {rule.confidence:g} confidence"
        why = f"{comparison.describe()}; {needed}, up to {100 * interval.upper:+.2f} so far"
        return Part(Outcome.WAITING, why, evidence, harm)
    bound = f"at most {100 * interval.upper:+.2f} pts at {rule.confidence:g} confidence"
    passed = f"{comparison.describe()}; {bound}, so within the allowance"
    latest, latest_stable = codes(readings["canary_recent"]), codes(readings["stable_recent"])
    if latest is not None and (worse := _harm(latest, latest_stable, allowance, recent.within)) is not None:
        why = (
            f"{passed}; but {recent.within} {_rate('canary', latest)} against "
            f"{_rate('stable', latest_stable)}: waiting until it settles"
        )
        return Part(Outcome.WAITING, why, evidence, worse)
    return Part(Outcome.PASS, passed, evidence)


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
        "windowCanaryErrors": count_text(canary.errors),
        "windowCanaryRequests": count_text(canary.requests),
        "min": f"{floor:g}%",
        "window": recent.within,
    }
    if stable is not None:
        evidence |= {
            "windowStableErrors": count_text(stable.errors),
            "windowStableRequests": count_text(stable.requests),
        }
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
