"""A release's life in this process: its ticks one at a time, each from the status last written, and its deletion.

Why a module apart from `service`: the tick is one pass of observe → decide → act; what sits around it is about
time and concurrency. Kopf stops a release's daemon and runs its delete handler concurrently, so a tick already in
flight could set a canary weight after the deletion restored the original routes, and the finalizer would then go
with canary traffic left behind. A `Slot` per release serialises the two: its lock is held by each tick and by the
deletion, and a deletion marks the slot first, so a tick that gets the lock after it writes nothing.

A tick never raises here: its error is counted, logged and returned for the handler to choose the retry delay, and
the next tick starts from the status the API server holds, even when the tick failed after writing it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus, Phase
from graygate.api.validation import InvalidSpec
from graygate.domain.config.release_config import restore_plan, to_restore_on_delete
from graygate.domain.release.claims import ALL_ROUTES, Claim, RouteKey, contested_by, object_key
from graygate.domain.release.decision import Reason
from graygate.domain.release.deletion import on_delete
from graygate.errors import GraygateError
from graygate.metrics import OperatorMetrics
from graygate.ports.release import ReleaseRef
from graygate.ports.routing import Destination, HTTPRouteRef, TrafficTarget, VirtualServiceRef
from graygate.routing import snapshots_from_status, target_of
from graygate.service import ActingFailed, Deps, ReleaseView, TickResult, tick

log = logging.getLogger("graygate.lifecycle")


@dataclass
class Slot:
    """What the daemon and the delete handler of one release share."""

    status: CanaryReleaseStatus
    """Where the next tick starts: the status last written (or read, before the first write)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    deleting: bool = False
    users: int = 0
    series: tuple[OperatorMetrics, ReleaseRef] | None = None
    """The metrics its release writes to, registered as `working` from its first tick until the slot goes."""
    rollback_since: float | None = None
    """Set while a rollback's restore has not reached the VirtualServices: when its failing measurement was taken
    (`time.monotonic()`), for the time to rollback. In memory only: a restarted operator cannot measure it."""


class Slots:
    """The slots of the releases this process is working on, by uid (a release recreated under the same name is
    another release). A slot lives while a daemon or a deletion holds it."""

    def __init__(self) -> None:
        self._slots: dict[str, Slot] = {}

    def uids(self) -> set[str]:
        return set(self._slots)

    @contextmanager
    def held(self, uid: str, status: CanaryReleaseStatus) -> Iterator[Slot]:
        """The release's slot; `status` starts a new one, an existing one keeps the status it has."""
        slot = self._slots.setdefault(uid, Slot(status))
        slot.users += 1
        try:
            yield slot
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[uid]
                if slot.series is not None:
                    metrics, ref = slot.series
                    metrics.done(ref.namespace, ref.name, ref.uid)


async def run_tick(slot: Slot, release: ReleaseView, deps: Deps, now: datetime) -> Exception | None:
    """One tick of `release` (built from `slot.status`) under the slot's lock; the error it ended in, or None.

    Nothing is written once a deletion has begun. Errors are counted in `graygate_reconcile_errors` by class; an
    unexpected one (a bug) is logged with its traceback and retried like any other, never let out of the daemon.
    """
    if slot.series is None:
        slot.series = (deps.metrics, release.ref)
        deps.metrics.working(release.ref.namespace, release.ref.name, release.ref.uid)
    async with slot.lock:
        if slot.deleting:
            return None
        try:
            result = await tick(release, deps, now)
        except ActingFailed as failed:
            slot.status = failed.status
            if failed.rollback_since is not None:
                slot.rollback_since = failed.rollback_since
            error = failed.error
        except Exception as raised:
            error = raised
        else:
            slot.status = result.decision.status
            _rolled_back(slot, release.ref, result, deps)
            return None
    return failed_tick(release.ref, error, deps)


def failed_tick(ref: ReleaseRef, error: Exception, deps: Deps) -> Exception:
    """Count and log a tick that ended in `error` (or could not start: its gate templates unreadable)."""
    deps.metrics.reconcile_errors.labels(ref.namespace, ref.name, type(error).__name__).inc()
    where = {"release": f"{ref.namespace}/{ref.name}"}
    if isinstance(error, GraygateError):
        log.warning("tick failed: %s", error, extra=where)
    else:
        log.error("tick failed unexpectedly: %r", error, exc_info=error, extra=where)
    return error


def _rolled_back(slot: Slot, ref: ReleaseRef, result: TickResult, deps: Deps) -> None:
    """End the time to rollback of a rollback whose restore failed, on the first tick after it that succeeds.

    Observed only when that tick itself wrote every VirtualService back to stable (the retry of the restore, a
    DriftCorrected): then its end is known. Any other successful tick drops it unobserved: the weights were already
    back (someone else restored them, at a time nobody knows) or were not ours to write (contested), and guessing
    would report a time that never happened.
    """
    if (since := slot.rollback_since) is None:
        return
    slot.rollback_since = None
    write = result.write
    if write is not None and write.written and write.as_asked and result.decision.status.canary_weight == 0:
        deps.metrics.time_to_rollback.labels(ref.namespace, ref.name).observe(time.monotonic() - since)


