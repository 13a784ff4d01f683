"""The mesh shim: what istiod would do for the lab, for the VirtualService fields graygate touches. Only for the lab's
own fast tests (tests/lab, no API server): every e2e test, the demo and the bench run the real istiod (mesh.py).

Why: without an API server and istiod, something must turn a VirtualService into the routes a real Envoy obeys.
`virtualservice_to_envoy_routes` is that translation, pure and table-tested; `VirtualServiceWatcher` polls a
VirtualService through a caller's `fetch()` (no Kubernetes client imported here) and pushes each changed translation to
Envoy.

Modelled like Istio: `http` routes in order, first match wins; several `match` entries of one route are ORed (one
Envoy route each), entries without `match` match everything; `uri` and `headers` exact/prefix/regex (RE2, full
match) and `ignoreUriCase`; `route[]` destinations by (host, subset) with relative weights (a destination gets
weight/sum; weight 0 or missing, with several destinations, gets nothing; a single destination gets everything).
Anything else in an http route (redirect, rewrite, mirror, fault, other match fields...) is refused with a ShimError
rather than silently ignored, so the lab never pretends to route what it does not model. `name`, `timeout`,
`retries` and `headers` manipulation are accepted and ignored (they do not change which version serves a request).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ShimError

log = logging.getLogger(__name__)

ROUTE_CONFIG_NAME = "graygate-lab"

# --- the VirtualService subset we read (Istio's names, camelCase) -----------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class IstioStringMatch(_Strict):
    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if sum(v is not None for v in (self.exact, self.prefix, self.regex)) != 1:
            raise ValueError("a string match needs exactly one of exact, prefix, regex")
        return self


class IstioMatch(_Strict):
    name: str | None = None
    uri: IstioStringMatch | None = None
    headers: dict[str, IstioStringMatch] = Field(default_factory=dict)
    ignore_uri_case: bool = Field(default=False, alias="ignoreUriCase")


class IstioPort(_Strict):
    number: int


class IstioDestination(_Strict):
    host: str
    subset: str | None = None
    port: IstioPort | None = None


class IstioRouteDestination(_Strict):
    destination: IstioDestination
    weight: int | None = Field(default=None, ge=0)
    headers: dict[str, Any] | None = None  # header manipulation: accepted, ignored


class IstioHTTPRoute(_Strict):
    name: str | None = None
    match: list[IstioMatch] = Field(default_factory=list)
    route: list[IstioRouteDestination] = Field(min_length=1)
    timeout: str | None = None
    retries: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None


class IstioVirtualServiceSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")  # hosts, gateways, tcp, tls, exportTo: not ours to route

    http: list[IstioHTTPRoute] = Field(default_factory=list)


# --- the Envoy route configuration we write (envoy.config.route.v3, as JSON) ------------------------------------------


class EnvoyRegex(TypedDict):
    regex: str


class EnvoyStringMatch(TypedDict, total=False):
    exact: str
    prefix: str
    safe_regex: EnvoyRegex


class EnvoyHeaderMatcher(TypedDict):
    name: str
    string_match: EnvoyStringMatch


class EnvoyRouteMatch(TypedDict, total=False):
    prefix: str
    path: str
    safe_regex: EnvoyRegex
    case_sensitive: bool
    headers: list[EnvoyHeaderMatcher]


class EnvoyClusterWeight(TypedDict):
    name: str
    weight: int


class EnvoyWeightedClusters(TypedDict):
    clusters: list[EnvoyClusterWeight]


class EnvoyRouteAction(TypedDict, total=False):
    cluster: str
    weighted_clusters: EnvoyWeightedClusters
    timeout: str


class EnvoyRoute(TypedDict):
    name: str
    match: EnvoyRouteMatch
    route: EnvoyRouteAction


class EnvoyVirtualHost(TypedDict):
    name: str
    domains: list[str]
    routes: list[EnvoyRoute]


class EnvoyRouteConfiguration(TypedDict):
    name: str
    virtual_hosts: list[EnvoyVirtualHost]


ClusterMap = Mapping[tuple[str, str | None], str]
"""(destination host, subset or None) → Envoy cluster name."""


def empty_routes() -> EnvoyRouteConfiguration:
    """What Envoy gets while there is no VirtualService: every request is answered 404 (as with Istio)."""
    return {"name": ROUTE_CONFIG_NAME, "virtual_hosts": [{"name": "none", "domains": ["*"], "routes": []}]}


def virtualservice_to_envoy_routes(vs: Mapping[str, Any], clusters: ClusterMap) -> EnvoyRouteConfiguration:
    """Translate a VirtualService object (the whole object, or just its spec) into an Envoy RouteConfiguration."""
    raw_spec = vs.get("spec", vs)
    try:
        spec = IstioVirtualServiceSpec.model_validate(raw_spec)
    except ValidationError as e:
        raise ShimError(f"the lab cannot route this VirtualService: {e}") from e
    if not spec.http:
        raise ShimError("the VirtualService has no http routes")
    name = str(vs.get("metadata", {}).get("name", "virtualservice"))
    routes: list[EnvoyRoute] = []
    for i, http in enumerate(spec.http):
        action = _action(http, i, clusters)
        route_name = http.name or f"http-{i}"
        for j, match in enumerate(http.match or [IstioMatch()]):
            suffix = f"/{match.name or j}" if len(http.match) > 1 else ""
            routes.append({"name": route_name + suffix, "match": _match(match), "route": action})
    return {"name": ROUTE_CONFIG_NAME, "virtual_hosts": [{"name": name, "domains": ["*"], "routes": routes}]}


def _string_match(m: IstioStringMatch) -> EnvoyStringMatch:
    if m.exact is not None:
        return {"exact": m.exact}
    if m.prefix is not None:
        return {"prefix": m.prefix}
    assert m.regex is not None  # guaranteed by IstioStringMatch._one_of
    return {"safe_regex": {"regex": m.regex}}


def _match(m: IstioMatch) -> EnvoyRouteMatch:
    out: EnvoyRouteMatch
    if m.uri is None or m.uri.prefix is not None:
        out = {"prefix": m.uri.prefix if m.uri is not None and m.uri.prefix is not None else "/"}
    elif m.uri.exact is not None:
        out = {"path": m.uri.exact}
    else:
        assert m.uri.regex is not None
        out = {"safe_regex": {"regex": m.uri.regex}}
    if m.ignore_uri_case:
        out["case_sensitive"] = False
    if m.headers:
        out["headers"] = [
            {"name": name.lower(), "string_match": _string_match(sm)}
            for name, sm in sorted(m.headers.items(), key=lambda kv: kv[0].lower())
        ]
    return out


def _action(http: IstioHTTPRoute, index: int, clusters: ClusterMap) -> EnvoyRouteAction:
    def cluster(d: IstioDestination) -> str:
        try:
            return clusters[(d.host, d.subset)]
        except KeyError:
            known = ", ".join(f"{h}/{s}" for h, s in sorted(clusters, key=str))
            raise ShimError(
                f"http[{index}]: no lab backend for host {d.host!r} subset {d.subset!r} (known: {known})"
            ) from None

    if len(http.route) == 1:
        only = http.route[0]
        if only.weight == 0:
            raise ShimError(f"http[{index}]: its only destination has weight 0")
        return {"cluster": cluster(only.destination), "timeout": "0s"}
    weights: dict[str, int] = {}
    for rd in http.route:
        name = cluster(rd.destination)  # checked even at weight 0: a typo must not hide behind a zero
        if rd.weight:
            weights[name] = weights.get(name, 0) + rd.weight
    if not weights:
        raise ShimError(f"http[{index}]: every destination has weight 0")
    if len(weights) == 1:
        return {"cluster": next(iter(weights)), "timeout": "0s"}
    return {
        "weighted_clusters": {"clusters": [{"name": n, "weight": w} for n, w in weights.items()]},
        "timeout": "0s",
    }


def weights_of(config: EnvoyRouteConfiguration, route_index: int = -1) -> dict[str, int]:
    """The cluster → weight split of one route (default: the last, usually the catch-all) as percentages-ish ints."""
    action = config["virtual_hosts"][0]["routes"][route_index]["route"]
    if "cluster" in action:
        return {action["cluster"]: 100}
    return {c["name"]: c["weight"] for c in action["weighted_clusters"]["clusters"]}


# --- the watcher ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """One translation the watcher pushed: when it was seen, when Envoy acknowledged it, and what it was."""

    seen_at: float
    acked_at: float
    resource_version: str | None
    routes: EnvoyRouteConfiguration


@dataclass
class VirtualServiceWatcher:
    """Polls `fetch()` every `interval_s`, translates, and awaits `apply(routes)` whenever the translation changes.

    `fetch` is synchronous (a Kubernetes client call) and runs in a worker thread; it returns the VirtualService
    object, or None when there is none (then every request gets a 404, as with Istio). A VirtualService the shim
    refuses keeps the last good routes in place and is reported in `last_error` (and in the log), never raised
    into the poll loop. `history` records every push, with times from `clock` (the load generator's clock, so a
    test can line weights up with responses).
    """

    fetch: Callable[[], Mapping[str, Any] | None]
    clusters: ClusterMap
    apply: Callable[[EnvoyRouteConfiguration], Awaitable[None]]
    interval_s: float = 0.2
    clock: Callable[[], float] = time.monotonic
    history: list[Applied] = field(default_factory=list)
    last_error: str | None = None
    polls: int = 0
    _current: EnvoyRouteConfiguration | None = None
    _task: asyncio.Task[None] | None = None

    async def poll_once(self) -> bool:
        """One poll; True when Envoy got new routes."""
        self.polls += 1
        try:
            vs = await asyncio.to_thread(self.fetch)
        except Exception as e:  # the API server may be restarting; keep the routes, try again next tick
            self._fail(f"fetch failed: {e!r}")
            return False
        seen_at = self.clock()
        try:
            routes = empty_routes() if vs is None else virtualservice_to_envoy_routes(vs, self.clusters)
        except ShimError as e:
            self._fail(str(e))
            return False
        if routes == self._current:
            self.last_error = None
            return False
        try:
            await self.apply(routes)
        except Exception as e:  # Envoy refused or did not acknowledge: keep polling, the next tick retries
            self._fail(f"apply failed: {e}")
            return False
        self.last_error = None
        self._current = routes
        rv = None if vs is None else vs.get("metadata", {}).get("resourceVersion")
        self.history.append(Applied(seen_at, self.clock(), None if rv is None else str(rv), routes))
        return True

    def _fail(self, message: str) -> None:
        if message != self.last_error:
            log.warning("virtualservice watcher: %s", message)
        self.last_error = message

    async def _run(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self.interval_s)

    async def start(self) -> None:
        if self._task is None:
            await self.poll_once()  # the first translation is in place before start() returns
            self._task = asyncio.create_task(self._run(), name="virtualservice-watcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
