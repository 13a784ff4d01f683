"""A prometheus gate inside a release: its errors are counted apart from failures and inconclusive analyses and
hold the step (see test_domain_unsure_analysis for `consecutiveErrorLimit`); its resolved queries reach the status,
bounded."""

from __future__ import annotations

from typing import Any

from release_builders import at, observe, spec, status

from graygate.api import MAX_QUERY_TEXT, Gate, GateState, Outcome, Phase
from graygate.domain.analysis.assessment import debounce
from graygate.domain.analysis.prometheus import PrometheusMeasurement, QueryReading, SeriesValue
from graygate.domain.analysis.verdicts import Verdict
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Hold

ERRORS: dict[str, Any] = {"name": "errors", "prometheus": {"query": {"expr": "sum(errors)", "max": 5}}}
RELEASE = spec(
    analysis={"interval": "30s", "failureLimit": 1, "inconclusiveLimit": 2, "gates": [ERRORS]},
)


def measured(value: float | None = None, *, error: str | None = None, query: str = "sum(errors)") -> Any:
    reading = QueryReading(query=query, series=(SeriesValue(value=value),)) if value is not None else None
    return (PrometheusMeasurement(gate="errors", observed_at=at(30), window="30s", canary=reading, error=error),)


def test_an_error_counts_apart_and_a_pass_resets_the_streak() -> None:
    gate = Gate.model_validate(ERRORS)
    state = GateState(name="errors", consecutive_successes=2)
    sample = Verdict(gate="errors", kind="prometheus", outcome=Outcome.ERROR, reason="Timeout", at=at(0))
    for _ in range(2):
        _, state = debounce(sample, state, gate)
    assert (state.consecutive_errors, state.errors, state.consecutive_successes, state.failures) == (2, 2, 2, 0)
    _, state = debounce(sample.with_outcome(Outcome.PASS, "ok"), state, gate)
    assert (state.consecutive_errors, state.errors, state.consecutive_successes) == (0, 2, 3)


def test_provider_errors_hold_the_step_apart_from_inconclusive_analyses_and_never_roll_back() -> None:
    current = status(canary_weight=10)
    for n, why in enumerate(["Unreachable: connection refused", "Timeout", "Timeout"], start=1):
        decision = decide(RELEASE, current, observe(10, analysis=measured(error=why)), at(30 * n))
        assert type(decision) is Hold, decision.message  # inconclusiveLimit 2 is not what counts them
        assert decision.status.phase is Phase.PROGRESSING
        assert (decision.status.canary_weight, decision.target_weight) == (10, None)
        assert (decision.status.consecutive_errors, decision.status.inconclusive_count) == (n, 0)
        assert (decision.status.gates[0].consecutive_errors, decision.status.gates[0].errors) == (n, n)
        assert decision.status.failure_count == 0
        current = decision.status
    assert current.recent_results[-1].outcome is Outcome.ERROR
    assert "Timeout" in current.recent_results[-1].reason


def test_the_resolved_query_value_and_threshold_reach_the_status() -> None:
    decision = decide(RELEASE, status(canary_weight=10), observe(10, analysis=measured(7)), at(30))
    result = decision.status.recent_results[-1]
    assert (result.kind, result.outcome, result.value, result.threshold) == (
        "prometheus",
        Outcome.FAIL,
        "canary 7",
        "<= 5",
    )
    assert result.query == "canary: sum(errors)"


def test_a_long_query_is_cut_in_the_status() -> None:
    long = "sum(" + "x" * 3000 + ")"
    decision = decide(RELEASE, status(canary_weight=10), observe(10, analysis=measured(1, query=long)), at(30))
    query = decision.status.recent_results[-1].query
    assert query is not None
    assert len(query) == MAX_QUERY_TEXT
    assert query.endswith("…")
