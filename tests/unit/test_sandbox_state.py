"""The detached sandbox's record: what `down` may stop, what `up` clears. Real short-lived processes (`sleep`)
stand in for etcd and kube-apiserver; nothing here needs the control-plane binaries."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graygate.cli import main
from graygate.sandbox.controlplane import reclaim
from graygate.sandbox.state import (
    STATE_FILE,
    ProcessRecord,
    StateFileError,
    fate,
    read_state,
    record,
    stop_detached,
)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process in its own process group, as the sandbox starts each of its own."""
    process = subprocess.Popen(["sleep", "30"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()  # reaped: the pid names nothing now
    return process.pid


def _exec_finished(process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Popen returns once exec has begun; the kernel fills /proc/<pid>/cmdline a moment later."""
    for _ in range(250):
        if Path(f"/proc/{process.pid}/cmdline").read_bytes():
            return process
        time.sleep(0.02)
    raise AssertionError(f"pid {process.pid} never showed a command line")


def _write_state(workdir: Path, pids: dict[str, object]) -> None:
    """A state file as a detached sandbox leaves it, beside the data it wrote."""
    (workdir / "etcd" / "member").mkdir(parents=True)
    (workdir / "pki").mkdir()
    (workdir / "pki" / "ca.crt").write_text("old CA")
    (workdir / "kubeconfig").write_text("old kubeconfig")
    state = {
        "kubeconfig": str(workdir / "kubeconfig"),
        "server": "https://127.0.0.1:1",
        "etcd": "http://127.0.0.1:2",
        "versions": {},
        "pids": pids,
    }
    (workdir / STATE_FILE).write_text(json.dumps(state))


def _running(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


# ---- the state file --------------------------------------------------------------------------------------------


def test_a_record_from_before_start_times_were_kept_still_reads(tmp_path: Path) -> None:
    _write_state(tmp_path, {"etcd": 1234, "kube-apiserver": {"pid": 1235, "start_ticks": 99}})
    state = read_state(tmp_path)
    assert state is not None
    assert state.pids == {
        "etcd": ProcessRecord(pid=1234, start_ticks=None),
        "kube-apiserver": ProcessRecord(pid=1235, start_ticks=99),
    }


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"kubeconfig": "k", "server": "s", "etcd": "e"}',  # no pids
        '{"kubeconfig": "k", "server": "s", "etcd": "e", "pids": {"etcd": 0}}',  # pid 0 is a process group
        '{"kubeconfig": "k", "server": "s", "etcd": "e", "pids": {"etcd": 1}}',  # init
        '{"kubeconfig": "k", "server": "s", "etcd": "e", "pids": {"etcd": {"pid": 5, "extra": 1}}}',
    ],
)
def test_a_state_file_that_is_not_a_record_is_refused_with_what_to_do(tmp_path: Path, text: str) -> None:
    (tmp_path / STATE_FILE).write_text(text)
    with pytest.raises(StateFileError, match=f"{tmp_path / STATE_FILE} is not a sandbox's record .*delete that file"):
        read_state(tmp_path)


# ---- is this pid still the process we started? -----------------------------------------------------------------


def test_a_process_recorded_with_its_start_time_is_ours_until_it_exits(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    recorded = record(sleeper.pid)
    assert recorded.start_ticks is not None
    assert fate(recorded, tmp_path) == "ours"
    sleeper.kill()
    sleeper.wait(timeout=5)
    assert fate(recorded, tmp_path) == "exited"


def test_a_pid_now_started_at_another_time_is_not_ours(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    started = record(sleeper.pid).start_ticks
    assert started is not None
    assert fate(ProcessRecord(pid=sleeper.pid, start_ticks=started - 1), tmp_path) == "reused"


def test_a_zombie_has_exited(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    recorded = record(sleeper.pid)
    sleeper.kill()
    for _ in range(100):  # not reaped: its /proc entry stays, in state Z
        if fate(recorded, tmp_path) == "exited":
            break
        time.sleep(0.02)
    assert fate(recorded, tmp_path) == "exited"


def test_a_bare_pid_is_ours_only_if_its_command_line_names_the_work_folder(tmp_path: Path) -> None:
    workdir = (tmp_path / "sandbox").absolute()
    naming = _exec_finished(
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", f"--data-dir={workdir}/etcd"])
    )
    other = _exec_finished(subprocess.Popen(["sleep", "30"]))
    try:
        assert fate(ProcessRecord(pid=naming.pid), workdir) == "ours"
        assert fate(ProcessRecord(pid=other.pid), workdir) == "reused"
    finally:
        for process in (naming, other):
            process.kill()
            process.wait()


# ---- down ------------------------------------------------------------------------------------------------------


def test_down_leaves_a_process_that_reused_a_recorded_pid_alone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    started = record(sleeper.pid).start_ticks
    assert started is not None
    _write_state(tmp_path, {"etcd": {"pid": sleeper.pid, "start_ticks": started + 1}})

    report = stop_detached(tmp_path)

    assert report is not None
    assert (report.stopped, report.exited, report.skipped) == ([], [], ["etcd"])
    assert report.notes == [f"left pid {sleeper.pid} alone: etcd had exited and the pid now belongs to another process"]
    assert _running(sleeper)
    assert not tmp_path.exists()


def test_down_stops_the_processes_that_are_still_ours(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    recorded = record(sleeper.pid)
    _write_state(tmp_path, {"etcd": {"pid": _dead_pid()}, "kube-apiserver": recorded.model_dump()})

    report = stop_detached(tmp_path)

    assert report is not None
    assert (report.stopped, report.exited, report.skipped) == (["kube-apiserver"], ["etcd"], [])
    assert fate(recorded, tmp_path) == "exited"  # stopping waits for it (and, as its parent here, reaps it)


def test_the_down_command_says_what_it_left_alone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "sandbox"
    workdir.mkdir()
    started = record(sleeper.pid).start_ticks
    assert started is not None
    _write_state(workdir, {"kube-apiserver": {"pid": sleeper.pid, "start_ticks": started + 1}})

    assert main(["sandbox", "down", "--dir", str(workdir)]) == 0

    out, err = capsys.readouterr()
    assert out == f"sandbox: nothing running in {workdir} (the sandbox had stopped); removed its data\n"
    assert err == (
        f"sandbox: left pid {sleeper.pid} alone: kube-apiserver had exited and the pid now belongs to another process\n"
    )
    assert _running(sleeper)
    assert not workdir.exists()


def test_down_removes_only_what_the_sandbox_wrote(tmp_path: Path) -> None:
    _write_state(tmp_path, {"etcd": {"pid": _dead_pid()}})
    (tmp_path / "notes.txt").write_text("the user's")

    stop_detached(tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


def test_down_with_no_record_removes_the_data_a_failed_start_left(tmp_path: Path) -> None:
    workdir = tmp_path / "sandbox"
    (workdir / "logs").mkdir(parents=True)
    (workdir / "logs" / "etcd.log").write_text("etcd exited")

    assert stop_detached(workdir) is None
    assert not workdir.exists()


# ---- up, over what a crashed sandbox left --------------------------------------------------------------------


def test_up_clears_a_sandbox_whose_processes_are_all_gone(tmp_path: Path) -> None:
    _write_state(tmp_path, {"etcd": {"pid": _dead_pid()}, "kube-apiserver": {"pid": _dead_pid()}})

    report = reclaim(tmp_path)

    assert report is not None
    assert report.exited == ["etcd", "kube-apiserver"]
    assert read_state(tmp_path) is None
    assert not (tmp_path / "etcd").exists()
    assert not (tmp_path / "kubeconfig").exists()


def test_up_stops_what_is_left_of_a_sandbox_whose_api_server_is_gone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    recorded = record(sleeper.pid)
    _write_state(tmp_path, {"etcd": recorded.model_dump(), "kube-apiserver": {"pid": _dead_pid()}})

    report = reclaim(tmp_path)

    assert report is not None
    assert (report.stopped, report.exited) == (["etcd"], ["kube-apiserver"])
    assert fate(recorded, tmp_path) == "exited"
    assert read_state(tmp_path) is None


def test_up_finds_nothing_to_clear_in_a_new_folder(tmp_path: Path) -> None:
    assert reclaim(tmp_path / "sandbox") is None


def test_the_help_says_each_up_is_a_fresh_cluster_and_down_removes_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Every `up` starts an empty cluster" in text
    assert "`down` (or Ctrl-C without --detach) stops it and removes its data" in text
