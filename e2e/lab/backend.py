"""A stand-in workload for the traffic lab: one HTTP app plays "stable" or "canary", with knobs to make it go bad.

Why: canary analysis must be exercised against real requests and real metrics. This app answers every path with its
version in the `x-served-by` header, and counts each answer in Istio-shaped Prometheus series
(`istio_requests_total`, `istio_request_duration_milliseconds`) so that graygate's built-in Istio queries work with
no mesh. Its knobs (error rate, latency, health) change at runtime through `POST /admin/knobs`, so a test can make a
canary go bad in the middle of a release.

Faults are deterministic where that matters: with error_rate 0.1 exactly one request in ten fails (an accumulator,
not a coin), so tests do not flake on small samples. `error_ramp_per_s` makes the rate climb with time, from
`error_rate` at the moment either knob was last set, by that much per second, up to 1 (a canary that degrades
slowly, as a leak does); the clock is a constructor argument, so a test can step it. Latency is `latency_ms` +
uniform(0, `jitter_ms`), plus `slow_ms` on a `slow_fraction` of requests (again by accumulator), which moves p99
without moving p50.

Endpoints (none but `/*` are counted in the Istio series):
    GET  /healthz          200 "ok" or 503 "unhealthy" (the `healthy` knob)
    GET  /metrics          Prometheus text format, from this backend's own CollectorRegistry, with `app_build_info`
                           (series from the start, no traffic needed); `drop_metric_label` leaves a label out
    GET  /openapi.json     the app's OpenAPI document (GET /orders/{id}); `drop_response_field` removes an Order field
    GET  /config           the configuration it runs with, read from etcd (`config_etcd`, `config_prefix`) every
                           100 ms: the store revision and content hash of the read, and the values; with
                           `reload_broken` it reads once and never again (a broken watch)
    GET  /admin/knobs      the knobs as JSON;   POST /admin/knobs  a partial JSON update, answers the new knobs
    *    /anything         `error_code` or 200 "<version>\\n" after the configured latency

Run it:  python -m e2e.lab.backend --version canary --port 0 --port-file /tmp/p   (or as a script: python backend.py)
In-process:  async with Backend(BackendIdentity(version="canary")) as b: ... b.url, b.set_knobs(error_rate=0.5)

This module imports nothing from the rest of the lab but `release_surface` (the release checks' knobs), so that it
also runs as a plain script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._process import serve

try:
    from .release_surface import ConfigFollower, WithoutLabel, openapi_document
except ImportError:  # run as a plain script: the sibling module is on sys.path
    from release_surface import ConfigFollower, WithoutLabel, openapi_document  # type: ignore[import-not-found,no-redef]

# Istio's default buckets for istio_request_duration_milliseconds (istio/istio pkg/config/.../stats defaults).
ISTIO_DURATION_BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
)  # fmt: skip

ISTIO_LABELS: tuple[str, ...] = (
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "destination_workload",
    "destination_workload_namespace",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_app",
    "destination_version",
    "request_protocol",
    "response_code",
    "response_flags",
    "connection_security_policy",
)

SOURCE_WORKLOAD_HEADER = "x-source-workload"
SERVED_BY_HEADER = "x-served-by"


class Knobs(BaseModel):
    """The runtime behaviour of a backend. Every field may be changed through POST /admin/knobs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="fraction of requests answered with error_code")
    error_ramp_per_s: float = Field(
        default=0.0, ge=0.0, le=1.0, description="the error rate climbs by this much per second (capped at 1)"
    )
    error_code: int = Field(default=500, ge=400, le=599)
    latency_ms: float = Field(default=0.0, ge=0.0, le=60_000.0, description="base latency of every request")
    jitter_ms: float = Field(default=0.0, ge=0.0, le=60_000.0, description="plus uniform(0, jitter_ms)")
    slow_fraction: float = Field(default=0.0, ge=0.0, le=1.0, description="fraction of requests that also get slow_ms")
    slow_ms: float = Field(default=0.0, ge=0.0, le=60_000.0)
    healthy: bool = True
    drop_metric_label: str = Field(default="", max_length=64, description="a label left out of every /metrics series")
    drop_response_field: str = Field(default="", max_length=64, description="an Order field /openapi.json drops")
    config_etcd: str = Field(default="", max_length=256, description="host:port of the etcd holding the config")
    config_prefix: str = Field(default="/app/config/", max_length=256, description="the config's key prefix")
    reload_broken: bool = Field(default=False, description="read the config once, never again")


