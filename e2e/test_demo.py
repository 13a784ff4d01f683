"""`make run`'s demo: first what it prints (pure, fast), then the whole demo as a subprocess: one release, v2
promoted, v3 rolled back naming the gate that caught it, v4 promoted, and no process left behind, neither at the
end nor after Ctrl-C at any moment.

"No process left behind" is checked from the outside: the demo runs with a unique marker in its environment, which
every process it starts inherits (the sandbox, Envoy, Prometheus, the backends, the operator), and afterwards no
process on the machine may carry it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from e2e.demo.__main__ import choose
from e2e.demo.capture import frames, pick
from e2e.demo.narrate import Narrator, Traffic, caught_by, caught_by_lines, progress_line, strip_ansi, traffic
from e2e.lab import Sample
from graygate.sandbox import ControlPlane

REPO = Path(__file__).resolve().parents[1]
MARK = "GRAYGATE_DEMO_MARK"


def _release(phase: str = "Progressing", weight: int = 30, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "shop", "name": "checkout"},
        "status": {"phase": phase, "canaryWeight": weight, "stepDisplay": "3/7", **status},
    }


def _result(gate: str, verdict: str, value: str = "v", at: str = "2026-01-01T00:00:00Z") -> dict[str, str]:
    return {"gate": gate, "kind": "prometheus", "verdict": verdict, "value": value, "threshold": ">= 99%",
            "reason": f"{gate} {verdict}", "at": at}  # fmt: skip


# ---- what it prints ----------------------------------------------------------------------------------------------


def test_a_progress_line_shows_values_only_for_gates_that_did_not_pass() -> None:
    results = [_result("success-rate", "Pass", "100%"), _result("latency", "Waiting", "40ms"),
               _result("success-rate", "Fail", "71%")]  # fmt: skip
    line = progress_line(_release(recentResults=results), 12.34)
    assert line == "+ 12.3s  Progressing  step 3/7   canary  30%  success-rate Fail [71%] · latency Waiting [40ms]"


def test_a_progress_line_leaves_out_the_results_of_an_earlier_run() -> None:
    results = [_result("success-rate", "Fail", "71%", at="2026-01-01T00:00:00Z"),
               _result("latency", "Pass", at="2026-01-01T00:01:00Z")]  # fmt: skip
    run_began = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    line = progress_line(_release(recentResults=results), 1.0, since=run_began)
    assert line == "+  1.0s  Progressing  step 3/7   canary  30%  latency Pass"


def test_the_gate_that_rolled_back_is_the_newest_failure() -> None:
    results = [_result("latency", "Fail", "900ms"), _result("success-rate", "Fail", "71%"), _result("a", "Pass")]
    caught = caught_by(_release("Failed", 0, recentResults=results))
    assert caught is not None
    assert caught_by_lines(caught) == [
        "rolled back by gate success-rate (prometheus)",
        "  saw:    71%",
        "  needed: >= 99%",
        "  why:    success-rate Fail",
    ]
    assert caught_by(_release()) is None


def test_traffic_counts_what_users_saw_in_a_span_by_version() -> None:
    samples = [Sample(0.5, "v2", 200, 0.01), Sample(1.0, "v3", 500, 0.01), Sample(1.5, "v3", 200, 0.01),
               Sample(2.0, None, None, 0.01, "timeout"), Sample(9.0, "v3", 200, 0.01)]  # fmt: skip
    seen = traffic(samples, 0.0, 5.0)
    assert seen == Traffic(requests=4, served=(("v2", 1), ("v3", 2)), failed=2)
    assert seen.versions() == {"v2", "v3"}
    assert seen.describe() == "4 requests (v2 25%, v3 50%), 2 failed (50.0%)"
    assert traffic(samples, 5.0, 6.0).describe() == "0 requests (none answered), 0 failed (0.0%)"


class _Screen:
    """Just enough of a terminal for the narrator's sequences: newlines, `ESC[nF` (up n lines) and `ESC[J`."""

    def __init__(self) -> None:
        self.lines: list[str] = [""]
        self.row = 0

    def write(self, text: str) -> int:
        for token in re.split(r"(\033\[\d*[FJ]|\n)", text):
            if token == "\n":
                self.row += 1
                if self.row == len(self.lines):
                    self.lines.append("")
            elif token.endswith("F") and token.startswith("\033["):
                self.row = max(0, self.row - int(token[2:-1] or 1))
            elif token == "\033[J":
                del self.lines[self.row :]
                self.lines.append("")
            elif token:
                self.lines[self.row] += strip_ansi(token)
        return len(text)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n")


