"""Caller-side telemetry: the `reporter="source"` series of Istio's client proxy, built from the lab Envoy's access log.

Why: the backends can only count the requests they served (`reporter="destination"`). When a subset reaches no pod,
the proxy answers that share itself (503, response flag UH) and no backend hears of it; only the caller's proxy
does. The lab's Envoy writes one JSON line per request (`graygate.sandbox.istiod.ACCESS_LOG_FIELDS`); this module
reads those lines and serves them, on 127.0.0.1, as `istio_requests_total` and `istio_request_duration_milliseconds`
with the labels Istio's client-side proxy uses, plus `destination_subset` (the subset the route picked), which
Istio's standard metrics do not have (e2e/README.md says how the two differ).

With istiod configuring the Envoy, the access log is the one the mesh config asks for (`accessLogFormat` is the
same JSON object) and the clusters carry istiod's names, which `destination_of` reads back into the lab's.

The log is read on every scrape (and on `poll()`), from where the previous read stopped, so the counters grow
exactly with the lines Envoy has flushed; a partial last line waits for the next read. Parsing and labelling are pure
functions (`parse_access_line`, `caller_labels`), tested line by line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from ._process import serve
from .backend import ISTIO_DURATION_BUCKETS_MS

UNKNOWN = "unknown"

CALLER_LABELS: tuple[str, ...] = (
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "destination_workload",
    "destination_workload_namespace",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_subset",
    "destination_app",
    "destination_version",
    "request_protocol",
    "response_code",
    "response_flags",
    "connection_security_policy",
)


@dataclass(frozen=True)
class Destination:
    """What an Envoy cluster of the lab stands for in the mesh: a subset of a service, served by one workload."""

    service: str
    namespace: str
    subset: str
    workload: str
    version: str

    @property
    def fqdn(self) -> str:
        return f"{self.service}.{self.namespace}.svc.cluster.local"


@dataclass(frozen=True)
class AccessRecord:
    """One request as Envoy recorded it. `upstream_host` is None when no host answered (e.g. UH, NR)."""

    response_code: int
    response_flags: str
    upstream_cluster: str | None
    upstream_host: str | None
    duration_ms: float


def _present(value: object) -> str | None:
    """Envoy writes a missing value as null (JSON format) or "-" (text format)."""
    if value is None:
        return None
    text = str(value)
    return None if text in ("", "-") else text


def parse_access_line(line: str) -> AccessRecord | None:
    """One access-log line, or None for a line that is not one of ours (blank, not JSON, no response code)."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(raw, dict) or "response_code" not in raw:
        return None
    try:
        code = int(raw["response_code"] or 0)
        duration = float(raw.get("duration_ms") or 0.0)
    except (TypeError, ValueError):
        return None
    return AccessRecord(
        response_code=code,
        response_flags=_present(raw.get("response_flags")) or "-",
        upstream_cluster=_present(raw.get("upstream_cluster")),
        upstream_host=_present(raw.get("upstream_host")),
        duration_ms=duration,
    )


def destination_of(cluster: str | None, destinations: Mapping[str, Destination]) -> Destination | None:
    """What the cluster the route picked stands for. The lab's own clusters (file mode) are the keys of
    `destinations`; istiod names its clusters `outbound|<port>|<subset>|<host FQDN>`: a subset of a destination's
    service, (no subset) a version's own service `<service>-<version>`, or a destination without a subset, which
    stands for its whole host. None: not one of the lab's."""
    if not cluster:
        return None
    if cluster in destinations:
        return destinations[cluster]
    # %UPSTREAM_CLUSTER% prints a cluster's alt_stat_name, which istiod sets to the name with a ";" appended.
    parts = cluster.removesuffix(";").split("|")
    if len(parts) != 4 or parts[0] != "outbound":
        return None
    _, _, subset, host = parts
    for dest in destinations.values():
        if not subset and not dest.subset and host == dest.fqdn:  # a whole host, e.g. a canary's own Service
            return dest
        if subset and (host, subset) == (dest.fqdn, dest.subset):
            return dest
        if not subset and host == f"{dest.service}-{dest.subset}.{dest.namespace}.svc.cluster.local":
            return dest
    return None


