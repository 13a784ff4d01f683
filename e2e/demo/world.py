"""The demo's world: a sandbox control plane (with istiod) with the checkout service's objects, the traffic lab
playing its pods (a backend per revision of each side's Deployment, serving its image tag, behind an Envoy istiod
configures), the real operator as a child process,
the one release of checkout with v1 adopted as stable, and steady bounded load; all of it stopped on the way out.

Why here (test infrastructure) and not in the `graygate` package: the world is made of the traffic lab (a real
Envoy from a wheel, Prometheus, stand-in backends), which is test infrastructure and is not installed with
graygate, and of the toolchain `make` builds. The demo only runs from a clone, so it lives with the lab;
the product pieces it shows (`graygate run`, `graygate get`'s view, the CRD, the manifests) are the installed ones.

Every process is stopped, in reverse order of starting, on success, on error and on Ctrl-C: the control plane by its
context manager, the lab and the operator by `async with`. Children run in their own sessions (a terminal's Ctrl-C
reaches only the demo, which stops them in order) and die with the demo if it is killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from kubernetes import client

from e2e.demo.narrate import Narrator
from e2e.lab import IstioMesh, ListPods, LoadGenerator, TrafficLab, WorkloadSide
from e2e.lab._process import ManagedProcess, free_port
from graygate.kube.client import api_client
from graygate.kube.releases import KubeReleases
from graygate.sandbox import ControlPlane, ControlPlaneSettings

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = Path(__file__).resolve().parent / "manifests"
NAMESPACE = "shop"
SERVICE = "checkout"
PRIMARY = f"{SERVICE}-primary"
RELEASE = "checkout.yaml"
IMAGE = "registry.example/checkout"


class DemoError(Exception):
    """The demo could not go on; the message says where to look."""


@dataclass(frozen=True)
class DemoSettings:
    workdir: Path
    rate_per_s: float = 50.0
    tick_interval_s: float = 0.5
    max_duration_s: float = 360.0
    """The load generator's bound (the demo ends well before)."""


@dataclass
class World:
    plane: ControlPlane
    api: client.ApiClient
    lab: TrafficLab
    load: LoadGenerator
    operator: ManagedProcess
    started_at: float

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def operator_log_tail(self, lines: int = 30) -> str:
        return self.operator.log_tail(lines)


def relative(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(REPO))
    return str(path)


