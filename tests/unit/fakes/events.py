"""The Event sink (`service.EventSink`) in memory. It refuses a reason outside `Reason`, so every test that drives
the service checks the vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from graygate.domain.release.decision import Reason
from graygate.ports.release import ReleaseRef


@dataclass
class RecordingEvents:
    """Keeps every Event as (type, reason, note), in order. `log` is a call log a test may share with other fakes:
    each Event adds `event:<reason>`."""

    log: list[str] = field(default_factory=list)
    posted: list[tuple[str, str, str]] = field(default_factory=list)

    async def post(self, release: ReleaseRef, event_type: str, reason: str, note: str, now: datetime) -> None:
        Reason(reason)  # raises ValueError for a reason outside the fixed vocabulary
        self.log.append(f"event:{reason}")
        self.posted.append((event_type, reason, note))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.posted]

    def kinds(self) -> list[tuple[str, str]]:
        """(type, reason) of each Event."""
        return [(event_type, reason) for event_type, reason, _ in self.posted]

    def notes(self) -> list[tuple[str, str]]:
        """(reason, note) of each Event."""
        return [(reason, note) for _, reason, note in self.posted]
