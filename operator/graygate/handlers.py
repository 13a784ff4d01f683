"""Kopf handlers: the only importer of kopf. Each handler parses, delegates to one function, and maps errors.

One daemon per release is its single writer: it ticks until the release is deleted, keeping the status it last
wrote (the watch stream may lag behind our own writes, and a stale status must never repeat a step) in the
release's `lifecycle.Slot`, which the delete handler shares so that a deletion and a tick never overlap.
Between two ticks it sleeps until its next timer (`wake.next_due`), the resync, or a wake (`wakeups`): its own
spec or command annotation changed (`wake_on_change`), an object its tick reads changed (registered before the
tick's reads), or the freeze switch moved; never less than `tick_interval_s` after the previous tick began.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fnmatch
import logging
import threading
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import kopf

from graygate.api import COMMAND_ANNOTATION, GROUP, PLURAL, VERSION, parse_spec
from graygate.api.validation import InvalidSpec
from graygate.domain.release.claims import Claim, RouteKey, claims_of
from graygate.domain.release.shards import finalizer_of, foreign_finalizers, moved_in, shard_of
from graygate.domain.release.wake import next_due
from graygate.domain.serving import ServingWatch
from graygate.errors import ApiUnavailableError, ConflictError, GraygateError, KubeError
from graygate.freeze import FreezeSwitch
from graygate.kube.releases import KubeReleases
from graygate.lifecycle import Deleted, Slots, delete_release, failed_tick, run_tick
from graygate.metrics import OperatorMetrics
from graygate.ports.release import ReleaseRef
from graygate.release_view import created_at, read_templates, release_view, status_of
from graygate.wakeups import Wakeups, objects_read
from graygate.wiring import OperatorSettings, Wired, wire

# How long to wait before the next tick after an error, by error class: transient ones soon, others later. An error
# outside our tree (a bug) is retried at the normal tick interval: a rollback may depend on the next tick.
RETRY_AFTER_S: dict[type[GraygateError], float] = {ConflictError: 0.2, ApiUnavailableError: 2.0, KubeError: 5.0}
OTHER_GRAYGATE_ERROR_AFTER_S = 5.0
SERVING_CHECK_S = 5.0
SERVING_GRACE = dt.timedelta(seconds=30)
# Kopf cancels a daemon this long after it asked it to stop; graygate's own daemon ends its tick at once instead
# (`until_stopped`).
CANCELLATION_TIMEOUT_S = 10.0
# A release moved in from another shard (`shards.moved_in`): its first tick waits until the old shard has let it go
# (its finalizer removed, which Kopf does in the same cycle in which it only asks that shard's daemon to stop; a dead
# old shard never lets go, hence the bound), then a settle longer than the old daemon's cancellation timeout, for a
# tick it may still have in flight.
HANDOVER_TIMEOUT_S = 15.0
HANDOVER_SETTLE_S = CANCELLATION_TIMEOUT_S + 1.0

log = logging.getLogger("graygate.handlers")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    config: OperatorSettings = memo.settings
    # The blocking calls (`asyncio.to_thread`) share this pool; see OperatorSettings.io_threads.
    pool = ThreadPoolExecutor(max_workers=config.io_threads, thread_name_prefix="graygate-io")
    asyncio.get_running_loop().set_default_executor(pool)
    settings.persistence.finalizer = finalizer_of(config.shard)  # per shard: a shard never drops another's
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.enabled = False  # graygate posts its own Events with a fixed reason vocabulary
    settings.peering.standalone = config.peering is None
    if config.peering is not None:
        settings.peering.name = config.peering
        settings.peering.priority = config.priority
        settings.peering.lifetime = config.peering_lifetime_s
    metrics = OperatorMetrics()
    if config.metrics_port:
        try:
            metrics.serve(config.metrics_port, config.listen_address)
        except OSError as error:  # a port in use must stop the operator, not leave it idle and looking alive
            raise kopf.PermanentError(f"cannot serve metrics on port {config.metrics_port}: {error}") from error
    # the watch-fed caches wake the releases whose last tick read a changed object
    memo.wakeups = Wakeups()
    memo.wired = await wire(config, metrics, on_change=memo.wakeups.touch)
    memo.slots = Slots()
    if isinstance(memo.wired.deps.frozen, FreezeSwitch):
        memo.wired.deps.frozen.subscribe(memo.wakeups.wake_all)
    memo.serving = asyncio.create_task(_watch_serving(memo), name="serving watch")


async def _watch_serving(memo: Any) -> None:
    """Stop the operator (so that it exits non-zero and is started again) when a release goes unserved: see
    `graygate.domain.serving`."""
    wired: Wired = memo.wired
    config: OperatorSettings = memo.settings
    slots: Slots = memo.slots
    if wired.api is None or config.peering is not None:
        return  # with peering, a paused standby serving nothing is as it should be
    releases, watch = KubeReleases(wired.api), ServingWatch(SERVING_GRACE)
    while True:
        await asyncio.sleep(SERVING_CHECK_S)
        try:
            listed = await asyncio.to_thread(_listed_uids, releases, config.namespaces, config.shard)
        except GraygateError:
            continue  # the API server cannot say: nothing to judge
        if listed and listed <= slots.uids():
            # Kopf sees the resource: its watch serves every release from here on. The lists stop, so that a
            # thousand releases at rest cost the API server nothing every few seconds.
            return
        if stuck := watch.observe(_now(), listed, slots.uids()):
            log.error(
                "%d CanaryRelease(s) have gone unserved for %s (uids %s): this process does not see the resource; "
                "stopping so that it is started again", len(stuck), SERVING_GRACE, ", ".join(stuck),
            )  # fmt: skip
            memo.unserved.set()
            return


def _listed_uids(releases: KubeReleases, namespaces: tuple[str, ...], shard: str) -> set[str]:
    """The releases of this operator's namespaces and shard that the API server lists."""
    exact = namespaces and not any(set(pattern) & set("*?[!") for pattern in namespaces)
    found = [item for namespace in namespaces for item in releases.list(namespace)] if exact else releases.list(None)
    return {
        item["metadata"]["uid"]
        for item in found
        if (not namespaces or any(fnmatch.fnmatchcase(item["metadata"].get("namespace", ""), p) for p in namespaces))
        and shard_of(item["metadata"].get("labels") or {}) == shard
    }