def route_keys(namespace: str, status: CanaryReleaseStatus) -> set[RouteKey]:
    """The routes restoring `status.originalRoutes` would write (an unnamed route stands for its whole
    VirtualService, which then has only that one)."""
    return {
        (namespace, object_key(saved.kind, saved.virtual_service), saved.route or ALL_ROUTES)
        for saved in status.original_routes
    }


@dataclass(frozen=True)
class Deleted:
    """A release being deleted, as the handler found it."""

    ref: ReleaseRef
    created_at: datetime
    spec: CanaryReleaseSpec | InvalidSpec
    held: Sequence[tuple[RouteKey, Claim]]
    """Every route claim of every release in the namespace (the route claims index)."""


async def delete_release(slot: Slot, deleted: Deleted, deps: Deps, now: datetime) -> None:
    """Put back the original routes (where `deletion.on_delete` says so) and the config keys of a release being
    deleted, then forget its metrics.

    Raises `GraygateError` while something cannot be restored yet (the caller retries). Restoring needs only the
    snapshots in the status, so a spec that became invalid mid-way does not leave the canary weight behind. A
    contested release (an older release holds one of the snapshotted routes) restores no route: it would overwrite
    that release's weights. The snapshots, not the spec, say which routes those are: they are what the restore
    writes, and they are there even when the spec has since become invalid (and claims nothing).
    """
    slot.deleting = True
    ref = deleted.ref
    where = {"release": f"{ref.namespace}/{ref.name}"}
    async with slot.lock:
        status = slot.status
        me = Claim(created_at=deleted.created_at, release=ref.name)
        contested = contested_by(me, route_keys(ref.namespace, status), deleted.held)
        if contested is not None:
            log.warning("original routes not restored: %s", contested, extra=where)
        elif status.original_routes and _keeps_routes(deleted.spec, status):
            log.info("original routes left as they are: the canary passed (%s)", status.phase.value, extra=where)
        elif status.original_routes:
            target = _restore_target(ref, deleted.spec, status)
            result = await deps.router.restore(target, snapshots_from_status(status.original_routes))
            for problem in result.problems:
                log.warning("route not restored: %s", problem.message, extra=where)
        await restore_config_on_delete(ref, status, deps, now)
        deps.metrics.forget(ref.namespace, ref.name, ref.uid)


def _keeps_routes(spec: CanaryReleaseSpec | InvalidSpec, status: CanaryReleaseStatus) -> bool:
    # An invalid spec cannot say whether it follows a workload; only a release that does has a stable revision.
    follows = spec.workload is not None if not isinstance(spec, InvalidSpec) else status.stable_revision is not None
    entered = [entry for entry in status.history if entry.to is Phase.INVALID]
    before = entered[-1].from_ if entered else None
    return on_delete(status.phase, follows_workload=follows, before_invalid=before) == "keep"


def _restore_target(
    ref: ReleaseRef, spec: CanaryReleaseSpec | InvalidSpec, status: CanaryReleaseStatus
) -> TrafficTarget:
    if not isinstance(spec, InvalidSpec):
        return target_of(ref.namespace, spec, release=ref.name)
    # The router's restore writes what the snapshots say and removes the release's header routes; it reads the
    # destinations only to report the weights it replaced, which an invalid spec cannot name. A target names one
    # kind of object: snapshots of the other (a spec moved between kinds) go to their own router all the same.
    kind = status.original_routes[0].kind
    names = dict.fromkeys(saved.virtual_service for saved in status.original_routes if saved.kind == kind)
    return TrafficTarget(
        namespace=ref.namespace,
        virtual_services=tuple(VirtualServiceRef(name) for name in names) if kind == "VirtualService" else (),
        http_routes=tuple(HTTPRouteRef(name) for name in names) if kind == "HTTPRoute" else (),
        stable=Destination(host="unknown-stable"),
        canary=Destination(host="unknown-canary"),
        release=ref.name,
    )


async def restore_config_on_delete(ref: ReleaseRef, status: CanaryReleaseStatus, deps: Deps, now: datetime) -> None:
    """Put back the config keys of a release being deleted before it succeeded; raises `GraygateError` while etcd
    cannot be read (the caller retries), reports keys someone else changed with a Warning Event."""
    recorded = to_restore_on_delete(status)
    if recorded is None:
        return
    if deps.config_keys is None:
        raise GraygateError("this operator was started without access to etcd; the config keys are not restored")
    reading = await deps.config_keys.read(recorded.etcd, ref.namespace, [entry.key for entry in recorded.keys])
    if reading.error is not None:
        raise GraygateError(f"cannot read the config keys to restore them: {reading.error}")
    plan = restore_plan(recorded, reading)
    if plan.action is None and not plan.conflicts:
        return  # every key already holds its previous value (or graygate's write never happened)
    if plan.action is not None:
        await deps.config_keys.restore(ref.namespace, plan.action)
    if plan.conflicts:
        found = "; ".join(f"{entry.key}: {entry.conflict}" for entry in plan.conflicts)
        message = (
            f"release deleted; {len(plan.conflicts)} config key(s) changed by someone else were not restored: {found}"
        )
        await deps.events.post(ref, "Warning", Reason.CONFIG_CONFLICT, message, now)
    else:
        message = "release deleted; its config keys were put back"
        await deps.events.post(ref, "Normal", Reason.CONFIG_RESTORED, message, now)
