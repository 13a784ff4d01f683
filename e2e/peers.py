"""Flagger and the Argo Rollouts controller as child processes of the sandbox, the objects each is given, and the
check that each reconciles them.

Why: a comparison with the peers means something only when they run against the same API server, istiod, service
and traffic as graygate. Both are built from the Go module proxy by `make peers` (e2e/toolchain/build.sh --peers)
into the toolchain's bin folder, with their CRDs from their own modules in the toolchain's `peers/` folder.

Both serve HTTP (Flagger its metrics on `-port`, Argo Rollouts its metrics and health ports) on every interface: the
address is fixed in their code, only the port is a flag. `make bench-peers` therefore runs the bench in a network
namespace of its own, whose only interface is loopback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from e2e.lab._process import ManagedProcess, free_port
from graygate.sandbox.toolchain import Toolchain

FLAGGER = {"group": "flagger.app", "version": "v1beta1", "plural": "canaries"}
ROLLOUTS = {"group": "argoproj.io", "version": "v1alpha1", "plural": "rollouts"}
ANALYSIS_TEMPLATES = {"group": "argoproj.io", "version": "v1alpha1", "plural": "analysistemplates"}
ISTIO_GROUP, ISTIO_VERSION = "networking.istio.io", "v1"


class PeerError(AssertionError):
    """A peer did not do what its documentation says it does with the object it was given."""


@dataclass(frozen=True)
class PeerBuild:
    """A peer's binary and CRDs in the toolchain cache, and the version its build stamp records."""

    name: str
    binary: Path
    crds: Path
    version: str


def peer_builds(toolchain: Toolchain | None = None) -> tuple[PeerBuild, PeerBuild]:
    """Flagger's and Argo Rollouts' builds; raises PeerError naming `make peers` when one is missing."""
    tools = toolchain or Toolchain.locate()
    cache = tools.bin_dir.parent / "peers"
    found = []
    for name, binary, crds in (
        ("Flagger", "flagger", "flagger-crds.yaml"),
        ("Argo Rollouts", "rollouts-controller", "argo-rollouts-crds.yaml"),
    ):
        path, stamp = tools.bin_dir / binary, tools.bin_dir / f".{binary}.stamp"
        if not path.is_file() or not (cache / crds).is_file():
            raise PeerError(f"{name} is not built ({path}, {cache / crds}): run `make peers`")
        version = stamp.read_text().split()[0] if stamp.is_file() else "?"
        found.append(PeerBuild(name, path, cache / crds, version))
    return found[0], found[1]


# --- the processes ----------------------------------------------------------------------------------------------------


def flagger_process(build: PeerBuild, kubeconfig: Path, namespace: str, prometheus: str, log: Path) -> ManagedProcess:
    """Flagger for one namespace with the Istio provider, as its Helm chart runs it, out of cluster."""
    argv = [
        str(build.binary),
        f"-kubeconfig={kubeconfig}",
        f"-namespace={namespace}",
        "-mesh-provider=istio",
        f"-metrics-server={prometheus}",
        f"-port={free_port()}",
        "-log-level=info",
        "-enable-leader-election=false",
    ]
    return ManagedProcess("flagger", argv, log)


def rollouts_process(build: PeerBuild, kubeconfig: Path, namespace: str, log: Path) -> ManagedProcess:
    """The Argo Rollouts controller in namespaced mode (its namespace-install), out of cluster."""
    argv = [
        str(build.binary),
        f"--kubeconfig={kubeconfig}",
        "--namespaced",
        f"--namespace={namespace}",
        f"--metricsPort={free_port()}",
        f"--healthzPort={free_port()}",
        "--leader-elect=false",
        "--loglevel=info",
    ]
    return ManagedProcess("rollouts-controller", argv, log)


# --- the objects ------------------------------------------------------------------------------------------------------


def deployment(
    name: str, image: str, labels: Mapping[str, str], env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}},
        },
    }


def flagger_canary(name: str, port: int, analysis: Mapping[str, Any]) -> dict[str, Any]:
    """A Canary of Deployment `name` with the Istio provider: Flagger makes `<name>-primary`, the Services
    `<name>`, `<name>-primary` and `<name>-canary`, their DestinationRules and the VirtualService `<name>`."""
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "progressDeadlineSeconds": 60,
            "service": {"port": port, "targetPort": port, "portName": "http"},
            "analysis": dict(analysis),
        },
    }


def rollout(name: str, image: str, steps: list[dict[str, Any]], env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Rollout whose canary steps set the weights of route `primary` of VirtualService `name` over the subsets
    `stable` and `canary` of DestinationRule `name` (Argo Rollouts' subset-level traffic splitting)."""
    body = deployment(name, image, {"app": name}, env)
    body["apiVersion"], body["kind"] = "argoproj.io/v1alpha1", "Rollout"
    body["spec"]["strategy"] = {
        "canary": {
            "trafficRouting": {
                "istio": {
                    "virtualService": {"name": name, "routes": ["primary"]},
                    "destinationRule": {"name": name, "canarySubsetName": "canary", "stableSubsetName": "stable"},
                }
            },
            "steps": steps,
        }
    }
    return body


# --- waiting on the API server ----------------------------------------------------------------------------------------


async def until(probe: Callable[[], Any], timeout_s: float, what: str, process: ManagedProcess) -> Any:
    """Poll `probe` (run in a thread) until it returns something truthy; a 404 counts as not yet. Fails with the
    peer's log tail, as does the peer exiting."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        process.check()
        try:
            last = await asyncio.to_thread(probe)
        except ApiException as error:
            if error.status != 404:
                raise
            last = None
        if last:
            return last
        await asyncio.sleep(0.2)
    raise PeerError(
        f"{process.name} did not {what} within {timeout_s:.0f} s; last seen: {last!r}\n{process.log_tail(20)}"
    )


def custom_object(api: client.ApiClient, kind: Mapping[str, str], namespace: str, name: str) -> dict[str, Any]:
    found = client.CustomObjectsApi(api).get_namespaced_custom_object(
        kind["group"], kind["version"], namespace, kind["plural"], name
    )
    return cast(dict[str, Any], found)


def istio_object(api: client.ApiClient, plural: str, namespace: str, name: str) -> dict[str, Any]:
    kind = {"group": ISTIO_GROUP, "version": ISTIO_VERSION, "plural": plural}
    return custom_object(api, kind, namespace, name)


def route_weights(vs: Mapping[str, Any], route: str | None = None) -> dict[str, int]:
    """A VirtualService's weights by destination (`host` or `host/subset`), of the named route or the first."""
    for http in vs.get("spec", {}).get("http", []):
        if route is None or http.get("name") == route:
            out: dict[str, int] = {}
            for r in http.get("route", []):
                d = r["destination"]
                key = d["host"] + (f"/{d['subset']}" if d.get("subset") else "")
                out[key] = int(r.get("weight", 0 if len(http["route"]) > 1 else 100))
            return out
    return {}
