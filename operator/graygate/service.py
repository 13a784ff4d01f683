"""One reconcile tick of one release: observe → `domain.decide` → act (the status, the traffic, `recording`, Events).

Why this order: the decision's status (the intent) is written before any VirtualService, so a crash between any two
lines leaves a status that the next tick completes (a re-assert), never a step done twice or a revert lost. The real
weights are re-read every tick (level-based), and a tick that changes nothing writes nothing. For the same reason a
failure after the status is written raises `ActingFailed` carrying that status: the next tick must start from it,
not from the status before it (`graygate.lifecycle` runs the ticks that way).

A write the API server refuses (Istio's validating webhook, an admission policy: `WriteRefused`) changed nothing, so
a decision that would have given the canary more traffic is decided again from the status before it, with the
refusal read as a problem of that VirtualService: the release holds where it was, `Stalled`, its message, conditions
and Event carrying the API server's words, as for any route it cannot use; the next tick tries again. The routes of
that advance the API server did accept are put back where the status holds them, since an advance is all or
nothing. A refused move
towards stable (a rollback, an abort) is never taken back: it stays the intent, its Event says what was refused, and
every tick writes it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from graygate.api.gate_templates import ExpandedGates
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus, OriginalRoute, Phase
from graygate.api.validation import InvalidSpec
from graygate.domain.config.release_config import ApplyConfig, ConfigAction, ConfigReading, keys_to_read
from graygate.domain.release import following
from graygate.domain.release.bookkeeping import needs_snapshot
from graygate.domain.release.decide import decide, wanted_header_routes
from graygate.domain.release.decision import Decision, Reason, Rollback
from graygate.domain.release.destinations import DestinationRulesReading, namespaces_to_read
from graygate.domain.release.gate_templates import record as record_expanded
from graygate.domain.release.observations import Observations, RouteReading
from graygate.errors import GraygateError, RouterError
from graygate.hook_calls import measure_due, notify
from graygate.metrics import OperatorMetrics
from graygate.ports.config import ConfigKeys
from graygate.ports.destinations import DestinationRules
from graygate.ports.gates import Measurer
from graygate.ports.notifications import NotificationSink
from graygate.ports.release import EventSink, FollowedWorkloads, ReleaseRef, StatusWriter, WorkloadProbe
from graygate.ports.routing import (
    RoutingProblem,
    RoutingProblemReason,
    TrafficRouter,
    TrafficSplit,
    TrafficTarget,
    WriteResult,
)
from graygate.recording import record
from graygate.routing import header_routes_of, snapshots_from_status, snapshots_to_status, target_of

log = logging.getLogger("graygate.service")


@dataclass(frozen=True)
class Deps:
    """What a tick needs from the outside world; `wiring.py` builds the real one, tests build fakes."""

    router: TrafficRouter
    gates: Measurer
    workload: WorkloadProbe
    statuses: StatusWriter
    events: EventSink
    metrics: OperatorMetrics
    frozen: Callable[[], bool] = lambda: False
    config_keys: ConfigKeys | None = None
    followed: FollowedWorkloads | None = None
    destination_rules: DestinationRules | None = None
    notifications: NotificationSink | None = None


@dataclass(frozen=True)
class ReleaseView:
    """A release as the handler parsed it from the watched body."""

    ref: ReleaseRef
    generation: int
    spec: CanaryReleaseSpec | InvalidSpec
    status: CanaryReleaseStatus
    command: str | None
    contested: str | None = None
    """Set when an older release holds one of this release's routes: then no VirtualService is read or written."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The release's own labels, for webhooks."""
    annotations: Mapping[str, str] = field(default_factory=dict)
    """The release's own annotations, for webhooks (without kubectl's and graygate's bookkeeping)."""
    expanded_gates: ExpandedGates | None = None
    """The gates of `analysis.gateRefs`, expanded this tick because the run had none yet: recorded in the status."""
    shard: str | None = None
    """The shard of the operator ticking it, recorded in every status it writes (`status.shard`)."""


@dataclass(frozen=True)
class TickResult:
    decision: Decision
    status_written: bool
    write: WriteResult | None


