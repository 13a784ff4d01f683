"""VirtualServices for every ring of tests, in one place: realistic fixtures written as YAML the way people write
them (loaded fresh for every test) for the router's tables, and `virtual_service` with `route` for the small ones the
service, router and cluster tests start from."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from graygate.ports.routing import Destination, VirtualServiceBody

STABLE = Destination(host="checkout", subset="stable")
CANARY = Destination(host="checkout", subset="canary")

# Five http routes: "primary" and "api-v2" are the ones a release manages; "admin", "legacy" and the
# direct-response "maintenance" route must come out of every write byte-for-byte.
CHECKOUT_YAML = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: checkout
  namespace: shop
  resourceVersion: "4711"
  generation: 7
  labels:
    app.kubernetes.io/name: checkout
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"kept": "verbatim"}'
spec:
  hosts:
  - checkout.shop.svc.cluster.local
  - checkout.example.com
  gateways:
  - mesh
  - shop/public-gateway
  http:
  - name: admin
    match:
    - uri:
        prefix: /admin
      headers:
        x-admin-token:
          regex: "^[a-f0-9]{32}$"
    route:
    - destination:
        host: checkout-admin
        port:
          number: 9090
    timeout: 3s
  - name: primary
    match:
    - uri:
        prefix: /
      ignoreUriCase: true
    route:
    - destination:
        host: checkout
        subset: stable
        port:
          number: 8080
      headers:
        response:
          set:
            x-served-by: stable
    retries:
      attempts: 3
      perTryTimeout: 2s
      retryOn: 5xx,reset,connect-failure
    headers:
      request:
        set:
          x-env: production
    mirror:
      host: checkout-shadow
      port:
        number: 8080
    mirrorPercentage:
      value: 5.0
    corsPolicy:
      allowOrigins:
      - exact: https://shop.example.com
      allowMethods: [GET, POST]
      maxAge: 24h
  - name: api-v2
    match:
    - uri:
        prefix: /v2
      headers:
        accept:
          exact: application/json
    route:
    - destination:
        host: checkout.shop.svc.cluster.local
        subset: stable
      weight: 90
    - destination:
        host: checkout.shop.svc.cluster.local
        subset: canary
      weight: 10
    - destination:
        host: checkout-legacy
      weight: 0
    fault:
      delay:
        percentage:
          value: 0.1
        fixedDelay: 5s
  - name: legacy
    match:
    - uri:
        prefix: /legacy
    rewrite:
      uri: /
    route:
    - destination:
        host: checkout-legacy
  - name: maintenance
    match:
    - headers:
        x-maintenance:
          exact: "on"
    directResponse:
      status: 503
      body:
        string: down for maintenance
"""

# The common small case: one unnamed http route, the weight left out because there is one destination.
PAYMENTS_YAML = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: payments
  namespace: shop
  resourceVersion: "12"
spec:
  hosts:
  - payments
  http:
  - route:
    - destination:
        host: payments
        subset: stable
    timeout: 10s
"""

UNMANAGED_ROUTES = ("admin", "legacy", "maintenance")


def route(name: str | None, *, stable: int = 100, canary: int | None = None, port: int | None = None) -> dict[str, Any]:
    """One http route to the `checkout` host: `stable` % to its stable subset and, when `canary` is given, that much
    to its canary subset. `name=None`: an unnamed route (a VirtualService's only one)."""
    weights = [("stable", stable)] + ([] if canary is None else [("canary", canary)])
    entries = []
    for subset, weight in weights:
        destination: dict[str, Any] = {"host": "checkout", "subset": subset}
        if port is not None:
            destination["port"] = {"number": port}
        entries.append({"destination": destination, "weight": weight})
    return ({} if name is None else {"name": name}) | {"route": entries}


def virtual_service(
    name: str,
    *http: dict[str, Any],
    namespace: str | None = None,
    hosts: tuple[str, ...] = ("checkout",),
    gateways: tuple[str, ...] = (),
    **metadata: Any,
) -> VirtualServiceBody:
    """A VirtualService with these http routes; `namespace=None` leaves it to the API call, `metadata` adds fields
    such as labels or a resourceVersion."""
    meta: dict[str, Any] = {"name": name} | ({} if namespace is None else {"namespace": namespace}) | metadata
    spec: dict[str, Any] = {"hosts": list(hosts)} | ({"gateways": list(gateways)} if gateways else {})
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": meta,
        "spec": spec | {"http": list(http)},
    }


def checkout() -> VirtualServiceBody:
    body: VirtualServiceBody = yaml.safe_load(CHECKOUT_YAML)
    return body


def payments() -> VirtualServiceBody:
    body: VirtualServiceBody = yaml.safe_load(PAYMENTS_YAML)
    return body


def http_route(vs: VirtualServiceBody, name: str) -> VirtualServiceBody:
    route: VirtualServiceBody = next(route for route in vs["spec"]["http"] if route.get("name") == name)
    return route


# ---- edits that turn a fixture into a problem case ----

Edit = Callable[[VirtualServiceBody], None]


def dumps(value: object) -> str:
    """Compact JSON with key order kept: equal text means byte-for-byte equal objects."""
    return json.dumps(value, separators=(",", ":"))


def no_edit(vs: VirtualServiceBody) -> None:
    pass


def set_weights(route: str, *weights: int) -> Edit:
    def edit(vs: VirtualServiceBody) -> None:
        for entry, weight in zip(http_route(vs, route)["route"], weights, strict=False):
            entry["weight"] = weight

    return edit


def add_destination(route: str, entry: VirtualServiceBody) -> Edit:
    return lambda vs: http_route(vs, route)["route"].append(entry)


def rename_route(old: str, new: str) -> Edit:
    return lambda vs: http_route(vs, old).__setitem__("name", new)


def drop_http(vs: VirtualServiceBody) -> None:
    vs["spec"]["http"] = []


def destination_rule(
    name: str = "checkout", host: str = "checkout", subsets: dict[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """The DestinationRule that defines the subsets a route sends to (graygate starts a release only once they
    exist): by default `stable` and `canary` of `checkout`, without labels, so each selects every pod of the host."""
    chosen = {"stable": {}, "canary": {}} if subsets is None else subsets
    entries = [{"name": subset} | ({"labels": labels} if labels else {}) for subset, labels in chosen.items()]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": name},
        "spec": {"host": host, "subsets": entries},
    }
