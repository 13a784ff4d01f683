"""Analyses that cannot decide, rule 6d: an `Error` (a gate that could not measure) holds the step and counts toward
`consecutiveErrorLimit`, then `errorPolicy` applies; inconclusive analyses pause for a human, holding the weight
only when nothing shows users failing on the canary; and resuming or promoting such a pause."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import at, judged, observe, probe, spec, status

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus, GateState, Outcome, PauseReason, Phase
from graygate.api.conditions import STALLED, find_condition
from graygate.api.header_routes import HeaderRouteMatch
from graygate.domain.analysis.measurements import Measurement
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Advance, Decision, Hold, Pause, Promote, Reason, Resume, Rollback

P, V = Phase, Outcome
ERR = judged("latency", V.ERROR, "Unreachable: connection refused")
OK = (probe("health"), probe("latency"))


def release(limit: int = 2, policy: str = "hold", **analysis: Any) -> CanaryReleaseSpec:
    base = spec().analysis.model_dump(by_alias=True, mode="json")
    return spec(analysis={**base, "consecutiveErrorLimit": limit, "errorPolicy": policy, **analysis})


def stalled(current: CanaryReleaseStatus) -> tuple[str, str, str]:
    condition = find_condition(current.conditions, STALLED)
    assert condition is not None
    return condition.status.value, condition.reason, condition.message


def run(rel: CanaryReleaseSpec, current: CanaryReleaseStatus, analyses: list[tuple[Measurement, ...]]) -> Decision:
    decision: Decision | None = None
    for n, analysis in enumerate(analyses, start=1):
        decision = decide(rel, current, observe(current.canary_weight, analysis=analysis), at(30 * n))
        current = decision.status
    assert decision is not None
    return decision


# ---- an Error holds the step; consecutiveErrorLimit, then errorPolicy ----


@pytest.mark.parametrize(
    ("policy", "errors", "kind", "reason", "phase", "weight", "stall"),
    [
        ("hold", 1, Hold, Reason.WAITING, P.PROGRESSING, 10, "False"),  # below the limit: the step holds
        ("hold", 2, Hold, Reason.CANNOT_MEASURE, P.PROGRESSING, 10, "True"),
        ("hold", 5, Hold, Reason.CANNOT_MEASURE, P.PROGRESSING, 10, "True"),  # inconclusiveLimit 2 never pauses
        ("rollback", 1, Hold, Reason.WAITING, P.PROGRESSING, 10, "False"),
        ("rollback", 2, Rollback, Reason.ROLLED_BACK, P.FAILED, 0, "True"),
    ],
)  # fmt: skip
def test_errors_hold_the_step_then_the_error_policy_applies(
    policy: str, errors: int, kind: type[Decision], reason: Reason, phase: Phase, weight: int, stall: str
) -> None:
    decision = run(release(2, policy), status(canary_weight=10), [(probe("health"), ERR)] * errors)
    assert type(decision) is kind, decision.message
    assert (decision.reason, decision.status.phase, decision.status.canary_weight) == (reason, phase, weight)
    assert decision.status.inconclusive_count == 0
    assert stalled(decision.status)[0] == stall
    if reason is Reason.CANNOT_MEASURE:
        assert decision.target_weight is None
        assert decision.message == (
            "step 1/4: 10% to the canary; gate latency cannot measure: Unreachable: connection refused; "
            "consecutiveErrorLimit 2 reached: holding 10% until an analysis measures again"
        )
        assert stalled(decision.status) == ("True", "CannotMeasure", decision.message.split("; ", 1)[1])
    if kind is Rollback:
        assert decision.message.startswith(
            "the measurements failed in 2 analyses in a row (consecutiveErrorLimit 2, errorPolicy rollback); "
            "last: gate latency could not measure: Unreachable: connection refused"
        )
        assert decision.restore_routes


def test_the_cannot_measure_hold_is_heard_once_and_lasts_between_analyses() -> None:
    rel = release(2)
    first = run(rel, status(canary_weight=10), [(probe("health"), ERR)] * 2)
    assert first.event == "Warning"
    again = decide(rel, first.status, observe(10, analysis=(probe("health"), ERR)), at(90))
    between = decide(rel, again.status, observe(10), at(100))
    for decision in (again, between):
        assert (type(decision), decision.reason, decision.event) == (Hold, Reason.CANNOT_MEASURE, None)
        assert decision.status.message == first.status.message
        assert stalled(decision.status)[0] == "True"


def test_when_data_returns_the_release_goes_on_by_itself() -> None:
    rel = release(2)
    held = run(rel, status(canary_weight=10), [(probe("health"), ERR)] * 3)
    assert held.reason is Reason.CANNOT_MEASURE
    back = decide(rel, held.status, observe(10, analysis=OK), at(120))
    assert type(back) is Advance, back.message  # the step's normal rule: one passing analysis at its weight
    assert back.status.consecutive_errors == 0
    assert stalled(back.status)[0] == "False"


def test_errors_do_not_break_an_inconclusive_streak_and_are_counted_in_the_same_analysis() -> None:
    unsure = (judged("health", V.INCONCLUSIVE, "too few requests"), probe("latency"))
    both = (judged("health", V.INCONCLUSIVE, "too few requests"), ERR)
    rel = release(5)  # inconclusiveLimit 2
    decision = run(rel, status(canary_weight=10), [unsure, (probe("health"), ERR), both])
    assert type(decision) is Pause, decision.message
    assert (decision.status.inconclusive_count, decision.status.consecutive_errors) == (2, 2)


def test_a_paused_release_stays_paused_while_it_cannot_measure_but_says_so() -> None:
    before = status(P.PAUSED, canary_weight=10, pause_reason=PauseReason.MANUAL, message="paused by hand")
    decision = run(release(2), before, [(probe("health"), ERR)] * 2)
    assert (type(decision), decision.status.phase, decision.status.message) == (Hold, P.PAUSED, "paused by hand")
    assert stalled(decision.status)[:2] == ("True", "CannotMeasure")


# ---- inconclusiveLimit: pause, at the weight only when nobody was seen failing ----

HARM = "41 of 300 requests to the canary failed (5xx)"


@pytest.mark.parametrize(
    ("analysis", "target", "why", "words"),
    [
        (
            (judged("health", V.INCONCLUSIVE, "too few requests"), probe("latency")),
            None,
            PauseReason.INCONCLUSIVE,
            "; holding 10%: nothing shows users failing; resume to go on",
        ),
        (
            (judged("health", V.INCONCLUSIVE, "too few requests", harm=HARM), probe("latency")),
            0,
            PauseReason.INCONCLUSIVE_WITHDRAWN,
            f"; took the canary to 0% before pausing: health: {HARM}; resume to start the step again at 10%",
        ),
        # harm on another verdict of the same analysis counts as well
        (
            (judged("health", V.INCONCLUSIVE, "too few requests"), judged("latency", V.WAITING, "slow", harm=HARM)),
            0,
            PauseReason.INCONCLUSIVE_WITHDRAWN,
            f"took the canary to 0% before pausing: latency: {HARM}",
        ),
    ],
    ids=["no-harm-holds", "harm-withdraws", "harm-on-another-gate"],
)
def test_an_inconclusive_pause_holds_the_weight_only_when_nobody_is_seen_failing(
    analysis: tuple[Measurement, ...], target: int | None, why: PauseReason, words: str
) -> None:
    decision = decide(spec(), status(canary_weight=10, inconclusive_count=1), observe(10, analysis=analysis), at(30))
    assert type(decision) is Pause, decision.message
    assert (decision.reason, decision.status.pause_reason, decision.target_weight) == (Reason.INCONCLUSIVE, why, target)
    assert decision.status.canary_weight == (10 if target is None else target)
    assert decision.event == "Warning"
    assert words in decision.status.message
    assert decision.message.startswith(decision.status.message)  # the Event says the same, and maybe more
    assert stalled(decision.status)[:2] == ("True", why.value)
    assert decision.status.history[-1].weight == decision.status.canary_weight


def test_a_withdrawn_pause_keeps_the_canary_at_zero_and_its_header_routes_off() -> None:
    colour = {"match": [{"headers": {"x-canary": {"exact": "always"}}}]}
    coloured = spec(steps=[{"setHeaderRoute": colour}, {"setWeight": 10}, {"pause": {}}])
    harmful = (judged("health", V.INCONCLUSIVE, "too few requests", harm=HARM), probe("latency"))
    before = status(canary_weight=10, current_step_index=1, inconclusive_count=1)
    paused = decide(coloured, before, observe(10, analysis=harmful), at(30))
    assert (type(paused), paused.target_weight, paused.header_routes) == (Pause, 0, ())
    later = decide(coloured, paused.status, observe(0), at(40))
    assert (type(later), later.target_weight) == (Hold, None)
    resumed = decide(coloured, paused.status, observe(0, command="resume"), at(50))
    assert type(resumed) is Resume
    wanted = (HeaderRouteMatch.model_validate({"headers": {"x-canary": {"exact": "always"}}}),)
    assert (resumed.target_weight, resumed.header_routes) == (10, wanted)


WITHDRAWN = status(
    P.PAUSED,
    canary_weight=0,
    current_step_index=2,
    pause_reason=PauseReason.INCONCLUSIVE_WITHDRAWN,
    inconclusive_count=2,
    gates=[GateState(name="health", consecutive_successes=1, failures=2)],
)


@pytest.mark.parametrize(
    ("command", "frozen", "kind", "phase", "target", "step"),
    [
        ("resume", False, Resume, P.PROGRESSING, 50, 2),  # the step starts again from its weight
        ("resume", True, Hold, P.PAUSED, None, 2),  # frozen: giving the traffic back is a raise
        ("promote", False, Promote, P.PAUSED, 50, 3),  # the next step (an indefinite pause at 50 %)
        ("abort", False, None, P.ABORTED, 0, 2),
    ],
)  # fmt: skip
def test_commands_on_a_withdrawn_pause(
    command: str, frozen: bool, kind: type[Decision] | None, phase: Phase, target: int | None, step: int
) -> None:
    decision = decide(spec(), WITHDRAWN, observe(0, command=command, frozen=frozen), at(60))
    if kind is not None:
        assert type(decision) is kind, decision.message
    assert (decision.status.phase, decision.target_weight, decision.status.current_step_index) == (phase, target, step)
    if kind is Resume:
        assert decision.status.step_started_at == at(60)
        assert (decision.status.pause_reason, decision.status.inconclusive_count) == (None, 0)
        assert decision.message == "resumed: step 3/4: 50% to the canary, started again"
        assert decision.status.canary_weight == 50
        # a pass streak from before the pause does not count toward the step started again; failures stay counted
        (gate,) = decision.status.gates
        assert (gate.consecutive_successes, gate.failures) == (0, 2)


# ---- a failure with harm rolls back as any failure does ----


@pytest.mark.parametrize(
    ("analysis", "failures", "kind"),
    [
        ((judged("health", V.FAIL, "503", harm=HARM), probe("latency")), 0, Rollback),  # critical
        ((probe("health"), judged("latency", V.FAIL, "slow", harm=HARM)), 1, Rollback),  # beyond failureLimit 1
        ((probe("health"), judged("latency", V.FAIL, "slow", harm=HARM)), 0, Hold),  # within it: counted
    ],
    ids=["critical", "beyond-failure-limit", "within-failure-limit"],
)
def test_a_failure_with_harm_is_judged_as_any_failure(
    analysis: tuple[Measurement, ...], failures: int, kind: type[Decision]
) -> None:
    before = status(canary_weight=10, failure_count=failures, inconclusive_count=1)
    decision = decide(spec(), before, observe(10, analysis=analysis), at(30))
    assert type(decision) is kind, decision.message
    if kind is Rollback:
        assert (decision.status.phase, decision.target_weight, decision.restore_routes) == (P.FAILED, 0, True)


def test_the_defaults_follow_argo_rollouts() -> None:
    analysis = spec().analysis
    assert (analysis.consecutive_error_limit, analysis.error_policy) == (4, "hold")