class ActingFailed(Exception):
    """Acting on a decision failed (the router, an Event, etcd) after its status was written.

    `status` is what the API server holds now and where the next tick must start: deciding again from the status
    before it would lose a revert (a rollback whose restore failed, re-decided while a flapping gate passes, would
    put the canary weight back and overwrite `Failed`). `error` is what failed, also chained as the cause.
    `rollback_since` is set when a rollback's restore failed: the `time.monotonic()` of the failing measurement,
    for the tick that writes the weights back to observe `graygate_time_to_rollback_seconds` from.
    """

    def __init__(self, status: CanaryReleaseStatus, error: Exception, rollback_since: float | None = None) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.status = status
        self.error = error
        self.rollback_since = rollback_since


async def tick(release: ReleaseView, deps: Deps, now: datetime) -> TickResult:
    spec, status = release.spec, release.status
    target: TrafficTarget | None = None
    measured_at: float | None = None
    if isinstance(spec, InvalidSpec):
        seen = Observations(generation=release.generation, command=release.command)
    else:
        target = target_of(release.ref.namespace, spec, release=release.ref.name)
        seen, measured_at = await _observe(release, spec, target, deps, now)

    decision = _expanded(release, decide(spec, status, seen, now))
    status_written = await _write_status(release, status, decision.status, deps)
    write: WriteResult | None = None
    failures: list[Exception] = []
    try:
        write = await _route(release, target, decision, deps)
        if (refused := _refusals(write)) and not isinstance(spec, InvalidSpec):
            if _lowers(status, decision):
                said = "; ".join(f"{problem.virtual_service}: {problem.message}" for problem in refused)
                raise RouterError(said, reason=RoutingProblemReason.WRITE_REFUSED.value)
            ran_ahead = write is not None and bool(write.written)
            on_server = decision.status if status_written else status
            decision = _expanded(release, decide(spec, status, _with_refusals(seen, refused), now))
            status_written = await _write_status(release, on_server, decision.status, deps) or status_written
            rerouted = await _route(release, target, decision, deps)
            if rerouted is None and ran_ahead and target is not None:
                rerouted = await _take_back(spec, target, decision.status, deps)
            write = rerouted or write
    except Exception as error:
        if not status_written:
            raise  # nothing of this decision is kept: the next tick decides it again and does all of it
        failures.append(error)
    # The status is written, so the next tick starts from this decision and only re-asserts its weights: this tick
    # is the only one that can count the decision and post its Event, even when its traffic change failed. Each runs
    # on its own, so that one failing does not hide the other.
    routed = not failures
    try:
        # The time to rollback ends when the weights are written back; when they were not, `run_tick` observes it
        # on the tick that writes them (`ActingFailed.rollback_since`), so a slow revert is never reported fast.
        record(
            release.ref, release.status, decision, write, seen.analysis, measured_at if routed else None, deps.metrics
        )
    except Exception as error:
        if not status_written:
            raise
        failures.append(error)
    try:
        if routed and release.contested is None:  # a contested release wrote no traffic: nothing to follow it
            await _move_workload(release, decision, deps)
    except Exception as error:
        if not status_written:
            raise
        failures.append(error)
    try:
        await _announce(release, decision if routed else _not_routed(decision, failures[0]), deps, now)
    except Exception as error:
        if not status_written:
            raise
        failures.append(error)
    if status_written and deps.notifications is not None:
        unrouted = failures[0] if failures and not routed else None
        notify(release.ref, release.spec, release.status, decision, deps.notifications, unrouted, **_own(release))
    if failures:
        since = measured_at if not routed and isinstance(decision, Rollback) else None
        raise ActingFailed(decision.status, failures[0], rollback_since=since) from failures[0]
    return TickResult(decision=decision, status_written=status_written, write=write)


def _expanded(release: ReleaseView, decision: Decision) -> Decision:
    """The decision with the run's freshly expanded template gates in its status (`gate_templates`), and the shard
    that acts on it."""
    status = record_expanded(decision.status, release.expanded_gates)
    if release.shard is not None and status.shard != release.shard:
        status = status.model_copy(update={"shard": release.shard})
    return decision if status is decision.status else replace(decision, status=status)


