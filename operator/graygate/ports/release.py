"""What a tick reads and writes besides the traffic: the release's status, its Events, its canary workload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from graygate.api.spec import FollowedWorkload
from graygate.domain.analysis.measurements import WorkloadReading
from graygate.domain.release.decision import Reason
from graygate.domain.release.observations import FollowedState

# ---- what a tick reads and writes besides the traffic ----


@dataclass(frozen=True)
class ReleaseRef:
    """The release a tick, an Event or a metric series is about (the uid tells a recreated release apart)."""

    namespace: str
    name: str
    uid: str
    api_version: str = "graygate.dev/v1alpha1"
    kind: str = "CanaryRelease"


class StatusWriter(Protocol):
    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None: ...


class EventSink(Protocol):
    async def post(self, release: ReleaseRef, event_type: str, reason: Reason, note: str, now: datetime) -> None: ...


WorkloadProbe = Callable[[str, str], Awaitable[WorkloadReading]]
"""The canary workload's availability, by namespace and name."""


class FollowedWorkloads(Protocol):
    """The followed workload's two Deployments: read both, promote a revision to the primary, scale the canary."""

    async def read(self, namespace: str, workload: FollowedWorkload) -> FollowedState:
        """Both sides as they are now; a missing Deployment reads as `exists=False`, never as an error."""
        ...

    async def promote(self, namespace: str, workload: FollowedWorkload, revision: str) -> bool:
        """Give the primary (creating it if missing) the followed Deployment's pod template, if that template is
        still at `revision`; False when it is not (nothing written). Idempotent."""
        ...

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        """Set the Deployment's replicas through its scale subresource (nothing else of it changes)."""
        ...
