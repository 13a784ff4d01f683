"""A watch on one key that survives etcd restarts: the freeze switch must be seen within a second, outages included.

Why apart from the adapter: reconnection is a small state machine (connect, read, watch, wait, on a break report
once and back off) that deserves to be read on its own, and it needs nothing of etcd3: it runs over a
`WatchConnection`, which `graygate.store.etcd` implements on a freshly dialled client and a test could fake.

The supervisor thread owns one connection at a time (so closing it never disturbs the store's other calls). It
reads the key and delivers its state, watches from the revision after that read, and waits. When the stream breaks
it delivers `WatchInterrupted` once per outage, closes the connection and connects again with backoff (0.1 s
doubling to 0.5 s, so a change is seen within a second of etcd answering again). On success it re-reads the key
and delivers its state only if it differs from the last one delivered, so a change made during the outage is
never missed and nothing is delivered twice.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable

from graygate.ports.config import WatchConnection
from graygate.store.errors import EtcdError, EtcdUnavailable
from graygate.store.model import KeyState, WatchEvent, WatchInterrupted

__all__ = ["Watch"]

log = logging.getLogger(__name__)


class Watch:
    """Calls `callback` with the key's state when started, on every change, and after reconnecting if it changed.

    The callback runs on the watch's thread; an exception in it is logged and the watch goes on.
    """

    BACKOFF_MIN_S = 0.1
    BACKOFF_MAX_S = 0.5

    def __init__(
        self, key: str, connect: Callable[[], WatchConnection], callback: Callable[[WatchEvent], None]
    ) -> None:
        self.key = key
        self._connect = connect
        self._callback = callback
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._started = threading.Event()
        self._first_error: EtcdError | None = None
        self._broken: EtcdError | None = None
        self._generation = 0
        self._last: tuple[str | None, int] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"graygate-watch {key}", daemon=True)

    @property
    def active(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        """Start, and wait until the first state was delivered; raise the error if the first connection failed."""
        self._thread.start()
        self._started.wait()
        if self._first_error is not None:
            self._stop.set()
            raise self._first_error

    def cancel(self, timeout_s: float = 5.0) -> None:
        """Stop watching; idempotent."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=timeout_s)

    def _deliver(self, event: WatchEvent) -> None:
        with self._lock:
            if isinstance(event, KeyState):
                state = (event.value, event.mod_revision)
                if state == self._last or self._stop.is_set():
                    return
                self._last = state
            try:
                self._callback(event)
            except Exception:  # a faulty callback must not end the watch
                log.exception("watch callback for %s failed", self.key)

    def _on_error(self, error: EtcdError, generation: int) -> None:
        if generation != self._generation:
            return  # a late word from a connection already replaced
        self._broken = error
        self._wake.set()

    def _run(self) -> None:
        backoff = self.BACKOFF_MIN_S
        interrupted = False
        while not self._stop.is_set():
            connection: WatchConnection | None = None
            self._broken = None
            self._generation += 1
            generation = self._generation
            try:
                connection = self._connect()
                state, revision = connection.read(self.key)
                self._deliver(state)
                on_error = functools.partial(self._on_error, generation=generation)
                cancel = connection.watch(self.key, revision + 1, self._deliver, on_error)
                interrupted, backoff = False, self.BACKOFF_MIN_S
                self._started.set()
                self._wake.wait()
                self._wake.clear()
                if self._stop.is_set():
                    cancel()
                    return
                raise self._broken or EtcdUnavailable(f"the watch on {self.key!r} ended")
            except EtcdError as error:
                if not self._started.is_set():
                    self._first_error = error
                    self._started.set()
                    return
                if not interrupted:
                    interrupted = True
                    self._deliver(WatchInterrupted(key=self.key, error=str(error)))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.BACKOFF_MAX_S)
            finally:
                if connection is not None:
                    connection.close()
