"""Per-gate controls in the fold and in `decide`: a `dryRun` gate is reported but counts toward nothing; a gate
within its `initialDelay` is not run and shows `Waiting`, counting toward nothing either."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from release_builders import BASE, T0, at, judged, observe, probe, spec, status

from graygate.api import CanaryReleaseSpec, GateState, Outcome, Phase
from graygate.api.durations import format_duration
from graygate.domain.analysis.assessment import Assessment, assess
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Advance, Hold, Reason
from graygate.domain.release.precheck import delay_from, gates_due

V = Outcome
HEALTH, LATENCY = BASE["analysis"]["gates"]
TRIAL = {"name": "trial", "httpProbe": {"url": "http://checkout-canary:8080/trial"}}


def with_gate(extra: dict[str, Any], **analysis: Any) -> CanaryReleaseSpec:
    """The base spec with `extra` as a third gate (the base gates stay: health is critical, latency is not)."""
    fields = {"interval": "30s", "failureLimit": 1, "inconclusiveLimit": 2, "gates": [HEALTH, LATENCY, extra]}
    return spec(analysis=fields | analysis)


def fold(release: CanaryReleaseSpec, *measurements: Any, **fields: Any) -> Assessment:
    values: dict[str, Any] = {
        "measurements": measurements,
        "states": (),
        "workload": None,
        "weight": 10,
        "failure_count": 0,
        "inconclusive_count": 0,
        "error_count": 0,
        "now": T0,
    }
    values.update(fields)
    return assess(release.analysis, **values)


# ---- dryRun ----


@pytest.mark.parametrize("critical", [False, True])
@pytest.mark.parametrize("outcome", [V.FAIL, V.ERROR, V.INCONCLUSIVE, V.WAITING, V.PASS])
def test_a_dry_run_verdict_is_kept_but_counts_toward_nothing(critical: bool, outcome: Outcome) -> None:
    release = with_gate(TRIAL | {"dryRun": True, "critical": critical})
    result = fold(release, probe("health"), probe("latency"), judged("trial", outcome, "trial says so"))
    trial = result.verdicts[2]
    assert (trial.gate, trial.outcome, trial.dry_run) == ("trial", outcome, True)
    assert (result.worst, result.critical_failures, result.failures) == (V.PASS, (), ())
    assert (result.failure_count, result.inconclusive_count, result.error_count) == (0, 0, 0)
    assert result.worst_verdict is not None
    assert result.worst_verdict.gate != "trial"
    assert [v.gate for v in result.failed_verdicts] == (["trial"] if outcome is V.FAIL else [])
    assert result.gate_states[2].last_outcome is outcome  # reported in the gate's own state, like any gate


@pytest.mark.parametrize("critical", [False, True])
@pytest.mark.parametrize(
    ("outcome", "worst", "counts"),
    [
        (V.FAIL, V.FAIL, (1, 0, 0)),
        (V.ERROR, V.ERROR, (0, 0, 1)),
        (V.INCONCLUSIVE, V.INCONCLUSIVE, (0, 1, 0)),
    ],
)
def test_the_same_verdict_counts_without_dry_run(
    critical: bool, outcome: Outcome, worst: Outcome, counts: tuple[int, int, int]
) -> None:
    release = with_gate(TRIAL | {"critical": critical})
    result = fold(release, probe("health"), probe("latency"), judged("trial", outcome))
    assert result.worst is worst
    failures = (0 if critical else counts[0], counts[1], counts[2])
    assert (result.failure_count, result.inconclusive_count, result.error_count) == failures
    assert len(result.critical_failures) == (1 if critical and outcome is V.FAIL else 0)


@pytest.mark.parametrize("critical", [False, True])
@pytest.mark.parametrize("outcome", [V.FAIL, V.ERROR, V.INCONCLUSIVE])
def test_a_failing_dry_run_gate_neither_holds_nor_rolls_back_a_step(critical: bool, outcome: Outcome) -> None:
    release = with_gate(TRIAL | {"dryRun": True, "critical": critical})
    seen = observe(10, analysis=(probe("health"), probe("latency"), judged("trial", outcome, "trial says no")))
    decision = decide(release, status(current_step_index=0, canary_weight=10), seen, at(30))
    assert isinstance(decision, Advance), decision.message
    result = next(r for r in decision.status.recent_results if r.gate == "trial")
    assert (result.outcome, result.dry_run) == (outcome, True)
    assert all(r.dry_run is None for r in decision.status.recent_results if r.gate != "trial")
    assert decision.status.failure_count == 0
    assert decision.status.consecutive_errors == 0
    events = [note.message for note in decision.notes if note.reason is Reason.GATE_FAILED]
    if outcome is V.FAIL:
        assert events == ["dry-run gate trial (not counted) failed: trial says no"]
    else:
        assert events == []


def test_a_failing_dry_run_pre_check_lets_the_release_start() -> None:
    release = with_gate(TRIAL | {"dryRun": True, "preCheck": True})
    pending = status(Phase.PENDING, next_check_at=None, step_started_at=None, progress_at=T0)
    seen = observe(0, analysis=(judged("trial", V.FAIL, "trial says no"),))
    decision = decide(release, pending, seen, at(1))
    assert isinstance(decision, Advance), decision.message
    assert decision.status.phase is Phase.PROGRESSING
    assert decision.status.recent_results[-1].dry_run is True


# ---- initialDelay ----


@pytest.mark.parametrize("delay", [10, 60, 90])
@pytest.mark.parametrize("now", [30, 60, 89, 90, 120])
def test_a_gate_in_its_initial_delay_is_not_run_and_waits(delay: int, now: int) -> None:
    release = with_gate(TRIAL | {"initialDelay": f"{delay}s"})
    running = status(current_step_index=0, canary_weight=10, step_started_at=T0, next_check_at=T0)
    delayed = now < delay
    due = gates_due(release, running, at(now))
    assert due is not None
    assert [gate.name for gate in due] == (["health", "latency"] if delayed else ["health", "latency", "trial"])
    state = GateState(name="trial", consecutive_successes=1, failures=2)
    measured = (probe("health"), probe("latency"), judged("trial", V.FAIL))
    result = fold(release, *measured, states=(state,), now=at(now), delay_from=delay_from(running))
    trial = result.verdicts[2]
    if delayed:
        ends = (T0 + timedelta(seconds=delay)).strftime("%H:%M:%SZ")
        waited = format_duration(timedelta(seconds=delay))
        assert (trial.outcome, trial.reason) == (V.WAITING, f"initial delay {waited}: not measured before {ends}")
        assert (result.gate_states[2].consecutive_successes, result.gate_states[2].failures) == (1, 2)
        assert (result.failure_count, result.error_count, result.inconclusive_count) == (0, 0, 0)
        assert result.worst is V.WAITING
    else:
        assert trial.outcome is V.FAIL
        assert result.failure_count == 1


@pytest.mark.parametrize("phase", [Phase.PROGRESSING, Phase.PAUSED, Phase.PENDING, Phase.SUCCEEDED])
@pytest.mark.parametrize("started", [None, 5])
def test_what_the_delay_counts_from(phase: Phase, started: int | None) -> None:
    """The step's start while running; the time the release began waiting to start while Pending."""
    before = status(phase, step_started_at=at(started) if started is not None else None, progress_at=at(100))
    expected = {
        Phase.PROGRESSING: before.step_started_at,
        Phase.PAUSED: before.step_started_at,
        Phase.PENDING: at(100),
        Phase.SUCCEEDED: None,
    }
    assert delay_from(before) == expected[phase]


