"""The followed workload's Deployments (`ports.release.FollowedWorkloads`) in memory: a state a test sets, and every
promotion and scaling kept in order."""

from __future__ import annotations

from dataclasses import dataclass, field

from graygate.api.spec import FollowedWorkload
from graygate.domain.release.observations import DeploymentState, FollowedState


def followed_state(
    revision: str = "rev-1", primary_revision: str | None = "rev-1", replicas: int = 0, ready: bool = False
) -> FollowedState:
    """`checkout` at `revision` with `replicas`, and its primary at `primary_revision` (missing when None)."""
    return FollowedState(
        canary=DeploymentState(name="checkout", revision=revision, replicas=replicas, ready=ready),
        primary=DeploymentState(
            name="checkout-primary",
            exists=primary_revision is not None,
            revision=primary_revision,
            replicas=1 if primary_revision is not None else 0,
            ready=primary_revision is not None,
        ),
    )


@dataclass
class FakeFollowedWorkloads:
    """Reads `state`; `promote` answers `promotes` (when it is True the primary then carries the revision)."""

    state: FollowedState = field(default_factory=followed_state)
    promotes: bool = True
    promoted: list[tuple[str, str, str]] = field(default_factory=list)
    """(namespace, workload, revision) of every promotion asked for."""
    scaled: list[tuple[str, str, int]] = field(default_factory=list)
    """(namespace, Deployment, replicas) of every scaling."""

    async def read(self, namespace: str, workload: FollowedWorkload) -> FollowedState:
        return self.state

    async def promote(self, namespace: str, workload: FollowedWorkload, revision: str) -> bool:
        self.promoted.append((namespace, workload.name, revision))
        return self.promotes

    async def scale(self, namespace: str, name: str, replicas: int) -> None:
        self.scaled.append((namespace, name, replicas))
