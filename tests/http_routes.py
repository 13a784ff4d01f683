"""Builders of Gateway API HTTPRoutes as the API server returns them (CRD defaults filled in), shared by the unit
tests of the Gateway API router and the integration test that runs a release on one."""

from __future__ import annotations

from typing import Any

from graygate.ports.routing import Destination, HTTPRouteBody

STABLE = Destination("checkout", port=8080)
CANARY = Destination("checkout-v2", port=8080)


def backend(name: str, weight: int | None = 1, *, port: int = 8080, **extra: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": name, "port": port}
    if weight is not None:
        ref["weight"] = weight
    return {**ref, **extra}


def rule(name: str | None, *backends: dict[str, Any], path: str = "/", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {} if name is None else {"name": name}
    body["matches"] = [{"path": {"type": "PathPrefix", "value": path}}]
    body["backendRefs"] = list(backends) or [backend("checkout")]
    return {**body, **extra}


def http_route(name: str, *rules: dict[str, Any], namespace: str = "shop", **metadata: Any) -> HTTPRouteBody:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public"}],
            "hostnames": ["shop.example"],
            "rules": list(rules),
        },
    }