def test_in_a_terminal_the_live_view_is_redrawn_in_place_under_the_story() -> None:
    screen = _Screen()
    say = Narrator(interactive=True, out=screen)  # type: ignore[arg-type]
    say.chapter("1. A healthy canary")
    say.update(_release(weight=10), "view at 10%\ngates", "users 1", 1.0)
    say.update(_release(weight=30), "view at 30%\ngates", "users 2", 2.0)
    say.say(">>> the canary now fails")
    say.update(_release(weight=30), "view at 30%\ngates", "users 3", 3.0)
    say.finish("final view")
    say.say("after")
    assert screen.text() == "\n== 1. A healthy canary\n>>> the canary now fails\nfinal view\n\nafter"


def test_in_plain_mode_a_line_per_change_then_the_final_view_once() -> None:
    screen = _Screen()
    say = Narrator(interactive=False, out=screen)  # type: ignore[arg-type]
    say.update({"metadata": {}}, "no status yet", "users", 0.1)
    for weight in (10, 10, 30):
        say.update(_release(weight=weight), "view", "users", 1.0)
    say.finish("\033[1mfinal\033[0m view")
    lines = screen.text().splitlines()
    assert [line.split()[-1] for line in lines[:2]] == ["10%", "30%"]
    assert lines[2:] == ["", "    final view"]


@pytest.mark.parametrize(
    ("env", "answers", "mode"),
    [
        ({}, True, "demo"),
        ({"KUBECONFIG": "/k"}, True, "operator"),
        ({"KUBECONFIG": "/k"}, False, "demo"),
        ({"KUBECONFIG": "/k", "GRAYGATE_DEMO": "1"}, True, "demo"),
        ({"KUBECONFIG": "/k", "GRAYGATE_DEMO": "0"}, True, "operator"),
    ],
)
def test_make_run_runs_the_operator_only_against_a_cluster_that_answers(
    env: dict[str, str], answers: bool, mode: str
) -> None:
    chosen, why = choose(env, lambda _: answers)
    assert chosen == mode, why


def test_make_run_builds_the_toolchain_only_for_the_demo(sandbox: ControlPlane) -> None:
    def needs_sandbox(**env: str) -> int:
        environment = {key: value for key, value in os.environ.items() if key not in ("KUBECONFIG", "GRAYGATE_DEMO")}
        command = [sys.executable, "-m", "e2e.demo", "--needs-sandbox"]
        return subprocess.run(command, env={**environment, **env}, timeout=60, check=False).returncode

    assert needs_sandbox(KUBECONFIG=str(sandbox.kubeconfig)) == 1, "a cluster that answers: only the operator"
    assert needs_sandbox() == 0, "no KUBECONFIG: the demo, which needs the sandbox"
    assert needs_sandbox(KUBECONFIG=str(sandbox.kubeconfig), GRAYGATE_DEMO="1") == 0


def test_the_capture_keeps_the_last_promoting_frame_and_the_last_one() -> None:
    clear = "\033[H\033[2J"
    raw = clear + "shop/checkout  Progressing\r\n" + clear + "shop/checkout  Promoting\r\nA\r\n"
    raw += clear + "shop/checkout  Promoting\r\nA\r\n" + clear + "shop/checkout  Promoting\r\nB\r\n"
    raw += clear + "\033[32mshop/checkout  Succeeded\033[0m\r\nPromoting revision r\r\n"
    recorded = frames(raw)
    assert recorded == ["shop/checkout  Progressing", "shop/checkout  Promoting\nA", "shop/checkout  Promoting\nB",
                        "shop/checkout  Succeeded\nPromoting revision r"]  # fmt: skip
    assert pick(recorded) == ["shop/checkout  Promoting\nB", "shop/checkout  Succeeded\nPromoting revision r"]


# ---- the whole demo, as `make run` runs it -----------------------------------------------------------------------


