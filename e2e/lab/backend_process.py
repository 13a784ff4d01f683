"""Start a backend (`python -m e2e.lab.backend`) as a child process and learn its port once it answers.

Why: the lab's fixed versions and the backends that stand for a workload's revisions start the same way; only who
decides when to start and stop them differs.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import aiohttp

from ._process import ManagedProcess, child_env, read_small_file
from .backend import BackendIdentity, Knobs

_REPO_ROOT = Path(__file__).resolve().parents[2]


class BackendProcess:
    """One backend process named `name` (its log is `<workdir>/backend-<name>.log`). `start()` spawns it; `await
    listening()` waits until it answers and returns its port."""

    def __init__(self, workdir: Path, name: str, identity: BackendIdentity, knobs: Knobs) -> None:
        self.name = name
        self.identity = identity
        self.knobs = knobs
        self._port_file = workdir / f"{name}.port"
        argv = [
            sys.executable, "-m", "e2e.lab.backend",
            "--version", identity.version,
            "--port", "0",
            "--port-file", str(self._port_file),
            "--service", identity.service,
            "--namespace", identity.namespace,
            "--workload", identity.workload,
            "--knobs", knobs.model_dump_json(),
        ]  # fmt: skip
        pythonpath = os.pathsep.join(p for p in (str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self.process = ManagedProcess(
            f"backend-{name}", argv, workdir / f"backend-{name}.log", child_env({"PYTHONPATH": pythonpath})
        )
        self.port: int | None = None

    def start(self) -> None:
        self.process.start()

    async def listening(self, http: aiohttp.ClientSession, timeout_s: float) -> int:
        await self.process.wait_ready(functools.partial(self._answers, http), timeout_s, "listening")
        self.port = int(read_small_file(self._port_file) or 0)
        return self.port

    async def _answers(self, http: aiohttp.ClientSession) -> bool:
        port = read_small_file(self._port_file)
        if not port:
            return False
        async with http.get(f"http://127.0.0.1:{int(port)}/admin/knobs") as r:
            return r.status == 200

    @property
    def address(self) -> str:
        """host:port, as a Prometheus target."""
        if self.port is None:
            raise RuntimeError(f"backend {self.name} is not listening yet")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"
