"""The phase table, event by event: every legal move, every illegal one, and the diagram drawn from it."""

from __future__ import annotations

import itertools

import pytest

from graygate.api import Phase
from graygate.domain.errors import IllegalTransition
from graygate.domain.release.phases import TABLE, TERMINAL, Event, allowed_events, mermaid, transition

P, E = Phase, Event

LEGAL: dict[tuple[Phase, Event], Phase] = {
    # a release starts, walks its steps, and ends in exactly one of three ways
    (P.PENDING, E.START): P.PROGRESSING,
    (P.PROGRESSING, E.ADVANCE): P.PROGRESSING,
    (P.PROGRESSING, E.COMPLETE): P.SUCCEEDED,
    (P.PROGRESSING, E.ROLLBACK): P.FAILED,
    (P.PROGRESSING, E.ABORT): P.ABORTED,
    # pausing and what ends a pause
    (P.PROGRESSING, E.PAUSE): P.PAUSED,
    (P.PAUSED, E.RESUME): P.PROGRESSING,
    (P.PAUSED, E.PROMOTE): P.PROGRESSING,
    (P.PAUSED, E.COMPLETE): P.SUCCEEDED,
    (P.PAUSED, E.ROLLBACK): P.FAILED,
    (P.PAUSED, E.ABORT): P.ABORTED,
    (P.PROGRESSING, E.PROMOTE): P.PROGRESSING,
    # nothing has moved yet: a Pending release ends by an abort, or by a failing pre-check
    (P.PENDING, E.ABORT): P.ABORTED,
    (P.PENDING, E.ROLLBACK): P.FAILED,
    # a human starts a failed or aborted release again
    (P.FAILED, E.RETRY): P.PENDING,
    (P.ABORTED, E.RETRY): P.PENDING,
    # a new spec restarts from anywhere; an unusable one invalidates from anywhere but Invalid
    **{(phase, E.RESTART): P.PENDING for phase in Phase},
    **{(phase, E.INVALIDATE): P.INVALID for phase in Phase if phase is not P.INVALID},
}

PAIRS = list(itertools.product(Phase, Event))


@pytest.mark.parametrize(("phase", "event"), [pair for pair in PAIRS if pair in LEGAL])
def test_legal_move(phase: Phase, event: Event) -> None:
    assert transition(phase, event) is LEGAL[(phase, event)]


@pytest.mark.parametrize(("phase", "event"), [pair for pair in PAIRS if pair not in LEGAL])
def test_illegal_move_raises(phase: Phase, event: Event) -> None:
    with pytest.raises(IllegalTransition, match=f"no transition from {phase.value} on {event.value}") as caught:
        transition(phase, event)
    assert (caught.value.phase, caught.value.event) == (phase.value, event.value)


def test_the_table_is_exactly_the_legal_moves() -> None:
    assert dict(TABLE) == LEGAL


@pytest.mark.parametrize("phase", sorted(TERMINAL))
def test_terminal_phases_leave_only_by_a_human_or_a_new_spec(phase: Phase) -> None:
    assert set(allowed_events(phase)) <= {E.RETRY, E.RESTART, E.INVALIDATE}


def test_every_phase_is_reachable_from_pending() -> None:
    seen, frontier = {P.PENDING}, [P.PENDING]
    while frontier:
        phase = frontier.pop()
        for event in allowed_events(phase):
            target = transition(phase, event)
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(Phase)


@pytest.mark.parametrize(
    ("phase", "events"),
    [
        (P.PENDING, (E.START, E.ROLLBACK, E.ABORT, E.RESTART, E.INVALIDATE)),
        (P.INVALID, (E.RESTART,)),
        (P.SUCCEEDED, (E.RESTART, E.INVALIDATE)),
    ],
)
def test_allowed_events(phase: Phase, events: tuple[Event, ...]) -> None:
    assert allowed_events(phase) == events


def test_mermaid_draws_every_move() -> None:
    diagram = mermaid()
    lines = diagram.splitlines()
    assert lines[:2] == ["stateDiagram-v2", "    [*] --> Pending"]
    for (source, event), target in LEGAL.items():
        edge = next(line for line in lines if line.startswith(f"    {source.value} --> {target.value}: "))
        assert event.value in edge.split(": ", 1)[1].split(", ")
    assert len(lines) == 2 + len({(source, target) for (source, _), target in LEGAL.items()})
    assert diagram.endswith("\n")
