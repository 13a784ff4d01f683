"""The status writer (`service.StatusWriter`) in memory: every patch kept in order, and a crash on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graygate.api import CanaryReleaseStatus


class Crash(Exception):
    """The operator dies mid-tick."""


@dataclass
class RecordingStatuses:
    """Keeps every status patched. `log` is a call log a test may share with other fakes, to see the order of the
    writes: each patch adds `status:<config state>` (the one field whose order against etcd matters)."""

    log: list[str] = field(default_factory=list)
    patches: list[dict[str, Any]] = field(default_factory=list)
    crash_when: str | None = None
    """Die instead of writing a status whose config is in this state."""

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        state = (status.get("config") or {}).get("state")
        if state is not None and state == self.crash_when:
            raise Crash(f"killed before writing config state {state}")
        self.log.append(f"status:{state}")
        self.patches.append(status)

    def last(self) -> CanaryReleaseStatus:
        return CanaryReleaseStatus.model_validate(self.patches[-1])
