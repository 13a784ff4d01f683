"""The processes `make bench-scale` (e2e/bench_scale.py) watches and serves: the operator's CPU and RSS read from
/proc, and the local HTTP server its probe gates call."""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    # Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """VmRSS every second in a thread, for at most an hour; `stop` returns the largest."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        for _ in range(3600):
            try:
                self.peak = max(self.peak, rss_mib(self.pid))
            except OSError:
                return
            if self._stop.wait(1.0):
                return

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak or None


class ProbeServer:
    """HTTP on 127.0.0.1: `/slow` answers 200 after 100 ms; `/<release>` answers 200 until `fail(release)`, then 500."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.strip("/")
                if path == "slow":
                    time.sleep(0.1)
                code = 500 if path in server.failing else 200
                body = b'{"status": "ok"}' if code == 200 else b'{"status": "broken"}'
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the gate gave up (its timeout) before the answer: its own figure, not the bench's

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, release: str) -> None:
        self.failing.add(release)

    def reset(self) -> None:
        self.failing.clear()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
