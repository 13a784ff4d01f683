"""`python -m e2e.demo.capture [DIR]`: record `graygate get --watch` through a pseudo-terminal while the demo's
release runs v2 (healthy, promoted), for the docs (`make docs-capture`; DIR defaults to docs/).

Writes
    get-watch.ansi  the raw bytes the command wrote to the terminal, colours and redraws included:
                    `cat docs/get-watch.ansi` replays it (the last frame stays on screen)
    get-watch.txt   two frames as plain text: the primary rolling v2 out (Promoting), and the final one, Succeeded

Why a real pseudo-terminal: `graygate get` colours and redraws only when its output is a terminal, so a pipe would
record a different program. The frames are cut at the clear-screen sequence the command writes before each one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from e2e.demo.narrate import Narrator, strip_ansi
from e2e.demo.world import NAMESPACE, REPO, SERVICE, DemoSettings, World, control_plane, running_world, set_version
from graygate.kube.releases import KubeReleases
from graygate.sandbox import ControlPlane

CLEAR = "\033[H\033[2J"
COLUMNS, ROWS = 100, 40
RELEASE = SERVICE


def frames(raw: str) -> list[str]:
    """The frames of a `graygate get --watch` recording, as plain text, consecutive repeats dropped."""
    out: list[str] = []
    for chunk in raw.replace("\r\n", "\n").split(CLEAR)[1:]:
        text = strip_ansi(chunk).rstrip()
        if text and (not out or out[-1] != text):
            out.append(text)
    return out


def pick(recorded: Sequence[str]) -> list[str]:
    """The last frame of the primary's rollout (Promoting), and the final frame."""
    promoting = [f for f in recorded if "Promoting" in f.split("\n", 1)[0]]
    chosen = [promoting[-1]] if promoting else []
    return [*chosen, recorded[-1]] if recorded else chosen


def _text(chosen: Sequence[str]) -> str:
    command = f"graygate get {RELEASE} -n {NAMESPACE} --watch"
    header = f"# {command}, recorded through a {COLUMNS}x{ROWS} pseudo-terminal by `python -m e2e.demo.capture`\n"
    labels = ["# Promoting: the canary carries 100 % while checkout-primary rolls v2 out", "# the final frame"]
    parts = [f"{label}\n{frame}\n" for label, frame in zip(labels[-len(chosen) :], chosen, strict=True)]
    return header + "\n" + "\n".join(parts)


def _record(argv: Sequence[str]) -> tuple[subprocess.Popen[bytes], int]:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    process = subprocess.Popen(list(argv), stdin=follower, stdout=follower, stderr=follower, env=env,
                               start_new_session=True)  # fmt: skip
    os.close(follower)
    return process, leader


def _drain(leader: int) -> bytes:
    data = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the command exited and closed the terminal
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


async def _run_started(world: World, previous: str | None) -> None:
    releases = KubeReleases(world.api)
    for _ in range(150):
        release: dict[str, Any] = await asyncio.to_thread(releases.get, NAMESPACE, RELEASE)
        if (release.get("status") or {}).get("revision") not in (None, previous):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the release did not start a run for v2 within 30 s")


async def _capture(plane: ControlPlane, settings: DemoSettings, say: Narrator) -> bytes:
    async with running_world(plane, settings, say, time.monotonic()) as world:
        adopted = await asyncio.to_thread(KubeReleases(world.api).get, NAMESPACE, RELEASE)
        await set_version(world, "v2")
        await _run_started(world, (adopted.get("status") or {}).get("revision"))
        argv = [sys.executable, "-m", "graygate.cli", "get", RELEASE, "-n", NAMESPACE, "--watch", "--until-done",
                f"--kubeconfig={plane.kubeconfig}"]  # fmt: skip
        process, leader = _record(argv)
        try:
            raw = await asyncio.wait_for(asyncio.to_thread(_drain, leader), 90)
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
            os.close(leader)
    return raw


def main() -> int:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs"
    say = Narrator(interactive=False, out=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="graygate-capture-") as workdir:
        settings = DemoSettings(workdir=Path(workdir))
        with control_plane(settings, say) as plane:
            raw = asyncio.run(_capture(plane, settings, say))
    recorded = frames(raw.decode(errors="replace"))
    if not recorded:
        print("capture: graygate get --watch drew no frame", file=sys.stderr)
        return 1
    target.mkdir(parents=True, exist_ok=True)
    (target / "get-watch.ansi").write_bytes(raw.replace(b"\r\n", b"\n"))
    (target / "get-watch.txt").write_text(_text(pick(recorded)))
    print(f"capture: {len(recorded)} frames; wrote {target / 'get-watch.ansi'} and {target / 'get-watch.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
