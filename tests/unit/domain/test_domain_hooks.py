"""Stage hooks, rule by rule: which hooks a tick calls, and what each stage does with the answers (`hooks`).

Every answer is a `webhook` measurement judged by that kind's judge: a 2xx passes, anything else does not."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from release_builders import T0, at, available, deployments, follow_spec, observe, probe, spec, status

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus, Outcome, PauseReason, Phase
from graygate.api.status import HookRecord
from graygate.domain.analysis.webhook import WebhookMeasurement
from graygate.domain.release.deadline import overdue
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Advance, Complete, Decision, Hold, Pause, Reason, Restart, Rollback
from graygate.domain.release.hook_records import analysis_of
from graygate.domain.release.hooks import POST_ROLLOUT_CALLS, due
from graygate.domain.release.observations import Observations
from graygate.domain.release.precheck import gates_due

P = Phase
STEPS = [{"setWeight": 10}, {"setWeight": 50}]


def hook(name: str, stage: str, **webhook: Any) -> dict[str, Any]:
    return {"name": name, "stage": stage, "webhook": {"url": f"http://hooks.test/{name}", **webhook}}


def hooked(*hooks: dict[str, Any], gates: tuple[dict[str, Any], ...] = (), **changes: Any) -> CanaryReleaseSpec:
    """A two-step release (10 %, 50 %) with `hooks` and `gates`, analysed every 30 s."""
    analysis = {"interval": "30s", "failureLimit": 1, "gates": list(gates)}
    return spec(steps=STEPS, analysis=analysis, hooks=list(hooks), **changes)


def answer(name: str, code: int | None, when: datetime = T0, error: str | None = None) -> WebhookMeasurement:
    """The receiver's answer to hook `name`: HTTP `code` (None: no answer, `error`)."""
    return WebhookMeasurement(
        gate=name,
        observed_at=when,
        url=f"http://hooks.test/{name}",
        status_code=code,
        body="" if code is None else f"body of {code}",
        attempts=1,
        error=error if code is None else None,
    )


def heard(*answers: WebhookMeasurement, weight: int = 0, **more: Any) -> Observations:
    base = observe(weight, **more)
    return Observations(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "hooks": answers})


def record(name: str, stage: str, *, passed: bool = False, calls: int = 1, when: datetime = T0) -> HookRecord:
    return HookRecord(
        name=name,
        stage=stage,
        last_outcome=Outcome.PASS if passed else Outcome.FAIL,
        at=when,
        calls=calls,
        passed=passed,
    )


PENDING = status(P.PENDING, next_check_at=None, step_started_at=None, progress_at=T0)
CONFIRM_R = hooked(hook("approve", "confirmRollout"))
PRE = hooked(hook("smoke", "preRollout"))
CONFIRM_P = hooked(hook("ship-it", "confirmPromotion"))
KILL = hooked(hook("kill", "rollback"))
POST = hooked(hook("tell", "postRollout"))
EVERY = hooked(
    hook("approve", "confirmRollout"),
    hook("smoke", "preRollout"),
    hook("load", "rollout"),
    hook("ship-it", "confirmPromotion"),
    hook("kill", "rollback"),
    hook("tell", "postRollout"),
)
AWAITING = status(P.PAUSED, current_step_index=1, canary_weight=50, pause_reason=PauseReason.AWAITING_CONFIRMATION)


# ---- which hooks a tick calls ----


