"""A failing analysis, rule by rule: it beats a command typed in the same tick, and every failed measurement is
heard once, as a `GateFailed` Warning Event with its evidence, even when it ends nothing yet."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import BASE, T0, at, observe, passing, probe, spec, status

from graygate.api import CanaryReleaseSpec, Outcome, Phase
from graygate.domain import (
    Abort,
    Decision,
    Hold,
    Measurement,
    PrometheusMeasurement,
    Promote,
    QueryReading,
    Reason,
    Resume,
    Rollback,
    SeriesValue,
    decide,
)

P = Phase
CRITICAL_FAILS = (probe("health", 503), probe("latency"))
SLOW = (probe("health"), probe("latency", latency_ms=999))


# ---- 4. a command never beats a rollback decided by the same tick's analysis ----


@pytest.mark.parametrize(
    ("phase", "command", "failures", "analysis", "kind", "reason", "applied"),
    [
        (P.PROGRESSING, "promote", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False),
        (P.PROGRESSING, "promote-full", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False),
        (P.PROGRESSING, "pause", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False),
        (P.PAUSED, "resume", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False),
        (P.PAUSED, "promote", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False),
        (P.PROGRESSING, "promote", 1, SLOW, Rollback, Reason.ROLLED_BACK, False),  # beyond failureLimit 1
        (P.PAUSED, "resume", 1, SLOW, Rollback, Reason.ROLLED_BACK, False),
        (P.PROGRESSING, "abort", 0, CRITICAL_FAILS, Rollback, Reason.ROLLED_BACK, False),  # reverts either way
        # what does not end the release leaves the command to do its work
        (P.PROGRESSING, "promote", 0, SLOW, Promote, Reason.PROMOTED, True),  # within failureLimit
        (P.PROGRESSING, "promote", 0, passing(), Promote, Reason.PROMOTED, True),
        (P.PAUSED, "resume", 0, None, Resume, Reason.RESUMED, True),  # no analysis this tick
        (P.PROGRESSING, "abort", 0, passing(), Abort, Reason.ABORTED, True),
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
    if kind is Rollback:
        assert decision.status.phase is P.FAILED
        assert (decision.target_weight, decision.restore_routes, decision.status.next_check_at) == (0, True, None)
        assert "not applied: this tick's analysis rolled the release back first" in record.message
        assert decision.message in record.message


def test_the_command_ignored_for_a_rollback_is_not_applied_later() -> None:
    seen = observe(10, analysis=CRITICAL_FAILS, command="promote")
    failed = decide(spec(), status(canary_weight=10), seen, at(30))
    after = decide(spec(), failed.status, observe(0, command="promote"), at(31))
    assert type(after) is Hold
    assert after.status.phase is P.FAILED
    assert after.target_weight is None


# ---- GateFailed: one Warning Event per failed analysis, with the evidence ----

QUERY = 'sum(rate(http_errors_total{namespace="shop",pod=~"checkout-canary-.*"}[30s]))'


def errors_gate(critical: bool = False, threshold: int = 1, expr: str = "sum(errors)") -> dict[str, Any]:
    query = {"expr": expr, "max": 1}
    return {"name": "errors", "critical": critical, "failureThreshold": threshold, "prometheus": {"query": query}}


def with_errors_gate(**gate: Any) -> CanaryReleaseSpec:
    analysis = {**BASE["analysis"], "gates": [*BASE["analysis"]["gates"], errors_gate(**gate)]}
    return spec(analysis=analysis)


def errors(value: float, query: str = QUERY) -> PrometheusMeasurement:
    return PrometheusMeasurement(
        gate="errors",
        observed_at=T0,
        window="30s",
        canary=QueryReading(query=query, series=(SeriesValue(value=value),)),
    )


@pytest.mark.parametrize(
    ("gate", "failures", "kind", "verdict", "words"),
    [
        ({}, 0, Hold, Outcome.FAIL, "1 failed check(s) so far, failureLimit 1"),
        ({"critical": True, "threshold": 3}, 0, Hold, Outcome.WAITING, "(failure 1 of 3 in a row)"),
        ({"critical": True}, 0, Rollback, Outcome.FAIL, "gate errors failed: 5 is over max 1"),
        ({}, 1, Rollback, Outcome.FAIL, "2 failed check(s) so far, failureLimit 1"),
    ],
    ids=["non-critical-within-the-limit", "below-failure-threshold", "critical", "beyond-the-limit"],
)
def test_a_failed_measurement_records_a_gate_failed_warning(
    gate: dict[str, Any], failures: int, kind: type[Decision], verdict: Outcome, words: str
) -> None:
    seen = observe(10, analysis=(*passing(), errors(5)))
    decision = decide(with_errors_gate(**gate), status(canary_weight=10, failure_count=failures), seen, at(30))
    assert type(decision) is kind, decision.message
    assert decision.status.recent_results[-1].verdict is verdict
    note = decision.note
    assert note is not None
    assert (note.type, note.reason) == ("Warning", Reason.GATE_FAILED)
    assert words in note.message
    assert "gate errors failed: 5 is over max 1" in note.message
    assert "value: canary 5" in note.message
    assert "threshold: <= 1" in note.message
    assert f"query: canary: {QUERY}" in note.message


def test_a_gate_failed_warning_is_recorded_once_per_analysis_not_per_tick() -> None:
    failing = with_errors_gate(critical=True, threshold=3)
    first = decide(failing, status(canary_weight=10), observe(10, analysis=(*passing(), errors(5))), at(30))
    assert first.note is not None
    between = decide(failing, first.status, observe(10), at(40))  # the next analysis is due at 60 s
    assert type(between) is Hold
    assert between.note is None
    second = decide(failing, between.status, observe(10, analysis=(*passing(), errors(5))), at(60))
    assert second.note is not None
    assert "(failure 2 of 3 in a row)" in second.note.message


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
    assert decision.note is None


def test_the_httpprobe_failure_names_its_gate_value_and_threshold() -> None:
    decision = decide(spec(), status(canary_weight=10), observe(10, analysis=SLOW), at(30))
    assert decision.note is not None
    assert decision.note.message.startswith("gate latency failed: ")
    assert "took 999ms" in decision.note.message


def test_a_long_query_is_cut_and_the_event_stays_under_the_api_servers_limit() -> None:
    long = "sum(" + "x" * 3000 + ")"
    failing = with_errors_gate(expr=long)
    decision = decide(failing, status(canary_weight=10), observe(10, analysis=(*passing(), errors(5, long))), at(30))
    assert decision.note is not None
    assert len(decision.note.message) <= 1000
    assert "query: canary: sum(xxx" in decision.note.message
    assert "…" in decision.note.message
