"""Starts and stops the sandbox control plane: etcd, kube-apiserver, istiod (unless `istiod=False`; see `istiod.py`)
and, on request, the controllers that make Deployments real without a kubelet (kube-controller-manager,
kube-scheduler and kwok).

Everything listens on 127.0.0.1 with free ports, lives in one work folder, and is stopped in reverse order; the
folder's `state.json` (see `state.py`) lets another process (`graygate sandbox down`) stop a detached sandbox. Each
start begins from an empty cluster: whatever an earlier sandbox left in the folder is removed first.

With `workloads`, kwok plays the pods' lifecycle with the stages in `kwok_stages.py`: every pod becomes Ready at
once, except a pod labelled `sandbox.graygate.dev/hold-not-ready: "true"`, which is Running but never Ready. Put
the label in a Deployment's pod template to hold its rollout mid-way (its older ReplicaSet's pods keep serving).

It installs Istio's CRDs, Gateway API's and graygate's own. Ours is generated from the pydantic models at start
rather than read from the checkout's `crds/`: the installed package does not carry that folder, the models are its
source of truth, and a unit test keeps the committed file equal to what the generator writes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from graygate.api.crd import rendered_crds
from graygate.errors import GraygateError
from graygate.kube import sandbox_setup
from graygate.sandbox import istiod, options
from graygate.sandbox.istiod import IstiodEndpoints
from graygate.sandbox.kubeconfig import write_kubeconfig
from graygate.sandbox.kwok_stages import write_kwok_config
from graygate.sandbox.pki import SandboxPki, write_pki
from graygate.sandbox.processes import ManagedProcess, ProcessFailedError, free_port
from graygate.sandbox.state import (
    STATE_FILE,
    SandboxState,
    StopReport,
    read_state,
    record,
    remove_data,
    stop_detached,
    survey,
    write_state,
)
from graygate.sandbox.toolchain import Toolchain


@dataclass(frozen=True)
class ControlPlaneSettings:
    """What to start. `workloads` adds the controllers that let Deployments become Available (fake kwok nodes)."""

    workdir: Path | None = None
    workloads: bool = False
    istio_crds: bool = True
    gateway_api_crds: bool = True
    """Gateway API's standard-channel CRDs (HTTPRoute and its kin), as the pinned sigs.k8s.io/gateway-api ships them."""
    graygate_crds: bool = True
    istiod: bool = True
    """Run istiod (Istio's control plane) against the API server, with Istio's validating webhook registered."""
    crd_files: tuple[Path, ...] = ()
    """More CRDs, installed after Istio's, Gateway API's and ours; a file that defines one of those again replaces
    it."""
    endpoint_slices: bool = True
    """With `workloads`: False turns off kube-controller-manager's Endpoints and EndpointSlice controllers. kwok's
    pods have addresses nothing listens on; without their EndpointSlices, istiod gives a Kubernetes Service only the
    WorkloadEntries its selector picks (the traffic lab's backends stand for pods that way)."""
    start_timeout_s: float = 90.0
    audit_log: Path | None = None
    """Off by default. A path: the API server writes an audit log there (JSON lines, `Metadata` level, one event per
    finished request, with its user agent; pods, nodes, leases and ReplicaSets left out: the fake workloads' noise)
    so a bench can count one client's requests."""
    controller_qps: int | None = None
    """Off by default. With `workloads`: kube-controller-manager's `--kube-api-qps` (burst twice that), for benches
    creating thousands of Deployments (its default, 20, would take minutes)."""