@pytest.mark.parametrize(
    ("before", "now", "workload", "called"),
    [
        (PENDING, T0, None, ("approve",)),
        (PENDING.model_copy(update={"original_routes": ()}), T0, None, ()),
        (CanaryReleaseStatus(), T0, None, ()),
        (PENDING.model_copy(update={"hooks": (record("approve", "confirmRollout"),)}), at(10), None, ("kill",)),
        (
            PENDING.model_copy(update={"hooks": (record("approve", "confirmRollout"),)}),
            at(30),
            None,
            ("approve", "kill"),
        ),
        (
            PENDING.model_copy(update={"hooks": (record("approve", "confirmRollout", passed=True),)}),
            T0,
            None,
            ("smoke",),
        ),
        (
            PENDING.model_copy(update={"hooks": (record("approve", "confirmRollout", passed=True),)}),
            T0,
            available(False),
            (),
        ),
        (
            PENDING.model_copy(
                update={"hooks": (record("approve", "confirmRollout", passed=True), record("smoke", "preRollout"))}
            ),
            at(60),
            None,
            (),
        ),
        (status(P.PROGRESSING), T0, None, ("kill",)),
        (status(P.PROGRESSING, hooks=(record("kill", "rollback"),)), at(29), None, ()),
        (status(P.PROGRESSING, hooks=(record("kill", "rollback"),)), at(30), None, ("kill",)),
        (status(P.PAUSED, pause_reason=PauseReason.MANUAL), T0, None, ("kill",)),
        (AWAITING, T0, None, ("ship-it", "kill")),
        (
            AWAITING.model_copy(update={"hooks": (record("ship-it", "confirmPromotion", passed=True),)}),
            T0,
            None,
            ("kill",),
        ),
        (status(P.SUCCEEDED, started_at=T0), T0, None, ("tell",)),
        (status(P.SUCCEEDED), T0, None, ()),
        (status(P.FAILED), T0, None, ("tell",)),
        (status(P.ABORTED, hooks=(record("tell", "postRollout", calls=1),)), at(30), None, ("tell",)),
        (status(P.ABORTED, hooks=(record("tell", "postRollout", calls=POST_ROLLOUT_CALLS),)), at(300), None, ()),
        (status(P.SUCCEEDED, started_at=T0, hooks=(record("tell", "postRollout", passed=True),)), at(300), None, ()),
        (status(P.INVALID), T0, None, ()),
    ],
    ids=[
        "pending-asks-for-approval-first",
        "pending-routes-not-recorded",
        "first-sight",
        "waiting-for-approval-polls-the-kill-switch",
        "waiting-for-approval-asks-again-an-interval-later",
        "approved-the-smoke-test-runs",
        "approved-canary-starting",
        "smoke-test-called-once",
        "progressing-kill-switch",
        "kill-switch-not-due",
        "kill-switch-due-again",
        "paused-by-hand-kill-switch",
        "awaiting-promotion-approval",
        "promotion-approved-already",
        "succeeded-tell",
        "adopted-nothing-released",
        "failed-tell",
        "tell-again-after-a-failure",
        "tell-gives-up",
        "told",
        "invalid",
    ],
)
def test_which_hooks_a_tick_calls(
    before: CanaryReleaseStatus, now: datetime, workload: Any, called: tuple[str, ...]
) -> None:
    assert tuple(h.name for h in due(EVERY, before, now, workload)) == called


def test_rollout_hooks_are_gates_of_the_analysis() -> None:
    gate = {"name": "health", "httpProbe": {"url": "http://checkout-canary:8080/healthz"}}
    release = hooked(hook("load", "rollout"), hook("kill", "rollback"), gates=(gate,))
    assert [g.name for g in analysis_of(release).gates] == ["health", "load"]
    assert analysis_of(release).gates[1].webhook is not None
    assert not analysis_of(release).gates[1].critical
    running = gates_due(release, status(P.PROGRESSING), T0)
    assert running is not None
    assert [g.name for g in running] == ["health", "load"]
    assert [h.name for h in due(release, status(P.PROGRESSING), T0)] == ["kill"]


# ---- confirmRollout ----


def test_waiting_for_rollout_approval_holds_at_zero() -> None:
    decision = decide(CONFIRM_R, PENDING, heard(answer("approve", 403)), T0)
    assert isinstance(decision, Hold)
    assert decision.reason is Reason.AWAITING_CONFIRMATION
    assert decision.target_weight is None
    assert decision.status.phase is P.PENDING
    assert "waiting for approval from hook approve (confirmRollout)" in decision.status.message
    (kept,) = decision.status.hooks
    assert (kept.name, kept.stage, kept.last_outcome, kept.calls, kept.passed) == (
        "approve",
        "confirmRollout",
        Outcome.FAIL,
        1,
        False,
    )
    assert "403" in kept.message
    assert kept.at == T0
    again = decide(CONFIRM_R, decision.status, heard(answer("approve", None, at(30), "connection refused")), at(30))
    assert isinstance(again, Hold)
    assert again.status.hooks[0].calls == 2
    assert again.event is None  # the same wait: no new Event


