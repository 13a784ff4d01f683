"""The invariant watcher: follows every VirtualService and CanaryRelease of a namespace through the API server's
watch, independently of the operator, and checks every version it sees (invariants.py).

Why a watch and not polling: a poll can miss a version that lived between two reads (a weight written and
overwritten in 50 ms is exactly the bug to catch); a watch resumed from its last resourceVersion delivers every
change etcd stored, across API server restarts. Only a `410 Gone` (the version fell out of the watch window) loses
versions; it is counted as a gap and the order-sensitive rules start over for the runs it spans, so it cannot cause
a false violation, and the report says how many there were.

The watcher talks to the API server directly (not through the proxy that degrades the operator's network).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from e2e.chaos.invariants import InvariantChecker, ReleaseVersion, RouteVersion, Violation

KINDS = {
    "release": ("graygate.dev", "v1alpha1", "canaryreleases"),
    "routes": ("networking.istio.io", "v1", "virtualservices"),
}


@dataclass(frozen=True)
class Seen:
    """One version as delivered, with the monotonic time it arrived."""

    at: float
    kind: str
    event: str
    body: dict[str, Any]

    @property
    def resource_version(self) -> int:
        return int(self.body["metadata"]["resourceVersion"])


@dataclass
class Watcher:
    kubeconfig: Path
    namespace: str
    seen: list[Seen] = field(default_factory=list)
    gaps: int = 0
    reconnects: int = 0
    listeners: list[Callable[[Seen], None]] = field(default_factory=list)
    checker: InvariantChecker = field(default_factory=InvariantChecker)
    _checked: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _watches: list[watch.Watch] = field(default_factory=list)

    def start(self) -> None:
        for kind in KINDS:
            thread = threading.Thread(target=self._follow, args=(kind,), name=f"watch {kind}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for stream in list(self._watches):
            stream.stop()  # type: ignore[no-untyped-call]
        for thread in self._threads:
            thread.join(timeout=10)

    def _follow(self, kind: str) -> None:
        group, version, plural = KINDS[kind]
        api: client.ApiClient = config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]
        custom = client.CustomObjectsApi(api)
        resource_version: str | None = None
        known: dict[str, dict[str, Any]] = {}
        while not self._stop.is_set():
            try:
                if resource_version is None:
                    listed = cast(
                        dict[str, Any], custom.list_namespaced_custom_object(group, version, self.namespace, plural)
                    )
                    resource_version = listed["metadata"]["resourceVersion"]
                    present = {item["metadata"]["name"] for item in listed["items"]}
                    for name, body in list(known.items()):
                        if name not in present:  # deleted while the watch was away
                            self._record(Seen(time.monotonic(), kind, "DELETED", body))
                    for item in listed["items"]:
                        self._record(Seen(time.monotonic(), kind, "LISTED", item))
                        known[item["metadata"]["name"]] = item
                stream = watch.Watch()  # type: ignore[no-untyped-call]
                self._watches.append(stream)
                for event in stream.stream(  # type: ignore[no-untyped-call]
                    custom.list_namespaced_custom_object, group, version, self.namespace, plural,
                    resource_version=resource_version, timeout_seconds=30, allow_watch_bookmarks=True,
                ):  # fmt: skip
                    body = event["object"]
                    if event["type"] == "ERROR":
                        if body.get("code") == 410:
                            resource_version = None
                            self._gap()
                        break
                    resource_version = body["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._record(Seen(time.monotonic(), kind, event["type"], body))
                        if event["type"] == "DELETED":
                            known.pop(body["metadata"]["name"], None)
                        else:
                            known[body["metadata"]["name"]] = body
                    if self._stop.is_set():
                        break
                self._watches.remove(stream)
            except ApiException as error:
                if error.status == 410:
                    resource_version = None
                    self._gap()
                self._pause()
            except Exception:  # an API server going away breaks the stream in many ways
                self._pause()

    def _pause(self) -> None:
        with self._lock:
            self.reconnects += 1
        self._stop.wait(0.5)

    def _gap(self) -> None:
        with self._lock:
            self.gaps += 1
            self.seen.append(Seen(time.monotonic(), "gap", "GAP", {"metadata": {"resourceVersion": "0"}}))

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)
        for listener in list(self.listeners):
            listener(seen)

    def check(self) -> list[Violation]:
        """Check every version not checked yet, in resourceVersion order; returns the new violations. Versions
        still in flight on the other watch are ordered as best as delivered: call it after a quiet moment."""
        with self._lock:
            fresh = self.seen[self._checked :]
            self._checked = len(self.seen)
        versions: list[ReleaseVersion | RouteVersion] = []
        for seen in fresh:
            deleted = seen.event == "DELETED"
            if seen.kind == "gap":
                self.checker.forget_order()
            elif seen.kind == "release":
                versions.append(ReleaseVersion.of(seen.body, deleted=deleted))
            else:
                versions.append(RouteVersion.of(seen.body, deleted=deleted))
        return self.checker.observe_all(versions)
