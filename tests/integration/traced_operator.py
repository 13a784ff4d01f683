"""The real operator run as the chart runs it, with what it writes to the filesystem recorded by strace.

The chart's container has `readOnlyRootFilesystem: true` and one writable emptyDir at /tmp (its working directory,
and TMPDIR). Here the operator runs with a scratch directory as its working directory and TMPDIR, HOME pointing
nowhere and `PYTHONDONTWRITEBYTECODE=1` (as the image sets), and strace records every system call that creates,
opens for writing, renames or removes a file. Any such call outside the scratch directory (and /dev, which a
container always has writable) is a write the read-only root would refuse.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.cluster_support import OperatorProcess

_WRITING_CALLS = (
    "open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,link,linkat,symlink,"
    "symlinkat,truncate,chmod,fchmodat,mknod,mknodat"
)
_WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
_CALL = re.compile(r"^\d+\s+(\w+)\((.*)$")
_PATHS = re.compile(r'"((?:[^"\\]|\\.)*)"')
_DIRECTORY = re.compile(r"^(?:-?\d+|AT_FDCWD)<([^>]*)>")  # an *at call's directory, as strace -y names it
WRITABLE = (Path("/dev"),)


@dataclass
class TracedOperator(OperatorProcess):
    scratch: Path = Path("/nonexistent")
    trace_path: Path = Path("/nonexistent")

    def start(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        argv = [
            "strace", "-f", "-qq", "-y", "--seccomp-bpf", f"--trace={_WRITING_CALLS}", "-o", str(self.trace_path),
            sys.executable, "-m", "graygate.cli", "run",
            f"--kubeconfig={self.kubeconfig}", f"--namespace={self.namespace}",
            f"--tick-interval={self.tick_interval_s}", "--metrics-port=0", "--liveness-port=0", "--log-format=json",
            *self.extra_args,
        ]  # fmt: skip
        env = {**os.environ, "TMPDIR": str(self.scratch), "HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1"}
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=self.scratch
            )

    def stop(self) -> None:
        """SIGTERM to strace and the operator; strace may end first, so the operator is waited for by its group."""
        super().stop()
        if self.popen is None:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(self.popen.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.killpg(self.popen.pid, signal.SIGKILL)

    def writes(self) -> list[str]:
        """Every traced call that writes (successful or not), as strace printed it (its file holds the calls that
        only read too)."""
        found = []
        for line in self.trace_path.read_text(errors="replace").splitlines():
            match = _CALL.match(line)
            if match is None:
                continue
            call, rest = match.groups()
            if call in ("open", "openat", "openat2") and not _WRITE_FLAGS.search(rest):
                continue
            found.append(line)
        return found

    def writes_outside(self) -> list[str]:
        """The writing calls on a path outside the scratch directory and /dev."""
        allowed = (self.scratch.resolve(), *WRITABLE)
        outside = []
        for line in self.writes():
            _, rest = _CALL.match(line).groups()  # type: ignore[union-attr]  # writes() kept only matches
            directory = _DIRECTORY.match(rest)
            base = Path(directory.group(1)) if directory else self.scratch
            for text in _PATHS.findall(rest):
                path = Path(text) if text.startswith("/") else base / text
                if not any(path == root or root in path.parents for root in allowed):
                    outside.append(line)
                    break
        return outside