def test_the_wait_for_approval_does_not_count_toward_the_deadline() -> None:
    waiting = decide(CONFIRM_R, PENDING, heard(answer("approve", 403)), T0).status
    late = T0 + timedelta(hours=2)
    assert overdue(CONFIRM_R, waiting, late) is None
    decision = decide(CONFIRM_R, waiting, observe(0), late)
    assert isinstance(decision, Hold)
    assert decision.reason is Reason.AWAITING_CONFIRMATION
    # a release that has not asked yet (its routes unreadable) is still late like any other
    assert overdue(CONFIRM_R, PENDING, late) is not None


def test_an_approval_starts_the_release_and_is_kept() -> None:
    waiting = decide(CONFIRM_R, PENDING, heard(answer("approve", 403)), T0).status
    later = T0 + timedelta(hours=2)
    decision = decide(CONFIRM_R, waiting, heard(answer("approve", 200, later)), later)
    assert isinstance(decision, Advance)
    assert decision.target_weight == 10
    assert decision.status.hooks[0].passed
    assert decision.status.progress_at == later
    assert ("Normal", Reason.HOOK_CONFIRMED) in [(n.type, n.reason) for n in decision.notes]


def test_an_approval_kept_in_status_survives_a_restart() -> None:
    approved = PENDING.model_copy(update={"hooks": (record("approve", "confirmRollout", passed=True),)})
    assert due(CONFIRM_R, approved, at(300)) == ()
    decision = decide(CONFIRM_R, approved, observe(0), at(300))
    assert isinstance(decision, Advance)


# ---- preRollout ----


@pytest.mark.parametrize(
    ("code", "error"), [(500, None), (404, None), (None, "timed out")], ids=["5xx", "4xx", "no-answer"]
)
def test_a_failing_pre_rollout_hook_fails_the_release_at_zero(code: int | None, error: str | None) -> None:
    decision = decide(PRE, PENDING, heard(answer("smoke", code, error=error)), T0)
    assert isinstance(decision, Rollback)
    assert decision.reason is Reason.HOOK_FAILED
    assert decision.status.phase is P.FAILED
    assert decision.status.canary_weight == 0
    assert decision.message.startswith("preRollout hook smoke failed: ")
    assert "the canary never got traffic" in decision.message
    assert (str(code) if code else "timed out") in decision.message


def test_a_passing_pre_rollout_hook_starts_the_release() -> None:
    decision = decide(PRE, PENDING, heard(answer("smoke", 204)), T0)
    assert isinstance(decision, Advance)
    assert decision.status.hooks[0].passed


def test_a_pre_rollout_hook_not_called_yet_holds() -> None:
    decision = decide(PRE, PENDING, observe(0, workload=available(False)), T0)
    assert isinstance(decision, Hold)
    assert decision.reason is Reason.WAITING_FOR_WORKLOAD
    decision = decide(PRE, PENDING, observe(0), T0)
    assert isinstance(decision, Hold)
    assert decision.reason is Reason.PRE_ROLLOUT


# ---- rollout ----


def test_a_failing_rollout_hook_counts_like_a_failing_gate() -> None:
    release = hooked(hook("load", "rollout"))
    running = status(P.PROGRESSING, canary_weight=10)
    first = decide(release, running, observe(10, analysis=(answer("load", 500),)), T0)
    assert isinstance(first, Hold)
    assert first.status.failure_count == 1
    assert [(r.gate, r.kind, r.outcome) for r in first.status.recent_results] == [("load", "webhook", Outcome.FAIL)]
    second = decide(release, first.status, observe(10, analysis=(answer("load", 500, at(30)),)), at(30))
    assert isinstance(second, Rollback)
    assert second.reason is Reason.ROLLED_BACK
    passing = decide(release, running, observe(10, analysis=(answer("load", 200),)), T0)
    assert isinstance(passing, Advance)
    assert passing.target_weight == 50


# ---- confirmPromotion ----


def test_the_last_step_done_pauses_for_promotion_approval() -> None:
    last = status(P.PROGRESSING, current_step_index=1, canary_weight=50)
    decision = decide(CONFIRM_P, last, observe(50), T0)
    assert isinstance(decision, Pause)
    assert decision.reason is Reason.AWAITING_CONFIRMATION
    assert decision.status.pause_reason is PauseReason.AWAITING_CONFIRMATION
    assert decision.target_weight is None
    assert "waiting for approval from hook ship-it (confirmPromotion)" in decision.status.message
    # not the last step: no approval asked
    first = status(P.PROGRESSING, current_step_index=0, canary_weight=10)
    assert isinstance(decide(CONFIRM_P, first, observe(10), T0), Advance)