@dataclass(frozen=True)
class BackendIdentity:
    """Who this backend pretends to be in the mesh: the labels of its Istio series."""

    version: str
    service: str = "app"
    namespace: str = "default"
    workload: str = ""  # default: "<service>-<version>"

    @property
    def workload_name(self) -> str:
        return self.workload or f"{self.service}-{self.version}"


class _Accumulator:
    """Turns a fraction into an exact, evenly spread sequence of hits: 0.25 → every fourth call."""

    def __init__(self) -> None:
        self._acc = 0.0

    def hit(self, fraction: float) -> bool:
        self._acc += fraction
        if self._acc >= 1.0 - 1e-9:
            self._acc -= 1.0
            return True
        return False


class IstioMetrics:
    """The Istio-shaped series of one backend, in a registry of its own (several backends may share a process)."""

    def __init__(self, identity: BackendIdentity) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "istio_requests_total", "Requests served, as Istio's destination reporter counts them.",
            ISTIO_LABELS, registry=self.registry,
        )  # fmt: skip
        self.duration = Histogram(
            "istio_request_duration_milliseconds", "Request duration in milliseconds, as Istio reports it.",
            ISTIO_LABELS, buckets=ISTIO_DURATION_BUCKETS_MS, registry=self.registry,
        )  # fmt: skip
        self.build = Gauge("app_build_info", "The build.", ("service", "version"), registry=self.registry)
        self.build.labels(service=identity.service, version=identity.version).set(1)
        self._fixed = {
            "reporter": "destination",
            "source_workload_namespace": identity.namespace,
            "destination_workload": identity.workload_name,
            "destination_workload_namespace": identity.namespace,
            "destination_service": f"{identity.service}.{identity.namespace}.svc.cluster.local",
            "destination_service_name": identity.service,
            "destination_service_namespace": identity.namespace,
            "destination_app": identity.service,
            "destination_version": identity.version,
            "request_protocol": "http",
            "response_flags": "-",
            "connection_security_policy": "mutual_tls",
        }

    def observe(self, source_workload: str, code: int, duration_ms: float) -> None:
        labels = {**self._fixed, "source_workload": source_workload, "response_code": str(code)}
        self.requests.labels(**labels).inc()
        self.duration.labels(**labels).observe(duration_ms)

    def exposition(self, drop_label: str = "") -> bytes:
        return generate_latest(WithoutLabel(self.registry, drop_label) if drop_label else self.registry)


