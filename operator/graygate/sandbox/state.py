"""The record a detached sandbox leaves in its work folder (`state.json`), and how `up` and `down` use it.

A detached sandbox outlives the command that started it, so a later command finds its processes by this record.
A pid alone would not do: once a sandbox has crashed its pids can be reused, and stopping a reused pid kills a
stranger. So each pid is recorded with its start time (field 22 of /proc/<pid>/stat, clock ticks since boot) and is
signalled only while that still matches; a record from before start times were kept is matched by its command line
naming the work folder instead. Without /proc (not Linux) no process is ever taken for ours.

Each `up` starts an empty cluster, and `down` removes what the sandbox wrote: etcd's data would otherwise outlive
the certificates and keys it was written with (ServiceAccount tokens signed by a key that no longer exists).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from graygate.errors import GraygateError
from graygate.sandbox.processes import stop_process_group

STATE_FILE = "state.json"
WRITTEN = (
    "etcd",
    "pki",
    "certs",
    "crds",
    "logs",
    "istiod",
    "kwok.yaml",
    "kubeconfig",
    "tokens.csv",
    STATE_FILE,
    f"{STATE_FILE}.tmp",
)
"""Everything the sandbox writes in its work folder; nothing else there is touched."""

Fate = Literal["ours", "exited", "reused"]
"""What became of a recorded process: still the one we started, gone, or its pid now names another process."""


class StateFileError(GraygateError):
    """The work folder's state file cannot be read as a sandbox's record."""


class ProcessRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pid: int = Field(gt=1)
    start_ticks: int | None = Field(default=None, ge=0)
    """When it started, in clock ticks since boot; None only in a record written before these were kept."""


class SandboxState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kubeconfig: Path
    server: str
    etcd: str
    versions: dict[str, str] = Field(default_factory=dict)
    istiod_xds: str = ""
    """istiod's plaintext xDS address (`127.0.0.1:PORT`), when the sandbox runs istiod."""
    pids: dict[str, ProcessRecord]
    """Process name → record, in start order (they are stopped in reverse)."""

    @field_validator("pids", mode="before")
    @classmethod
    def _bare_pids(cls, value: object) -> object:
        # Records written before start times were kept held a bare pid per process.
        if isinstance(value, dict):
            return {name: {"pid": pid} if isinstance(pid, int) else pid for name, pid in value.items()}
        return value


def process_stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and start time (fields 3 and 22 of /proc/<pid>/stat), or None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no such process (or no /proc at all)
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces and parentheses
    return fields[0], int(fields[19])


def record(pid: int) -> ProcessRecord:
    """The record of a process we have just started (and not yet reaped, so its pid is still its own)."""
    stat = process_stat(pid)
    return ProcessRecord(pid=pid, start_ticks=stat[1] if stat else None)


def fate(process: ProcessRecord, workdir: Path) -> Fate:
    stat = process_stat(process.pid)
    if stat is None or stat[0] in {"Z", "X"}:  # a zombie has exited; only its reaper is late
        return "exited"
    if process.start_ticks is not None:
        return "ours" if stat[1] == process.start_ticks else "reused"
    try:
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "exited"
    folder = os.fsencode(workdir.absolute())
    return "ours" if any(folder in arg for arg in argv) else "reused"


def write_state(workdir: Path, state: SandboxState) -> None:
    """Written whole or not at all (a rename), so a crash mid-write never leaves a record `up` cannot read."""
    partial = workdir / f"{STATE_FILE}.tmp"
    partial.write_text(state.model_dump_json(indent=2))
    partial.replace(workdir / STATE_FILE)


def read_state(workdir: Path) -> SandboxState | None:
    state_file = workdir / STATE_FILE
    try:
        text = state_file.read_text()
    except FileNotFoundError:
        return None
    try:
        return SandboxState.model_validate_json(text)
    except ValidationError as error:
        raise StateFileError(
            f"{state_file} is not a sandbox's record ({error.error_count()} problem(s), first: "
            f"{error.errors()[0]['msg']}): if no sandbox runs from {workdir}, delete that file"
        ) from error


@dataclass(frozen=True)
class Survey:
    """What is left of the sandbox a state file records, process by process."""

    state: SandboxState
    fates: dict[str, Fate]

    def named(self, wanted: Fate) -> list[str]:
        return [name for name, found in self.fates.items() if found == wanted]


def survey(workdir: Path) -> Survey | None:
    state = read_state(workdir)
    if state is None:
        return None
    return Survey(state, {name: fate(process, workdir) for name, process in state.pids.items()})


@dataclass(frozen=True)
class StopReport:
    stopped: list[str]
    exited: list[str]
    skipped: list[str]
    """Processes whose pid now belongs to another process, which was left alone."""
    notes: list[str]


def stop_detached(workdir: Path) -> StopReport | None:
    """Stops what is left of a detached sandbox and removes its data; None if the folder records no sandbox.

    Each process is checked just before it is signalled, so one that exited while the others stopped is not
    mistaken for ours either."""
    state = read_state(workdir)
    if state is None:
        remove_data(workdir, folder=True)
        return None
    report = StopReport([], [], [], [])
    for name in reversed(list(state.pids)):
        process = state.pids[name]
        found = fate(process, workdir)
        if found == "ours":
            stop_process_group(process.pid)
            report.stopped.append(name)
        elif found == "exited":
            report.exited.append(name)
        else:
            report.skipped.append(name)
            report.notes.append(
                f"left pid {process.pid} alone: {name} had exited and the pid now belongs to another process"
            )
    report.stopped.reverse()
    report.exited.reverse()
    report.skipped.reverse()
    remove_data(workdir, folder=True)
    return report


def remove_data(workdir: Path, *, folder: bool) -> None:
    """Removes what the sandbox wrote in `workdir` and, with `folder`, the folder itself if nothing else is in it."""
    for name in WRITTEN:
        path = workdir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    if folder:
        with contextlib.suppress(OSError):  # missing, or holding someone else's files
            workdir.rmdir()


__all__ = [
    "STATE_FILE",
    "ProcessRecord",
    "SandboxState",
    "StateFileError",
    "StopReport",
    "Survey",
    "fate",
    "read_state",
    "record",
    "remove_data",
    "stop_detached",
    "survey",
    "write_state",
]