def test_a_release_paused_for_approval_holds_until_it_comes_then_completes() -> None:
    waiting = decide(CONFIRM_P, AWAITING, heard(answer("ship-it", 409), weight=50), T0)
    assert isinstance(waiting, Hold)
    assert waiting.reason is Reason.AWAITING_CONFIRMATION
    assert waiting.status.failure_count == 0
    assert waiting.status.phase is P.PAUSED
    done = decide(CONFIRM_P, waiting.status, heard(answer("ship-it", 200, at(30)), weight=50), at(30))
    assert isinstance(done, Complete)
    assert done.target_weight == 100
    assert done.status.phase is P.SUCCEEDED
    assert "approved by ship-it" in done.message


def test_an_approval_never_promotes_on_a_failing_analysis() -> None:
    failing = AWAITING.model_copy(update={"last_outcome": Outcome.WAITING})
    decision = decide(CONFIRM_P, failing, heard(answer("ship-it", 200), weight=50), T0)
    assert isinstance(decision, Hold)
    assert decision.status.phase is P.PAUSED
    assert "waiting for a passing analysis" in decision.message


def test_the_analysis_goes_on_while_waiting_and_can_roll_back() -> None:
    gate = {"name": "health", "critical": True, "httpProbe": {"url": "http://checkout-canary:8080/healthz"}}
    release = hooked(hook("ship-it", "confirmPromotion"), gates=(gate,))
    decision = decide(release, AWAITING, observe(50, analysis=(probe("health", 500),)), T0)
    assert isinstance(decision, Rollback)
    assert decision.status.phase is P.FAILED


def test_promote_skips_the_wait() -> None:
    decision = decide(CONFIRM_P, AWAITING, observe(50, command="promote"), T0)
    assert isinstance(decision, Complete)
    assert decision.status.phase is P.SUCCEEDED


# ---- rollback ----


@pytest.mark.parametrize(
    "before",
    [status(P.PROGRESSING, canary_weight=10), AWAITING, status(P.PAUSED, pause_reason=PauseReason.MANUAL)],
    ids=["progressing", "awaiting-approval", "paused"],
)
def test_a_rollback_hook_answering_2xx_rolls_back(before: CanaryReleaseStatus) -> None:
    release = hooked(hook("kill", "rollback"), hook("ship-it", "confirmPromotion"))
    decision = decide(release, before, heard(answer("kill", 200), weight=before.canary_weight), T0)
    assert isinstance(decision, Rollback)
    assert decision.reason is Reason.ROLLBACK_HOOK
    assert decision.restore_routes
    assert decision.status.phase is P.FAILED
    assert decision.message.startswith("rollback hook kill asked for a rollback (status 200")


@pytest.mark.parametrize("command", ["promote", "promote-full", "resume", "pause"])
@pytest.mark.parametrize(
    "before",
    [AWAITING, status(P.PAUSED, canary_weight=10, pause_reason=PauseReason.MANUAL), status(P.PROGRESSING)],
    ids=["awaiting-approval", "paused", "progressing"],
)
def test_a_rollback_hook_answering_2xx_wins_over_a_command_of_the_same_tick(
    command: str, before: CanaryReleaseStatus
) -> None:
    release = hooked(hook("kill", "rollback"), hook("ship-it", "confirmPromotion"))
    seen = heard(answer("kill", 200), weight=before.canary_weight, command=command)
    decision = decide(release, before, seen, T0)
    assert isinstance(decision, Rollback)
    assert decision.reason is Reason.ROLLBACK_HOOK
    assert decision.status.phase is P.FAILED
    assert decision.status.canary_weight == 0
    assert decision.status.last_command is not None
    assert decision.status.last_command.result == "Ignored"


@pytest.mark.parametrize(("code", "error"), [(404, None), (500, None), (None, "refused")])
def test_a_rollback_hook_answering_anything_else_does_nothing(code: int | None, error: str | None) -> None:
    before = status(P.PROGRESSING, canary_weight=10, step_started_at=T0, next_check_at=at(30))
    decision = decide(KILL, before, heard(answer("kill", code, error=error), weight=10), T0)
    assert not isinstance(decision, Rollback)
    assert decision.status.failure_count == 0
    assert decision.status.hooks[0].calls == 1
    assert not decision.status.hooks[0].passed


