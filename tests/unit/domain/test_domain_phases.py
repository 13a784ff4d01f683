"""The phase table, trigger by trigger: every legal move, every illegal one, and the diagram drawn from it."""

from __future__ import annotations

import itertools

import pytest

from graygate.api import Phase
from graygate.domain.errors import IllegalTransition
from graygate.domain.release.phases import TABLE, TERMINAL, Trigger, allowed_triggers, mermaid, transition

P, T = Phase, Trigger

LEGAL: dict[tuple[Phase, Trigger], Phase] = {
    # a release starts, walks its steps, and ends in exactly one of three ways
    (P.PENDING, T.START): P.PROGRESSING,
    (P.PROGRESSING, T.ADVANCE): P.PROGRESSING,
    (P.PROGRESSING, T.COMPLETE): P.SUCCEEDED,
    (P.PROGRESSING, T.ROLLBACK): P.FAILED,
    (P.PROGRESSING, T.ABORT): P.ABORTED,
    # pausing and what ends a pause
    (P.PROGRESSING, T.PAUSE): P.PAUSED,
    (P.PAUSED, T.RESUME): P.PROGRESSING,
    (P.PAUSED, T.PROMOTE): P.PROGRESSING,
    (P.PAUSED, T.COMPLETE): P.SUCCEEDED,
    (P.PAUSED, T.ROLLBACK): P.FAILED,
    (P.PAUSED, T.ABORT): P.ABORTED,
    (P.PROGRESSING, T.PROMOTE): P.PROGRESSING,
    # nothing has moved yet: a Pending release ends by an abort, or by a failing pre-check
    (P.PENDING, T.ABORT): P.ABORTED,
    (P.PENDING, T.ROLLBACK): P.FAILED,
    # a human starts a failed or aborted release again
    (P.FAILED, T.RETRY): P.PENDING,
    (P.ABORTED, T.RETRY): P.PENDING,
    # a followed workload: the plan done, the primary takes the revision; once it runs it, the release succeeded
    (P.PROGRESSING, T.PROMOTE_STABLE): P.PROMOTING,
    (P.PAUSED, T.PROMOTE_STABLE): P.PROMOTING,
    (P.PROMOTING, T.COMPLETE): P.SUCCEEDED,
    # a revision that is already stable (the first one, or a return to it) is adopted without a run
    (P.PENDING, T.ADOPT): P.SUCCEEDED,
    # a new revision starts over from anywhere but Invalid (a promotion is never rolled back or aborted)
    **{(phase, T.REVISION): P.PENDING for phase in Phase if phase is not P.INVALID},
    # a new spec restarts from anywhere; an unusable one invalidates from anywhere but Invalid
    **{(phase, T.RESTART): P.PENDING for phase in Phase},
    **{(phase, T.INVALIDATE): P.INVALID for phase in Phase if phase is not P.INVALID},
}

PAIRS = list(itertools.product(Phase, Trigger))


@pytest.mark.parametrize(("phase", "trigger"), [pair for pair in PAIRS if pair in LEGAL])
def test_legal_move(phase: Phase, trigger: Trigger) -> None:
    assert transition(phase, trigger) is LEGAL[(phase, trigger)]


@pytest.mark.parametrize(("phase", "trigger"), [pair for pair in PAIRS if pair not in LEGAL])
def test_illegal_move_raises(phase: Phase, trigger: Trigger) -> None:
    with pytest.raises(IllegalTransition, match=f"no transition from {phase.value} on {trigger.value}") as caught:
        transition(phase, trigger)
    assert (caught.value.phase, caught.value.trigger) == (phase.value, trigger.value)


def test_the_table_is_exactly_the_legal_moves() -> None:
    assert dict(TABLE) == LEGAL


@pytest.mark.parametrize("phase", sorted(TERMINAL))
def test_terminal_phases_leave_only_by_a_human_or_a_new_spec(phase: Phase) -> None:
    assert set(allowed_triggers(phase)) <= {T.RETRY, T.RESTART, T.INVALIDATE, T.REVISION}


def test_every_phase_is_reachable_from_pending() -> None:
    seen, frontier = {P.PENDING}, [P.PENDING]
    while frontier:
        phase = frontier.pop()
        for trigger in allowed_triggers(phase):
            target = transition(phase, trigger)
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(Phase)


@pytest.mark.parametrize(
    ("phase", "triggers"),
    [
        (P.PENDING, (T.START, T.ROLLBACK, T.ABORT, T.RESTART, T.INVALIDATE, T.REVISION, T.ADOPT)),
        (P.INVALID, (T.RESTART,)),
        (P.SUCCEEDED, (T.RESTART, T.INVALIDATE, T.REVISION)),
        (P.PROMOTING, (T.COMPLETE, T.RESTART, T.INVALIDATE, T.REVISION)),
    ],
)
def test_allowed_triggers(phase: Phase, triggers: tuple[Trigger, ...]) -> None:
    assert allowed_triggers(phase) == triggers


def test_mermaid_draws_every_move() -> None:
    diagram = mermaid()
    lines = diagram.splitlines()
    assert lines[:2] == ["stateDiagram-v2", "    [*] --> Pending"]
    for (source, trigger), target in LEGAL.items():
        edge = next(line for line in lines if line.startswith(f"    {source.value} --> {target.value}: "))
        assert trigger.value in edge.split(": ", 1)[1].split(", ")
    assert len(lines) == 2 + len({(source, target) for (source, _), target in LEGAL.items()})
    assert diagram.endswith("\n")