def kubectl(plane: ControlPlane, args: Sequence[str], stdin: str | None = None, timeout_s: float = 60) -> str:
    """Run the kubectl from the virtual environment against the sandbox; raise DemoError with its output."""
    argv = ["kubectl", f"--kubeconfig={plane.kubeconfig}", *args]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise DemoError(f"`kubectl {' '.join(args)}` failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


@contextlib.contextmanager
def control_plane(settings: DemoSettings, say: Narrator) -> Iterator[ControlPlane]:
    """The sandbox with graygate's CRD, kwok's fake node and the checkout service's objects, Deployments Available."""
    crds = tuple(sorted((REPO / "crds").glob("*.yaml")))
    plane_settings = ControlPlaneSettings(workdir=settings.workdir / "sandbox", workloads=True, crd_files=crds)
    with ControlPlane(plane_settings) as plane:
        versions = ", ".join(f"{name} {version}" for name, version in plane.versions.items())
        say.say(f"{versions}, kube-controller-manager and kwok on {plane.server}: up in {plane.startup_seconds:.1f} s")
        say.command(f"kubectl apply -f {relative(MANIFESTS / 'cluster.yaml')}")
        kubectl(plane, ["apply", "-f", str(MANIFESTS / "cluster.yaml")])
        say.say("  namespace shop: the Deployment checkout (v1, the one in Git), a Service, a DestinationRule, and")
        say.say("  the VirtualService `checkout` with route `primary` at stable 100 %, canary 0 %")
        kubectl(plane, ["wait", "-n", NAMESPACE, "--for=condition=Available", "deployment", "--all", "--timeout=60s"])
        yield plane


@contextlib.asynccontextmanager
async def running_world(
    plane: ControlPlane, settings: DemoSettings, say: Narrator, started_at: float
) -> AsyncIterator[World]:
    """The traffic lab following the sandbox's pods, its Envoy configured by the sandbox's istiod, the operator, the
    release with v1 adopted, and the load; all stopped on exit. `started_at` (monotonic) is when the demo began: the
    story's times count from it."""
    began = time.monotonic()
    with api_client(plane.kubeconfig) as api:
        sides = [WorkloadSide("stable", PRIMARY, {"app": PRIMARY}), WorkloadSide("canary", SERVICE, {"app": SERVICE})]
        lab = TrafficLab(service=SERVICE, namespace=NAMESPACE, prometheus=True, workloads=sides,
                         list_pods=_pod_lister(api), workdir=settings.workdir / "lab", mesh=_mesh(plane))  # fmt: skip
        async with lab:
            await lab.prometheus.wait_targets_up()
            say.say(
                f"traffic lab: a backend per revision of checkout's pods (serving its image tag) behind a real Envoy\n"
                f"  configured by istiod from the VirtualService, Prometheus scraping them every second "
                f"({time.monotonic() - began:.1f} s)"
            )
            operator = await _start_operator(plane, settings, lab.prometheus_url, say)
            try:
                await _adopt(plane, api, lab, operator, say)
                load = lab.load(rate_per_s=settings.rate_per_s, max_requests=int(settings.rate_per_s *
                                settings.max_duration_s), max_duration_s=settings.max_duration_s)  # fmt: skip
                load.start()
                say.say(f"users: {settings.rate_per_s:.0f} requests/s through Envoy for the whole demo")
                try:
                    yield World(plane, api, lab, load, operator, started_at)
                finally:
                    await load.stop()
            finally:
                operator.stop(grace_s=5)


def _mesh(plane: ControlPlane) -> IstioMesh:
    if plane.istiod is None:
        raise RuntimeError("the demo needs the sandbox's istiod (ControlPlaneSettings(istiod=True))")
    return IstioMesh(plane.istiod.xds_address, plane.kubeconfig)


def _pod_lister(api: client.ApiClient) -> ListPods:
    """The lab's `list_pods` on the sandbox: the pods matching every label of a selector, as the API's JSON."""
    core = client.CoreV1Api(api)

    async def list_pods(namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        labels = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        # The raw JSON (camelCase keys), which the lab reads, not the client's snake_case models.
        found: Any = await asyncio.to_thread(
            core.list_namespaced_pod, namespace, label_selector=labels, _preload_content=False
        )
        return list(json.loads(found.data)["items"])

    return list_pods


async def _adopt(
    plane: ControlPlane, api: client.ApiClient, lab: TrafficLab, operator: ManagedProcess, say: Narrator
) -> None:
    """Apply the release once; graygate adopts the running v1 as stable (creating checkout-primary). Returns when
    the users would be served v1 by the primary's pods."""
    began = time.monotonic()
    say.command(f"kubectl apply -f {relative(MANIFESTS / RELEASE)}")
    await asyncio.to_thread(kubectl, plane, ["apply", "-f", str(MANIFESTS / RELEASE)])
    releases = KubeReleases(api)
    deadline = began + 60
    while time.monotonic() < deadline:
        lab.check()
        status = (await asyncio.to_thread(releases.get, NAMESPACE, SERVICE)).get("status") or {}
        if status.get("phase") == "Succeeded" and status.get("stableRevision") and await serves(lab, "v1"):
            say.say(f"  graygate adopted v1 as stable (revision {status['stableRevision']}): it created {PRIMARY},")
            say.say(f"  which serves the users, and scaled {SERVICE} to 0 ({time.monotonic() - began:.1f} s)")
            return
        await asyncio.sleep(0.5)
    raise DemoError(f"v1 was not adopted as stable in 60 s; operator log:\n{operator.log_tail(30)}")


async def serves(lab: TrafficLab, version: str) -> bool:
    """Ten requests through Envoy, all served by `version`."""
    probe = lab.load(rate_per_s=20, max_requests=10, max_duration_s=2)
    probe.start()
    result = await probe.finished()
    return result.counts() == {version: 10}


async def _start_operator(
    plane: ControlPlane, settings: DemoSettings, prometheus: str, say: Narrator
) -> ManagedProcess:
    liveness = free_port()
    argv = [
        sys.executable, "-m", "graygate.cli", "run", f"--kubeconfig={plane.kubeconfig}", f"--namespace={NAMESPACE}",
        f"--tick-interval={settings.tick_interval_s}", f"--prometheus-address={prometheus}",
        "--metrics-port=0", f"--liveness-port={liveness}", "--log-format=text",
    ]  # fmt: skip
    log = settings.workdir / "operator.log"
    say.command(f"graygate run --namespace {NAMESPACE} --prometheus-address {prometheus}")
    operator = ManagedProcess("graygate run", argv, log)
    operator.start()
    try:
        took = await operator.wait_ready(lambda: _answers(f"http://127.0.0.1:{liveness}/healthz"), 30, "live")
    except BaseException:
        operator.stop()
        raise
    say.say(f"  the operator is watching namespace {NAMESPACE} ({took:.1f} s; its log: {log})")
    return operator


async def _answers(url: str) -> bool:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session, session.get(url) as reply:
        return reply.status == 200


def image(version: str) -> str:
    return f"{IMAGE}:{version}"


async def set_version(world: World, version: str, env: Mapping[str, str] | None = None) -> None:
    """Change the Deployment as the next commit would: cluster.yaml's pod template with the image `version` and,
    on top of its env, `env`. The whole template is replaced (what a sync of the commit leaves), so a variable of
    the previous version does not linger as it would in a strategic merge."""
    documents = yaml.safe_load_all((MANIFESTS / "cluster.yaml").read_text())
    template = next(d for d in documents if d and d.get("kind") == "Deployment")["spec"]["template"]
    container = template["spec"]["containers"][0]
    container["image"] = image(version)
    container["env"] = [*container.get("env", []), *({"name": k, "value": v} for k, v in (env or {}).items())]
    patch = [{"op": "replace", "path": "/spec/template", "value": template}]
    apps = client.AppsV1Api(world.api)
    await asyncio.to_thread(apps.patch_namespaced_deployment, SERVICE, NAMESPACE, patch)


async def deployment(world: World, name: str) -> dict[str, Any]:
    """The Deployment as the API server's JSON."""
    apps = client.AppsV1Api(world.api)
    found: Any = await asyncio.to_thread(apps.read_namespaced_deployment, name, NAMESPACE, _preload_content=False)
    return dict(json.loads(found.data))
