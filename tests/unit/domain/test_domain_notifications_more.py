"""Notifications for what has no history entry of its own: the `confirmRollout` wait (said once per wait, read from
the status before and after, so a restart does not repeat it), and a `dryRun` gate's failures, reported with a
success or a rollback but never as its cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from release_builders import BASE, T0, at, judged, observe, probe, spec, status

from graygate.api import CanaryReleaseStatus, GateResult, GateState, Outcome, Phase, Transition
from graygate.api.status import HookRecord
from graygate.domain.analysis.webhook import WebhookMeasurement
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Advance, Hold, Reason, Rollback
from graygate.domain.release.notifications import FailedGate, Kind, notifications_of
from graygate.domain.release.observations import Observations

P = Phase
V = Outcome
HEALTH, LATENCY = BASE["analysis"]["gates"]


# ---- the confirmRollout wait ----


def confirmed(*names: str) -> Any:
    hooks = [
        {"name": name, "stage": "confirmRollout", "webhook": {"url": f"http://hooks.test/{name}"}} for name in names
    ]
    return spec(steps=[{"setWeight": 10}, {"setWeight": 50}], analysis={"interval": "30s"}, hooks=hooks)


def answers(*codes: tuple[str, int], when: datetime = T0) -> Observations:
    said = tuple(
        WebhookMeasurement(
            gate=name, observed_at=when, url=f"http://hooks.test/{name}", status_code=code, body="no", attempts=1
        )
        for name, code in codes
    )
    base = observe(0)
    return Observations(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "hooks": said})


def asked(name: str, *, passed: bool = False) -> HookRecord:
    return HookRecord(
        name=name, stage="confirmRollout", last_outcome=V.PASS if passed else V.FAIL, at=T0, calls=1, passed=passed
    )


PENDING = status(P.PENDING, next_check_at=None, step_started_at=None, progress_at=T0)


def kinds(before: CanaryReleaseStatus, decision: Any) -> list[Kind]:
    return [note.kind for note in notifications_of("shop", "checkout", before, decision)]


def test_the_first_unapproved_answer_is_one_waiting_for_approval() -> None:
    decision = decide(confirmed("approve"), PENDING, answers(("approve", 403)), T0)
    assert isinstance(decision, Hold)
    assert decision.reason is Reason.AWAITING_CONFIRMATION
    (note,) = notifications_of("shop", "checkout", PENDING, decision)
    assert (note.kind, note.reason, note.phase, note.canary_weight, note.at) == (
        Kind.WAITING_FOR_APPROVAL,
        "AwaitingConfirmation",
        P.PENDING,
        0,
        T0,
    )
    assert note.message.startswith("shop/checkout waiting for approval at 0%: ")
    assert "hook approve (confirmRollout)" in note.message


@pytest.mark.parametrize(
    ("release", "before", "seen", "expected"),
    [
        pytest.param(confirmed("approve"), PENDING, answers(("approve", 403)), [Kind.WAITING_FOR_APPROVAL], id="asked"),
        pytest.param(
            confirmed("a", "b"), PENDING, answers(("a", 403), ("b", 403)), [Kind.WAITING_FOR_APPROVAL], id="two-hooks"
        ),
        pytest.param(
            confirmed("a", "b"), PENDING, answers(("a", 200), ("b", 403)), [Kind.WAITING_FOR_APPROVAL], id="one-of-two"
        ),
        pytest.param(
            confirmed("approve"),
            PENDING.model_copy(update={"hooks": (asked("approve"),)}),
            answers(("approve", 403), when=at(30)),
            [],
            id="still-waiting",
        ),
        pytest.param(
            confirmed("approve"),
            PENDING.model_copy(update={"hooks": (asked("approve"),)}),
            observe(0),
            [],
            id="restarted-while-waiting",
        ),
        pytest.param(
            confirmed("a", "b"),
            PENDING.model_copy(update={"hooks": (asked("a"), asked("b"))}),
            answers(("a", 200), ("b", 403), when=at(30)),
            [],
            id="first-of-two-approves",
        ),
        pytest.param(confirmed("approve"), PENDING, answers(("approve", 200)), [Kind.STARTED], id="approved-at-once"),
        pytest.param(
            confirmed("approve"),
            PENDING.model_copy(update={"hooks": (asked("approve"),)}),
            answers(("approve", 200), when=at(30)),
            [Kind.STARTED],
            id="approved-after-waiting",
        ),
    ],
)
def test_a_confirm_rollout_wait_is_said_once(
    release: Any, before: CanaryReleaseStatus, seen: Observations, expected: list[Kind]
) -> None:
    assert kinds(before, decide(release, before, seen, at(30))) == expected


def test_a_wait_that_starts_again_in_a_new_run_is_said_again() -> None:
    # a retried run forgot the answers (start over clears status.hooks): its own wait is a new one
    waited = PENDING.model_copy(update={"hooks": ()})
    decision = decide(confirmed("approve"), waited, answers(("approve", 500)), T0)
    assert kinds(waited, decision) == [Kind.WAITING_FOR_APPROVAL]


def test_a_confirm_promotion_hold_says_nothing_more() -> None:
    """The confirmPromotion wait is a pause with its history entry, said by it; its holds say nothing."""
    waiting = status(P.PAUSED, pause_reason="AwaitingConfirmation", hooks=(), message="waiting")
    holding = Hold(reason=Reason.AWAITING_CONFIRMATION, message="waiting", status=waiting)
    assert kinds(waiting, holding) == []


# ---- dry-run gates ----


def result(gate: str, outcome: Outcome, *, dry_run: bool = False, value: str = "1") -> GateResult:
    return GateResult(
        gate=gate,
        kind="httpProbe",
        outcome=outcome,
        value=value,
        threshold="in [200]",
        reason="r",
        at=T0,
        dry_run=dry_run or None,
    )


def ended(to: Phase, reason: str, message: str, *results: GateResult, gates: tuple[GateState, ...]) -> Hold:
    before = status(P.PROGRESSING, canary_weight=50, current_step_index=1, step_display="2/2")
    entry = Transition.model_validate(
        {"from": P.PROGRESSING, "to": to, "reason": reason, "message": message, "at": T0, "step": 1, "weight": 0}
    )
    after = before.model_copy(update={"phase": to, "history": (entry,), "recent_results": results, "gates": gates})
    return Hold(reason=Reason.WAITING, message="", status=after)


BEFORE = status(P.PROGRESSING, canary_weight=50, current_step_index=1, step_display="2/2")


@pytest.mark.parametrize(
    ("results", "gates", "tail"),
    [
        pytest.param(
            (result("health", V.PASS), result("trial", V.FAIL, dry_run=True)),
            (GateState(name="health"), GateState(name="trial", failures=3)),
            "; dry-run gate trial failed 3 times (not counted)",
            id="one",
        ),
        pytest.param(
            (result("trial", V.PASS, dry_run=True), result("shadow", V.FAIL, dry_run=True)),
            (GateState(name="trial", failures=1), GateState(name="shadow", failures=2)),
            "; dry-run gate trial failed 1 time (not counted); dry-run gate shadow failed 2 times (not counted)",
            id="two-and-one-passing-now",
        ),
        pytest.param(
            (result("trial", V.PASS, dry_run=True),),
            (GateState(name="trial"),),
            "",
            id="never-failed",
        ),
        pytest.param(
            (result("health", V.PASS),),
            (GateState(name="health", failures=2),),
            "",
            id="counted-gate-failures-are-not-dry-run",
        ),
    ],
)
def test_a_success_reports_the_dry_run_gates_failures(
    results: tuple[GateResult, ...], gates: tuple[GateState, ...], tail: str
) -> None:
    decision = ended(P.SUCCEEDED, "Succeeded", "all 2 steps done", *results, gates=gates)
    (note,) = notifications_of("shop", "checkout", BEFORE, decision)
    assert note.kind is Kind.SUCCEEDED
    assert note.message == "shop/checkout succeeded: all 2 steps done" + tail


def test_a_rollback_names_the_counted_gate_and_reports_the_dry_run_one_apart() -> None:
    decision = ended(
        P.FAILED,
        "RolledBack",
        "critical gate health failed",
        result("health", V.FAIL, value="503"),
        result("trial", V.FAIL, dry_run=True, value="0.5"),
        gates=(GateState(name="health", failures=1), GateState(name="trial", failures=4)),
    )
    (note,) = notifications_of("shop", "checkout", BEFORE, decision)
    assert note.kind is Kind.ROLLED_BACK
    assert note.failed_gates == (FailedGate("health", "503", "in [200]", "r"),)
    assert note.message == (
        "shop/checkout rolled back from 50% at step 2/2: gate health failed: value 503, threshold in [200]; "
        "dry-run gate trial failed 4 times (not counted)"
    )


def test_a_long_message_with_dry_run_failures_stays_one_chat_line() -> None:
    gates = tuple(GateState(name=f"trial-{i}", failures=9) for i in range(16))
    results = tuple(result(f"trial-{i}", V.FAIL, dry_run=True) for i in range(16))
    decision = ended(P.SUCCEEDED, "Succeeded", "x" * 300, *results, gates=gates)
    (note,) = notifications_of("shop", "checkout", BEFORE, decision)
    assert len(note.message) == 600
    assert "\n" not in note.message


def test_through_decide_a_dry_run_gate_failing_while_the_release_rolls_back() -> None:
    trial = {"name": "trial", "dryRun": True, "httpProbe": {"url": "http://checkout-canary:8080/trial"}}
    release = spec(analysis={"interval": "30s", "failureLimit": 1, "gates": [HEALTH, LATENCY, trial]})
    before = status(current_step_index=1, canary_weight=30, step_display="2/4")
    seen = observe(30, analysis=(probe("health", 503), probe("latency"), judged("trial", V.FAIL, "trial says no")))
    decision = decide(release, before, seen, at(30))
    assert isinstance(decision, Rollback), decision
    (note,) = notifications_of("shop", "checkout", before, decision)
    assert [gate.gate for gate in note.failed_gates] == ["health"]
    assert note.message.endswith("; dry-run gate trial failed 1 time (not counted)"), note.message


def test_through_decide_a_dry_run_gate_failing_while_the_release_advances_says_nothing() -> None:
    trial = {"name": "trial", "dryRun": True, "httpProbe": {"url": "http://checkout-canary:8080/trial"}}
    release = spec(analysis={"interval": "30s", "gates": [HEALTH, LATENCY, trial]})
    before = status(current_step_index=0, canary_weight=10, step_display="1/4")
    seen = observe(10, analysis=(probe("health"), probe("latency"), judged("trial", V.FAIL, "trial says no")))
    decision = decide(release, before, seen, at(30))
    assert isinstance(decision, Advance)
    (note,) = notifications_of("shop", "checkout", before, decision)
    assert note.kind is Kind.STEP_ADVANCED
    assert "dry-run" not in note.message
