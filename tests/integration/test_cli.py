"""The `graygate` command as a user types it: `graygate check`'s exit codes and output as a process, `graygate
sandbox up`/`down` as a process, and every runnable ```sh block of the READMEs, run as written (see
`tests/unit/test_readme_commands.py` for the marks)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster_support import ProbeTarget
from tests.unit.test_readme_commands import REPO, ShellBlock, all_blocks

MANIFEST = """\
apiVersion: graygate.dev/v1alpha1
kind: CanaryRelease
metadata: {name: checkout, namespace: shop}
spec:
  trafficRouting: {istio: {virtualServices: [{name: checkout}]}}
  stable: {host: checkout, subset: stable}
  canary: {host: checkout, subset: canary}
  steps: [{setWeight: 10}]
  analysis:
    interval: 10s
    gates:
      - name: health
        httpProbe: {url: "http://checkout-canary.shop:8080/healthz", timeout: 1s}
"""

SECRET_GATE = """\
      - name: success-rate
        prometheus:
          source: {address: "http://127.0.0.1:1", bearerToken: {secretRef: {name: prom-token}}}
          query: {expr: "vector(1)", min: 0}
"""


def _graygate(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "graygate.cli", *args]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, check=False, env=env)


def _tools_env() -> dict[str, str]:
    """This environment with the checkout's tools first on PATH and no KUBECONFIG of its own."""
    bins = [str(REPO / ".venv" / "bin"), os.environ.get("GRAYGATE_TOOLS", str(REPO / ".cache/toolchain/bin"))]
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    env.update(PATH=os.pathsep.join([*bins, env.get("PATH", "")]))
    return env


@pytest.fixture
def target() -> Iterator[ProbeTarget]:
    server = ProbeTarget()
    yield server
    server.close()


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "release.yaml"
    path.write_text(MANIFEST)
    return path


