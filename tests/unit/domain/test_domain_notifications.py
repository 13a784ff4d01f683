"""Transitions → notifications, and the notifications' rate limit: pure tables, time given."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from graygate.api.notifications import EVENTS, Event, Notifications
from graygate.api.status import (
    CanaryReleaseStatus,
    Condition,
    ConditionStatus,
    PauseReason,
    Phase,
    Transition,
)
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Advance, Hold, Reason, Rollback
from graygate.domain.release.notifications import REASONS, FailedGate, Kind, notifications_of
from tests.unit.domain.release_builders import T0, at, observe, probe, spec, status

P = Phase


def moved(before: CanaryReleaseStatus, *entries: tuple[Phase, Phase, str, str, int, int], **fields: Any) -> Hold:
    """A decision whose status appends these history entries (from, to, reason, message, step, weight) to `before`."""
    history = tuple(
        Transition.model_validate(
            {"from": f, "to": t, "reason": reason, "message": message, "at": T0, "step": step, "weight": weight}
        )
        for f, t, reason, message, step, weight in entries
    )
    after = before.model_copy(
        update={"history": before.history + history, "phase": history[-1].to if history else before.phase, **fields}
    )
    return Hold(reason=Reason.WAITING, message="", status=after)


RUNNING = status(P.PROGRESSING, canary_weight=10, step_display="1/4")


@pytest.mark.parametrize(
    ("entry", "kind", "message"),
    [
        (
            (P.PENDING, P.PROGRESSING, "Started", "step 1/4: 10% to the canary", 0, 10),
            Kind.STARTED,
            "shop/checkout started: step 1/4: 10% to the canary",
        ),
        (
            (P.PROGRESSING, P.PROGRESSING, "StepAdvanced", "step 3/4: 50% to the canary", 2, 50),
            Kind.STEP_ADVANCED,
            "shop/checkout advanced: step 3/4: 50% to the canary",
        ),
        (
            (P.PAUSED, P.PROGRESSING, "Promoted", "step 3/4: 50% to the canary", 2, 50),
            Kind.STEP_ADVANCED,
            "shop/checkout advanced: step 3/4: 50% to the canary (promoted by hand)",
        ),
        (
            (P.PROGRESSING, P.PAUSED, "AwaitingPromotion", "step 4/4: wait for promote at 50%", 3, 50),
            Kind.WAITING_FOR_APPROVAL,
            "shop/checkout waiting for approval at 50%: step 4/4: wait for promote at 50%",
        ),
        (
            (P.PROGRESSING, P.PAUSED, "AwaitingConfirmation", "confirmPromotion hook approve says not yet", 3, 50),
            Kind.WAITING_FOR_APPROVAL,
            "shop/checkout waiting for approval at 50%: confirmPromotion hook approve says not yet",
        ),
        (
            (P.PROGRESSING, P.PAUSED, "Paused", "paused by hand", 1, 10),
            Kind.PAUSED,
            "shop/checkout paused at 10%: paused by hand",
        ),
        (
            (P.PROGRESSING, P.PAUSED, "Inconclusive", "3 inconclusive analyses in a row", 1, 10),
            Kind.PAUSED,
            "shop/checkout paused at 10%: 3 inconclusive analyses in a row",
        ),
        (
            (P.PROGRESSING, P.PAUSED, "ProgressDeadlineExceeded", "no progress for 10m", 1, 10),
            Kind.STALLED,
            "shop/checkout stalled at 10%: no progress for 10m",
        ),
        (
            (P.PROGRESSING, P.SUCCEEDED, "Succeeded", "all 4 steps done; the canary carries 100%", 3, 100),
            Kind.SUCCEEDED,
            "shop/checkout succeeded: all 4 steps done; the canary carries 100%",
        ),
        (
            (P.PROGRESSING, P.ABORTED, "Aborted", "aborted by hand", 1, 0),
            Kind.ABORTED,
            "shop/checkout aborted at 10%: aborted by hand",
        ),
        (
            (P.PROGRESSING, P.FAILED, "ProgressDeadlineExceeded", "no progress for 10m; rolled back", 1, 0),
            Kind.ROLLED_BACK,
            "shop/checkout rolled back from 10% at step 2/4: no progress for 10m; rolled back",
        ),
    ],
)
def test_each_transition_is_one_line(entry: tuple[Any, ...], kind: Kind, message: str) -> None:
    (note,) = notifications_of("shop", "checkout", RUNNING, moved(RUNNING, entry))
    assert (note.kind, note.message, note.reason, note.phase) == (kind, message, entry[2], entry[1])
    assert (note.step, note.canary_weight, note.stable_weight) == (f"{entry[4] + 1}/4", entry[5], 100 - entry[5])
    assert "\n" not in note.message


@pytest.mark.parametrize(
    "entry",
    [
        (P.PENDING, P.PENDING, "SpecChanged", "the spec changed", 0, 0),  # a restart is not announced
        (P.PAUSED, P.PROGRESSING, "Resumed", "resumed", 1, 10),
        (P.PENDING, P.SUCCEEDED, "Adopted", "already the stable revision", 0, 0),
        (P.PROGRESSING, P.PROMOTING, "Promoting", "promoting revision abc", 3, 100),
    ],
)
def test_moves_people_need_not_hear_about(entry: tuple[Any, ...]) -> None:
    assert notifications_of("shop", "checkout", RUNNING, moved(RUNNING, entry)) == ()


def test_nothing_moved_nothing_said() -> None:
    assert notifications_of("shop", "checkout", RUNNING, moved(RUNNING)) == ()


def test_the_events_filter_speaks_the_same_words_as_the_kinds() -> None:
    assert set(EVENTS) == set(get_args(Event)) == {kind.value for kind in Kind}
    assert set(REASONS.values()) <= set(Kind)


def test_a_rollback_names_the_gate_its_value_and_threshold() -> None:
    before = status(P.PROGRESSING, canary_weight=50, current_step_index=2, step_display="3/4")
    decision = decide(spec(), before, observe(50, analysis=(probe("health", 503), probe("latency"))), at(30))
    assert isinstance(decision, Rollback)
    (note,) = notifications_of("shop", "checkout", before, decision)
    assert note.kind is Kind.ROLLED_BACK
    said = "shop/checkout rolled back from 50% at step 3/4: gate health failed: value 503, threshold in [200]"
    assert note.message == said
    assert note.failed_gates == (FailedGate("health", "503", "in [200]", note.failed_gates[0].reason),)


def test_a_start_straight_into_a_pause_is_two_notifications_in_order() -> None:
    decision = decide(spec(steps=[{"pause": {}}, {"setWeight": 50}]), status(P.PENDING), observe(0), T0)
    assert isinstance(decision, Advance)
    notes = notifications_of("shop", "checkout", status(P.PENDING), decision)
    assert [note.kind for note in notes] == [Kind.STARTED, Kind.WAITING_FOR_APPROVAL]
    assert decision.status.pause_reason is PauseReason.AWAITING_PROMOTION


def test_a_step_entered_to_wait_for_approval_is_said_once() -> None:
    before = status(P.PROGRESSING, canary_weight=50, current_step_index=2, step_display="3/4")
    decision = decide(spec(), before, observe(50, analysis=(probe("health"), probe("latency"))), at(30))
    assert [entry.reason for entry in decision.status.history] == ["StepAdvanced", "AwaitingPromotion"]
    (note,) = notifications_of("shop", "checkout", before, decision)
    assert (note.kind, note.message) == (
        Kind.WAITING_FOR_APPROVAL,
        "shop/checkout waiting for approval at 50%: step 4/4: wait for promote at 50%",
    )


def stalled(state: ConditionStatus, message: str = "routes unreadable") -> Condition:
    return Condition(type="Stalled", status=state, reason="RouteUnavailable", message=message, last_transition_time=T0)


def test_stalled_is_said_once_when_the_condition_turns_true() -> None:
    calm = RUNNING.model_copy(update={"conditions": (stalled(ConditionStatus.FALSE),)})
    stuck = calm.model_copy(update={"conditions": (stalled(ConditionStatus.TRUE),)})
    holding = Hold(reason=Reason.ROUTE_UNAVAILABLE, message="", status=stuck)
    (note,) = notifications_of("shop", "checkout", calm, holding)
    assert (note.kind, note.reason, note.message) == (
        Kind.STALLED,
        "RouteUnavailable",
        "shop/checkout stalled at 10%: routes unreadable",
    )
    assert notifications_of("shop", "checkout", stuck, Hold(reason=Reason.WAITING, message="", status=stuck)) == ()


def test_a_failed_release_is_rolled_back_not_stalled() -> None:
    after = moved(
        RUNNING,
        (P.PROGRESSING, P.FAILED, "RolledBack", "critical gate health failed", 1, 0),
        conditions=(stalled(ConditionStatus.TRUE),),
    )
    assert [note.kind for note in notifications_of("shop", "checkout", RUNNING, after)] == [Kind.ROLLED_BACK]


def test_a_message_is_cut_to_one_chat_line() -> None:
    entry = (P.PROGRESSING, P.ABORTED, "Aborted", "why\n" * 400, 1, 0)
    (note,) = notifications_of("shop", "checkout", RUNNING, moved(RUNNING, entry))
    assert len(note.message) == 600
    assert "\n" not in note.message
    assert note.message.endswith("…")


def test_notifications_settings_refuse_duplicate_channel_names() -> None:
    channel = {"name": "chat", "kind": "slack", "urlFrom": {"secretKeyRef": {"name": "slack", "key": "url"}}}
    with pytest.raises(ValueError, match="unique: chat"):
        Notifications.model_validate({"channels": [channel, channel]})
    assert Notifications.model_validate({"channels": [channel]}).rate_limit.burst == 10
