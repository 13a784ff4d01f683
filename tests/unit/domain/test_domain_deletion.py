"""Deleting a release, phase by phase: the routes go back to the stable only when that is a version that passed."""

from __future__ import annotations

import pytest

from graygate.api.status import Phase
from graygate.domain.release.deletion import on_delete

P = Phase


@pytest.mark.parametrize(
    ("phase", "follows", "fate"),
    [
        (P.PENDING, False, "restore"),
        (P.PROGRESSING, False, "restore"),
        (P.PAUSED, False, "restore"),
        (P.FAILED, False, "restore"),
        (P.ABORTED, False, "restore"),
        (P.INVALID, False, "restore"),
        (P.SUCCEEDED, False, "keep"),
        (P.PENDING, True, "restore"),
        (P.PROGRESSING, True, "restore"),
        (P.PAUSED, True, "restore"),
        (P.PROMOTING, True, "keep"),
        (P.SUCCEEDED, True, "restore"),
        (P.FAILED, True, "restore"),
        (P.ABORTED, True, "restore"),
    ],
)
def test_what_deleting_does_to_the_routes(phase: Phase, follows: bool, fate: str) -> None:
    assert on_delete(phase, follows_workload=follows) == fate


@pytest.mark.parametrize(
    ("before", "follows", "fate"),
    [
        (P.SUCCEEDED, False, "keep"),
        (P.PROMOTING, True, "keep"),
        (P.PROGRESSING, False, "restore"),
        (P.SUCCEEDED, True, "restore"),
        (None, False, "restore"),
    ],
)
def test_an_invalid_release_is_judged_by_the_phase_before(before: Phase | None, follows: bool, fate: str) -> None:
    assert on_delete(P.INVALID, follows_workload=follows, before_invalid=before) == fate


def test_every_phase_has_a_fate() -> None:
    for phase in Phase:
        for follows in (False, True):
            assert on_delete(phase, follows_workload=follows) in ("restore", "keep")
