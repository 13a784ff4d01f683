"""Moments worth a SIGKILL, read off the watcher's stream: a release just rolled back, just promoted, just moved a
step, just began restoring its config. The killer waits for the next one of the kind it drew and strikes at once,
while the operator is in the middle of the writes that follow the status it just stored.

Also, after the fact: when did the operator next make progress (a step moved, a phase changed), which is how the
bench times a recovery."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from e2e.chaos.watcher import Seen

Aim = Literal["tick", "rollback", "promotion", "step", "config-restore"]
AIMS: Sequence[Aim] = ("tick", "rollback", "promotion", "step", "config-restore")
AIM_WEIGHTS: Sequence[float] = (0.3, 0.2, 0.2, 0.2, 0.1)


def _facts(body: dict[str, Any]) -> tuple[str | None, int, str | None, str | None]:
    status = body.get("status") or {}
    return (
        status.get("phase"),
        int(status.get("currentStepIndex") or 0),
        (status.get("lastCommand") or {}).get("value"),
        (status.get("config") or {}).get("state"),
    )


def moment_of(before: dict[str, Any] | None, after: dict[str, Any]) -> Aim | None:
    """Which moment a new version of a release is, if any."""
    if before is None:
        return None
    (phase0, step0, command0, config0), (phase1, step1, command1, config1) = _facts(before), _facts(after)
    if config1 == "Restoring" and config0 != "Restoring":
        return "config-restore"
    if phase1 == "Failed" and phase0 != "Failed":
        return "rollback"
    if (phase1 == "Succeeded" and phase0 != "Succeeded") or (command1 != command0 and "promote" in str(command1)):
        return "promotion"
    if step1 != step0 or phase1 != phase0:
        return "step"
    return None


def progress_times(seen: Iterable[Seen]) -> list[tuple[float, str]]:
    """(when, release) of every version that moved a release: a new step, a new phase."""
    last: dict[str, dict[str, Any]] = {}
    found: list[tuple[float, str]] = []
    for item in seen:
        if item.kind != "release" or item.event == "DELETED":
            continue
        name = item.body["metadata"]["name"]
        before = last.get(name)
        last[name] = item.body
        if before is not None and before["metadata"].get("uid") != item.body["metadata"].get("uid"):
            continue
        if before is not None and _facts(before)[:2] != _facts(item.body)[:2]:
            found.append((item.at, name))
    return found


def stalled_names(seen: Iterable[Seen], start: float, end: float) -> set[str]:
    """Releases that said `Stalled=True` while running (holding: a gate cannot measure, a deadline passed) between
    two times."""
    names: set[str] = set()
    for item in seen:
        if item.kind != "release" or not start <= item.at <= end:
            continue
        if (item.body.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Aborted"):
            continue  # an ended release reports Stalled too (kstatus): it is not held
        for condition in (item.body.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Stalled" and condition.get("status") == "True":
                names.add(item.body["metadata"]["name"])
    return names


@dataclass
class Moments:
    """Feeds on the watcher (its listener runs in the watch threads) and wakes the killer in its event loop."""

    loop: asyncio.AbstractEventLoop
    _last: dict[str, dict[str, Any]] = field(default_factory=dict)
    _queue: asyncio.Queue[Aim] = field(default_factory=asyncio.Queue)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, seen: Seen) -> None:
        if seen.kind != "release":
            return
        name = seen.body["metadata"]["name"]
        with self._lock:
            before = self._last.get(name)
            self._last[name] = seen.body
        moment = moment_of(before, seen.body)
        if moment is not None:
            self.loop.call_soon_threadsafe(self._queue.put_nowait, moment)

    async def next(self, aim: Aim, timeout_s: float) -> bool:
        """Wait for the next moment of kind `aim` from now on; False when none came in time."""
        while not self._queue.empty():
            self._queue.get_nowait()
        try:
            async with asyncio.timeout(timeout_s):
                while await self._queue.get() != aim:
                    pass
        except TimeoutError:
            return False
        return True
