"""The story `make run` tells: a healthy canary promoted step by step, then a canary that goes bad half-way and is
rolled back, naming the gate, the value and the threshold that caught it.

Each chapter applies a committed manifest (`e2e/demo/manifests/`), watches the release through the same view as
`graygate get --watch` until it finishes, and says what the users (the load generator) saw meanwhile. The figures
it measures are returned, for the epilogue and for the README's "Measured figures".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from e2e.demo.narrate import Narrator, Traffic, caught_by, caught_by_lines, traffic
from e2e.demo.world import NAMESPACE, DemoError, World, apply_release, delete_release
from graygate.api import GateResult
from graygate.console.get import GetRequest, frame
from graygate.kube.releases import KubeReleases

POLL_S = 0.25
CHAPTER_TIMEOUT_S = 75.0
ERROR_RATE = 0.3
DEGRADE_AT_STEP = 2
"""The 0-based step index at which the canary starts failing: after the first two steps (10 %, then a pause)."""


@dataclass
class Figures:
    """What the demo measured, in seconds unless named otherwise."""

    healthy_s: float = 0.0
    healthy_users: Traffic | None = None
    degraded_s: float = 0.0
    caught: GateResult | None = None
    message: str = ""
    detect_s: float | None = None
    """From the canary going bad to the release being seen Failed."""
    canary_off_s: float | None = None
    """From the canary going bad to the last request the users sent to it."""
    bad_users: Traffic | None = None
    timeline: list[str] = field(default_factory=list)


async def watch(
    world: World,
    name: str,
    say: Narrator,
    on_tick: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Show the release as `graygate get --watch` does until it finishes; returns it as it ended."""
    releases = KubeReleases(world.api)
    request = GetRequest(namespace=NAMESPACE, name=name, output="view", watch=True, until_done=True)
    deadline = time.monotonic() + CHAPTER_TIMEOUT_S
    while time.monotonic() < deadline:
        world.lab.check()
        if world.operator.returncode is not None:
            raise DemoError(f"the operator exited:\n{world.operator_log_tail()}")
        release = await asyncio.to_thread(releases.get, NAMESPACE, name)
        view, done = await asyncio.to_thread(frame, world.api, releases, request, say.interactive)
        now = time.monotonic()
        users = traffic(world.load.samples, now - 2.0, now).describe() + " in the last 2 s"
        say.update(release, view, users, world.elapsed())
        if on_tick is not None:
            await on_tick(release)
        if done:
            say.finish(view)
            ended: dict[str, Any] = await asyncio.to_thread(releases.get, NAMESPACE, name)
            return ended
        await asyncio.sleep(POLL_S)
    raise DemoError(f"{name} did not finish in {CHAPTER_TIMEOUT_S:.0f} s; operator log:\n{world.operator_log_tail()}")


async def healthy_release(world: World, say: Narrator, figures: Figures) -> None:
    say.chapter("1. A healthy canary: checkout v2")
    say.say("v2 runs beside v1 and gets no traffic yet. graygate moves it 10 → 30 → 60 → 100 %, and at every step")
    say.say("asks Prometheus for its success rate and p99 latency (against Istio's metrics) and probes its /healthz.")
    began = time.monotonic()
    await apply_release(world, "checkout-v2.yaml", say)
    ended = await watch(world, "checkout-v2", say)
    figures.healthy_s = time.monotonic() - began
    figures.healthy_users = traffic(world.load.samples, began, time.monotonic())
    phase = (ended.get("status") or {}).get("phase")
    if phase != "Succeeded":
        raise DemoError(f"checkout-v2 ended {phase}: {(ended.get('status') or {}).get('message')}")
    say.say(f"checkout-v2 Succeeded in {figures.healthy_s:.1f} s; the canary carries 100 % of the traffic.")
    say.say(f"users meanwhile: {figures.healthy_users.describe()}.")
    say.say("(Making v2 the new stable is your next deploy. Deleting the release puts the route back as it was.)")
    await delete_release(world, "checkout-v2", say)


async def degrading_release(world: World, say: Narrator, figures: Figures) -> None:
    say.chapter("2. A canary that goes bad half-way: checkout v3")
    say.say(
        f"Same plan, same gates. After step {DEGRADE_AT_STEP} the demo makes the canary fail {ERROR_RATE:.0%} of its"
    )
    say.say("requests (a bad code path, a dependency timing out); its /healthz keeps answering 200.")
    degraded_at: list[float] = []

    async def degrade(release: dict[str, Any]) -> None:
        step = (release.get("status") or {}).get("currentStepIndex", 0)
        if not degraded_at and step >= DEGRADE_AT_STEP:
            await world.lab.set_knobs("canary", error_rate=ERROR_RATE)
            degraded_at.append(time.monotonic())
            say.say(f"+{world.elapsed():5.1f}s  >>> the canary now fails {ERROR_RATE:.0%} of its requests")

    began = time.monotonic()
    await apply_release(world, "checkout-v3.yaml", say)
    ended = await watch(world, "checkout-v3", say, on_tick=degrade)
    seen_failed = time.monotonic()
    figures.degraded_s = seen_failed - began
    status = ended.get("status") or {}
    if status.get("phase") != "Failed" or not degraded_at:
        raise DemoError(f"checkout-v3 ended {status.get('phase')}, not rolled back: {status.get('message')}")
    await asyncio.sleep(1.0)  # let the last requests in flight land before counting what users saw
    figures.caught, figures.message = caught_by(ended), str(status.get("message", ""))
    figures.detect_s = seen_failed - degraded_at[0]
    samples = world.load.result()
    last_canary = max((s.sent_at for s in samples.samples if s.version == "canary"), default=None)
    figures.canary_off_s = None if last_canary is None else last_canary - degraded_at[0]
    figures.bad_users = traffic(samples.samples, degraded_at[0], seen_failed)
    lines = caught_by_lines(figures.caught) if figures.caught is not None else [figures.message]
    say.say(f"checkout-v3 Failed, {lines[0]}")
    for line in lines[1:]:
        say.say(line)
    off = "-" if figures.canary_off_s is None else f"{figures.canary_off_s:.1f} s"
    say.say(f"the canary went bad at +{degraded_at[0] - world.started_at:.1f}s and got its last request {off} later;")
    say.say(f"users in between: {figures.bad_users.describe()}. Since then all traffic goes to stable.")
