"""The lab's side of a real istiod: the Istio objects that make the lab's backends and its Envoy part of the mesh.

Why: with `TrafficLab(mesh=IstioMesh(...))` the lab's Envoy is a sidecar configured by istiod over ADS, so a weight
graygate writes reaches users through istiod's own translation and push, not through ours. istiod only configures
what it knows from the API server, so the lab tells it, as a cluster would:

- a `ServiceEntry` per host the routes name (`<service>` and `<service>-<version>`), on port `port`, selecting the
  lab's `WorkloadEntry`s by label (`SERVICE_LABEL`, and `CLUSTER_LABEL` for a version's own host);
- a `WorkloadEntry` per endpoint, at 127.0.0.1 and the port of the backend that plays it, labelled as the pod it
  stands for, so the user's DestinationRule subsets select them as they would select pods;
- a `Sidecar` for the lab's Envoy (no traffic capture): one outbound listener on 127.0.0.1:`port`.

The lab's Envoy presents itself as a proxy at `CLIENT_IP`, not 127.0.0.1: istiod takes the labels of a
WorkloadEntry at a proxy's own address for the proxy's labels. This is the only module of the lab that imports the
`kubernetes` client; the object bodies are pure functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from .errors import LabError

GROUP, VERSION = "networking.istio.io", "v1"
SERVICE_LABEL = "lab.graygate.dev/service"
CLUSTER_LABEL = "lab.graygate.dev/cluster"
CLIENT_LABELS: dict[str, str] = {"app": "graygate-lab-client"}
CLIENT_NAME = "graygate-lab-client"
CLIENT_IP = "10.255.0.2"
ISTIO_VERSION = "1.31.0"
"""What the lab's Envoy tells istiod it is: istiod shapes its config by the proxy's version."""


@dataclass(frozen=True)
class IstioMesh:
    """A running istiod: its plaintext ADS address (`host:port`) and the API server it watches."""

    xds_address: str
    kubeconfig: Path


def fqdn(host: str, namespace: str) -> str:
    return f"{host}.{namespace}.svc.cluster.local"


def outbound_cluster(port: int, subset: str | None, host: str) -> str:
    """The name istiod gives an outbound Envoy cluster."""
    return f"outbound|{port}|{subset or ''}|{host}"


def proxy_node(namespace: str) -> dict[str, Any]:
    """The bootstrap `node` of the lab's Envoy: a sidecar of workload `CLIENT_NAME` that intercepts nothing."""
    name = f"{CLIENT_NAME}-0"
    return {
        "id": f"sidecar~{CLIENT_IP}~{name}.{namespace}~{namespace}.svc.cluster.local",
        "cluster": f"{CLIENT_NAME}.{namespace}",
        "metadata": {
            "ISTIO_VERSION": ISTIO_VERSION,
            "CLUSTER_ID": "Kubernetes",
            "NAMESPACE": namespace,
            "LABELS": CLIENT_LABELS,
            "INTERCEPTION_MODE": "NONE",
            "NAME": name,
            "WORKLOAD_NAME": CLIENT_NAME,
            "MESH_ID": "cluster.local",
            "SERVICE_ACCOUNT": "default",
            "INSTANCE_IPS": CLIENT_IP,
        },
    }


def _object(kind: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "graygate-lab"}},
        "spec": dict(spec),
    }


def service_entry(name: str, host: str, port: int, selector: Mapping[str, str]) -> dict[str, Any]:
    return _object(
        "ServiceEntry",
        name,
        {
            "hosts": [host],
            "location": "MESH_INTERNAL",
            "resolution": "STATIC",
            "ports": [{"number": port, "name": "http", "protocol": "HTTP"}],
            "workloadSelector": {"labels": dict(selector)},
        },
    )


def workload_entry(name: str, labels: Mapping[str, str], port: int) -> dict[str, Any]:
    return _object("WorkloadEntry", name, {"address": "127.0.0.1", "ports": {"http": port}, "labels": dict(labels)})


def sidecar(port: int) -> dict[str, Any]:
    listener = {
        "port": {"number": port, "protocol": "HTTP", "name": "http"},
        "bind": "127.0.0.1",
        "captureMode": "NONE",
        "hosts": ["./*"],
    }
    return _object("Sidecar", CLIENT_NAME, {"workloadSelector": {"labels": CLIENT_LABELS}, "egress": [listener]})


_PLURALS = {"ServiceEntry": "serviceentries", "WorkloadEntry": "workloadentries", "Sidecar": "sidecars"}


class MeshObjects:
    """Creates, replaces and deletes the lab's Istio objects in one namespace; `remove_all()` deletes every one it
    made. Calls run in worker threads, so the event loop (load, Envoy polling) keeps running; each call is bounded by
    `request_timeout_s`, since a worker thread cannot be cancelled, and fails as a LabError, whether the API server
    refused it or could not be reached."""

    def __init__(self, mesh: IstioMesh, namespace: str, request_timeout_s: float = 10.0) -> None:
        self.namespace = namespace
        self._timeout = request_timeout_s
        loaders = cast(Any, config)  # the client's config loaders are untyped; they return an ApiClient
        self._api = cast(client.ApiClient, loaders.new_client_from_config(config_file=str(mesh.kubeconfig)))
        self._custom = client.CustomObjectsApi(self._api)
        self._made: dict[tuple[str, str], dict[str, Any]] = {}

    def names(self, kind: str) -> set[str]:
        return {name for k, name in self._made if k == kind}

    async def put(self, body: Mapping[str, Any]) -> None:
        """Create the object, or replace it when it exists; nothing when the lab made it identical already."""
        kind, name = str(body["kind"]), str(body["metadata"]["name"])
        if self._made.get((kind, name)) == body:
            return
        try:
            await asyncio.to_thread(self._put, kind, dict(body))
        except ApiException as e:
            raise LabError(f"cannot write {kind} {self.namespace}/{name}: {e.status} {e.body}") from e
        except HTTPError as e:
            raise LabError(f"cannot write {kind} {self.namespace}/{name}: {e!r}") from e
        self._made[(kind, name)] = dict(body)

    def _put(self, kind: str, body: dict[str, Any]) -> None:
        plural, timeout = _PLURALS[kind], self._timeout
        try:
            self._custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, body, _request_timeout=timeout
            )
        except ApiException as e:
            if e.status != 409:
                raise
            name = body["metadata"]["name"]
            found = cast(
                dict[str, Any],
                self._custom.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural, name, _request_timeout=timeout
                ),
            )
            replacement = {
                **body,
                "metadata": {**body["metadata"], "resourceVersion": found["metadata"]["resourceVersion"]},
            }
            self._custom.replace_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name, replacement, _request_timeout=timeout
            )

    async def delete(self, kind: str, name: str) -> None:
        try:
            await asyncio.to_thread(
                self._custom.delete_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                _PLURALS[kind],
                name,
                _request_timeout=self._timeout,
            )
        except ApiException as e:
            if e.status != 404:
                raise LabError(f"cannot delete {kind} {self.namespace}/{name}: {e.status} {e.body}") from e
        except HTTPError as e:
            raise LabError(f"cannot delete {kind} {self.namespace}/{name}: {e!r}") from e
        self._made.pop((kind, name), None)

    async def remove_all(self) -> None:
        """Delete every object this lab made (best effort: the namespace may be gone already), then close."""
        try:
            for kind, name in list(self._made):
                try:
                    await self.delete(kind, name)
                except LabError:
                    self._made.pop((kind, name), None)
        finally:
            cast(Any, self._api).close()  # untyped in the client
