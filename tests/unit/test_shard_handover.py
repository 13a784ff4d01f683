"""A release moved in from another shard: its daemon's first tick waits until the old shard's finalizer is gone (or
a bounded time for a dead old shard), then a settle, also when the finalizer was gone already but the status says
another shard wrote it last; a release no other shard may write starts at once. A stopped daemon's tick in flight
is cancelled before its next write."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from graygate import handlers
from graygate.ports.release import ReleaseRef

REF = ReleaseRef(namespace="shop", name="checkout", uid="u1")


@dataclass
class LiveBody:
    """Kopf's live body as the daemon sees it: updated in place as the watch brings news."""

    metadata: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return {"metadata": self.metadata, "status": self.status}.get(key, default)


class Stopped:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            return False
        return True


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "HANDOVER_SETTLE_S", 0.05)
    monkeypatch.setattr(handlers, "HANDOVER_TIMEOUT_S", 1.0)


async def _elapsed(body: LiveBody, shard: str, let_go_after: float | None) -> float:
    loop = asyncio.get_running_loop()
    if let_go_after is not None:
        loop.call_later(let_go_after, lambda: body.metadata.update(finalizers=[f"graygate.dev/finalizer-{shard}"]))
    started = loop.time()
    await handlers._handed_over(REF, body, shard, Stopped())  # type: ignore[arg-type]
    return loop.time() - started


async def test_a_release_no_other_shard_holds_starts_at_once() -> None:
    body = LiveBody({"finalizers": ["graygate.dev/finalizer-b", "example.com/keep"]})
    assert await _elapsed(body, "b", None) < 0.05


async def test_a_moved_release_waits_for_the_old_shard_to_let_go_then_settles() -> None:
    body = LiveBody({"finalizers": ["graygate.dev/finalizer-a"]})
    assert 0.3 + 0.05 <= await _elapsed(body, "b", 0.3) < 0.6


async def test_a_dead_old_shard_holds_it_only_until_the_timeout() -> None:
    body = LiveBody({"finalizers": ["graygate.dev/finalizer"]})
    assert 1.0 <= await _elapsed(body, "b", None) < 1.5


async def test_a_release_whose_status_another_shard_wrote_settles_though_its_finalizer_is_gone() -> None:
    body = LiveBody({"finalizers": ["graygate.dev/finalizer-b"]}, {"shard": "a"})
    assert 0.05 <= await _elapsed(body, "b", None) < 0.5


async def test_a_release_this_shard_wrote_last_starts_at_once() -> None:
    body = LiveBody({"finalizers": ["graygate.dev/finalizer-b"]}, {"shard": "b"})
    assert await _elapsed(body, "b", None) < 0.05


async def test_a_tick_in_flight_when_the_daemon_is_stopped_is_cancelled_before_its_next_write() -> None:
    writes: list[str] = []
    measured = asyncio.Event()

    async def tick() -> Exception | None:
        writes.append("status")
        measured.set()
        await asyncio.sleep(0.5)  # a slow gate call
        writes.append("routes")
        return None

    stopped = Stopped()
    ticking = asyncio.ensure_future(handlers.until_stopped(tick(), stopped))  # type: ignore[arg-type]
    await measured.wait()
    stopped.set()
    assert await asyncio.wait_for(ticking, 0.2) is None
    await asyncio.sleep(0.6)
    assert writes == ["status"], "the stopped daemon's tick wrote after the stop"


async def test_a_tick_that_ends_before_any_stop_gives_its_error() -> None:
    failure = RuntimeError("boom")

    async def tick() -> Exception | None:
        return failure

    assert await handlers.until_stopped(tick(), Stopped()) == handlers.Ticked(failure)  # type: ignore[arg-type]