def test_a_rollback_hook_can_fail_a_release_waiting_for_rollout_approval() -> None:
    release = hooked(hook("approve", "confirmRollout"), hook("kill", "rollback"))
    waiting = decide(release, PENDING, heard(answer("approve", 403)), T0).status
    decision = decide(release, waiting, heard(answer("kill", 200, at(30))), at(30))
    assert isinstance(decision, Rollback)
    assert decision.status.phase is P.FAILED


# ---- postRollout ----


def test_post_rollout_is_told_once_and_never_changes_the_release() -> None:
    done = status(P.SUCCEEDED, canary_weight=100, started_at=T0)
    told = decide(POST, done, heard(answer("tell", 200), weight=100), T0)
    assert isinstance(told, Hold)
    assert told.status.phase is P.SUCCEEDED
    assert told.status.hooks[0].passed
    assert [(n.type, n.reason) for n in told.notes] == [("Normal", Reason.HOOK_DELIVERED)]
    assert "told the release is Succeeded" in told.notes[0].message
    assert due(POST, told.status, at(600)) == ()


def test_post_rollout_gives_up_after_a_few_calls() -> None:
    current = status(P.FAILED)
    notes: list[tuple[str, Reason]] = []
    for call in range(POST_ROLLOUT_CALLS):
        now = at(30 * call)
        assert [h.name for h in due(POST, current, now)] == ["tell"]
        decision: Decision = decide(POST, current, heard(answer("tell", 503, now)), now)
        assert decision.status.phase is P.FAILED
        notes += [(n.type, n.reason) for n in decision.notes]
        current = decision.status
    assert notes == [("Warning", Reason.HOOK_FAILED)]
    assert due(POST, current, at(3600)) == ()


# ---- a new run forgets the answers ----


def test_a_run_that_starts_over_forgets_every_answer() -> None:
    failed = status(
        P.FAILED, hooks=(record("tell", "postRollout", passed=True), record("kill", "rollback", passed=True))
    )
    decision = decide(EVERY, failed, observe(0, command="retry"), T0)
    assert isinstance(decision, Restart)
    assert decision.status.hooks == ()


# ---- the spec ----


@pytest.mark.parametrize(
    ("hooks", "gates", "interval", "problem"),
    [
        ([hook("a", "rollback"), hook("a", "preRollout")], [], "30s", "repeated: a"),
        ([hook("health", "rollback")], [{"name": "health", "httpProbe": {"url": "http://x/"}}], "30s", "repeated"),
        ([hook("a", "confirmRollout", timeout="30s")], [], "30s", "must be shorter than the analysis interval"),
        (
            [hook(f"h{i}", "rollout") for i in range(7)],
            [{"name": f"g{i}", "httpProbe": {"url": "http://x/"}} for i in range(10)],
            "30s",
            "more than 16",
        ),
        ([hook("a", "sometime")], [], "30s", "stage"),
        ([{"name": "Bad_Name", "stage": "rollout", "webhook": {"url": "http://x/"}}], [], "30s", "name"),
    ],
    ids=["repeated-hook", "hook-named-like-a-gate", "timeout-not-below-interval", "too-many-rollout", "stage", "name"],
)
def test_the_spec_refuses_bad_hooks(
    hooks: list[dict[str, Any]], gates: list[dict[str, Any]], interval: str, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        spec(steps=STEPS, analysis={"interval": interval, "gates": gates}, hooks=hooks)


def test_answers_are_kept_whatever_rule_decides_the_tick() -> None:
    # a followed workload whose Deployment is gone holds every tick by its own rule: the answer is still recorded,
    # so postRollout is not called again and again for nothing
    release = follow_spec(hooks=[hook("tell", "postRollout")])
    done = status(P.SUCCEEDED, canary_weight=0, started_at=T0, revision="rev-2", stable_revision="rev-2")
    gone = observe(0, followed=deployments(exists=False, primary="rev-2"))
    decision = decide(release, done, heard(answer("tell", 200), followed=gone.followed), T0)
    assert decision.reason is Reason.WORKLOAD_MISSING
    assert decision.status.hooks[0].passed
