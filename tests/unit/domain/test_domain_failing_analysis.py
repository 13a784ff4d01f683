"""A failing analysis, rule by rule: it beats a command typed in the same tick (and a command that it does not beat
starts from the status it recorded), and every failed gate is heard with its evidence, once per failure streak as a
`GateFailed` Warning Event, or in the Event of the rollback or pause it leads to."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import BASE, T0, at, judged, observe, passing, probe, spec, status

from graygate.api import CanaryReleaseSpec, Outcome, Phase
from graygate.api.conditions import GATES_PASSING, find_condition
from graygate.api.status import ConditionStatus
from graygate.domain.analysis.measurements import Measurement, WorkloadReading
from graygate.domain.analysis.prometheus import PrometheusMeasurement, QueryReading, SeriesValue
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Abort, Decision, Hold, Pause, Promote, Reason, Resume, Rollback

P = Phase
CRITICAL_FAILS = (probe("health", 503), probe("latency"))
SLOW = (probe("health"), probe("latency", latency_ms=999))


# ---- 4. a command never beats a rollback decided by the same tick's analysis ----


@pytest.mark.parametrize(
    ("phase", "command", "failures", "analysis", "kind", "reason", "applied", "counted", "warned"),
    [
        (P.PROGRESSING, "promote", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False, 0, 0),
        (P.PROGRESSING, "promote-full", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False, 0, 0),
        (P.PROGRESSING, "pause", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False, 0, 0),
        (P.PAUSED, "resume", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False, 0, 0),
        (P.PAUSED, "promote", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False, 0, 0),
        (P.PROGRESSING, "promote", 1, SLOW, Rollback, Reason.ROLLED_BACK, False, 2, 0),  # beyond failureLimit 1
        (P.PAUSED, "resume", 1, SLOW, Rollback, Reason.ROLLED_BACK, False, 2, 0),
        (P.PROGRESSING, "abort", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False, 0, 0),  # reverts either way
        # what does not end the release leaves the command to do its work, from the status the analysis recorded:
        # the failure counts (one more and the next analysis rolls back) and is heard
        (P.PROGRESSING, "promote", 0, SLOW, Promote, Reason.PROMOTED, True, 1, 1),  # within failureLimit
        (P.PAUSED, "resume", 0, SLOW, Resume, Reason.RESUMED, True, 1, 1),
        (P.PROGRESSING, "abort", 0, SLOW, Abort, Reason.ABORTED, True, 1, 1),
        (P.PROGRESSING, "promote", 0, passing(), Promote, Reason.PROMOTED, True, 0, 0),
        (P.PAUSED, "resume", 0, None, Resume, Reason.RESUMED, True, 0, 0),  # no analysis this tick
        (P.PROGRESSING, "abort", 0, passing(), Abort, Reason.ABORTED, True, 0, 0),
    ],
)  # fmt: skip
def test_a_rollback_from_the_same_tick_beats_a_command(
    phase: Phase,
    command: str,
    failures: int,
    analysis: tuple[Measurement, ...] | None,
    kind: type[Decision],
    reason: Reason,
    applied: bool,
    counted: int,
    warned: int,
) -> None:
    before = status(
        phase, canary_weight=10, failure_count=failures, pause_reason="Manual" if phase is P.PAUSED else None
    )
    decision = decide(spec(), before, observe(10, analysis=analysis, command=command), at(30))
    assert type(decision) is kind, decision.message
    assert decision.reason is reason
    record = decision.status.last_command
    assert record is not None
    assert (record.value, record.result) == (command, "Applied" if applied else "Ignored")
    assert decision.status.failure_count == counted
    assert [r.gate for r in decision.status.recent_results] == [m.gate for m in analysis or ()]
    assert [n.reason for n in decision.notes] == [Reason.GATE_FAILED] * warned
    if kind is Rollback:
        assert decision.status.phase is P.FAILED
        assert (decision.target_weight, decision.restore_routes, decision.status.next_check_at) == (0, True, None)
        assert "not applied: this tick's analysis rolled the release back first" in record.message
        assert decision.status.message in record.message
        assert decision.message.startswith(decision.status.message + ". Evidence: gate ")
    if analysis is not None and kind is not Rollback:
        assert decision.status.last_analysis_at == at(30)
        gates = find_condition(decision.status.conditions, GATES_PASSING)
        assert gates is not None
        assert gates.status is (ConditionStatus.FALSE if analysis is SLOW else ConditionStatus.TRUE)


def test_the_command_ignored_for_a_rollback_is_not_applied_later() -> None:
    seen = observe(10, analysis=CRITICAL_FAILS, command="promote")
    failed = decide(spec(), status(canary_weight=10), seen, at(30))
    after = decide(spec(), failed.status, observe(0, command="promote"), at(31))
    assert type(after) is Hold
    assert after.status.phase is P.FAILED
    assert after.target_weight is None


# ---- a failed gate is heard: GateFailed once per failure streak, or in its rollback's or pause's Event ----

QUERY = 'sum(rate(http_errors_total{namespace="shop",pod=~"checkout-canary-.*"}[30s]))'


def errors_gate(critical: bool = False, threshold: int = 1, expr: str = "sum(errors)") -> dict[str, Any]:
    query = {"expr": expr, "max": 1}
    return {"name": "errors", "critical": critical, "failureThreshold": threshold, "prometheus": {"query": query}}


def with_errors_gate(failure_limit: int = 1, **gate: Any) -> CanaryReleaseSpec:
    gates = [*BASE["analysis"]["gates"], errors_gate(**gate)]
    return spec(analysis={**BASE["analysis"], "failureLimit": failure_limit, "gates": gates})


def errors(value: float, query: str = QUERY) -> PrometheusMeasurement:
    return PrometheusMeasurement(
        gate="errors",
        observed_at=T0,
        window="30s",
        canary=QueryReading(query=query, series=(SeriesValue(value=value),)),
    )


def gate_failed(decision: Decision) -> list[str]:
    """The notes of the GateFailed Events `decision` records."""
    return [note.message for note in decision.notes if note.reason is Reason.GATE_FAILED]


def failing(decision: Decision) -> list[str]:
    """The notes of the Events saying a gate is failing: GateFailed, and GateWaiting below its failureThreshold."""
    return [note.message for note in decision.notes if note.reason in (Reason.GATE_FAILED, Reason.GATE_WAITING)]


@pytest.mark.parametrize(
    ("gate", "failures", "kind", "verdict", "words"),
    [
        ({}, 0, Hold, Outcome.FAIL, "1 failed check(s) so far, failureLimit 1"),
        ({"critical": True, "threshold": 3}, 0, Hold, Outcome.WAITING, "(failure 1 of 3 in a row)"),
        ({"critical": True}, 0, Rollback, Outcome.FAIL, "critical gate errors failed: 5 is over max 1. Evidence: "),
        ({}, 1, Rollback, Outcome.FAIL, "2 failed checks, more than failureLimit 1"),
    ],
    ids=["non-critical-within-the-limit", "below-failure-threshold", "critical", "beyond-the-limit"],
)
def test_a_failed_measurement_is_heard_once_with_its_evidence(
    gate: dict[str, Any], failures: int, kind: type[Decision], verdict: Outcome, words: str
) -> None:
    seen = observe(10, analysis=(*passing(), errors(5)))
    decision = decide(with_errors_gate(**gate), status(canary_weight=10, failure_count=failures), seen, at(30))
    assert type(decision) is kind, decision.message
    assert decision.status.recent_results[-1].outcome is verdict
    warnings = failing(decision)
    if kind is Rollback:
        # the rollback's own Warning Event carries the evidence; a GateFailed beside it would say it twice
        assert warnings == []
        assert decision.event == "Warning"
        heard = decision.message
        assert QUERY not in decision.status.message  # the status keeps the short message
    else:
        [note] = decision.notes
        heard = warnings[0]
        if verdict is Outcome.FAIL:
            assert note.reason is Reason.GATE_FAILED
            assert heard.startswith("gate errors failed: 5 is over max 1")
        else:
            # below its failureThreshold nothing has failed yet: the Event must not say "failed"
            assert note.reason is Reason.GATE_WAITING
            assert heard.startswith("gate errors is failing, Waiting: 5 is over max 1 (failure 1 of 3 in a row)")
            assert "failed" not in heard
    assert words in heard
    assert heard.count("5 is over max 1") == 1
    assert "value: canary 5" in heard
    assert "threshold: <= 1" in heard
    assert heard.count(f"query: canary: {QUERY}") == 1


F, OK = (*passing(), errors(5)), (*passing(), errors(0))
UNAVAILABLE = WorkloadReading(kind="Deployment", name="checkout-canary", available=False)


@pytest.mark.parametrize(
    ("release", "phase", "analyses", "workload", "warned"),
    [
        # a non-critical gate failing under failureLimit: one Warning, not one per analysis
        (with_errors_gate(failure_limit=10), P.PROGRESSING, [F, F, F, F, F], None, [1, 0, 0, 0, 0]),
        (with_errors_gate(failure_limit=10), P.PROGRESSING, [F, F, F, F, F, OK, F], None, [1, 0, 0, 0, 0, 0, 1]),
        # a gate failing through a long manual pause
        (with_errors_gate(failure_limit=10), P.PAUSED, [F, F, F, F, F, F], None, [1, 0, 0, 0, 0, 0]),
        # a critical gate that fails, fails and passes: once per streak, never reaching its threshold of 3
        (with_errors_gate(critical=True, threshold=3), P.PROGRESSING, [F, F, OK, F, F, OK], None, [1, 0, 0, 1, 0, 0]),
        # the canary workload's pseudo-gate, which keeps no counters
        (with_errors_gate(failure_limit=10), P.PAUSED, [OK, OK, OK], UNAVAILABLE, [1, 0, 0]),
        # a non-critical gate with a threshold: GateWaiting as its streak starts, GateFailed when it first fails
        (with_errors_gate(failure_limit=10, threshold=3), P.PROGRESSING, [F, F, F, F], None, [1, 0, 1, 0]),
    ],
    ids=[
        "under-failure-limit",
        "fails-again-after-a-pass",
        "manual-pause",
        "flapping-critical",
        "workload",
        "threshold-reached",
    ],
)
def test_gate_failed_is_recorded_when_a_failure_streak_starts(
    release: CanaryReleaseSpec,
    phase: Phase,
    analyses: list[tuple[Measurement, ...]],
    workload: WorkloadReading | None,
    warned: list[int],
) -> None:
    current = status(phase, canary_weight=10, pause_reason="Manual" if phase is P.PAUSED else None)
    heard = []
    for n, analysis in enumerate(analyses):
        decision = decide(release, current, observe(10, analysis=analysis, workload=workload), at(30 * (n + 1)))
        assert type(decision) is not Rollback, decision.message
        heard.append(len(failing(decision)))
        current = decision.status
    assert heard == warned
    # the status keeps every result, reported or not
    failed = [r for r in current.recent_results if r.outcome in (Outcome.FAIL, Outcome.WAITING)]
    assert failed


def test_a_gate_reaching_its_failure_threshold_is_reported_as_failed() -> None:
    current = status(canary_weight=10)
    reasons = []
    for n in range(3):
        decision = decide(
            with_errors_gate(failure_limit=10, threshold=3), current, observe(10, analysis=F), at(30 * (n + 1))
        )
        reasons.append(
            [note.reason for note in decision.notes if note.reason in (Reason.GATE_FAILED, Reason.GATE_WAITING)]
        )
        current = decision.status
    assert reasons == [[Reason.GATE_WAITING], [], [Reason.GATE_FAILED]]


def test_no_gate_failed_between_analyses() -> None:
    failing_gate = with_errors_gate(critical=True, threshold=3)
    first = decide(failing_gate, status(canary_weight=10), observe(10, analysis=F), at(30))
    assert len(failing(first)) == 1
    between = decide(failing_gate, first.status, observe(10), at(40))  # the next analysis is due at 60 s
    assert type(between) is Hold
    assert between.notes == ()


def test_a_pause_names_the_failed_gate_in_its_own_event() -> None:
    # latency fails (counted, within failureLimit 1) while health is inconclusive: the second inconclusive
    # analysis in a row pauses the release, and that pause's Event carries the failure
    unsure = judged("health", Outcome.INCONCLUSIVE, "too few requests to tell")
    before = status(canary_weight=10, inconclusive_count=1)
    decision = decide(spec(), before, observe(10, analysis=(unsure, SLOW[1])), at(30))
    assert type(decision) is Pause
    assert gate_failed(decision) == []
    # the pause's message already gives latency's reason, so the evidence does not repeat it
    assert decision.message == f"{decision.status.message}. Evidence: gate latency; value: 999ms; threshold: <= 300ms"


UNREACHABLE = PrometheusMeasurement(gate="errors", observed_at=T0, error="no Prometheus address")


@pytest.mark.parametrize(
    ("release", "analysis"),
    [(spec(), passing()), (with_errors_gate(), (*passing(), UNREACHABLE)), (spec(), None)],
    ids=["passing", "unmeasurable", "no-analysis"],
)
def test_no_gate_failed_warning_without_a_failed_measurement(
    release: CanaryReleaseSpec, analysis: tuple[Measurement, ...] | None
) -> None:
    decision = decide(release, status(canary_weight=10), observe(10, analysis=analysis), at(30))
    assert decision.notes == ()


def test_the_httpprobe_failure_names_its_gate_value_and_threshold() -> None:
    decision = decide(spec(), status(canary_weight=10), observe(10, analysis=SLOW), at(30))
    [note] = gate_failed(decision)
    assert note.startswith("gate latency failed: ")
    assert "took 999ms" in note


def test_a_long_query_is_cut_so_it_cannot_crowd_out_the_rest() -> None:
    # the whole note is cut to the API server's byte limit where it is posted (kube.events.fit_note)
    long = "sum(" + "x" * 3000 + ")"
    failing = with_errors_gate(expr=long)
    decision = decide(failing, status(canary_weight=10), observe(10, analysis=(*passing(), errors(5, long))), at(30))
    [note] = gate_failed(decision)
    query = note.split("query: ", 1)[1].split("; ", 1)[0]
    assert query.startswith("canary: sum(xxx")
    assert query.endswith("…")
    assert len(query) == 360
    assert note.endswith("1 failed check(s) so far, failureLimit 1")