@dataclass
class ControlPlane:
    settings: ControlPlaneSettings = field(default_factory=ControlPlaneSettings)
    toolchain: Toolchain = field(default_factory=Toolchain.locate)
    progress: Callable[[str], None] = field(default=lambda _: None, repr=False)
    """Told what is starting, before each step that takes a while (the CLI prints it; tests stay quiet)."""
    workdir: Path = field(init=False)
    kubeconfig: Path = field(init=False)
    server: str = field(init=False, default="")
    token: str = field(init=False, default="")
    etcd_url: str = field(init=False, default="")
    versions: dict[str, str] = field(init=False, default_factory=dict)
    startup_seconds: float = field(init=False, default=0.0)
    istiod: IstiodEndpoints | None = field(init=False, default=None)
    _processes: list[ManagedProcess] = field(init=False, default_factory=list)
    _owns_workdir: bool = field(init=False, default=False)
    _ready: Callable[[], bool] = field(init=False, default=lambda: False, repr=False)

    def __post_init__(self) -> None:
        if self.settings.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="graygate-sandbox-"))
            self._owns_workdir = True
        else:
            # Absolute, so the recorded kubeconfig path holds from any folder and the processes do not depend on ours.
            self.workdir = self.settings.workdir.absolute()
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self.workdir / "kubeconfig"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        began = time.monotonic()
        remove_data(self.workdir, folder=False)
        try:
            pki = write_pki(self.workdir / "pki", dt.datetime.now(dt.UTC))
            self.progress("starting etcd")
            self._start_etcd()
            self.progress("starting kube-apiserver")
            self._start_apiserver(pki)
            write_kubeconfig(self.kubeconfig, self.server, pki.ca_cert, self.token)
            self._install_crds()
            if self.settings.istiod:
                self.progress("starting istiod and registering Istio's validating webhook")
                self._start_istiod()
            if self.settings.workloads:
                self.progress("starting kube-controller-manager, kube-scheduler and kwok (one fake node)")
                self._start_workload_controllers(pki)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        self._write_state()

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        (self.workdir / STATE_FILE).unlink(missing_ok=True)
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self, name: str, down_s: float = 0.0, kill: bool = False) -> float:
        """Stop `etcd` or `kube-apiserver` (SIGTERM, or SIGKILL with `kill`), keep it down `down_s`, start it again on
        the same ports and data, and wait until it serves; returns the seconds from the start to serving. For tests
        of what clients do through a control plane outage."""
        if name not in ("etcd", "kube-apiserver"):
            raise ValueError(f"only etcd and kube-apiserver restart, not {name!r}")
        process = next(p for p in self._processes if p.name == name)
        process.stop(grace_s=0.0 if kill else 10.0)
        time.sleep(down_s)
        began = time.monotonic()
        process.start()
        ready = (lambda: _etcd_healthy(self.etcd_url)) if name == "etcd" else self._ready
        process.wait_until(ready, self.settings.start_timeout_s, "serving again")
        self._write_state()
        return time.monotonic() - began

    # -- etcd and the API server -------------------------------------------------------------------------------

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        etcd = self._launch(
            "etcd",
            [
                "--name=sandbox",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=sandbox=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        etcd.wait_until(lambda: _etcd_healthy(self.etcd_url), self.settings.start_timeout_s, "healthy")
        version = _get_json(f"{self.etcd_url}/version", None, None)
        self.versions["etcd"] = str(version.get("etcdserver", "?"))

    def _start_apiserver(self, pki: SandboxPki) -> None:
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        self.token = secrets.token_urlsafe(32)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.token},sandbox-admin,sandbox-admin,"system:masters"\n')
        tokens.chmod(0o600)
        audit = None
        if self.settings.audit_log is not None:
            audit = options.AuditLog(policy=self.workdir / "audit-policy.yaml", log=self.settings.audit_log)
        apiserver = self._launch(
            "kube-apiserver",
            options.apiserver(
                etcd_url=self.etcd_url, port=port, workdir=self.workdir, pki=pki, tokens=tokens, audit=audit
            ),
        )
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        self._ready = lambda: _ok(f"{self.server}/readyz", self.token, context)
        apiserver.wait_until(
            lambda: _ok(f"{self.server}/readyz", self.token, context), self.settings.start_timeout_s, "ready"
        )
        version = _get_json(f"{self.server}/version", self.token, context)
        self.versions["kube-apiserver"] = str(version.get("gitVersion", "?"))

    def _install_crds(self) -> None:
        files, names = [], []
        if self.settings.istio_crds:
            files.append(self.toolchain.istio_crds)
            names.append("Istio's")
        if self.settings.gateway_api_crds:
            files.append(self.toolchain.gateway_api_crds)
            names.append("Gateway API's")
        if self.settings.graygate_crds:
            (self.workdir / "crds").mkdir(parents=True, exist_ok=True)
            for ours, text in rendered_crds(self.workdir / "crds"):
                ours.write_text(text, encoding="utf-8")
                files.append(ours)
            names.append("graygate's CanaryRelease, GateTemplate and ClusterGateTemplate")
        files.extend(self.settings.crd_files)
        names.extend(path.name for path in self.settings.crd_files)
        if files:
            self.progress(f"installing CRDs ({', '.join(names)}) and waiting until they are Established")
            sandbox_setup.install_crds(self.kubeconfig, files)

    # -- Istio's control plane -------------------------------------------------------------------------------------

    def _start_istiod(self) -> None:
        ports = istiod.IstiodPorts(xds=free_port(), http=free_port(), webhook=free_port(), monitoring=free_port())
        tls = istiod.write_webhook_tls(self.workdir / "istiod", dt.datetime.now(dt.UTC))
        mesh = self.workdir / "istiod" / "mesh.yaml"
        mesh.write_text(istiod.mesh_config(ports))
        sandbox_setup.ensure_namespace(self.kubeconfig, istiod.ISTIO_NAMESPACE)
        env = {**os.environ, **istiod.environment(self.kubeconfig)}
        process = self._launch("pilot-discovery", istiod.arguments(self.kubeconfig, mesh, ports, tls), env)
        found = istiod.endpoints(ports)
        process.wait_until(lambda: _ok(f"{found.debug_url}/ready", None, None), self.settings.start_timeout_s, "ready")
        webhook = istiod.validating_webhook(found.webhook_url, tls.ca_cert.read_bytes())
        sandbox_setup.register_validating_webhook(self.kubeconfig, webhook)
        # The API server picks the webhook up a moment after it is registered: wait until it really judges.
        process.wait_until(
            lambda: sandbox_setup.webhook_judges(self.kubeconfig, istiod.ISTIO_NAMESPACE, istiod.WEBHOOK_NAME),
            self.settings.start_timeout_s,
            "judging VirtualServices through its webhook",
        )
        self.istiod = found
        self.versions["istiod"] = self.toolchain.istiod_version()

    # -- controllers that make Deployments real ----------------------------------------------------------------

    def _start_workload_controllers(self, pki: SandboxPki) -> None:
        kcm = self._launch(
            "kube-controller-manager",
            options.controller_manager(
                self.kubeconfig, pki, self.settings.controller_qps, endpoint_slices=self.settings.endpoint_slices
            ),
        )
        self._launch("kube-scheduler", options.scheduler(self.kubeconfig, free_port()))
        self._launch("kwok", options.kwok(self.kubeconfig, write_kwok_config(self.workdir / "kwok.yaml"), free_port()))
        sandbox_setup.create_fake_node(self.kubeconfig, "kwok-node-0")
        kcm.wait_until(
            lambda: sandbox_setup.default_service_account_exists(self.kubeconfig),
            self.settings.start_timeout_s,
            "creating ServiceAccounts",
        )

    # -- bookkeeping ------------------------------------------------------------------------------------------

    def _launch(self, name: str, args: list[str], env: dict[str, str] | None = None) -> ManagedProcess:
        binary = self.toolchain.binary(name)
        process = ManagedProcess(name, [str(binary), *args], self.workdir / "logs" / f"{name}.log", env=env)
        process.start()
        self._processes.append(process)
        # Recorded as each starts, not once all are up: if this command is killed mid-start, the next `up` or
        # `down` still finds, and stops, what it had started.
        self._write_state()
        return process

    def _write_state(self) -> None:
        state = SandboxState(
            kubeconfig=self.kubeconfig,
            server=self.server,
            etcd=self.etcd_url,
            versions=self.versions,
            istiod_xds=self.istiod.xds_address if self.istiod is not None else "",
            pids={p.name: record(p.pid) for p in self._processes},
        )
        write_state(self.workdir, state)

    def detach(self) -> None:
        """Leaves the processes running for another process to stop with `stop_detached`."""
        self._processes.clear()
        self._owns_workdir = False


class SandboxRunningError(GraygateError):
    """A sandbox that answers already runs from the work folder."""

    def __init__(self, workdir: Path, server: str) -> None:
        super().__init__(f"a sandbox already runs in {workdir} (API server {server})")
        self.workdir = workdir
        self.server = server


def reclaim(workdir: Path, answer_timeout_s: float = 10.0) -> StopReport | None:
    """Readies `workdir` for a new sandbox. One recorded there whose API server still answers is left alone
    (SandboxRunningError); what is left of one that crashed or half-stopped is stopped and its data removed.
    None if the folder records no sandbox."""
    found = survey(workdir)
    if found is None:
        return None
    if "kube-apiserver" in found.named("ours") and _answers(found.state, workdir, answer_timeout_s):
        raise SandboxRunningError(workdir, found.state.server)
    return stop_detached(workdir)


def _answers(state: SandboxState, workdir: Path, timeout_s: float) -> bool:
    """Whether the recorded API server is ready, asked for up to `timeout_s` (a busy machine answers late)."""
    try:
        context = ssl.create_default_context(cafile=str(workdir / "pki" / "ca.crt"))
    except (OSError, ssl.SSLError):
        return False
    deadline = time.monotonic() + timeout_s
    while True:
        if _ok(f"{state.server}/readyz", None, context):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def _etcd_healthy(url: str) -> bool:
    try:
        return _get_json(f"{url}/health", None, None).get("health") == "true"
    except (OSError, ValueError):
        return False


def _request(url: str, token: str | None) -> urllib.request.Request:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    return request


def _ok(url: str, token: str | None, context: ssl.SSLContext | None) -> bool:
    try:
        with urllib.request.urlopen(_request(url, token), timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _get_json(url: str, token: str | None, context: ssl.SSLContext | None) -> dict[str, Any]:
    with urllib.request.urlopen(_request(url, token), timeout=5, context=context) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body


__all__ = [
    "ControlPlane",
    "ControlPlaneSettings",
    "ProcessFailedError",
    "SandboxRunningError",
    "read_state",
    "reclaim",
    "stop_detached",
]