def test_a_step_holds_until_its_delayed_gate_has_passed() -> None:
    release = with_gate(TRIAL | {"initialDelay": "45s"})
    running = status(current_step_index=0, canary_weight=10, step_started_at=T0, next_check_at=at(30))
    first = decide(release, running, observe(10, analysis=(probe("health"), probe("latency"))), at(30))
    assert isinstance(first, Hold)
    assert "trial: initial delay 45s: not measured before 12:00:45Z" in first.message
    assert first.status.recent_results[-1].outcome is V.WAITING
    later = first.status
    measured = (probe("health"), probe("latency"), probe("trial"))
    assert [gate.name for gate in gates_due(release, later, at(60)) or ()] == ["health", "latency", "trial"]
    second = decide(release, later, observe(10, analysis=measured), at(60))
    assert isinstance(second, Advance), second.message


@pytest.mark.parametrize("delay", ["30s", "2m"])
def test_a_pre_checks_delay_counts_from_when_the_release_began_waiting(delay: str) -> None:
    release = with_gate(TRIAL | {"preCheck": True, "initialDelay": delay})
    pending = status(Phase.PENDING, next_check_at=None, step_started_at=None, progress_at=T0)
    assert gates_due(release, pending, at(20)) == ()
    held = decide(release, pending, observe(0, analysis=()), at(20))
    assert isinstance(held, Hold)
    assert held.reason is Reason.PRE_CHECKING
    assert held.status.gates[0].last_outcome is V.WAITING
    after = at(50 if delay == "30s" else 120)  # the next analysis (20s + 30s), or the delay's end after it
    assert [gate.name for gate in gates_due(release, held.status, after) or ()] == ["trial"]
    started = decide(release, held.status, observe(0, analysis=(probe("trial"),)), after)
    assert isinstance(started, Advance), started.message