_NOT_WRITTEN = (RoutingProblemReason.WRITE_REFUSED, RoutingProblemReason.HEADER_RULES_DO_NOT_FIT)
"""A write refused by the API server, or by the router before asking it: the release holds as for a route it cannot
use, with the refusal's words."""


def _refusals(write: WriteResult | None) -> tuple[RoutingProblem, ...]:
    if write is None:
        return ()
    return tuple(problem for problem in write.problems if problem.reason in _NOT_WRITTEN)


def _lowers(before: CanaryReleaseStatus, decision: Decision) -> bool:
    """Whether the decision moves traffic towards stable: a restore, or a lower canary weight."""
    target = decision.target_weight
    return decision.restore_routes or (target is not None and target < before.canary_weight)


async def _take_back(
    spec: CanaryReleaseSpec, target: TrafficTarget, status: CanaryReleaseStatus, deps: Deps
) -> WriteResult:
    """The routes an advance did write, put back where `status` holds them: another of its routes refused the
    advance, and an advance is all or nothing (a route refused again is unchanged, and reported as before)."""
    if status.phase is Phase.PENDING and status.canary_weight == 0 and status.original_routes:
        return await deps.router.restore(target, snapshots_from_status(status.original_routes))
    split = TrafficSplit(status.canary_weight, header_routes_of(wanted_header_routes(spec, status)))
    return await deps.router.set_split(target, split)


def _with_refusals(seen: Observations, refused: tuple[RoutingProblem, ...]) -> Observations:
    """The tick's observations with each refused VirtualService read as one it cannot use."""
    readings = tuple(
        RouteReading(virtual_service=problem.virtual_service, error=f"{problem.reason.value}: {problem.message}")
        for problem in refused
    )
    return replace(seen, routes=seen.routes + readings)


def _not_routed(decision: Decision, error: Exception) -> Decision:
    """`decision`, its Event saying that its traffic change has not reached the VirtualServices yet: the Event
    keeps its reason (a rollback is still a rollback), and the next tick's DriftCorrected is then no surprise."""
    said = f"{decision.message}; the traffic change is not written yet ({type(error).__name__}: {error}), retrying"
    return replace(decision, message=said)


async def _route(
    release: ReleaseView, target: TrafficTarget | None, decision: Decision, deps: Deps
) -> WriteResult | None:
    if target is None or release.contested is not None:
        return None
    if decision.restore_routes:
        return await deps.router.restore(target, snapshots_from_status(release.status.original_routes))
    if decision.target_weight is not None:
        split = TrafficSplit(decision.target_weight, header_routes_of(decision.header_routes))
        return await deps.router.set_split(target, split)
    return None


async def _move_workload(release: ReleaseView, decision: Decision, deps: Deps) -> None:
    """Promote, then scale, as the decision says; only after its traffic change is written (a promotion's 100 % on
    the canary, a success's return to stable), and read back on the next tick, which repeats what did not happen."""
    move, spec = decision.workload, release.spec
    if move is None or isinstance(spec, InvalidSpec) or spec.workload is None or deps.followed is None:
        return
    namespace = release.ref.namespace
    if move.promote is not None and not await deps.followed.promote(namespace, spec.workload, move.promote):
        where = {"release": f"{namespace}/{release.ref.name}"}
        log.info("not promoted: %s changed since revision %s", spec.workload.name, move.promote, extra=where)
    if move.canary_replicas is not None:
        await deps.followed.scale(namespace, spec.workload.name, move.canary_replicas)


async def _announce(release: ReleaseView, decision: Decision, deps: Deps, now: datetime) -> None:
    if decision.event is not None:
        await deps.events.post(release.ref, decision.event, decision.reason, decision.message, now)
    for note in decision.notes:
        await deps.events.post(release.ref, note.type, note.reason, note.message, now)
    if decision.config is not None:
        await _change_config(release, decision.config, deps, now)


