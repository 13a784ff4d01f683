"""A private Prometheus (Debian's `prometheus` package) scraping the lab every second.

Why: graygate's metric gates query Prometheus; in the lab they must query a real one that scraped real counters.
This instance is ours alone: its own port on 127.0.0.1, its own temporary TSDB, its own config. It does not use or
need the system service the Debian package installs (which may or may not be running on :9090).

Prometheus cannot report a port it picked itself, so the lab picks a free port and, should another process grab it
in between, retries with a new one.

`halt()` and `resume()` stop and restart the same Prometheus (same port, same TSDB directory, as a Prometheus on a
persistent volume comes back), so a test can make a monitoring outage: samples scraped before it stay queryable,
and the outage shows as a gap.

Targets that come and go (backends started for the pods of a workload) are a job in `file_jobs`: its targets live in
a file Prometheus watches (file-based service discovery), which `set_file_targets` rewrites atomically. Prometheus
takes a few seconds (its discovery updates are batched every 5 s) to scrape a new target.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from ._process import ManagedProcess, free_port, wait_for
from .errors import LabError, LabProcessError


def prometheus_binary() -> Path:
    """$GRAYGATE_PROMETHEUS, else `prometheus` on PATH (Debian: /usr/bin/prometheus)."""
    found = os.environ.get("GRAYGATE_PROMETHEUS") or shutil.which("prometheus")
    if not found:
        raise LabError("no Prometheus binary: `apt-get install -y prometheus` (or set GRAYGATE_PROMETHEUS)")
    return Path(found)


class Prometheus:
    """`targets` maps a job name to `host:port` addresses; `metrics_paths` optionally overrides /metrics per job;
    the jobs in `file_jobs` start with no targets and get them from `set_file_targets`."""

    def __init__(
        self,
        workdir: Path,
        targets: Mapping[str, Sequence[str]],
        metrics_paths: Mapping[str, str] | None = None,
        scrape_interval: str = "1s",
        binary: Path | None = None,
        file_jobs: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self._targets = {job: list(addrs) for job, addrs in targets.items()}
        if overlap := set(file_jobs) & set(self._targets):
            raise ValueError(f"jobs with both static and file targets: {sorted(overlap)}")
        self._file_jobs = tuple(file_jobs)
        self._paths = dict(metrics_paths or {})
        self._interval = scrape_interval
        self._binary = binary
        self.process: ManagedProcess | None = None
        self._argv: list[str] = []
        self.url = ""
        self.started_in_s: float | None = None
        self._session: aiohttp.ClientSession | None = None

    def _config(self) -> dict[str, Any]:
        return {
            "global": {
                "scrape_interval": self._interval,
                "scrape_timeout": self._interval,
                "evaluation_interval": "1s",
            },
            "scrape_configs": [
                *(
                    {
                        "job_name": job,
                        "metrics_path": self._paths.get(job, "/metrics"),
                        "static_configs": [{"targets": addrs}],
                    }
                    for job, addrs in sorted(self._targets.items())
                ),
                *(
                    {
                        "job_name": job,
                        "metrics_path": self._paths.get(job, "/metrics"),
                        "file_sd_configs": [{"files": [str(self._targets_file(job))], "refresh_interval": "5s"}],
                    }
                    for job in sorted(self._file_jobs)
                ),
            ],
        }

    def _targets_file(self, job: str) -> Path:
        return self.workdir / "file-targets" / f"{job}.json"

    def set_file_targets(self, job: str, addresses: Sequence[str]) -> None:
        """Replace the targets of a job in `file_jobs`: written beside the file and renamed over it, so Prometheus
        never reads half a list."""
        if job not in self._file_jobs:
            raise LabError(f"job {job!r} has no file targets (file jobs: {', '.join(self._file_jobs) or 'none'})")
        target = self._targets_file(job)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps([{"targets": sorted(addresses)}] if addresses else []))
        tmp.replace(target)

    async def start(self, timeout_s: float = 30.0, attempts: int = 3) -> None:
        start = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(json.dumps(self._config(), indent=1))  # JSON is YAML
        for job in self._file_jobs:
            if not self._targets_file(job).exists():
                self.set_file_targets(job, [])
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        for attempt in range(1, attempts + 1):
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            argv = [
                str(self._binary or prometheus_binary()),
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / f'tsdb-{attempt}'}",
                "--storage.tsdb.retention.time=2h",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ]
            self._argv = argv
            self.process = ManagedProcess("prometheus", argv, self.workdir / "prometheus.log")
            self.process.start()
            try:
                await self.process.wait_ready(self._ready, timeout_s, "ready (/-/ready)")
            except LabProcessError as e:
                if attempt < attempts and "address already in use" in e.log_tail:
                    continue
                raise
            self.started_in_s = time.monotonic() - start
            return

    def halt(self) -> None:
        """Stop the process (SIGTERM, as a pod is stopped), keeping its TSDB, its port and this object's session."""
        if self.process is None:
            raise LabError("prometheus is not started")
        self.process.stop()

    async def resume(self, timeout_s: float = 30.0) -> float:
        """Start the halted Prometheus again with the same port and TSDB; returns the seconds until it was ready.

        The port is not picked anew: a dashboard or an operator configured with the URL must find it again. Should
        another process have taken the port meanwhile, this fails (the log tail says so) rather than move.
        """
        if self.process is None or not self._argv:
            raise LabError("prometheus was never started")
        if self.process.returncode is None:
            raise LabError("prometheus is still running; halt() it first")
        self.process = ManagedProcess("prometheus", self._argv, self.workdir / "prometheus.log")
        self.process.start()
        return await self.process.wait_ready(self._ready, timeout_s, "ready (/-/ready) again")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def _ready(self) -> bool:
        async with self._http().get(f"{self.url}/-/ready") as r:
            return r.status == 200

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise LabError("prometheus is not started")
        return self._session

    def check(self) -> None:
        if self.process is not None:
            self.process.check()

    async def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def query(self, promql: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """An instant query (at Unix time `at`, default now): (labels, value) per series of the vector result."""
        params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
        async with self._http().get(f"{self.url}/api/v1/query", params=params) as r:
            body = await r.json()
        if body.get("status") != "success":
            raise LabError(f"prometheus query {promql!r} failed: {body.get('error', body)}")
        data = body["data"]
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(dict(item["metric"]), float(item["value"][1])) for item in data["result"]]

    async def query_value(self, promql: str, at: float | None = None) -> float | None:
        """The value of a query that yields one series (or none: None)."""
        result = await self.query(promql, at)
        if len(result) > 1:
            raise LabError(f"prometheus query {promql!r} gave {len(result)} series, expected at most one")
        return result[0][1] if result else None

    async def targets_up(self) -> bool:
        async with self._http().get(f"{self.url}/api/v1/targets") as r:
            body = await r.json()
        active = body["data"]["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    async def wait_targets_up(self, timeout_s: float = 10.0) -> float:
        self.check()
        return await wait_for(self.targets_up, timeout_s, "every Prometheus target to be up")
