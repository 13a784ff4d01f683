"""The demo's world: a sandbox control plane with the checkout service's objects, the traffic lab playing its pods,
the real operator as a child process, and steady bounded load; all of it stopped on the way out.

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
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from e2e.demo.narrate import Narrator
from e2e.lab import Knobs, LoadGenerator, TrafficLab
from e2e.lab._process import ManagedProcess, free_port
from graygate.console.check import UrlOverride, apply_overrides
from graygate.kube.client import api_client
from graygate.sandbox import ControlPlane, ControlPlaneSettings

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = Path(__file__).resolve().parent / "manifests"
NAMESPACE = "shop"
SERVICE = "checkout"
HEALTHY = Knobs(latency_ms=12, jitter_ms=8)


class DemoError(Exception):
    """The demo could not go on; the message says where to look."""


@dataclass(frozen=True)
class DemoSettings:
    workdir: Path
    rate_per_s: float = 50.0
    tick_interval_s: float = 0.5
    max_duration_s: float = 240.0
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
        say.say("  namespace shop: Deployments checkout-stable (v1) and checkout-canary, a DestinationRule, and")
        say.say("  the VirtualService `checkout` with route `primary` at stable 100 %, canary 0 %")
        kubectl(plane, ["wait", "-n", NAMESPACE, "--for=condition=Available", "deployment", "--all", "--timeout=60s"])
        yield plane


@contextlib.asynccontextmanager
async def running_world(
    plane: ControlPlane, settings: DemoSettings, say: Narrator, started_at: float
) -> AsyncIterator[World]:
    """The traffic lab following the sandbox's VirtualService, the operator, and the load; all stopped on exit.
    `started_at` (monotonic) is when the demo began: the story's times count from it."""
    began = time.monotonic()
    with api_client(plane.kubeconfig) as api:
        custom = client.CustomObjectsApi(api)
        knobs = {"stable": HEALTHY, "canary": HEALTHY}
        lab = TrafficLab(service=SERVICE, namespace=NAMESPACE, prometheus=True, knobs=knobs,
                         workdir=settings.workdir / "lab")  # fmt: skip
        async with lab, lab.watch(lambda: _virtual_service(custom), interval_s=0.1):
            await lab.prometheus.wait_targets_up()
            say.say(
                f"traffic lab: stable and canary backends behind a real Envoy that routes as the VirtualService\n"
                f"  says, and Prometheus scraping them every second ({time.monotonic() - began:.1f} s)"
            )
            operator = await _start_operator(plane, settings, lab.prometheus_url, say)
            try:
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


def _virtual_service(custom: client.CustomObjectsApi) -> dict[str, Any] | None:
    try:
        found = custom.get_namespaced_custom_object("networking.istio.io", "v1", NAMESPACE, "virtualservices", SERVICE)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return dict(found) if isinstance(found, dict) else None


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


def release_manifest(world: World, file: str) -> str:
    """The release manifest as committed, with its health probe pointed at the lab's canary backend (the same
    rewrite `graygate check --url health=URL` does): in a cluster it names the canary's Service."""
    document = yaml.safe_load((MANIFESTS / file).read_text())
    probe = UrlOverride("health", world.lab.backend_url("canary") + "/healthz")
    document["spec"] = apply_overrides(document["spec"], [probe])
    return yaml.safe_dump(document, sort_keys=False)


async def apply_release(world: World, file: str, say: Narrator) -> None:
    say.command(f"kubectl apply -f {relative(MANIFESTS / file)}")
    await asyncio.to_thread(kubectl, world.plane, ["apply", "-f", "-"], release_manifest(world, file))


async def delete_release(world: World, name: str, say: Narrator) -> None:
    say.command(f"kubectl delete canaryrelease -n {NAMESPACE} {name}")
    await asyncio.to_thread(kubectl, world.plane, ["delete", "canaryrelease", "-n", NAMESPACE, name, "--wait=true"])