def _marked(mark: str) -> list[str]:
    """`pid command` of every process whose environment carries the marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            if f"{MARK}={mark}".encode() in environ.split(b"\0"):
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name} {command.strip()}")
        except OSError:  # gone meanwhile, or a zombie
            continue
    return found


class Demo:
    """`python -m e2e.demo --non-interactive` with a marker, its output collected line by line."""

    def __init__(self) -> None:
        self.mark = uuid.uuid4().hex
        env = {**os.environ, MARK: self.mark, "GRAYGATE_DEMO": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "e2e.demo", "--non-interactive"], cwd=REPO, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(re.search(pattern, line) for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the demo never printed {pattern!r}; output:\n{self.output}")

    def wait(self, timeout_s: float) -> int:
        code = self.process.wait(timeout=timeout_s)
        self._reader.join(timeout=5)
        return code

    def survivors(self, timeout_s: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while (left := _marked(self.mark)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def kill_everything(self) -> None:
        for line in _marked(self.mark):
            pid = int(line.split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def demo() -> Iterator[Demo]:
    running = Demo()
    yield running
    if running.process.poll() is None:
        running.process.kill()
    running.kill_everything()  # a failed test must not leave the sandbox running for the next one


def test_the_demo_promotes_v2_rolls_back_v3_promotes_v4_and_leaves_nothing_behind(demo: Demo) -> None:
    began = time.monotonic()
    code = demo.wait(timeout_s=300)
    took = time.monotonic() - began
    out = demo.output
    assert code == 0, out
    assert "$ kubectl apply -f e2e/demo/manifests/checkout.yaml" in out, "the one release, applied once"
    assert out.count("$ kubectl apply") == 2, "the cluster's objects and the release: nothing else is applied"
    assert "kubectl delete" not in out, "no release is ever deleted"
    assert re.search(r"graygate adopted v1 as stable \(revision [0-9a-f]+\): it created checkout-primary", out), out

    v2, v3, v4 = (out.split(f"image registry.example/checkout:{v}")[1] for v in ("v2", "v3", "v4"))
    v2, v3 = v2.split("== 2.")[0], v3.split("== 3.")[0]
    for version, run in (("v2", v2), ("v4", v4)):
        assert re.search(r"Progressing +step 7/7 +canary 100%", run), f"{version} reached 100 %"
        assert re.search(r"Promoting +step 7/7 +canary 100%", run), f"{version}: the primary rolled it out"
        assert re.search(r"Succeeded +step 7/7 +canary +0%", run), f"{version}: all traffic back on stable"
        assert f"{version} Succeeded in" in run
        assert f"checkout-primary now runs registry.example/checkout:{version}" in run
        assert re.search(r"checkout went to 0 replicas \d+\.\d s later", run), f"{version}: the canary scaled to 0"
        assert re.search(rf"^users now: \d+ requests \({version} 100%\), 0 failed", run, re.M), run
    assert "env LAB_ERROR_RATE=0.3" in v3
    assert "v3 Failed, rolled back by gate success-rate (prometheus)" in v3
    assert re.search(r"^  saw: +callers since the step began \(\d+s\): canary \d+\.\d+% success", v3, re.M), v3
    assert "  needed: success >= 99%" in v3
    assert re.search(r"Failed +step \d/7 +canary +0%", v3), "the bad version ended with no traffic on the canary"
    assert re.search(r"^v2 kept serving as stable; users now: \d+ requests \(v2 100%\), 0 failed", v3, re.M), v3
    assert not re.search(r"Promoting +step", v3), "the bad version is never promoted"

    assert "== What you saw" in out
    assert re.search(r"promoted in \d+\.\d s\.", out)
    assert re.search(r"\d+\.\d s from its first request to the release Failed with all traffic on stable \(v2\)", out)
    assert "Against a real cluster" in out
    assert "\033[" not in out, "plain mode writes no terminal sequences"
    assert demo.survivors() == []
    assert took < 200, f"the demo took {took:.0f} s"


@pytest.mark.parametrize(
    ("moment", "signal_number"),
    [
        pytest.param(r"^\$ kubectl apply -f e2e/demo/manifests/cluster\.yaml", signal.SIGINT, id="sandbox-up"),
        pytest.param(r"^\$ graygate run ", signal.SIGINT, id="lab-up-operator-starting"),
        pytest.param(r"Progressing +step 3/7", signal.SIGINT, id="mid-release"),
        pytest.param(r"Progressing +step 2/7", signal.SIGTERM, id="terminated-mid-release"),
    ],
)
def test_ctrl_c_at_any_moment_stops_everything(demo: Demo, moment: str, signal_number: signal.Signals) -> None:
    demo.wait_for_line(moment, timeout_s=120)
    assert _marked(demo.mark), "the demo runs children with the marker"
    demo.process.send_signal(signal_number)
    code = demo.wait(timeout_s=45)
    assert code == 130, demo.output
    assert "interrupted: every process the demo started has been stopped" in demo.output
    assert demo.survivors() == []
