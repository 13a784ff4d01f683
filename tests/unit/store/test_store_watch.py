"""The watch's reconnection machine, driven step by step through a hand-written fake connection: first state,
changes, an outage reported once, the state re-read after reconnecting, and a clean stop."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import pytest

from graygate.store import EtcdUnavailable, KeyState, WatchEvent, WatchInterrupted
from graygate.store.errors import EtcdError
from graygate.store.watch import Watch

KEY = "/graygate/freeze"


def state(value: str | None, revision: int) -> KeyState:
    return KeyState(key=KEY, value=value, mod_revision=revision)


class FakeEtcd:
    """The key's value, whether etcd answers, and the connections the watch opened."""

    def __init__(self) -> None:
        self.value: KeyState = state(None, 0)
        self.revision = 1
        self.up = True
        self.connections: list[FakeConnection] = []
        self.lock = threading.Lock()

    def connect(self) -> FakeConnection:
        if not self.up:
            raise EtcdUnavailable("no etcd endpoint answered")
        connection = FakeConnection(self)
        self.connections.append(connection)
        return connection

    def put(self, value: str | None) -> None:
        with self.lock:
            self.revision += 1
            self.value = state(value, self.revision if value is not None else 0)
            watchers = [c for c in self.connections if c.on_state is not None and not c.closed]
        for connection in watchers:
            assert connection.on_state is not None
            connection.on_state(self.value)

    def registered(self) -> None:
        """Wait until the newest connection watches (the watch delivers the state it read just before that)."""
        deadline = time.monotonic() + 3
        while not self.connections or self.connections[-1].on_error is None:
            assert time.monotonic() < deadline, "the watch never registered"
            time.sleep(0.001)

    def crash(self) -> None:
        self.registered()
        self.up = False
        for connection in list(self.connections):
            if connection.on_error is not None and not connection.closed:
                connection.on_error(EtcdUnavailable("stream removed"))


class FakeConnection:
    def __init__(self, etcd: FakeEtcd) -> None:
        self.etcd = etcd
        self.on_state: Callable[[KeyState], None] | None = None
        self.on_error: Callable[[EtcdError], None] | None = None
        self.closed = False
        self.cancelled = False

    def read(self, key: str) -> tuple[KeyState, int]:
        assert key == KEY
        if not self.etcd.up:
            raise EtcdUnavailable("read failed")
        return self.etcd.value, self.etcd.revision

    def watch(
        self, key: str, start_revision: int, on_state: Callable[[KeyState], None], on_error: Callable[[EtcdError], None]
    ) -> Callable[[], None]:
        self.on_state, self.on_error = on_state, on_error
        if self.etcd.revision >= start_revision:  # changed since the read: etcd replays it from start_revision
            on_state(self.etcd.value)

        def cancel() -> None:
            self.cancelled = True

        return cancel

    def close(self) -> None:
        self.closed = True


class Seen:
    def __init__(self) -> None:
        self.events: queue.Queue[WatchEvent] = queue.Queue()

    def __call__(self, event: WatchEvent) -> None:
        self.events.put(event)

    def next(self) -> WatchEvent:
        return self.events.get(timeout=3)

    def nothing_more(self) -> bool:
        return self.events.empty()


@pytest.fixture
def etcd() -> FakeEtcd:
    return FakeEtcd()


def started(etcd: FakeEtcd, seen: Callable[[WatchEvent], None]) -> Watch:
    watch = Watch(KEY, etcd.connect, seen)
    watch.BACKOFF_MIN_S = watch.BACKOFF_MAX_S = 0.01
    watch.start()
    etcd.registered()
    return watch


def test_the_first_state_then_every_change(etcd: FakeEtcd) -> None:
    seen = Seen()
    watch = started(etcd, seen)
    assert seen.next() == state(None, 0)
    etcd.put("on")
    etcd.put("off")
    etcd.put(None)
    assert [seen.next(), seen.next(), seen.next()] == [state("on", 2), state("off", 3), state(None, 0)]
    watch.cancel()
    assert not watch.active
    assert etcd.connections[0].cancelled
    assert etcd.connections[0].closed


def test_an_outage_is_reported_once_and_the_state_re_read_after_it(etcd: FakeEtcd) -> None:
    seen = Seen()
    etcd.put("off")
    watch = started(etcd, seen)
    assert seen.next() == state("off", 2)

    etcd.crash()
    assert isinstance(seen.next(), WatchInterrupted)
    etcd.value, etcd.revision = state("on", 9), 9  # changed while the watch could not see it
    etcd.up = True
    assert seen.next() == state("on", 9)
    assert etcd.connections[0].closed
    etcd.put("off")
    assert seen.next() == state("off", 10)
    watch.cancel()
    assert seen.nothing_more()


def test_an_unchanged_key_is_not_delivered_again_after_a_reconnection(etcd: FakeEtcd) -> None:
    seen = Seen()
    watch = started(etcd, seen)
    assert seen.next() == state(None, 0)
    etcd.crash()
    assert isinstance(seen.next(), WatchInterrupted)
    etcd.up = True
    etcd.put("on")  # the first thing after the outage is a real change
    assert seen.next() == state("on", 2)
    watch.cancel()
    assert seen.nothing_more()


def test_a_first_connection_that_fails_raises(etcd: FakeEtcd) -> None:
    etcd.up = False
    watch = Watch(KEY, etcd.connect, Seen())
    with pytest.raises(EtcdUnavailable):
        watch.start()
    assert not watch.active


def test_a_failing_callback_does_not_end_the_watch(etcd: FakeEtcd, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[WatchEvent] = []

    def clumsy(event: WatchEvent) -> None:
        calls.append(event)
        raise RuntimeError("bug in the callback")

    watch = started(etcd, clumsy)
    etcd.put("on")
    watch.cancel()
    assert calls == [state(None, 0), state("on", 2)]
    assert "watch callback for /graygate/freeze failed" in caplog.text


def test_cancel_is_idempotent(etcd: FakeEtcd) -> None:
    watch = started(etcd, Seen())
    watch.cancel()
    watch.cancel()
    assert not watch.active
