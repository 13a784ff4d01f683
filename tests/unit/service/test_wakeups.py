"""`Wakeups`: who wakes a sleeping release, on a real event loop, every wait bounded."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import timedelta

from graygate.handlers import _sleep, sleep_for
from graygate.ports.release import ReleaseRef
from graygate.wakeups import Wakeups, objects_read
from graygate.wiring import OperatorSettings
from tests.unit.domain.release_builders import T0, follow_spec, spec

A = ReleaseRef(namespace="shop", name="a", uid="uid-a")
B = ReleaseRef(namespace="shop", name="b", uid="uid-b")
VS = ("VirtualService", "shop", "checkout")


async def test_a_wait_ends_at_its_timeout_when_nothing_wakes_it() -> None:
    wakeups = Wakeups()
    began = time.monotonic()
    assert await wakeups.wait(A, 0.05) is False
    assert time.monotonic() - began >= 0.04


async def test_a_wake_ends_a_wait_at_once() -> None:
    wakeups = Wakeups()
    waiting = asyncio.ensure_future(wakeups.wait(A, 5))
    await asyncio.sleep(0.01)
    wakeups.wake(A)
    assert await asyncio.wait_for(waiting, 1) is True


async def test_a_wake_during_a_tick_is_kept_for_the_next_wait_and_used_once() -> None:
    wakeups = Wakeups()
    wakeups.wake(A)
    assert await asyncio.wait_for(wakeups.wait(A, 5), 1) is True
    assert await wakeups.wait(A, 0.02) is False


async def test_touch_wakes_the_releases_that_read_the_object_and_no_other() -> None:
    wakeups = Wakeups()
    wakeups.register(A, [VS])
    wakeups.register(B, [("VirtualService", "shop", "other")])
    assert wakeups.touch(*VS) == 1
    assert await asyncio.wait_for(wakeups.wait(A, 5), 1) is True
    assert await wakeups.wait(B, 0.02) is False
    assert wakeups.touch("VirtualService", "elsewhere", "checkout") == 0


async def test_register_replaces_what_a_release_read() -> None:
    wakeups = Wakeups()
    wakeups.register(A, [VS])
    wakeups.register(A, [("HTTPRoute", "shop", "checkout")])
    assert wakeups.readers(*VS) == frozenset()
    assert wakeups.touch("HTTPRoute", "shop", "checkout") == 1


async def test_forget_drops_the_release_and_what_it_read() -> None:
    wakeups = Wakeups()
    wakeups.register(A, [VS])
    wakeups.forget(A)
    assert wakeups.touch(*VS) == 0
    assert wakeups.readers(*VS) == frozenset()


async def test_wake_all_wakes_every_release() -> None:
    wakeups = Wakeups()
    waits = [asyncio.ensure_future(wakeups.wait(ref, 5)) for ref in (A, B)]
    await asyncio.sleep(0.01)
    wakeups.wake_all()
    assert await asyncio.wait_for(asyncio.gather(*waits), 1) == [True, True]


async def test_a_touch_from_another_thread_wakes_the_release_on_its_loop() -> None:
    wakeups = Wakeups()
    wakeups.register(A, [VS])
    waiting = asyncio.ensure_future(wakeups.wait(A, 5))
    await asyncio.sleep(0.01)
    threading.Thread(target=wakeups.touch, args=VS).start()
    assert await asyncio.wait_for(waiting, 1) is True


async def test_a_change_wakes_its_daemon_but_a_repeat_does_not() -> None:
    wakeups = Wakeups()
    wakeups.open(A, (1, None))
    assert wakeups.wake_if_changed(A, (1, None)) is False  # our own status write: nothing the tick reads changed
    assert await wakeups.wait(A, 0.02) is False
    assert wakeups.wake_if_changed(A, (1, "promote-1")) is True
    assert await asyncio.wait_for(wakeups.wait(A, 5), 1) is True


async def test_a_release_without_a_daemon_keeps_nothing() -> None:
    wakeups = Wakeups()
    assert wakeups.wake_if_changed(A, (1, None)) is False  # before its daemon: its first tick reads the body
    assert not wakeups.holds(A)
    wakeups.open(A, (1, None))
    wakeups.register(A, [VS])
    wakeups.forget(A)  # its daemon ended
    assert wakeups.wake_if_changed(A, (2, None)) is False, "an event after the daemon ended woke it"
    assert not wakeups.holds(A), "an event after the daemon ended kept state for it"
    assert wakeups.readers(*VS) == frozenset()


async def test_an_invalid_spec_registers_nothing_so_its_old_reads_stop_waking_it() -> None:
    wakeups = Wakeups()
    wakeups.register(A, [VS])
    wakeups.register(A, ())  # what the daemon registers for an invalid spec
    assert wakeups.touch(*VS) == 0


async def test_a_change_after_the_tick_read_it_wakes_the_next_tick_when_registered_before_the_read() -> None:
    """The daemon registers what its tick reads before reading: a change landing between the read and the end of
    the tick is kept for the next wait. Registered only after the tick, that touch found no reader."""
    wakeups = Wakeups()
    wakeups.open(A, (1, None))
    wakeups.register(A, objects_read("shop", spec()))
    # ... the tick reads the VirtualService, then someone edits it before the tick ends:
    assert wakeups.touch(*VS) == 1
    assert await asyncio.wait_for(wakeups.wait(A, 5), 1) is True
    late = Wakeups()
    late.open(B, (1, None))
    assert late.touch(*VS) == 0, "a touch before registration wakes nobody: why the daemon registers first"


def test_the_objects_a_release_reads() -> None:
    assert objects_read("shop", spec()) == {VS}
    assert objects_read("shop", spec(canaryWorkload={"name": "app-canary"})) == {
        VS,
        ("Deployment", "shop", "app-canary"),
    }
    followed = objects_read("shop", follow_spec())
    assert ("Deployment", "shop", "checkout") in followed
    assert len([key for key in followed if key[0] == "Deployment"]) == 2  # the followed one and its primary


class Stopped:
    """Kopf's `DaemonStopped` as the daemon uses it: falsy until set, and a bounded wait."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)


async def _slept(wakeups: Wakeups, stopped: Stopped, seconds: float, floor: float) -> float:
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(_sleep(A, wakeups, stopped, began, seconds, floor), 5)  # type: ignore[arg-type]
    return loop.time() - began


async def test_the_daemon_sleeps_until_due_when_nothing_wakes_it() -> None:
    assert 0.15 <= await _slept(Wakeups(), Stopped(), 0.2, 0.05) < 1


async def test_a_wake_cuts_the_sleep_short_but_never_below_the_floor() -> None:
    wakeups = Wakeups()
    wakeups.wake(A)  # woken during the tick
    assert 0.09 <= await _slept(wakeups, Stopped(), 3, 0.1) < 1


async def test_stopping_ends_the_sleep() -> None:
    stopped = Stopped()
    asyncio.get_running_loop().call_later(0.05, stopped.set)
    assert await _slept(Wakeups(), stopped, 3, 0.01) < 1


def test_sleep_for_is_the_next_timer_capped_by_the_resync() -> None:
    config = OperatorSettings(tick_interval_s=1, resync_interval_s=300)
    assert sleep_for(None, T0, config) == 300
    assert sleep_for(T0 + timedelta(seconds=12), T0, config) == 12
    assert sleep_for(T0 - timedelta(seconds=12), T0, config) == 0
    assert sleep_for(T0 + timedelta(hours=1), T0, config) == 300
