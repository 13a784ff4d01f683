"""Regression (found by the chaos bench, `make bench-chaos`): an operator started while its API server restarted
found no CanaryRelease resource in discovery, served nothing, and looked alive forever. `ServingWatch` names the
releases left without a daemon past the grace, which makes the operator exit to be started again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graygate.domain.serving import ServingWatch

T0 = datetime(2026, 12, 7, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("readings", "stuck"),
    [
        ([(0, {"a"}, {"a"}), (60, {"a"}, {"a"})], []),
        ([(0, {"a"}, set()), (29, {"a"}, set())], []),
        ([(0, {"a"}, set()), (30, {"a"}, set())], ["a"]),
        ([(0, {"a"}, set()), (20, {"a"}, {"a"}), (40, {"a"}, set())], []),  # served in between: the clock restarts
        ([(0, {"a"}, set()), (20, set(), set()), (40, {"a"}, set())], []),  # gone, then back: a new wait
        ([(0, set(), set()), (60, set(), set())], []),  # nothing to serve
        ([(0, {"a", "b"}, {"b"}), (30, {"a", "b"}, {"b"})], ["a"]),
        ([(0, set(), {"gone"}), (60, set(), {"gone"})], []),  # a slot of a release being deleted
    ],
)
def test_releases_unserved_past_the_grace(readings: list[tuple[float, set[str], set[str]]], stuck: list[str]) -> None:
    watch = ServingWatch(grace=timedelta(seconds=30))
    found: list[str] = []
    for seconds, listed, served in readings:
        found = watch.observe(at(seconds), listed, served)
    assert found == stuck
