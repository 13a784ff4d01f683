"""What the status and the Events keep of each verdict: its evidence (bounded), and each gate's failed samples per
step, so a flapping gate's story outlives its Events."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import at, judged, observe, probe, spec, status

from graygate.api import MAX_EVIDENCE, MAX_EVIDENCE_TEXT, MAX_STEP_FAILURES, GateState, Outcome, StepFailures
from graygate.domain.analysis.measurements import Measurement
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Reason, Restart

V = Outcome
TOLERANT = spec(
    analysis={
        "interval": "30s",
        "failureLimit": 100,
        "inconclusiveLimit": 2,
        "gates": [
            {"name": "health", "critical": True, "failureThreshold": 3, "httpProbe": {"url": "http://c:8080/healthz"}},
            {"name": "latency", "httpProbe": {"url": "http://c:8080/", "latencyBudget": "300ms"}},
        ],
    }
)
OK = (probe("health"), probe("latency"))
SLOW = (probe("health"), probe("latency", latency_ms=999))
SICK = (probe("health", 503), probe("latency"))  # below health's failureThreshold 3: Waiting, yet a failed sample


def steps_of(gates: tuple[GateState, ...], name: str) -> list[tuple[int, int]]:
    [state] = [state for state in gates if state.name == name]
    return [(entry.step, entry.failures) for entry in state.step_failures]


@pytest.mark.parametrize(
    ("analyses", "latency", "health"),
    [
        ([SLOW, SLOW, OK, SLOW], [(0, 3)], []),
        ([SICK, OK, SICK], [], [(0, 2)]),  # Waiting verdicts: the samples failed all the same
        ([OK, OK], [], []),
    ],
    ids=["latency-flaps", "health-below-its-threshold", "clean"],
)
def test_failed_samples_are_counted_per_step(
    analyses: list[tuple[Measurement, ...]], latency: list[tuple[int, int]], health: list[tuple[int, int]]
) -> None:
    current = status(canary_weight=10, current_step_index=0)
    for n, analysis in enumerate(analyses, start=1):
        current = current.model_copy(update={"current_step_index": 0})  # stay on the step whatever passes
        current = decide(TOLERANT, current, observe(current.canary_weight, analysis=analysis), at(30 * n)).status
    assert steps_of(current.gates, "latency") == latency
    assert steps_of(current.gates, "health") == health


def test_a_new_step_opens_a_new_entry_and_the_oldest_go_beyond_the_bound() -> None:
    kept = tuple(StepFailures(step=step, failures=2) for step in range(MAX_STEP_FAILURES))
    before = status(canary_weight=50, current_step_index=2, gates=(GateState(name="latency", step_failures=kept[-2:]),))
    after = decide(TOLERANT, before, observe(50, analysis=SLOW), at(30)).status
    assert steps_of(after.gates, "latency") == [(18, 2), (19, 2), (2, 1)]
    full = before.model_copy(update={"gates": (GateState(name="latency", step_failures=kept),)})
    after = decide(TOLERANT, full, observe(50, analysis=SLOW), at(30)).status
    counted = steps_of(after.gates, "latency")
    assert len(counted) == MAX_STEP_FAILURES
    assert (counted[0], counted[-1]) == ((1, 2), (2, 1))


def test_the_same_step_adds_to_its_entry() -> None:
    before = status(
        canary_weight=50,
        current_step_index=2,
        gates=(GateState(name="latency", step_failures=(StepFailures(step=2, failures=4),)),),
    )
    after = decide(TOLERANT, before, observe(50, analysis=SLOW), at(30)).status
    assert steps_of(after.gates, "latency") == [(2, 5)]


def test_starting_over_forgets_the_counts_of_the_previous_run() -> None:
    counted = (GateState(name="latency", step_failures=(StepFailures(step=2, failures=4),)),)
    before = status(canary_weight=50, current_step_index=2, gates=counted)
    decision = decide(TOLERANT, before, observe(50, generation=2), at(30))
    assert type(decision) is Restart
    assert decision.status.gates == ()


# ---- evidence ----

NUMBERS = {"canaryErrors": "41", "canaryRequests": "1000", "bound": "0.031", "alpha": "0.05"}


def test_the_evidence_reaches_the_status_result_and_the_event() -> None:
    analysis = (probe("health"), judged("latency", V.FAIL, "41 of 1000 failed", evidence=NUMBERS))
    decision = decide(spec(), status(canary_weight=10), observe(10, analysis=analysis), at(30))
    assert decision.status.recent_results[-1].evidence == NUMBERS
    assert decision.status.recent_results[0].evidence == {}
    [note] = decision.notes
    assert note.reason is Reason.GATE_FAILED
    assert "; evidence: canaryErrors=41, canaryRequests=1000, bound=0.031, alpha=0.05" in note.message


def test_the_evidence_is_bounded_in_the_status_and_in_the_event() -> None:
    many: dict[str, Any] = {f"n{i:02}": "x" * (MAX_EVIDENCE_TEXT + 50) for i in range(MAX_EVIDENCE + 4)}
    analysis = (probe("health"), judged("latency", V.FAIL, "failed", evidence=many))
    decision = decide(spec(), status(canary_weight=10), observe(10, analysis=analysis), at(30))
    kept = decision.status.recent_results[-1].evidence
    assert list(kept) == [f"n{i:02}" for i in range(MAX_EVIDENCE)]
    assert all(len(value) == MAX_EVIDENCE_TEXT and value.endswith("…") for value in kept.values())
    [note] = decision.notes
    shown = note.message.split("; evidence: ", 1)[1].split("; ", 1)[0]
    assert len(shown) == 240
    assert shown.endswith("…")


def test_the_evidence_rides_along_the_rollback_event() -> None:
    analysis = (judged("health", V.FAIL, "503", evidence={"status": "503"}), probe("latency"))
    decision = decide(spec(), status(canary_weight=10), observe(10, analysis=analysis), at(30))
    assert decision.reason is Reason.ROLLED_BACK
    assert decision.message.endswith("Evidence: gate health; evidence: status=503")
