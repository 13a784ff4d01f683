"""Kopf handlers: the only importer of kopf. Each handler parses, delegates to one function, and maps errors.

One daemon per release is its single writer: it ticks until the release is deleted, keeping the status it last
wrote (the watch stream may lag behind our own writes, and a stale status must never repeat a step) in the
release's `lifecycle.Slot`, which the delete handler shares so that a deletion and a tick never overlap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import logging
import threading
from typing import Any

import kopf

from graygate.api import GROUP, PLURAL, VERSION, parse_spec
from graygate.api.validation import InvalidSpec
from graygate.domain.release.claims import Claim, RouteKey, claims_of
from graygate.domain.serving import ServingWatch
from graygate.errors import ApiUnavailableError, ConflictError, GraygateError, KubeError
from graygate.kube.releases import KubeReleases
from graygate.lifecycle import Deleted, Slots, delete_release, failed_tick, run_tick
from graygate.metrics import OperatorMetrics
from graygate.ports.release import ReleaseRef
from graygate.release_view import created_at, read_templates, release_view, status_of
from graygate.wiring import OperatorSettings, Wired, wire

# How long to wait before the next tick after an error, by error class: transient ones soon, others later. An error
# outside our tree (a bug) is retried at the normal tick interval: a rollback may depend on the next tick.
RETRY_AFTER_S: dict[type[GraygateError], float] = {ConflictError: 0.2, ApiUnavailableError: 2.0, KubeError: 5.0}
OTHER_GRAYGATE_ERROR_AFTER_S = 5.0
SERVING_CHECK_S = 5.0
SERVING_GRACE = dt.timedelta(seconds=30)

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    config: OperatorSettings = memo.settings
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.enabled = False  # graygate posts its own Events with a fixed reason vocabulary
    settings.peering.standalone = config.peering is None
    if config.peering is not None:
        settings.peering.name = config.peering
        settings.peering.priority = config.priority
    metrics = OperatorMetrics()
    if config.metrics_port:
        try:
            metrics.serve(config.metrics_port, config.listen_address)
        except OSError as error:  # a port in use must stop the operator, not leave it idle and looking alive
            raise kopf.PermanentError(f"cannot serve metrics on port {config.metrics_port}: {error}") from error
    memo.wired = await wire(config, metrics)
    memo.slots = Slots()
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
            listed = await asyncio.to_thread(_listed_uids, releases, config.namespaces)
        except GraygateError:
            continue  # the API server cannot say: nothing to judge
        if stuck := watch.observe(_now(), listed, slots.uids()):
            log.error(
                "%d CanaryRelease(s) have gone unserved for %s (uids %s): this process does not see the resource; "
                "stopping so that it is started again", len(stuck), SERVING_GRACE, ", ".join(stuck),
            )  # fmt: skip
            memo.unserved.set()
            return


def _listed_uids(releases: KubeReleases, namespaces: tuple[str, ...]) -> set[str]:
    exact = namespaces and not any(set(pattern) & set("*?[!") for pattern in namespaces)
    found = [item for namespace in namespaces for item in releases.list(namespace)] if exact else releases.list(None)
    return {
        item["metadata"]["uid"]
        for item in found
        if not namespaces or any(fnmatch.fnmatchcase(item["metadata"].get("namespace", ""), p) for p in namespaces)
    }


@kopf.on.cleanup()
async def close(memo: Any, **_: Any) -> None:
    memo.serving.cancel()
    wired: Wired = memo.wired
    await wired.close()


@kopf.index(GROUP, VERSION, PLURAL)
def route_claims(namespace: str | None, name: str, spec: kopf.Spec, meta: kopf.Meta, **_: Any) -> dict[RouteKey, Claim]:
    parsed = parse_spec(dict(spec), release=name)
    if namespace is None or isinstance(parsed, InvalidSpec):
        return {}
    claim = Claim(created_at=created_at(meta, _now()), release=name)
    return dict.fromkeys(claims_of(namespace, parsed), claim)


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def reconcile(
    namespace: str | None, name: str, uid: str, body: kopf.Body, stopped: kopf.DaemonStopped, memo: Any,
    **kwargs: Any,
) -> None:  # fmt: skip
    assert namespace is not None, "CanaryRelease is namespaced"
    claims: kopf.Index[RouteKey, Claim] = kwargs["route_claims"]  # Kopf passes each index by its name
    wired: Wired = memo.wired
    config: OperatorSettings = memo.settings
    slots: Slots = memo.slots
    ref = ReleaseRef(namespace=namespace, name=name, uid=uid)
    with slots.held(uid, status_of(body)) as slot:
        while not stopped:
            now = _now()
            error: Exception | None
            try:
                templates = await read_templates(ref, body, slot.status, wired.templates)
            except GraygateError as unread:
                error = failed_tick(ref, unread, wired.deps)
            else:
                view = release_view(ref, body, slot.status, _held(claims), wired.gates.refusals, now, templates)
                error = await run_tick(slot, view, wired.deps, now)
            await stopped.wait(retry_after(error, config.tick_interval_s))
    wired.deps.metrics.forget(namespace, name)


@kopf.on.delete(GROUP, VERSION, PLURAL)
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
