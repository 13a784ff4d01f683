"""A watch-fed cache of one kind of object in one scope (every namespace, or one): list, then watch from the list's
resourceVersion, so a tick reads memory instead of asking the API server.

The rules, each tested against a hand-written event source (tests/unit/kube/test_watch_cache.py):
- The first list fills the cache and makes it `ready`; until then readers go to the API server themselves.
- ADDED and MODIFIED store the object, DELETED drops it; each change calls `on_change(kind, namespace, name)`. An
  event older than what is stored (a write's answer already put in by `put`) is ignored, a DELETED one too:
  resourceVersions are compared as integers when both are (etcd revisions), and otherwise the event wins.
- A list keeps an object the cache holds in a newer version than the list's (a write's answer that came after it).
- A watch that ends (the server's timeout) is resumed from the last resourceVersion seen (BOOKMARKs included).
- 410 Gone (an expired resourceVersion) relists at once; the relist's difference with the cache is reported as
  changes (so an event missed while the watch was down still wakes its release).
- Any other failure (the API server unreachable, a 5xx, a missing CRD, a revoked grant) retries with a doubling
  backoff, capped, with a relist, and the cache is not `ready` until that relist succeeds: a watch that keeps
  failing must not serve old data (a canary's availability) for ever. Nor is it `ready` when nothing (an event, a
  BOOKMARK, a watch the server ended on time, a list) was heard for twice the watch timeout: a stuck stream.
- Every `resync_s` (default 5 min) a full relist, whether or not anything failed: the level-based guarantee that a
  missed event is caught.

One dedicated thread per cache runs the blocking list and watch (never a thread per release); `on_change` is called
from that thread, so it must be thread-safe (wiring hands it to the event loop with `call_soon_threadsafe`).
Memory is bounded by what `trim` keeps of each object (managedFields are dropped from every object).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

log = logging.getLogger("graygate.kube.watch_cache")

Body = dict[str, Any]
Key = tuple[str, str]
OnChange = Callable[[str, str, str], None]
"""`(kind, namespace, name)` of an object that appeared, changed or went."""

RESYNC_S = 300.0
WATCH_TIMEOUT_S = 240.0
"""How long one watch request may stay open before the server ends it and it is resumed."""


class Gone(Exception):
    """The resourceVersion the watch asked for is too old (HTTP 410): only a relist can catch up."""


class EventSource(Protocol):
    """The two calls a cache makes; `graygate.kube.watch_sources` implements them against the API server."""

    def list(self) -> tuple[list[Body], str]:
        """Every object in scope and the list's resourceVersion."""
        ...

    def watch(self, resource_version: str, timeout_s: float) -> Iterator[tuple[str, Body]]:
        """(type, object) events after `resource_version` until the server ends the watch; raises `Gone` on 410."""
        ...

    def interrupt(self) -> None:
        """Ends a watch in progress from another thread (the cache is stopping)."""
        ...