@kopf.on.cleanup()
async def close(memo: Any, **_: Any) -> None:
    memo.serving.cancel()
    wired: Wired = memo.wired
    await wired.close()


# No shard filter: which release owns a route is decided across shards (the older claim wins wherever its release
# runs), so every shard must see every release's claims.
@kopf.index(GROUP, VERSION, PLURAL)
def route_claims(namespace: str | None, name: str, spec: kopf.Spec, meta: kopf.Meta, **_: Any) -> dict[RouteKey, Claim]:
    parsed = parse_spec(dict(spec), release=name)
    if namespace is None or isinstance(parsed, InvalidSpec):
        return {}
    claim = Claim(created_at=created_at(meta, _now()), release=name)
    return dict.fromkeys(claims_of(namespace, parsed), claim)


def owned(labels: kopf.Labels, memo: Any, **_: Any) -> bool:
    """Kopf's filter of the daemon and the delete handler: the release belongs to this operator's shard, so another
    shard's release never gets a daemon, a finalizer or a write here, and a release relabelled away stops its daemon."""
    config: OperatorSettings = memo.settings
    return shard_of(labels) == config.shard


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=CANCELLATION_TIMEOUT_S, when=owned)
async def reconcile(
    namespace: str | None, name: str, uid: str, body: kopf.Body, stopped: kopf.DaemonStopped, memo: Any,
    **kwargs: Any,
) -> None:  # fmt: skip
    assert namespace is not None, "CanaryRelease is namespaced"
    claims: kopf.Index[RouteKey, Claim] = kwargs["route_claims"]  # Kopf passes each index by its name
    wired: Wired = memo.wired
    config: OperatorSettings = memo.settings
    slots: Slots = memo.slots
    wakeups: Wakeups = memo.wakeups
    ref = ReleaseRef(namespace=namespace, name=name, uid=uid)
    await _handed_over(ref, body, config.shard, stopped)
    loop = asyncio.get_running_loop()
    wakeups.open(ref, _seen(body.metadata))
    try:
        with slots.held(uid, status_of(body)) as slot:
            while not stopped:
                began, now, before = loop.time(), _now(), slot.status
                error: Exception | None
                due: dt.datetime | None = None
                try:
                    templates = await read_templates(ref, body, slot.status, wired.templates)
                except GraygateError as unread:
                    error = failed_tick(ref, unread, wired.deps)
                else:
                    view = release_view(
                        ref, body, slot.status, _held(claims), wired.gates.refusals, now, templates, config.shard
                    )
                    # Before the tick's reads: a change that lands after a read wakes the next tick. An invalid
                    # spec reads nothing, and its old registrations go.
                    spec = view.spec
                    wakeups.register(ref, () if isinstance(spec, InvalidSpec) else objects_read(namespace, spec))
                    ticked = await until_stopped(run_tick(slot, view, wired.deps, now), stopped)
                    if ticked is None:
                        break  # stopped mid-tick: another shard or the deletion may write from now on
                    error = ticked.error
                    due = next_due(view.spec, slot.status, now, moved=slot.status != before)
                if error is not None:
                    await stopped.wait(retry_after(error, config.tick_interval_s))
                    continue
                await _sleep(ref, wakeups, stopped, began, sleep_for(due, now, config), config.tick_interval_s)
    finally:
        wakeups.forget(ref)
    wired.deps.metrics.forget(namespace, name)


