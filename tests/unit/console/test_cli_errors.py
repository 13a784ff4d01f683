"""How the `graygate` command fails: one sentence saying what to do, never a traceback unless `--debug` asks for
one, and Ctrl-C ends it quietly with 130. Run as a process, with a home folder of its own and no kubeconfig, so
nothing on this machine leaks in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graygate import cli

NO_KUBECONFIG = [["get"], ["get", "-A"], ["get", "checkout", "--watch"], ["promote", "checkout"], ["abort", "x"]]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"KUBECONFIG", "KUBERNETES_SERVICE_HOST"}}
    return {**env, "HOME": str(home), **extra}


def _graygate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "graygate.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.mark.parametrize("args", NO_KUBECONFIG, ids=" ".join)
def test_no_kubeconfig_is_one_sentence_saying_what_to_do(args: list[str], tmp_path: Path) -> None:
    done = _graygate(*args, env=_env(tmp_path))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("graygate: no kubeconfig found (~/.kube/config is missing or empty): ")
    assert "set KUBECONFIG (or pass --kubeconfig)" in done.stderr
    assert '`graygate sandbox up --detach` and `eval "$(graygate sandbox env)"`' in done.stderr
    assert "Traceback" not in done.stderr
    assert "ConfigException" not in done.stderr


def test_debug_shows_the_traceback_and_the_clients_own_error(tmp_path: Path) -> None:
    done = _graygate("--debug", "get", env=_env(tmp_path))
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "kubernetes.config.config_exception.ConfigException" in done.stderr
    assert "graygate.errors.KubeError: no kubeconfig found" in done.stderr


@pytest.mark.parametrize(
    ("contents", "said"),
    [
        ("apiVersion: v1\nkind: Config\n", "Expected key current-context"),
        ("clusters: [", "expected the node content"),
    ],
)
def test_an_unusable_kubeconfig_is_named_with_the_reason(contents: str, said: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.kubeconfig"
    path.write_text(contents)
    done = _graygate("get", env=_env(tmp_path, KUBECONFIG=str(path)))
    assert done.returncode == 1
    assert done.stderr.startswith(f"graygate: the kubeconfig {path} cannot be used (")
    assert said in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_kubeconfig_flag_names_the_file(tmp_path: Path) -> None:
    done = _graygate("pause", "checkout", "--kubeconfig", str(tmp_path / "nope"), env=_env(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith(f"graygate: no kubeconfig at {tmp_path / 'nope'}: set KUBECONFIG")


def _ctrl_c_while_reading_stdin(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`graygate ARGS check -` stopped by SIGINT once it blocks reading the manifest from its standard input."""
    process = subprocess.Popen(
        [sys.executable, "-m", "graygate.cli", *args, "check", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=_env(home),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    # Only once it waits on the pipe is Python's own SIGINT handler in place and main() running.
    while "pipe_read" not in Path(f"/proc/{process.pid}/wchan").read_text():
        assert time.monotonic() < deadline, "graygate check - never read its standard input"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    done = _ctrl_c_while_reading_stdin(home=tmp_path)
    assert done.returncode == 130
    assert done.stderr == ""
    assert done.stdout == ""


def test_ctrl_c_with_debug_shows_where_it_stopped(tmp_path: Path) -> None:
    done = _ctrl_c_while_reading_stdin("--debug", home=tmp_path)
    assert done.returncode != 0
    assert "Traceback (most recent call last)" in done.stderr
    assert "KeyboardInterrupt" in done.stderr


@pytest.mark.parametrize("args", [["get", "-w"], ["promote", "checkout"], ["check", "release.yaml"]], ids=" ".join)
def test_main_turns_a_keyboard_interrupt_into_130(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_get", interrupted)
    monkeypatch.setattr(cli, "_control", interrupted)
    monkeypatch.setattr(cli, "_check", interrupted)
    assert cli.main(args) == 130
    assert capsys.readouterr().err == ""
    with pytest.raises(KeyboardInterrupt):
        cli.main(["--debug", *args])


def _without_the_sandbox_extra(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`graygate` in a Python where `cryptography` (all the sandbox extra adds) cannot be imported."""
    code = "import sys; sys.modules['cryptography'] = None; from graygate.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.mark.parametrize("args", [["up"], ["down"], ["env"]], ids=" ".join)
def test_the_sandbox_without_its_extra_says_how_to_install_it(args: list[str], tmp_path: Path) -> None:
    done = _without_the_sandbox_extra("sandbox", *args, "--dir", str(tmp_path / "sandbox"), env=_env(tmp_path))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("graygate: `graygate sandbox` needs cryptography")
    assert "pip install 'graygate[sandbox]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_other_commands_run_without_the_sandbox_extra(tmp_path: Path) -> None:
    manifest = tmp_path / "release.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    done = _without_the_sandbox_extra("lint", str(manifest), env=_env(tmp_path))
    assert done.returncode == 1
    assert "nothing lintable found" in done.stderr
    assert "Traceback" not in done.stderr
