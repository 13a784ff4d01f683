"""A hand-written `EventSource` (graygate.kube.watch_cache): a list answer and a script of watch sessions, each a
sequence of events ended by the server, or an exception (`Gone`, a connection error)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

Body = dict[str, Any]
Event = tuple[str, Body]


def obj(name: str, version: int, namespace: str = "team-a", **spec: Any) -> Body:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": str(version)}, "spec": dict(spec)}


class ScriptedSource:
    """`objects` is what a list returns (at `version`); `sessions` are the watches, taken in order. When the script
    is over, a watch blocks until `interrupt` (as a real watch waits for events)."""

    def __init__(self, objects: Sequence[Body] = (), version: int = 10) -> None:
        self.objects: list[Body] = list(objects)
        self.version = version
        self.sessions: list[Sequence[Event] | Exception] = []
        self.lists = 0
        self.watched_from: list[str] = []
        self.idle = threading.Event()
        """Set when a watch has run out of script and is waiting."""
        self._interrupted = threading.Event()

    def list(self) -> tuple[list[Body], str]:
        self.lists += 1
        return [dict(item) for item in self.objects], str(self.version)

    def watch(self, resource_version: str, timeout_s: float) -> Iterator[Event]:
        self.watched_from.append(resource_version)
        if not self.sessions:
            self.idle.set()
            self._interrupted.wait(timeout_s)
            return
        session = self.sessions.pop(0)
        if isinstance(session, Exception):
            raise session
        yield from session

    def interrupt(self) -> None:
        self._interrupted.set()


class Changes:
    """An `on_change` that records what it was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, kind: str, namespace: str, name: str) -> None:
        self.seen.append((kind, namespace, name))
