"""Manual commands, phase by phase: applied once, recorded, or ignored with a reason."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import T0, at, observe, spec, status

from graygate.api import Action, PauseReason, Phase
from graygate.domain.release.commands import refusal
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Abort, Complete, Decision, Hold, Pause, Promote, Reason, Restart, Resume

P, R = Phase, PauseReason
RUNNING: dict[str, Any] = {"canary_weight": 10, "current_step_index": 0}
AWAITING: dict[str, Any] = {"canary_weight": 50, "current_step_index": 3, "pause_reason": R.AWAITING_PROMOTION}


def release(phase: Phase, **fields: Any) -> Any:
    defaults: dict[Phase, dict[str, Any]] = {
        P.SUCCEEDED: {"canary_weight": 100},
        P.PAUSED: {"pause_reason": R.MANUAL, **RUNNING},
    }
    values = {**RUNNING, **defaults.get(phase, {}), **fields}
    if phase is P.PENDING:
        values |= {"canary_weight": 0}
    if phase in (P.FAILED, P.ABORTED):
        values |= {"canary_weight": 0}
    return status(phase, **values)


@pytest.mark.parametrize(
    ("phase", "fields", "command", "kind", "after", "target"),
    [
        # promote: finish the current step now
        (P.PROGRESSING, {}, "promote", Promote, P.PROGRESSING, 10),
        (P.PAUSED, {"pause_reason": R.INCONCLUSIVE}, "promote", Promote, P.PROGRESSING, 10),
        (P.PROGRESSING, {"canary_weight": 50, "current_step_index": 2}, "promote", Promote, P.PAUSED, 50),
        (P.PAUSED, AWAITING, "promote", Complete, P.SUCCEEDED, 100),
        # promote-full: straight to 100 %
        (P.PROGRESSING, {}, "promote-full", Complete, P.SUCCEEDED, 100),
        (P.PAUSED, AWAITING, "promote-full/9", Complete, P.SUCCEEDED, 100),
        # pause and resume
        (P.PROGRESSING, {}, "pause", Pause, P.PAUSED, None),
        (P.PAUSED, {}, "resume", Resume, P.PROGRESSING, None),
        (P.PAUSED, {"pause_reason": R.INCONCLUSIVE, "inconclusive_count": 4}, "resume", Resume, P.PROGRESSING, None),
        (P.PAUSED, AWAITING, "resume", Complete, P.SUCCEEDED, 100),
        # abort: everything back to stable
        (P.PENDING, {}, "abort", Abort, P.ABORTED, 0),
        (P.PROGRESSING, {}, "abort", Abort, P.ABORTED, 0),
        (P.PAUSED, AWAITING, "abort/incident-7", Abort, P.ABORTED, 0),
        # retry: start a failed or aborted release again
        (P.FAILED, {}, "retry", Restart, P.PENDING, 0),
        (P.ABORTED, {}, "retry/2", Restart, P.PENDING, 0),
    ],
)
def test_applied(
    phase: Phase, fields: dict[str, Any], command: str, kind: type[Decision], after: Phase, target: int | None
) -> None:
    before = release(phase, **fields)
    decision = decide(spec(), before, observe(before.canary_weight, command=command), at(5))
    assert type(decision) is kind, decision.message
    assert decision.status.phase is after
    assert decision.target_weight == target
    record = decision.status.last_command
    assert record is not None
    assert (record.value, record.result, record.at, record.message) == (command, "Applied", at(5), decision.message)
    assert decision.restore_routes is (kind in (Abort, Restart))
    assert decision.event is not None
    if kind in (Resume, Promote):
        assert decision.status.inconclusive_count == 0


@pytest.mark.parametrize(
    ("phase", "fields", "command", "why"),
    [
        (P.PENDING, {}, "promote", "a Pending release cannot be promoted"),
        (P.SUCCEEDED, {}, "promote", "a Succeeded release cannot be promoted"),
        (P.FAILED, {}, "promote-full", "a Failed release cannot be promoted"),
        (P.PAUSED, {}, "pause", "only a Progressing release can be paused; this one is Paused"),
        (P.PENDING, {}, "pause", "only a Progressing release can be paused"),
        (P.PROGRESSING, {}, "resume", "only a Paused release can be resumed; this one is Progressing"),
        (P.SUCCEEDED, {}, "abort", "a Succeeded release has nothing to abort"),
        (P.FAILED, {}, "abort", "a Failed release has nothing to abort"),
        (P.PROGRESSING, {}, "retry", "only a Failed or Aborted release can be retried"),
        (P.SUCCEEDED, {}, "retry", "only a Failed or Aborted release can be retried"),
        (P.PROGRESSING, {}, "rollback", "unknown command 'rollback'"),
        (P.PROGRESSING, {}, "promote/a b", "bad command id"),
    ],
)
def test_ignored(phase: Phase, fields: dict[str, Any], command: str, why: str) -> None:
    before = release(phase, **fields).model_copy(update={"message": "as it was"})
    decision = decide(spec(), before, observe(before.canary_weight, command=command), at(5))
    assert type(decision) is Hold
    assert decision.reason is Reason.COMMAND_IGNORED
    assert decision.event == "Warning"
    assert decision.target_weight is None
    assert decision.status.phase is phase
    assert decision.status.message == "as it was"
    record = decision.status.last_command
    assert record is not None
    assert record.result == "Ignored"
    assert why in record.message
    assert why in decision.message


@pytest.mark.parametrize(
    ("phase", "fields", "command", "applied"),
    [
        (P.PROGRESSING, {"canary_weight": 10, "current_step_index": 1}, "promote", False),
        (P.PROGRESSING, {}, "promote", True),  # into a pause at the same weight
        (P.PROGRESSING, {}, "promote-full", False),
        (P.PAUSED, {}, "resume", True),
        (P.PROGRESSING, {}, "pause", True),
        (P.PROGRESSING, {}, "abort", True),
    ],
)
def test_while_frozen_only_commands_that_raise_the_weight_are_ignored(
    phase: Phase, fields: dict[str, Any], command: str, applied: bool
) -> None:
    before = release(phase, **fields)
    decision = decide(spec(), before, observe(before.canary_weight, command=command, frozen=True), at(5))
    record = decision.status.last_command
    assert record is not None
    assert record.result == ("Applied" if applied else "Ignored")
    if not applied:
        assert "frozen" in record.message


def test_a_command_runs_once() -> None:
    first = decide(spec(), release(P.PROGRESSING), observe(10, command="promote/1"), at(5))
    assert type(first) is Promote
    again = decide(spec(), first.status, observe(10, command="promote/1"), at(10))
    assert again.reason is not Reason.PROMOTED
    assert again.status.current_step_index == first.status.current_step_index
    assert again.status.last_command == first.status.last_command


def test_a_new_id_runs_the_same_action_again() -> None:
    first = decide(spec(), release(P.PROGRESSING), observe(10, command="promote/1"), at(5))
    second = decide(spec(), first.status, observe(10, command="promote/2"), at(10))
    assert type(second) is Promote
    assert second.status.current_step_index == 2


def test_the_handled_command_survives_a_restart_of_the_release() -> None:
    failed = release(P.FAILED)
    retried = decide(spec(), failed, observe(0, command="retry"), at(5))
    assert type(retried) is Restart
    later = decide(spec(), retried.status, observe(0, command="retry"), at(10))
    assert later.status.last_command == retried.status.last_command
    assert later.reason is not Reason.RETRIED


def test_a_command_waits_for_the_first_sight_of_the_release() -> None:
    fresh = decide(spec(), status(P.PENDING, observed_generation=None), observe(0, command="abort"), T0)
    assert fresh.status.last_command is None
    assert fresh.reason is Reason.INITIALIZED


@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_command(value: str | None) -> None:
    decision = decide(spec(), release(P.PROGRESSING), observe(10, command=value), at(5))
    assert decision.status.last_command is None


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("phase", [P.PENDING, P.PROGRESSING, P.PAUSED, P.SUCCEEDED, P.FAILED, P.ABORTED])
def test_the_cli_refuses_exactly_what_the_operator_would_ignore(action: Action, phase: Phase) -> None:
    before = release(phase)
    decision = decide(spec(), before, observe(before.canary_weight, command=action.value), at(5))
    record = decision.status.last_command
    assert record is not None
    assert (record.result == "Applied") == (refusal(action, phase) is None), record.message