def caller_labels(
    record: AccessRecord, destinations: Mapping[str, Destination], source_workload: str, source_namespace: str
) -> dict[str, str]:
    """The labels Istio's client proxy would put on this request, plus the subset the route picked.

    The destination *service* comes from the cluster the route picked, answered or not; the destination *workload*
    (and its namespace, app and version) from the host that answered, so it is "unknown" when none did, as in Istio.
    """
    dest = destination_of(record.upstream_cluster, destinations)
    answered = dest is not None and record.upstream_host is not None
    return {
        "reporter": "source",
        "source_workload": source_workload,
        "source_workload_namespace": source_namespace,
        "destination_workload": dest.workload if answered and dest else UNKNOWN,
        "destination_workload_namespace": dest.namespace if answered and dest else UNKNOWN,
        "destination_service": dest.fqdn if dest else UNKNOWN,
        "destination_service_name": dest.service if dest else UNKNOWN,
        "destination_service_namespace": dest.namespace if dest else UNKNOWN,
        "destination_subset": dest.subset if dest else "",
        "destination_app": dest.service if answered and dest else UNKNOWN,
        "destination_version": dest.version if answered and dest else UNKNOWN,
        "request_protocol": "http",
        "response_code": str(record.response_code),
        "response_flags": record.response_flags,
        "connection_security_policy": UNKNOWN,  # what Istio's source reporter says: it cannot tell
    }


class AccessLogTail:
    """Complete lines appended to a file since the last read; starts over if the file is replaced or truncated."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._inode: int | None = None

    def read_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as f:
                stat = os.fstat(f.fileno())
                if stat.st_ino != self._inode or stat.st_size < self._offset:
                    self._inode, self._offset = stat.st_ino, 0
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # only a partial line so far
        self._offset += end + 1
        return chunk[: end + 1].decode(errors="replace").splitlines()


class CallerTelemetry:
    """Tails Envoy's access log into Istio-shaped source-side series and serves them at `url`/metrics.

    `async with CallerTelemetry(log_path, destinations) as callers:` ... `callers.address` is the scrape target.
    """

    def __init__(
        self,
        access_log: Path,
        destinations: Mapping[str, Destination],
        source_workload: str = "loadgen",
        source_namespace: str = "default",
        host: str = "127.0.0.1",
    ) -> None:
        self.destinations = dict(destinations)
        self.source_workload = source_workload
        self.source_namespace = source_namespace
        self._tail = AccessLogTail(access_log)
        self._host = host
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "istio_requests_total", "Requests, as the calling side's proxy saw them (Istio's source reporter).",
            CALLER_LABELS, registry=self.registry,
        )  # fmt: skip
        self.duration = Histogram(
            "istio_request_duration_milliseconds", "Request duration in milliseconds, as the calling side saw it.",
            CALLER_LABELS, buckets=ISTIO_DURATION_BUCKETS_MS, registry=self.registry,
        )  # fmt: skip
        self.records = 0
        self.skipped_lines = 0
        self.bound_port: int | None = None
        self._runner: web.AppRunner | None = None

    def poll(self) -> int:
        """Count every line Envoy has flushed since the last poll; returns how many requests that was."""
        counted = 0
        for line in self._tail.read_lines():
            record = parse_access_line(line)
            if record is None:
                self.skipped_lines += bool(line.strip())
                continue
            labels = caller_labels(record, self.destinations, self.source_workload, self.source_namespace)
            self.requests.labels(**labels).inc()
            self.duration.labels(**labels).observe(record.duration_ms)
            counted += 1
        self.records += counted
        return counted

    def exposition(self) -> bytes:
        self.poll()
        return generate_latest(self.registry)

    async def _metrics(self, request: web.Request) -> web.Response:
        resp = web.Response(body=self.exposition())
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    @property
    def address(self) -> str:
        """host:port, as a Prometheus target."""
        if self.bound_port is None:
            raise RuntimeError("caller telemetry not started")
        return f"{self._host}:{self.bound_port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner, self.bound_port = await serve(app, self._host, 0)

    async def stop(self) -> None:
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
