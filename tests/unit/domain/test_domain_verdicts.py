"""Verdict order and the fold of many verdicts into one."""

from __future__ import annotations

import itertools

import pytest
from release_builders import T0

from graygate.api import Outcome
from graygate.domain.analysis.verdicts import ORDER, Verdict, is_worse, worst, worst_verdict

V = Outcome


def test_order_is_explicit_and_complete() -> None:
    assert ORDER == (V.PASS, V.WAITING, V.INCONCLUSIVE, V.ERROR, V.FAIL)
    assert set(ORDER) == set(Outcome)


@pytest.mark.parametrize(("better", "worse"), list(itertools.combinations(ORDER, 2)))
def test_is_worse(better: Outcome, worse: Outcome) -> None:
    assert is_worse(worse, better)
    assert not is_worse(better, worse)
    assert not is_worse(worse, worse)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([], V.PASS),
        ([V.PASS], V.PASS),
        ([V.PASS, V.WAITING], V.WAITING),
        ([V.WAITING, V.INCONCLUSIVE, V.PASS], V.INCONCLUSIVE),
        ([V.ERROR, V.INCONCLUSIVE], V.ERROR),
        ([V.FAIL, V.ERROR, V.PASS], V.FAIL),
        ([V.PASS, V.PASS, V.FAIL], V.FAIL),
    ],
)
def test_worst(outcomes: list[Outcome], expected: Outcome) -> None:
    assert worst(outcomes) is expected
    assert worst(reversed(outcomes)) is expected


def verdict(gate: str, outcome: Outcome) -> Verdict:
    return Verdict(gate=gate, kind="httpProbe", outcome=outcome, reason=f"{gate} says {outcome}", at=T0)


@pytest.mark.parametrize(
    ("verdicts", "chosen"),
    [
        ([], None),
        ([verdict("a", V.PASS)], "a"),
        ([verdict("a", V.WAITING), verdict("b", V.FAIL), verdict("c", V.FAIL)], "b"),
        ([verdict("a", V.ERROR), verdict("b", V.INCONCLUSIVE)], "a"),
    ],
)
def test_worst_verdict_is_the_first_of_the_worst(verdicts: list[Verdict], chosen: str | None) -> None:
    found = worst_verdict(verdicts)
    assert (found.gate if found else None) == chosen


def test_with_outcome_keeps_the_evidence() -> None:
    original = Verdict(gate="a", kind="httpProbe", outcome=V.FAIL, reason="503", at=T0, value="503", threshold="200")
    changed = original.with_outcome(V.WAITING, "503 (failure 1 of 3)")
    assert (changed.outcome, changed.reason, changed.value, changed.threshold) == (
        V.WAITING,
        "503 (failure 1 of 3)",
        "503",
        "200",
    )
