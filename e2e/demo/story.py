"""The story `make run` tells: one release of checkout, applied once, and three new versions of its Deployment, each
only a new image: v2 (healthy) promoted to stable, v3 (failing some of its requests) rolled back while v2 keeps
serving, naming the gate, the value and the threshold that caught it, and v4 promoted.

Each chapter changes the Deployment's pod template as a commit would, watches the release through the same view as
`graygate get --watch` until that run finishes, and says what the users (the load generator) saw meanwhile. The
figures it measures are returned, for the epilogue and for the README's "Measured figures".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from e2e.demo.narrate import Narrator, Traffic, caught_by, caught_by_lines, traffic
from e2e.demo.world import NAMESPACE, PRIMARY, SERVICE, DemoError, World, deployment, image, set_version
from graygate.api import GateResult
from graygate.console.get import GetRequest, frame
from graygate.kube.releases import KubeReleases

POLL_S = 0.25
CHAPTER_TIMEOUT_S = 90.0
ERROR_RATE = 0.3
BAD_ENV = {"LAB_ERROR_RATE": str(ERROR_RATE)}
"""What makes v3 bad: the lab's stand-in answers this share of its requests with a 500."""


@dataclass
class Figures:
    """What the demo measured, in seconds unless named otherwise."""

    promoted_s: dict[str, float] = field(default_factory=dict)
    """Per promoted version: from its commit to the release Succeeded (the primary running it)."""
    promoted_users: dict[str, Traffic] = field(default_factory=dict)
    rolled_back_s: float = 0.0
    caught: GateResult | None = None
    message: str = ""
    detect_s: float | None = None
    """From the bad version's first request to the release being seen Failed."""
    canary_off_s: float | None = None
    """From the bad version's first request to the last one it served."""
    bad_users: Traffic | None = None
    after_rollback: Traffic | None = None
    final_users: Traffic | None = None


def _status(release: Mapping[str, Any]) -> dict[str, Any]:
    return dict(release.get("status") or {})


async def watch(world: World, say: Narrator, previous: str | None) -> dict[str, Any]:
    """Show the release as `graygate get --watch` does from the moment it starts a run of a revision other than
    `previous` until that run finishes; returns the release as it ended."""
    releases = KubeReleases(world.api)
    request = GetRequest(namespace=NAMESPACE, name=SERVICE, output="view", watch=True, until_done=True)
    deadline = time.monotonic() + CHAPTER_TIMEOUT_S
    while time.monotonic() < deadline:
        world.lab.check()
        if world.operator.returncode is not None:
            raise DemoError(f"the operator exited:\n{world.operator_log_tail()}")
        release = await asyncio.to_thread(releases.get, NAMESPACE, SERVICE)
        if _status(release).get("revision") not in (None, previous):
            view, done = await asyncio.to_thread(frame, world.api, releases, request, say.interactive)
            if done:
                # The frame read the release again and found the run over: say so from that state, not from the
                # one read before it (a run can end between the two reads).
                release = await asyncio.to_thread(releases.get, NAMESPACE, SERVICE)
            now = time.monotonic()
            users = traffic(world.load.samples, now - 2.0, now).describe() + " in the last 2 s"
            say.update(release, view, users, world.elapsed())
            if done:
                say.finish(view)
                ended: dict[str, Any] = release
                return ended
        await asyncio.sleep(POLL_S)
    raise DemoError(f"the run did not finish in {CHAPTER_TIMEOUT_S:.0f} s; operator log:\n{world.operator_log_tail()}")


async def _release(
    world: World, say: Narrator, version: str, env: Mapping[str, str] | None = None
) -> tuple[float, dict[str, Any]]:
    """Commit `version` (the Deployment's pod template, replaced) and watch the run it starts; returns when it was
    committed (monotonic) and the release as the run ended."""
    releases = KubeReleases(world.api)
    previous = _status(await asyncio.to_thread(releases.get, NAMESPACE, SERVICE)).get("revision")
    extra = "".join(f", env {name}={value}" for name, value in (env or {}).items())
    say.say(f"+{world.elapsed():5.1f}s  >>> commit: Deployment {SERVICE} image {image(version)}{extra}")
    committed = time.monotonic()
    say.since = datetime.now(UTC)
    await set_version(world, version, env)
    return committed, await watch(world, say, previous)