def strip_managed_fields(body: Body) -> Body:
    """The object without `metadata.managedFields` (often its largest part, and read by nothing of ours)."""
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        body = {**body, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
    return body


class WatchCache:
    def __init__(
        self,
        kind: str,
        source: EventSource,
        *,
        on_change: OnChange | None = None,
        trim: Callable[[Body], Body] = strip_managed_fields,
        resync_s: float = RESYNC_S,
        watch_timeout_s: float = WATCH_TIMEOUT_S,
        backoff_s: tuple[float, float] = (0.5, 30.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self._source = source
        self._on_change = on_change
        self._trim = trim
        self._resync_s = resync_s
        self._watch_timeout_s = watch_timeout_s
        self._backoff = backoff_s
        self._clock = clock
        self._objects: dict[Key, Body] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._heard_at: float | None = None
        """When the source last answered (a list, an event, a watch ended on time), on `clock`."""
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.resource_version = ""
        self.relists = 0
        """How many lists were made (the first included): for tests and logs."""

    # ---- reading ----

    @property
    def ready(self) -> bool:
        """Whether reads may come from memory: listed, not failing since, and heard from lately."""
        heard = self._heard_at
        return self._ready.is_set() and heard is not None and self._clock() - heard <= 2 * self._watch_timeout_s

    def _heard(self) -> None:
        self._heard_at = self._clock()

    def wait_ready(self, timeout_s: float) -> bool:
        return self._ready.wait(timeout_s)

    def get(self, namespace: str, name: str) -> Body | None:
        """A copy of the cached object (the caller may change it freely), or None when the cache does not hold it."""
        with self._lock:
            found = self._objects.get((namespace, name))
        return None if found is None else copy.deepcopy(found)

    def in_namespace(self, namespace: str) -> list[Body]:
        """The cached objects of one namespace, not copied (every Pending release's poll reads them all): the
        caller reads them and never changes them."""
        with self._lock:
            return [body for (where, _), body in self._objects.items() if where == namespace]

    def keys(self) -> set[Key]:
        with self._lock:
            return set(self._objects)

    def put(self, body: Body) -> None:
        """Stores an object the API server returned (a write's answer or a fresh GET), so the next read does not see
        the old one before the watch brings it. A version newer than the one held calls `on_change` as a watch event
        would: the watch's own event for that version is then ignored (already held), and other releases reading
        the object (two releases may manage different routes of one VirtualService) must still hear of it. The
        reader or writer itself is told too: one extra tick that reads memory, simpler than naming who to skip."""
        self._store(body, notify=True)

    # ---- applying what the source says (the watch thread; public so tests can drive them one step at a time) ----

    def relist(self) -> None:
        items, version = self._source.list()
        listed = {_key(item): self._trim(item) for item in items}
        with self._lock:
            old = self._objects
            # A held object newer than the list (a write's answer put in after the list was read) is kept, and so
            # is one the list does not have yet (created after it).
            fresh = {key: old[key] if key in old and _older(body, old[key]) else body for key, body in listed.items()}
            fresh |= {key: body for key, body in old.items() if key not in listed and _newer_than(body, version)}
            self._objects = fresh
        changed = [key for key, body in fresh.items() if _version(old.get(key)) != _version(body)]
        changed += [key for key in old if key not in fresh]
        self.resource_version = version
        self.relists += 1
        self._heard()
        self._ready.set()
        if self.relists > 1:
            for namespace, name in changed:
                self._notify(namespace, name)

    def apply(self, kind: str, body: Body) -> None:
        """One watch event; raises `Gone` for an ERROR event with code 410, `RuntimeError` for any other ERROR."""
        if kind == "ERROR":
            code = body.get("code")
            if code == 410:
                raise Gone(str(body.get("message") or "resourceVersion too old"))
            raise RuntimeError(f"watch error {code}: {body.get('message')}")
        version = _version(body)
        if kind in ("ADDED", "MODIFIED"):
            self._store(body, notify=True)
        elif kind == "DELETED":
            key = _key(body)
            with self._lock:
                held = self._objects.get(key)
                gone = held is not None and not _older(body, held)  # not a deletion of an older object
                if gone:
                    del self._objects[key]
            if gone:
                self._notify(*key)
        self._heard()
        if version:
            self.resource_version = version

    def _store(self, body: Body, *, notify: bool) -> None:
        key = _key(body)
        trimmed = self._trim(body)
        with self._lock:
            held = self._objects.get(key)
            if held is not None and (_older(trimmed, held) or _version(held) == _version(trimmed)):
                return
            self._objects[key] = trimmed
        if notify:
            self._notify(*key)

    def _notify(self, namespace: str, name: str) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(self.kind, namespace, name)
        except Exception:  # a callback's bug must not end the watch
            log.exception("the %s cache's change callback failed for %s/%s", self.kind, namespace, name)

    # ---- the thread ----

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self.run, name=f"graygate-watch-{self.kind}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Ends the thread; False when it did not end within `timeout_s` (it is a daemon thread: exit is not held)."""
        self._stopping.set()
        self._source.interrupt()
        if self._thread is None:
            return True
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def run(self) -> None:
        """List, watch, resume, relist on 410 and every `resync_s`, back off on failure, until `stop`."""
        delay = self._backoff[0]
        listed_at: float | None = None
        last_failure = ""
        while not self._stopping.is_set():
            try:
                if listed_at is None or self._clock() - listed_at >= self._resync_s:
                    self.relist()
                    listed_at = self._clock()
                remaining = self._resync_s - (self._clock() - listed_at)
                for kind, body in self._source.watch(
                    self.resource_version, max(1.0, min(remaining, self._watch_timeout_s))
                ):
                    if self._stopping.is_set():
                        return
                    self.apply(kind, body)
                self._heard()
                delay, last_failure = self._backoff[0], ""
            except Gone as gone:
                log.info("the %s watch expired (%s): relisting", self.kind, gone)
                listed_at = None
            except Exception as error:
                if self._stopping.is_set():
                    return
                # The same failure again (a CRD not installed, a missing grant) is logged once, not every retry.
                level = logging.DEBUG if str(error) == last_failure else logging.WARNING
                last_failure = str(error)
                log.log(level, "the %s cache's watch failed (%s): relisting in %.1f s", self.kind, error, delay)
                self._ready.clear()  # reads go to the API server until a list succeeds again
                listed_at = None
                self._stopping.wait(delay)
                delay = min(delay * 2, self._backoff[1])


def _key(body: Body) -> Key:
    metadata = body.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _version(body: Body | None) -> str:
    return "" if body is None else str((body.get("metadata") or {}).get("resourceVersion") or "")


def _newer_than(body: Body, version: str) -> bool:
    held = _version(body)
    return held.isdigit() and version.isdigit() and int(held) > int(version)


def _older(body: Body, than: Body) -> bool:
    new, held = _version(body), _version(than)
    return new.isdigit() and held.isdigit() and int(new) < int(held)