async def _observe(
    release: ReleaseView, spec: CanaryReleaseSpec, target: TrafficTarget, deps: Deps, now: datetime
) -> tuple[Observations, float | None]:
    if release.contested is not None:
        readings = tuple(
            RouteReading(virtual_service=ref.name, error=f"RouteClaimed: {release.contested}")
            for ref in spec.traffic_routing.managed()
        )
        return Observations(generation=release.generation, routes=readings, command=release.command), None

    observation = await deps.router.observe(target)
    readings = tuple(
        RouteReading(
            virtual_service=vs.virtual_service,
            route=route.route,
            canary_weight=route.canary_weight,
            header_route=route.header_route,
        )
        for vs in observation.virtual_services
        for route in vs.routes
    ) + tuple(
        RouteReading(virtual_service=problem.virtual_service, error=f"{problem.reason.value}: {problem.message}")
        for problem in observation.problems
    )
    snapshots: tuple[OriginalRoute, ...] | None = None
    if needs_snapshot(spec, release.status) and not observation.problems:
        snapshots = snapshots_to_status(await deps.router.snapshot(target))
    workload = None
    followed = None
    if spec.workload is not None and deps.followed is not None:
        followed = await deps.followed.read(release.ref.namespace, spec.workload)
        workload = following.canary_reading(followed, release.status)
    elif spec.canary_workload is not None:
        workload = await deps.workload(release.ref.namespace, spec.canary_workload.name)
    measured = await measure_due(release.ref, spec, release.status, workload, deps.gates, now, **_own(release))
    seen = Observations(
        generation=release.generation,
        routes=readings,
        workload=workload,
        analysis=measured.analysis,
        snapshots=snapshots,
        command=release.command,
        frozen=deps.frozen(),
        config=await _read_config(release, spec, deps),
        followed=followed,
        destinations=await _read_destinations(release, spec, deps),
        hooks=measured.hooks,
    )
    return seen, measured.measured_at


def _own(release: ReleaseView) -> dict[str, Mapping[str, str]]:
    """The release's own labels and annotations, as webhooks and notifications carry them."""
    return {"labels": release.labels, "annotations": release.annotations}


async def _read_destinations(
    release: ReleaseView, spec: CanaryReleaseSpec, deps: Deps
) -> DestinationRulesReading | None:
    namespace = release.ref.namespace
    if deps.destination_rules is None or (where := namespaces_to_read(namespace, spec, release.status)) is None:
        return None
    return await deps.destination_rules.read(namespace, where)


async def _read_config(release: ReleaseView, spec: CanaryReleaseSpec, deps: Deps) -> ConfigReading | None:
    if (wanted := keys_to_read(spec, release.status)) is None:
        return None
    if deps.config_keys is None:
        return ConfigReading(error="this operator was started without access to etcd")
    etcd, keys = wanted
    return await deps.config_keys.read(etcd, release.ref.namespace, keys)


async def _change_config(release: ReleaseView, action: ConfigAction, deps: Deps, now: datetime) -> None:
    """Make the decision's etcd write. Its outcome is read back on the next tick (the status is written already),
    so a failure here is reported, not raised: the next tick decides whether to try again."""
    where = {"release": f"{release.ref.namespace}/{release.ref.name}"}
    writing = isinstance(action, ApplyConfig)
    try:
        if deps.config_keys is None:
            raise GraygateError("this operator was started without access to etcd")
        if isinstance(action, ApplyConfig):
            if not await deps.config_keys.apply(release.ref.namespace, action):
                log.info("a config key changed between reading and writing; nothing written", extra=where)
        else:
            await deps.config_keys.restore(release.ref.namespace, action)
    except GraygateError as error:
        reason = Reason.CONFIG_APPLY_FAILED if writing else Reason.CONFIG_RESTORE_FAILED
        log.warning("%s: %s", reason.value, error, extra=where)
        await deps.events.post(release.ref, "Warning", reason, str(error), now)


async def _write_status(
    release: ReleaseView, before: CanaryReleaseStatus, after: CanaryReleaseStatus, deps: Deps
) -> bool:
    if after == before:
        return False
    body = after.model_dump(mode="json", by_alias=True)
    await deps.statuses.patch_status(release.ref.namespace, release.ref.name, body)
    return True