async def _canary_scaled_down(world: World, timeout_s: float = 20.0) -> float:
    """Wait until the followed Deployment is back at 0 replicas; returns when (monotonic)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (await deployment(world, SERVICE))["spec"].get("replicas") == 0:
            return time.monotonic()
        await asyncio.sleep(POLL_S)
    raise DemoError(f"{SERVICE} was not scaled to 0 within {timeout_s:.0f} s of the run's end")


async def _users_now(world: World) -> Traffic:
    """What the users see once the run is over: the last 2 s."""
    await asyncio.sleep(2.0)
    now = time.monotonic()
    return traffic(world.load.samples, now - 2.0, now)


async def promoted_release(world: World, say: Narrator, figures: Figures, version: str) -> None:
    committed, ended = await _release(world, say, version)
    status = _status(ended)
    succeeded = time.monotonic()
    if status.get("phase") != "Succeeded":
        raise DemoError(f"{version} ended {status.get('phase')}: {status.get('message')}")
    primary = await deployment(world, PRIMARY)
    running = primary["spec"]["template"]["spec"]["containers"][0]["image"]
    if status.get("stableRevision") != status.get("revision") or running != image(version):
        raise DemoError(f"{version} Succeeded but {PRIMARY} runs {running} (stable revision {status})")
    figures.promoted_s[version] = succeeded - committed
    figures.promoted_users[version] = traffic(world.load.samples, committed, succeeded)
    scaled = await _canary_scaled_down(world)
    now = await _users_now(world)
    say.say(f"{version} Succeeded in {figures.promoted_s[version]:.1f} s: {PRIMARY} now runs {running}, and all")
    later = scaled - succeeded
    say.say(f"traffic is back on stable; {SERVICE} went to 0 replicas {later:.1f} s later (scaleDownDelay 2s).")
    say.say(f"users meanwhile: {figures.promoted_users[version].describe()}.")
    say.say(f"users now: {now.describe()}.")
    if now.versions() != {version}:
        raise DemoError(f"after {version}'s promotion the users were served by {now.describe()}")
    figures.final_users = now


async def rolled_back_release(world: World, say: Narrator, figures: Figures, version: str, stable: str) -> None:
    committed, ended = await _release(world, say, version, BAD_ENV)
    seen_failed = time.monotonic()
    figures.rolled_back_s = seen_failed - committed
    status = _status(ended)
    if status.get("phase") != "Failed":
        raise DemoError(f"{version} ended {status.get('phase')}, not rolled back: {status.get('message')}")
    await asyncio.sleep(1.0)  # let the last requests in flight land before counting what users saw
    figures.caught, figures.message = caught_by(ended), str(status.get("message", ""))
    samples = world.load.result().samples
    served = [s.sent_at for s in samples if s.version == version and s.sent_at >= committed]
    if not served:
        raise DemoError(f"{version} served no request before it was rolled back")
    figures.detect_s = seen_failed - served[0]
    figures.canary_off_s = served[-1] - served[0]
    figures.bad_users = traffic(samples, served[0], seen_failed)
    lines = caught_by_lines(figures.caught) if figures.caught is not None else [figures.message]
    say.say(f"{version} Failed, {lines[0]}")
    for line in lines[1:]:
        say.say(line)
    await _canary_scaled_down(world)
    figures.after_rollback = await _users_now(world)
    say.say(f"{version} served its first request at +{served[0] - world.started_at:.1f}s and its last")
    say.say(f"{figures.canary_off_s:.1f} s later; users in between: {figures.bad_users.describe()}.")
    say.say(f"{stable} kept serving as stable; users now: {figures.after_rollback.describe()}.")
    if figures.after_rollback.versions() != {stable}:
        raise DemoError(f"after {version}'s rollback the users were served by {figures.after_rollback.describe()}")


async def tell(world: World, say: Narrator, figures: Figures) -> None:
    say.chapter("1. A healthy version: checkout v2")
    say.say("A new image in the Deployment starts a run: the Deployment is scaled up as the canary beside the primary")
    say.say("(v1), and graygate moves it 10 → 30 → 60 → 100 %, asking Prometheus at every step for its success rate")
    say.say("and p99 latency. Then the primary rolls out v2 (Promoting) and takes all the traffic back.")
    await promoted_release(world, say, figures, "v2")

    say.chapter("2. A bad version: checkout v3")
    say.say(f"Same release, same gates. v3 fails {ERROR_RATE:.0%} of its requests (a bad code path, a dependency")
    say.say("timing out); the lab's stand-in reads that from the env var the commit sets.")
    await rolled_back_release(world, say, figures, "v3", stable="v2")

    say.chapter("3. The next version: checkout v4")
    say.say("The fix is the next commit: the same release runs again for the new revision.")
    await promoted_release(world, say, figures, "v4")
