"""Observations: everything the outside world told one tick, as plain data.

Why: `decide` must be a pure function of (spec, status, observations, now). The service gathers these (the real
weights and, once, the route snapshots from the router, the workload's availability, the gates' measurements,
the command annotation, the freeze switch, the release's etcd keys) and the domain never asks for more, so every
situation, a crash mid-step included, is one value in a test.
"""

from __future__ import annotations

from dataclasses import dataclass

from graygate.api.status import OriginalRoute
from graygate.domain.analysis.measurements import Measurement, WorkloadReading
from graygate.domain.config.release_config import ConfigReading
from graygate.domain.release.destinations import DestinationRulesReading

__all__ = ["DeploymentState", "FollowedState", "Observations", "RouteReading"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteReading:
    """One managed route as the router read it this tick.

    `canary_weight` is the weight the canary destination really has (0 when the route has no canary destination
    yet); None together with `error` when the VirtualService or route is missing, ambiguous (no route named and
    several exist) or conflicting (e.g. the stable destination is not in it). A problem the router reports for a
    whole VirtualService is one reading with `route` None and the error.
    """

    virtual_service: str
    route: str | None = None
    canary_weight: int | None = None
    error: str | None = None
    header_route: bool = False
    """Whether this release's header route (traffic colouring) stands directly above the route."""

    @property
    def label(self) -> str:
        """`virtualService/route`, or the VirtualService alone for its single unnamed route."""
        return f"{self.virtual_service}/{self.route}" if self.route else self.virtual_service


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentState:
    """One side of a followed workload as read this tick.

    `revision` is, for the followed Deployment, the hash of its pod template (and, with `trackConfig`, of the
    ConfigMaps and Secrets it uses); for the primary, the revision graygate last gave it (None when the primary
    does not exist or carries no revision). `ready` means the rollout of that revision is complete: the
    Deployment controller has observed the latest spec, every replica runs the current template and is available,
    and no pod of an older ReplicaSet remains. `message` says why it is not ready.
    """

    name: str
    exists: bool = True
    revision: str | None = None
    replicas: int = 0
    ready: bool = False
    available: bool = False
    """The Deployment's `Available` condition: enough replicas are up, though not necessarily all of them (a
    scale-up under way): what a canary already carrying traffic must keep."""
    message: str = ""
    pod_labels: tuple[tuple[str, str], ...] | None = None
    """The labels of its pod template, sorted; None when it does not exist."""

    @property
    def label(self) -> str:
        """`Deployment/checkout`."""
        return f"Deployment/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowedState:
    """The followed Deployment (the canary side during a run) and the primary graygate keeps (the stable side)."""

    canary: DeploymentState
    primary: DeploymentState


@dataclass(frozen=True, slots=True, kw_only=True)
class Observations:
    """What one tick observed.

    `generation` is the object's `metadata.generation`. `workload` is None when the spec names no
    `canaryWorkload`. `analysis` is None when the gates were not run this tick (`gates_due` said no), and a
    tuple (one measurement per gate it named, possibly empty) when they were. `snapshots` are the managed routes as the
    router captured them, taken only when `needs_snapshot(spec, status)` says so (None otherwise, or when the router
    could not take them). `command` is the raw value of the `graygate.dev/command` annotation, if any. `frozen` is
    the release freeze switch: while it is on, no weight ever goes up, but rollbacks and aborts still happen.
    """

    generation: int
    routes: tuple[RouteReading, ...] = ()
    workload: WorkloadReading | None = None
    analysis: tuple[Measurement, ...] | None = None
    snapshots: tuple[OriginalRoute, ...] | None = None
    command: str | None = None
    frozen: bool = False
    config: ConfigReading | None = None
    """The release's etcd config keys, read only when `release_config.keys_to_read` names some."""
    followed: FollowedState | None = None
    """The followed workload and its primary, read every tick when the spec has `workload`."""
    destinations: DestinationRulesReading | None = None
    """The DestinationRules that may define the release's subsets, read while it is Pending
    (`destinations.namespaces_to_read`); None: not read (nothing to check, or no reader wired)."""
    hooks: tuple[Measurement, ...] = ()
    """The answers of the stage hooks called this tick (`hooks.due`), one `webhook` measurement per hook."""