@kopf.on.event(GROUP, VERSION, PLURAL, when=owned)
async def wake_on_change(
    namespace: str | None, name: str, uid: str, type: str | None, meta: kopf.Meta, memo: Any, **_: Any
) -> None:  # fmt: skip
    """Wake a release's daemon when its spec (its generation) or its command annotation changes; its own status
    writes change neither, so they wake nothing. The daemon's `body` is already the new one when this runs. A
    release with no daemon (not started yet, or ended) is left alone: its daemon's first tick reads the body.
    Async: it runs on the event loop, not in Kopf's thread pool, for every event (status patches included)."""
    if namespace is None or not hasattr(memo, "wakeups"):
        return
    wakeups: Wakeups = memo.wakeups
    ref = ReleaseRef(namespace=namespace, name=name, uid=uid)
    if type == "DELETED":
        wakeups.forget(ref)
        return
    wakeups.wake_if_changed(ref, _seen(meta))


def _seen(meta: Any) -> object:
    """What of a release's metadata wakes its daemon when it changes."""
    command = (meta.get("annotations") or {}).get(COMMAND_ANNOTATION)
    return meta.get("generation"), command, meta.get("deletionTimestamp")


@dataclass(frozen=True)
class Ticked:
    error: Exception | None


async def until_stopped(tick: Awaitable[Exception | None], stopped: kopf.DaemonStopped) -> Ticked | None:
    """Runs `tick` to its end, or cancels it as soon as `stopped` is set (None): Kopf asks a daemon to stop when its
    release moved to another shard or is being deleted, and at once lets the other shard or the delete handler act,
    so a tick that went on (gate calls, then writes) would write alongside them. Cancelling is as safe as a crash
    between two of the tick's writes, which `service.tick`'s order makes restart-safe; a request already sent may
    still land, nothing after it starts."""
    ticking = asyncio.ensure_future(tick)
    halted = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait((ticking, halted), return_when=asyncio.FIRST_COMPLETED)
    finally:
        halted.cancel()
        if not ticking.done():
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking
    if ticking.cancelled():
        return None
    return Ticked(ticking.result())


def sleep_for(due: dt.datetime | None, now: dt.datetime, config: OperatorSettings) -> float:
    """Seconds from `now` until the next tick without an event: its next timer, or the resync at the latest."""
    if due is None:
        return config.resync_interval_s
    return min(max((due - now).total_seconds(), 0.0), config.resync_interval_s)


