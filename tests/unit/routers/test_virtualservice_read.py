"""The pure VirtualService reads, as tables: host resolution, actual weights, and every problem explained."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from graygate.ports.routing import Destination, RouteWeights, RoutingProblem, RoutingProblemReason, VirtualServiceBody
from graygate.routers.virtualservice_read import read_weights
from graygate.routers.virtualservice_view import canonical_host
from tests.virtual_services import (
    CANARY,
    STABLE,
    Edit,
    add_destination,
    checkout,
    drop_http,
    http_route,
    no_edit,
    payments,
    rename_route,
    set_weights,
)

Reason = RoutingProblemReason


# ---- host resolution ----


@pytest.mark.parametrize(
    ("host", "namespace", "expected"),
    [
        ("checkout", "shop", "checkout.shop.svc.cluster.local"),
        ("checkout.shop.svc.cluster.local", "shop", "checkout.shop.svc.cluster.local"),
        ("checkout.shop", "shop", "checkout.shop"),  # a dotted name is literal, as Istio reads it
        ("checkout", None, "checkout"),
        ("*", "shop", "*"),
        ("10.0.0.7", "shop", "10.0.0.7"),
        ("::1", "shop", "::1"),
    ],
)
def test_canonical_host_expands_only_dotless_names(host: str, namespace: str | None, expected: str) -> None:
    assert canonical_host(host, namespace) == expected


def test_canonical_host_uses_the_given_cluster_domain() -> None:
    assert canonical_host("checkout", "shop", "corp.internal") == "checkout.shop.svc.corp.internal"


# ---- reading weights ----


@pytest.mark.parametrize(
    ("load", "route_names", "stable", "expected"),
    [
        (checkout, ["primary"], STABLE, [RouteWeights("primary", 100, 0)]),
        (checkout, ["api-v2"], STABLE, [RouteWeights("api-v2", 90, 10)]),
        (checkout, ["primary", "api-v2"], STABLE, [RouteWeights("primary", 100, 0), RouteWeights("api-v2", 90, 10)]),
        (checkout, ["api-v2", "api-v2"], STABLE, [RouteWeights("api-v2", 90, 10)]),
        (checkout, ["primary"], Destination("checkout", "stable", 8080), [RouteWeights("primary", 100, 0)]),
        (
            checkout,
            ["primary", "api-v2"],
            Destination("checkout.shop.svc.cluster.local", "stable"),
            [RouteWeights("primary", 100, 0), RouteWeights("api-v2", 90, 10)],
        ),
        (payments, None, Destination("payments", "stable"), [RouteWeights(None, 100, 0)]),
        (payments, [], Destination("payments", "stable"), [RouteWeights(None, 100, 0)]),
    ],
)
def test_read_weights_reports_the_actual_split(
    load: Callable[[], VirtualServiceBody],
    route_names: list[str] | None,
    stable: Destination,
    expected: list[RouteWeights],
) -> None:
    canary = dataclasses.replace(stable, subset="canary", port=None)
    assert read_weights(load(), route_names, stable, canary) == tuple(expected)


def test_read_weights_with_another_cluster_domain_does_not_expand_to_cluster_local() -> None:
    stable = Destination("checkout.shop.svc.cluster.local", "stable")
    problem = read_weights(checkout(), ["primary"], stable, CANARY, cluster_domain="corp.internal")
    assert isinstance(problem, RoutingProblem)
    assert problem.reason is Reason.STABLE_NOT_ROUTED


@pytest.mark.parametrize(
    ("edit", "route_names", "stable", "canary", "reason", "message"),
    [
        pytest.param(
            no_edit, ["checkout-v3"], STABLE, CANARY, Reason.ROUTE_NOT_FOUND,
            "VirtualService shop/checkout has no http route named 'checkout-v3' "
            "(its routes: 'admin', 'primary', 'api-v2', 'legacy', 'maintenance')",
            id="no-such-route",
        ),
        pytest.param(
            no_edit, None, STABLE, CANARY, Reason.AMBIGUOUS_ROUTE,
            "VirtualService shop/checkout has 5 http routes ('admin', 'primary', 'api-v2', 'legacy', 'maintenance'); "
            "name the routes graygate should manage in the release",
            id="names-omitted-many-routes",
        ),
        pytest.param(
            drop_http, None, STABLE, CANARY, Reason.AMBIGUOUS_ROUTE,
            "VirtualService shop/checkout has 0 http routes (none)",
            id="names-omitted-no-routes",
        ),
        pytest.param(
            rename_route("legacy", "primary"), ["primary"], STABLE, CANARY, Reason.AMBIGUOUS_ROUTE,
            "has 2 http routes named 'primary'; route names must be unique",
            id="duplicate-route-name",
        ),
        pytest.param(
            no_edit, ["primary"], Destination("checkout", "v1"), CANARY, Reason.STABLE_NOT_ROUTED,
            "route 'primary' of VirtualService shop/checkout does not route to the stable destination checkout/v1 "
            "(it routes to: checkout/stable:8080)",
            id="stable-subset-absent",
        ),
        pytest.param(
            no_edit, ["primary"], Destination("checkout", "stable", 9090), CANARY, Reason.STABLE_NOT_ROUTED,
            "does not route to the stable destination checkout/stable:9090",
            id="stable-port-differs",
        ),
        pytest.param(
            no_edit, ["api-v2"], Destination("checkout.shop", "stable"), CANARY, Reason.STABLE_NOT_ROUTED,
            "does not route to the stable destination checkout.shop/stable",
            id="dotted-short-host-is-literal",
        ),
        pytest.param(
            no_edit, ["maintenance"], STABLE, CANARY, Reason.STABLE_NOT_ROUTED,
            "route 'maintenance' of VirtualService shop/checkout does not route to the stable destination "
            "checkout/stable (it routes to: nothing)",
            id="direct-response-route",
        ),
        pytest.param(
            add_destination("api-v2", {"destination": {"host": "checkout", "subset": "stable"}}),
            ["api-v2"], STABLE, CANARY, Reason.DUPLICATE_DESTINATION,
            "lists the stable destination 2 times",
            id="stable-listed-twice-short-and-long",
        ),
        pytest.param(
            add_destination("api-v2", {"destination": {"host": "checkout", "subset": "canary"}}),
            ["api-v2"], STABLE, CANARY, Reason.DUPLICATE_DESTINATION,
            "lists the canary destination 2 times",
            id="canary-listed-twice",
        ),
        pytest.param(
            no_edit, ["primary"], STABLE, Destination("checkout", "stable", 8080), Reason.DUPLICATE_DESTINATION,
            "has destination checkout/stable:8080 matching both stable (checkout/stable) and canary "
            "(checkout/stable:8080)",
            id="one-entry-matches-both",
        ),
        pytest.param(
            set_weights("api-v2", 85, 10, 5), ["api-v2"], STABLE, CANARY, Reason.FOREIGN_WEIGHT,
            "also sends weight 5 to checkout-legacy, which is neither stable nor canary; graygate cannot keep the "
            "weights summing to 100 without taking traffic from it",
            id="third-destination-carries-weight",
        ),
        pytest.param(
            set_weights("api-v2", 50, 10), ["api-v2"], STABLE, CANARY, Reason.WEIGHTS_NOT_100,
            "route 'api-v2' of VirtualService shop/checkout has weights [50, 10, 0] summing to 60, not 100",
            id="weights-do-not-sum-to-100",
        ),
        pytest.param(
            set_weights("api-v2", "90"), ["api-v2"], STABLE, CANARY, Reason.MALFORMED,  # type: ignore[arg-type]
            "VirtualService checkout is malformed at spec.http.2.route.0.weight",
            id="weight-is-a-string",
        ),
        pytest.param(
            set_weights("api-v2", -10, 110), ["api-v2"], STABLE, CANARY, Reason.MALFORMED,
            "malformed at spec.http.2.route.0.weight: Input should be greater than or equal to 0",
            id="negative-weight",
        ),
        pytest.param(
            lambda vs: vs["spec"].__setitem__("http", {"primary": {}}), ["primary"], STABLE, CANARY,
            Reason.MALFORMED, "malformed at spec.http",
            id="http-is-not-a-list",
        ),
    ],
)  # fmt: skip
def test_read_weights_explains_every_problem(
    edit: Edit,
    route_names: list[str] | None,
    stable: Destination,
    canary: Destination,
    reason: RoutingProblemReason,
    message: str,
) -> None:
    vs = checkout()
    edit(vs)
    problem = read_weights(vs, route_names, stable, canary)
    assert isinstance(problem, RoutingProblem)
    assert problem.virtual_service == "checkout"
    assert problem.reason is reason
    assert message in problem.message


def test_an_absent_canary_reads_as_zero_and_an_omitted_weight_beside_others_as_zero() -> None:
    vs = checkout()
    del http_route(vs, "api-v2")["route"][1]["weight"]  # Go clients drop "weight: 0" on the wire
    http_route(vs, "api-v2")["route"][0]["weight"] = 100
    assert read_weights(vs, ["api-v2"], STABLE, CANARY) == (RouteWeights("api-v2", 100, 0),)
