"""Start, watch and stop the lab's child processes (Envoy, Prometheus, the backends).

Every child writes stdout and stderr to its own log file, runs in its own session (so a terminal's Ctrl-C reaches only
us, and we stop the children in order), and on Linux is sent SIGKILL by the kernel if the thread that started it dies,
so a killed test run leaves no Envoy behind. Because that signal follows the *starting thread*, start children from
the thread that runs the event loop, not from a short-lived worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from aiohttp import web

from .errors import LabProcessError, LabTimeout

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for programs that cannot report a port 0 bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_small_file(path: Path) -> str | None:
    """A small file's stripped text, or None while it does not exist (for port and address files)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(no log: {e})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


class ManagedProcess:
    """One child process with its log file; `check()` turns an unexpected exit into a LabProcessError."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        tail_path: Path | None = None,
    ) -> None:
        """`tail_path`: the file whose tail explains a failure, when the child keeps its own log apart from its
        output (default: `log_path`)."""
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.tail_path = tail_path or log_path
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None
        self._stopping = False

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._env,
                    cwd=self._cwd,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            except OSError as e:
                raise LabProcessError(self.name, f"cannot start {self.argv[0]}: {e}", "") from e

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def check(self) -> None:
        """Raise LabProcessError if the process has exited although nobody asked it to."""
        if self._popen is None:
            raise LabProcessError(self.name, "was never started", "")
        code = self._popen.poll()
        if code is not None and not self._stopping:
            raise LabProcessError(self.name, f"exited with code {code}", self.log_tail())

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.tail_path, lines)

    def stop(self, grace_s: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`; idempotent and safe to call on a dead process."""
        self._stopping = True
        p = self._popen
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            p.terminate()
        try:
            p.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            p.wait(timeout=grace_s)

    async def wait_ready(
        self, probe: Callable[[], Awaitable[bool]], timeout_s: float, what: str = "ready", interval_s: float = 0.05
    ) -> float:
        """Poll `probe` until True, failing fast with the log tail if the process dies. Returns the seconds taken."""
        start = time.monotonic()
        deadline = start + timeout_s
        while True:
            self.check()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                if await probe():
                    return time.monotonic() - start
            if time.monotonic() > deadline:
                raise LabProcessError(self.name, f"not {what} after {timeout_s:.1f} s", self.log_tail())
            await asyncio.sleep(interval_s)


async def wait_for(
    condition: Callable[[], Awaitable[bool] | bool], timeout_s: float, what: str, interval_s: float = 0.1
) -> float:
    """Poll a condition (sync or async) until true; raise LabTimeout naming `what`. Returns the seconds taken."""
    start = time.monotonic()
    while True:
        outcome = condition()
        if outcome if isinstance(outcome, bool) else await outcome:
            break
        if time.monotonic() - start > timeout_s:
            raise LabTimeout(f"timed out after {timeout_s:.1f} s waiting for {what}")
        await asyncio.sleep(interval_s)
    return time.monotonic() - start


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    return env


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start `app` on `host`:`port` (0: a free port, bound before it is used, so no other process can take it
    between choosing and listening); return its runner, for `cleanup()`, and the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, int(sock.getsockname()[1])