def test_check_exits_0_when_every_gate_passes(manifest: Path, target: ProbeTarget) -> None:
    done = _graygate("check", str(manifest), "--url", f"health={target.url}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "shop/checkout: Pass (all 1 gate(s) passed)"
    assert target.hits == 1


def test_check_exits_1_and_names_the_failing_gate_in_json(manifest: Path, target: ProbeTarget) -> None:
    target.status = 503
    done = _graygate("check", str(manifest), "--url", f"health={target.url}", "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "Fail"
    assert report["gates"] == [
        {"name": "health", "kind": "httpProbe", "verdict": "Fail", "value": "503", "threshold": "in [200]",
         "reason": "status 503, expected one in [200]"},
    ]  # fmt: skip


def test_check_exits_2_when_a_gate_cannot_judge_and_says_why(target: ProbeTarget) -> None:
    done = _graygate("check", "-", "--url", f"health={target.url}", "-n", "staging", stdin=MANIFEST + SECRET_GATE)
    assert done.returncode == 2, done.stderr
    assert "staging/checkout: Error (could not judge: success-rate)" in done.stdout
    assert "cannot read key token of Secret staging/prom-token" in done.stdout
    assert "--prometheus URL" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "health"], "expected GATE=URL"),
        (["--url", "nope=http://x"], "the release has no gate nope"),
        (["--namespace", "x", "--prometheus", "http://x", "/no/such/file.yaml"], "No such file"),
    ],
)
def test_check_exits_2_on_a_bad_request(manifest: Path, args: list[str], message: str) -> None:
    files = [] if any(a.endswith(".yaml") for a in args) else [str(manifest)]
    done = _graygate("check", *files, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.startswith("graygate check: ")


def test_check_is_listed_in_the_help() -> None:
    done = _graygate("--help")
    assert "check" in done.stdout


# ---- graygate sandbox ------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited; only its reaper is late


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended while we looked
            continue
        if text in argv:
            found.append(f"{cmdline.parent.name}: {argv}")
    return found


def test_sandbox_up_installs_our_crd_says_what_it_starts_and_down_leaves_nothing(tmp_path: Path) -> None:
    workdir, env = tmp_path / "sandbox", _tools_env()
    try:
        up = _graygate("sandbox", "up", "--detach", "--dir", str(workdir), env=env)
        assert up.returncode == 0, up.stderr
        state = json.loads((workdir / "state.json").read_text())
        kubectl_env = {**env, "KUBECONFIG": state["kubeconfig"]}
        assert state["istiod_xds"].startswith("127.0.0.1:"), state

        def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
            argv = ["kubectl", *args]
            done = subprocess.run(argv, input=stdin, env=kubectl_env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"
            return done

        assert kubectl("get", "canaryreleases", "-A").stderr == "No resources found\n"
        webhooks = kubectl("get", "validatingwebhookconfigurations", "-o", "name").stdout.replace(
            "validatingwebhookconfiguration.admissionregistration.k8s.io/", ""
        )
        kubectl("create", "namespace", "shop")
        kubectl("apply", "-f", "-", stdin=MANIFEST)
        listed = kubectl("get", "canaryreleases", "-A", "-o", "custom-columns=NAME:.metadata.name", "--no-headers")
        assert listed.stdout.split() == ["checkout"]

        again = _graygate("sandbox", "up", "--detach", "--dir", str(workdir), env=env)
        assert again.returncode == 1
        assert again.stderr == (
            f"graygate: a sandbox already runs in {workdir} (API server {state['server']}): use it with"
            f' `eval "$(graygate sandbox env --dir {workdir})"`, or stop it with `graygate sandbox down --dir'
            f" {workdir}` first\n"
        )
        kubectl("get", "namespace", "shop")  # the refused `up` left the running one alone
    finally:
        down = _graygate("sandbox", "down", "--dir", str(workdir), env=env)

    assert up.stderr.splitlines() == [
        "sandbox: starting etcd…",
        "sandbox: starting kube-apiserver…",
        "sandbox: installing CRDs (Istio's, Gateway API's, graygate's CanaryRelease, GateTemplate and"
        " ClusterGateTemplate) and waiting until they are Established…",
        "sandbox: starting istiod and registering Istio's validating webhook…",
    ]
    assert "ready on https://127.0.0.1:" in up.stdout
    assert "istiod serves xDS on 127.0.0.1:" in up.stdout
    assert webhooks.split() == ["istio-validator-istio-system"]
    assert down.returncode == 0, down.stderr
    assert down.stdout == "sandbox: stopped etcd, kube-apiserver, pilot-discovery\n"
    assert [name for name, process in state["pids"].items() if _alive(process["pid"])] == []
    assert _processes_mentioning(str(workdir)) == []
    assert not workdir.exists()  # the next `up` starts from nothing


def test_sandbox_up_over_a_crashed_sandbox_clears_it_and_starts_an_empty_one(tmp_path: Path) -> None:
    workdir, env = tmp_path / "sandbox", _tools_env()
    gone = subprocess.Popen(["true"])
    gone.wait()  # what a crash leaves: a state file whose processes are dead, beside old etcd data and keys
    stale = workdir / "etcd" / "member" / "left-by-the-old-sandbox"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"etcd data written with the old keys")
    (workdir / "kubeconfig").write_text("the old sandbox's kubeconfig")
    crashed = {"pid": gone.pid, "start_ticks": 1}
    (workdir / "state.json").write_text(
        json.dumps({"kubeconfig": str(workdir / "kubeconfig"), "server": "https://127.0.0.1:1", "etcd": "http://x",
                    "pids": {"etcd": crashed, "kube-apiserver": crashed}})
    )  # fmt: skip
    try:
        up = _graygate("sandbox", "up", "--detach", "--dir", str(workdir), env=env)
        assert up.returncode == 0, up.stderr
        assert not stale.exists()
        assert "certificate-authority-data" in (workdir / "kubeconfig").read_text()  # a new one
        env_line = _graygate("sandbox", "env", "--dir", str(workdir), env=env)
        assert env_line.stdout == f"export KUBECONFIG={workdir / 'kubeconfig'}\n"
    finally:
        down = _graygate("sandbox", "down", "--dir", str(workdir), env=env)

    assert (
        up.stderr.splitlines()[0]
        == f"sandbox: the sandbox last started in {workdir} no longer answered; starting afresh"
    )
    assert up.stderr.splitlines()[1] == "sandbox: starting etcd…"
    assert down.stdout == "sandbox: stopped etcd, kube-apiserver, pilot-discovery\n"
    assert _processes_mentioning(str(workdir)) == []
    assert not workdir.exists()


# ---- the README's blocks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [b for b in all_blocks() if b.runnable], ids=lambda block: block.id)
def test_readme_block_runs(block: ShellBlock, tmp_path: Path) -> None:
    bins = [str(REPO / ".venv" / "bin"), os.environ.get("GRAYGATE_TOOLS", str(REPO / ".cache/toolchain/bin"))]
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    env.update(PATH=os.pathsep.join([*bins, env.get("PATH", "")]), GRAYGATE_SANDBOX_DIR=str(tmp_path / "sandbox"))
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", block.body], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=180)
    finally:  # a block that failed or hung half-way must leave nothing running
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        subprocess.run(["graygate", "sandbox", "down"], env=env, capture_output=True, timeout=60, check=False)
    done = subprocess.CompletedProcess(block.body, process.returncode, stdout, stderr)
    assert done.returncode == 0, f"{block.id} failed:\n{block.body}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
