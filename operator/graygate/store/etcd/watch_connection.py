"""The `WatchConnection` the store hands each `Watch`: a client of its own, and a way to stop etcd3's watcher.

Why apart from the store: the reconnection logic (`graygate.store.watch`) closes a connection after every break,
so each watch owns a freshly dialled client and closing it disturbs none of the store's other calls. That, and the
patch below that lets a closed client's watcher thread end, is the only watch code that touches etcd3; it is kept
here so `EtcdStore` reads as the list of things the store does.

The patch: etcd3's watcher thread re-opens its stream forever and has no way to stop (closing the channel makes it
die with a traceback). So, on this connection's own watcher (etcd3 is pinned to 0.12.0), once the connection is
closed the thread's next attempt to open a stream raises `_Closed`, and the thread's target returns on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from graygate.store.errors import EtcdError
from graygate.store.etcd.rpc import TRANSLATED, Client, etcd3, etcdrpc, quietly, translate, unary
from graygate.store.model import KeyState, decode, encode

__all__ = ["EtcdWatchConnection"]


class EtcdWatchConnection:
    """A `graygate.store.watch.WatchConnection` on a client of its own, so closing it after a break disturbs
    nothing else. `dial` is the store's: a new client on the first endpoint that answers."""

    def __init__(self, dial: Callable[[], tuple[Client, str]], request_timeout_s: float) -> None:
        self._client, _ = dial()
        self._timeout_s = request_timeout_s
        self._closed = threading.Event()
        watcher = self._client.watcher
        watcher._watch_stub = _StopWhenClosed(watcher._watch_stub, self._closed)
        watcher._run = _until_closed(watcher._run)

    def read(self, key: str) -> tuple[KeyState, int]:
        client = self._client
        try:
            answer = unary(client, client.kvstub.Range, etcdrpc.RangeRequest(key=encode(key)), self._timeout_s)
        except TRANSLATED as error:
            raise translate(error, f"reading {key!r}") from error
        kvs = answer.kvs
        if not kvs:
            return KeyState(key=key, value=None, mod_revision=0), int(answer.header.revision)
        state = KeyState(key=key, value=decode(kvs[0].value), mod_revision=int(kvs[0].mod_revision))
        return state, int(answer.header.revision)

    def watch(
        self, key: str, start_revision: int, on_state: Callable[[KeyState], None], on_error: Callable[[EtcdError], None]
    ) -> Callable[[], None]:
        def on_response(response: object) -> None:
            if isinstance(response, Exception):
                on_error(translate(response, f"watching {key!r}"))
                return
            for event in getattr(response, "events", ()):
                if isinstance(event, etcd3.events.DeleteEvent):
                    on_state(KeyState(key=key, value=None, mod_revision=0))
                else:
                    on_state(KeyState(key=key, value=decode(event.value), mod_revision=int(event.mod_revision)))

        client = self._client
        try:
            watch_id = client.add_watch_callback(encode(key), on_response, start_revision=start_revision)
        except TRANSLATED as error:
            raise translate(error, f"watching {key!r}") from error
        return lambda: quietly(lambda: client.cancel_watch(watch_id))

    def close(self) -> None:
        self._closed.set()
        self._client.close()


class _Closed(Exception):
    """Raised into etcd3's watcher thread to end it once its connection is closed."""


class _StopWhenClosed:
    """etcd3's Watch stub, until the connection is closed."""

    def __init__(self, stub: Any, closed: threading.Event) -> None:
        self._stub = stub
        self._closed = closed

    def Watch(self, *args: Any, **kwargs: Any) -> Any:  # the gRPC stub's method name
        if self._closed.is_set():
            raise _Closed
        return self._stub.Watch(*args, **kwargs)


def _until_closed(run: Callable[[], None]) -> Callable[[], None]:
    def run_until_closed() -> None:
        try:
            run()
        except _Closed:
            return

    return run_until_closed
