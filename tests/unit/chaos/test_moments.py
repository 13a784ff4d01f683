"""The kill moments and progress the chaos bench reads off the watcher's stream."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.chaos.moments import moment_of, progress_times, stalled_names
from e2e.chaos.watcher import Seen


def body(phase: str = "Progressing", step: int = 0, command: str | None = None, config: str | None = None,
         uid: str = "u1", stalled: bool = False) -> dict[str, Any]:  # fmt: skip
    status: dict[str, Any] = {"phase": phase, "currentStepIndex": step}
    if command:
        status["lastCommand"] = {"value": command}
    if config:
        status["config"] = {"state": config}
    if stalled:
        status["conditions"] = [{"type": "Stalled", "status": "True"}]
    return {"metadata": {"name": "r", "uid": uid, "resourceVersion": "1"}, "status": status}


@pytest.mark.parametrize(
    ("before", "after", "moment"),
    [
        (None, body(), None),
        (body(), body(), None),
        (body(step=0), body(step=1), "step"),
        (body(step=2), body("Failed", 2), "rollback"),
        (body("Failed", 2), body("Failed", 2), None),
        (body(step=4), body("Succeeded", 4), "promotion"),
        (body(step=1), body("Succeeded", 4, command="promote-full/1"), "promotion"),
        (body(step=2), body("Failed", 2, config="Restoring"), "config-restore"),
        (body("Pending"), body(), "step"),
    ],
)
def test_moments(before: dict[str, Any] | None, after: dict[str, Any], moment: str | None) -> None:
    assert moment_of(before, after) == moment


def test_progress_and_held() -> None:
    seen = [
        Seen(1.0, "release", "ADDED", body("Pending")),
        Seen(2.0, "release", "MODIFIED", body(stalled=True)),
        Seen(3.0, "release", "MODIFIED", body(stalled=True)),
        Seen(4.0, "release", "MODIFIED", body(step=1)),
        Seen(5.0, "release", "ADDED", body("Pending", uid="u2")),
        Seen(6.0, "routes", "MODIFIED", {"metadata": {"name": "app"}}),
    ]
    assert progress_times(seen) == [(2.0, "r"), (4.0, "r")]
    assert stalled_names(seen, 0, 2.5) == {"r"}
    assert stalled_names(seen, 3.5, 10) == set()