async def _sleep(
    ref: ReleaseRef, wakeups: Wakeups, stopped: kopf.DaemonStopped, began: float, seconds: float, floor: float
) -> None:  # fmt: skip
    """Sleep `seconds` after `began` (loop time) unless woken or stopped, but never less than `floor` after it: a
    wake within the floor is kept for when the floor ends."""
    loop = asyncio.get_running_loop()
    if (left := began + floor - loop.time()) > 0:
        await stopped.wait(left)
    if stopped or (left := began + max(seconds, floor) - loop.time()) <= 0:
        return
    woken = asyncio.ensure_future(wakeups.wait(ref, left))
    halted = asyncio.ensure_future(stopped.wait(left))
    try:
        await asyncio.wait((woken, halted), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (woken, halted):
            task.cancel()


@kopf.on.delete(GROUP, VERSION, PLURAL, when=owned)
async def restore_routes(
    namespace: str | None, name: str, uid: str, body: kopf.Body, memo: Any, **kwargs: Any
) -> None:  # fmt: skip
    assert namespace is not None, "CanaryRelease is namespaced"
    claims: kopf.Index[RouteKey, Claim] = kwargs["route_claims"]
    wired: Wired = memo.wired
    slots: Slots = memo.slots
    deleted = Deleted(
        ref=ReleaseRef(namespace=namespace, name=name, uid=uid),
        created_at=created_at(body.get("metadata") or {}, _now()),
        spec=parse_spec(dict(body.get("spec") or {}), release=name),
        held=_held(claims),
    )
    with slots.held(uid, status_of(body)) as slot:
        try:
            await delete_release(slot, deleted, wired.deps, _now())
        except GraygateError as error:
            raise kopf.TemporaryError(f"could not restore the routes or config keys yet: {error}", delay=2) from error


def retry_after(error: Exception | None, tick_interval_s: float) -> float:
    """Seconds until the next tick after one that ended in `error` (None: it succeeded)."""
    if not isinstance(error, GraygateError):
        return tick_interval_s
    return next(
        (after for kind, after in RETRY_AFTER_S.items() if isinstance(error, kind)), OTHER_GRAYGATE_ERROR_AFTER_S
    )


async def _handed_over(ref: ReleaseRef, body: kopf.Body, shard: str, stopped: kopf.DaemonStopped) -> None:
    """Returns at once for a release no other shard may still write (`shards.moved_in`); otherwise once the other
    shard's finalizer is gone (see HANDOVER_TIMEOUT_S) and HANDOVER_SETTLE_S later. The body is Kopf's live view."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANDOVER_TIMEOUT_S
    finalizers = body.metadata.get("finalizers") or []
    last_shard = (body.get("status") or {}).get("shard")
    if not moved_in(finalizers, last_shard if isinstance(last_shard, str) else None, shard):
        return
    held = foreign_finalizers(finalizers, shard)
    log.info(
        "release %s/%s: moved in from %s; waiting for it to let the release go",
        ref.namespace,
        ref.name,
        ", ".join(held) or f"shard {last_shard}",
    )
    while held and not stopped and loop.time() < deadline:
        await stopped.wait(0.1)
        held = foreign_finalizers(body.metadata.get("finalizers") or [], shard)
    if held:
        log.warning(
            "release %s/%s: %s still held after %.0f s; taking it over",
            ref.namespace,
            ref.name,
            held,
            HANDOVER_TIMEOUT_S,
        )
    await stopped.wait(HANDOVER_SETTLE_S)


def _held(claims: Any) -> list[tuple[RouteKey, Claim]]:
    """Every claim in Kopf's route claims index (each key holds the claims of every release that names it)."""
    return [(key, claim) for key, values in claims.items() for claim in values]


def run(settings: OperatorSettings) -> None:
    """Runs the operator until it is stopped (SIGINT/SIGTERM)."""
    kopf.configure(log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.PLAIN)
    liveness = f"http://{settings.listen_address}:{settings.liveness_port}/healthz" if settings.liveness_port else None
    unserved = threading.Event()
    asyncio.run(
        kopf.operator(
            namespaces=list(settings.namespaces),
            clusterwide=not settings.namespaces,
            liveness_endpoint=liveness,
            memo=kopf.Memo(settings=settings, unserved=unserved),
            standalone=settings.peering is None,
            priority=settings.priority,
            peering_name=settings.peering,
            stop_flag=unserved,
        )
    )
    if unserved.is_set():
        raise SystemExit("graygate: CanaryReleases went unserved (see the log above); exiting to be started again")