class Backend:
    """The app, startable in-process (`async with Backend(...)`) or through `main()` as a process."""

    def __init__(
        self,
        identity: BackendIdentity,
        knobs: Knobs | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identity = identity
        self.knobs = knobs or Knobs()
        self.metrics = IstioMetrics(identity)
        self._host = host
        self._port = port
        self._rng = random.Random(seed)
        self._errors = _Accumulator()
        self._clock = clock
        self._ramp_since = clock()
        self._slow = _Accumulator()
        self._runner: web.AppRunner | None = None
        self.config = ConfigFollower(
            lambda: (self.knobs.config_etcd, self.knobs.config_prefix, self.knobs.reload_broken)
        )
        self._config_task: asyncio.Task[None] | None = None
        self.bound_port: int | None = None

    # --- the app ---------------------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application()
        app.on_response_prepare.append(self._stamp)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/openapi.json", self._openapi)
        app.router.add_get("/config", self._config)
        app.router.add_get("/admin/knobs", self._get_knobs)
        app.router.add_post("/admin/knobs", self._post_knobs)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        return app

    async def _stamp(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers[SERVED_BY_HEADER] = self.identity.version

    async def _healthz(self, request: web.Request) -> web.Response:
        if self.knobs.healthy:
            return web.Response(text="ok\n")
        return web.Response(status=503, text="unhealthy\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        resp = web.Response(body=self.metrics.exposition(self.knobs.drop_metric_label))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document(self.knobs.drop_response_field))

    async def _config(self, request: web.Request) -> web.Response:
        return web.json_response(self.config.config)

    async def _get_knobs(self, request: web.Request) -> web.Response:
        return web.json_response(self.knobs.model_dump())

    async def _post_knobs(self, request: web.Request) -> web.Response:
        try:
            update = await request.json()
            if not isinstance(update, dict):
                raise ValueError("expected a JSON object")
            self.set_knobs(**update)
        except (ValueError, ValidationError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response(self.knobs.model_dump())

    def set_knobs(self, **changes: Any) -> Knobs:
        """Validate the whole new set first, then swap it in (a bad update changes nothing). Setting `error_rate` or
        `error_ramp_per_s` starts the ramp again from `error_rate`."""
        self.knobs = Knobs.model_validate({**self.knobs.model_dump(), **changes})
        if changes.keys() & {"error_rate", "error_ramp_per_s"}:
            self._ramp_since = self._clock()
        return self.knobs

    def current_error_rate(self) -> float:
        """The error rate now: `error_rate` plus the ramp since it was set, at most 1."""
        k = self.knobs
        if not k.error_ramp_per_s:
            return k.error_rate
        return min(1.0, k.error_rate + k.error_ramp_per_s * max(0.0, self._clock() - self._ramp_since))

    async def _serve(self, request: web.Request) -> web.Response:
        start = time.perf_counter()
        k = self.knobs
        delay_ms = k.latency_ms + (self._rng.uniform(0.0, k.jitter_ms) if k.jitter_ms else 0.0)
        if self._slow.hit(k.slow_fraction):
            delay_ms += k.slow_ms
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000.0)
        code = k.error_code if self._errors.hit(self.current_error_rate()) else 200
        source = request.headers.get(SOURCE_WORKLOAD_HEADER, "unknown")
        self.metrics.observe(source, code, (time.perf_counter() - start) * 1000.0)
        return web.Response(status=code, text=f"{self.identity.version}\n")

    # --- in-process lifecycle --------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.bound_port is None:
            raise RuntimeError("backend not started")
        return f"http://{self._host}:{self.bound_port}"

    async def start(self) -> None:
        self._runner, self.bound_port = await serve(self.make_app(), self._host, self._port)
        self._config_task = asyncio.get_running_loop().create_task(self.config.run())

    async def stop(self) -> None:
        if self._config_task is not None:
            self._config_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._config_task
            self._config_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


# --- as a process -----------------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="graygate traffic lab: a stable/canary stand-in backend")
    p.add_argument("--version", required=True, help="the version name, sent back in x-served-by")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (see --port-file)")
    p.add_argument("--port-file", type=Path, help="write the bound port here (atomically) once listening")
    p.add_argument("--service", default="app")
    p.add_argument("--namespace", default="default")
    p.add_argument("--workload", default="", help="default: <service>-<version>")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--knobs", default="{}", help="initial knobs as JSON, e.g. '{\"error_rate\": 0.1}'")
    for name, field in Knobs.model_fields.items():  # one flag per knob too; flags win over --knobs
        flag = "--" + name.replace("_", "-")
        if field.annotation is bool:
            p.add_argument(flag, dest=name, type=_yes, metavar="BOOL", help=field.description)
        elif field.annotation is str:
            p.add_argument(flag, dest=name, help=field.description)
        else:
            p.add_argument(flag, dest=name, type=float, help=field.description)
    return p


def _yes(text: str) -> bool:
    return text.lower() in ("1", "true", "yes", "on")


def initial_knobs(args: argparse.Namespace) -> Knobs:
    flags = {name: getattr(args, name) for name in Knobs.model_fields if getattr(args, name) is not None}
    return Knobs.model_validate({**json.loads(args.knobs), **flags})


async def _serve_forever(args: argparse.Namespace) -> None:
    identity = BackendIdentity(args.version, args.service, args.namespace, args.workload)
    backend = Backend(identity, initial_knobs(args), args.host, args.port, args.seed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with backend:
        if args.port_file is not None:
            tmp = args.port_file.with_name(f".{args.port_file.name}.{os.getpid()}")
            tmp.write_text(f"{backend.bound_port}\n")
            tmp.replace(args.port_file)
        print(f"backend {identity.version} listening on {backend.url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
