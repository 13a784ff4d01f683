"""Who wakes a sleeping release: a small registry of one flag per release, and of the objects each one's tick reads.

Why: a release's daemon sleeps until its next timer (`domain.release.wake.next_due`) or the resync, and an outside
change must cut that sleep short: its own spec or command annotation (`wake`), a change to a VirtualService,
HTTPRoute or Deployment its tick reads (`touch`, called by whatever watches those objects), the freeze switch
(`wake_all`). A wake is a level, not a pulse: one that arrives while the release ticks is kept, and the next `wait`
returns at once, so a change seen during a tick is never lost.

Thread-safe where it must be: `touch`, `wake` and `wake_all` may be called from a watch's thread; the flags are
set on the event loop that made them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

from graygate.api.spec import CanaryReleaseSpec
from graygate.ports.release import ReleaseRef
from graygate.routing import target_of

__all__ = ["ObjectKey", "Wakeups", "objects_read"]

ObjectKey = tuple[str, str, str]
"""(kind, namespace, name) of an object a release reads: `VirtualService`, `HTTPRoute`, `Deployment`."""


def objects_read(namespace: str, spec: CanaryReleaseSpec) -> frozenset[ObjectKey]:
    """The objects a tick of a release with `spec` reads, whose changes should wake it: its VirtualServices or
    HTTPRoutes, its canary workload, or its followed Deployment and that one's primary."""
    target = target_of(namespace, spec)
    keys: set[ObjectKey] = {("VirtualService", namespace, ref.name) for ref in target.virtual_services}
    keys |= {("HTTPRoute", namespace, ref.name) for ref in target.http_routes}
    if spec.workload is not None:
        keys |= {("Deployment", namespace, spec.workload.name), ("Deployment", namespace, spec.workload.primary_name())}
    elif spec.canary_workload is not None:
        keys.add(("Deployment", namespace, spec.canary_workload.name))
    return frozenset(keys)


class Wakeups:
    def __init__(self) -> None:
        self._flags: dict[ReleaseRef, asyncio.Event] = {}
        self._reads: dict[ReleaseRef, frozenset[ObjectKey]] = {}
        self._readers: dict[ObjectKey, set[ReleaseRef]] = {}
        self._seen: dict[ReleaseRef, object] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def register(self, ref: ReleaseRef, objects: Iterable[ObjectKey]) -> None:
        """`ref`'s tick reads `objects` (and no other): a `touch` of any of them wakes it. Called before the tick's
        reads, so a change that lands after a read is never missed."""
        fresh = frozenset(objects)
        with self._lock:
            self._flag(ref)
            before = self._reads.get(ref, frozenset())
            if fresh == before:
                return
            for key in before - fresh:
                self._drop_reader(key, ref)
            for key in fresh - before:
                self._readers.setdefault(key, set()).add(ref)
            self._reads[ref] = fresh

    def wake(self, ref: ReleaseRef) -> None:
        """Wake `ref` now (or at the end of its tick, when it is ticking); a release not known yet is woken by its
        first `wait`."""
        with self._lock:
            flag = self._flag(ref)
        self._set(flag)

    def open(self, ref: ReleaseRef, seen: object) -> None:
        """`ref`'s daemon starts, having seen `seen` of it (see `wake_if_changed`); until then, and after `forget`,
        nothing is kept for `ref`."""
        with self._lock:
            self._flag(ref)
            self._seen[ref] = seen

    def wake_if_changed(self, ref: ReleaseRef, seen: object) -> bool:
        """Wake `ref` when `seen` (what the caller saw of it: its generation and command, say) differs from the
        last `seen` given for it. A release with no daemon (not `open`, or forgotten) is left alone: a new daemon
        ticks at once anyway, and recording it would keep what `forget` dropped. True when it woke it."""
        with self._lock:
            if ref not in self._seen or self._seen[ref] == seen:
                return False
            self._seen[ref] = seen
            flag = self._flag(ref)
        self._set(flag)
        return True

    def wake_all(self) -> None:
        with self._lock:
            flags = list(self._flags.values())
        for flag in flags:
            self._set(flag)

    def touch(self, kind: str, namespace: str, name: str) -> int:
        """An object changed: wake every release whose last tick read it. How many were woken."""
        with self._lock:
            refs = list(self._readers.get((kind, namespace, name), ()))
            flags = [self._flag(ref) for ref in refs]
        for flag in flags:
            self._set(flag)
        return len(flags)

    async def wait(self, ref: ReleaseRef, seconds: float) -> bool:
        """Until `ref` is woken (True, and the wake is used up) or `seconds` pass (False)."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            flag = self._flag(ref)
        try:
            await asyncio.wait_for(flag.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            return False
        flag.clear()
        return True

    def forget(self, ref: ReleaseRef) -> None:
        """`ref`'s daemon has ended: its flag and the objects it read go."""
        with self._lock:
            self._flags.pop(ref, None)
            self._seen.pop(ref, None)
            for key in self._reads.pop(ref, frozenset()):
                self._drop_reader(key, ref)

    def holds(self, ref: ReleaseRef) -> bool:
        """Whether anything is kept for `ref` (its flag, what it saw or read)."""
        with self._lock:
            return ref in self._flags or ref in self._seen or ref in self._reads

    def readers(self, kind: str, namespace: str, name: str) -> frozenset[ReleaseRef]:
        with self._lock:
            return frozenset(self._readers.get((kind, namespace, name), ()))

    def _flag(self, ref: ReleaseRef) -> asyncio.Event:
        flag = self._flags.get(ref)
        if flag is None:
            flag = self._flags[ref] = asyncio.Event()
        return flag

    def _drop_reader(self, key: ObjectKey, ref: ReleaseRef) -> None:
        readers = self._readers.get(key)
        if readers is not None:
            readers.discard(ref)
            if not readers:
                del self._readers[key]

    def _set(self, flag: asyncio.Event) -> None:
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            flag.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(flag.set)
