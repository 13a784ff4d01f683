"""The pure VirtualService writes, as tables: canary weights, byte-for-byte preservation, snapshot and restore."""

from __future__ import annotations

import dataclasses
import json

import pytest

from graygate.errors import InvalidRouteError, RouteNotFoundError, RouterError
from graygate.ports.routing import Destination, RouteWeights, RoutingProblemReason, VirtualServiceBody
from graygate.routers.virtualservice_read import read_weights, snapshot
from graygate.routers.virtualservice_write import restore, with_canary_weight
from tests.virtual_services import (
    CANARY,
    STABLE,
    UNMANAGED_ROUTES,
    Edit,
    checkout,
    dumps,
    http_route,
    no_edit,
    payments,
    rename_route,
    set_weights,
)

Reason = RoutingProblemReason


# ---- writing a canary weight ----

WEIGHTS = [0, 1, 10, 33, 50, 99, 100]
ROUTE_SETS = [["primary"], ["api-v2"], ["primary", "api-v2"]]


@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("route_names", ROUTE_SETS)
def test_with_canary_weight_sets_the_split_and_it_sums_to_100(weight: int, route_names: list[str]) -> None:
    written = with_canary_weight(checkout(), route_names, STABLE, CANARY, weight)

    expected = tuple(RouteWeights(name, 100 - weight, weight) for name in route_names)
    assert read_weights(written, route_names, STABLE, CANARY) == expected
    for name in route_names:
        destinations = http_route(written, name)["route"]
        if len(destinations) > 1:  # a lone destination takes everything, whatever its weight says
            assert sum(entry["weight"] for entry in destinations) == 100


@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("route_names", ROUTE_SETS)
def test_with_canary_weight_is_idempotent(weight: int, route_names: list[str]) -> None:
    once = with_canary_weight(checkout(), route_names, STABLE, CANARY, weight)
    twice = with_canary_weight(once, route_names, STABLE, CANARY, weight)
    assert twice == once
    assert dumps(twice) == dumps(once)


@pytest.mark.parametrize("weight", [5, 50, 100])
def test_with_canary_weight_leaves_everything_else_byte_for_byte(weight: int) -> None:
    original = checkout()
    written = with_canary_weight(original, ["primary", "api-v2"], STABLE, CANARY, weight)

    assert original == checkout(), "the input must not be mutated"
    assert list(written) == list(original)
    for key in original:
        if key != "spec":
            assert dumps(written[key]) == dumps(original[key])
    assert list(written["spec"]) == list(original["spec"])
    assert dumps({k: v for k, v in written["spec"].items() if k != "http"}) == dumps(
        {k: v for k, v in original["spec"].items() if k != "http"}
    )
    for name in UNMANAGED_ROUTES:
        assert dumps(http_route(written, name)) == dumps(http_route(original, name))
    for name in ("primary", "api-v2"):
        before, after = http_route(original, name), http_route(written, name)
        assert list(after) == list(before)
        assert dumps({k: v for k, v in after.items() if k != "route"}) == dumps(
            {k: v for k, v in before.items() if k != "route"}
        )
        # an inserted canary comes after the stable entry, so the original entries keep their positions
        for old_entry, new_entry in zip(before["route"], after["route"], strict=False):
            assert dumps({k: v for k, v in new_entry.items() if k != "weight"}) == dumps(
                {k: v for k, v in old_entry.items() if k != "weight"}
            )


def test_a_missing_canary_is_inserted_after_stable_copying_its_host_and_port() -> None:
    written = with_canary_weight(checkout(), ["primary"], STABLE, CANARY, 20)
    assert http_route(written, "primary")["route"] == [
        {
            "destination": {"host": "checkout", "subset": "stable", "port": {"number": 8080}},
            "headers": {"response": {"set": {"x-served-by": "stable"}}},
            "weight": 80,
        },
        {"destination": {"host": "checkout", "subset": "canary", "port": {"number": 8080}}, "weight": 20},
    ]


@pytest.mark.parametrize(
    ("canary", "inserted"),
    [
        (
            Destination("checkout.shop.svc.cluster.local", "canary"),
            {"host": "checkout", "subset": "canary", "port": {"number": 8080}},
        ),
        (Destination("checkout-canary"), {"host": "checkout-canary", "port": {"number": 8080}}),
        (Destination("checkout-canary", port=8081), {"host": "checkout-canary", "port": {"number": 8081}}),
        (Destination("checkout", "canary", 9000), {"host": "checkout", "subset": "canary", "port": {"number": 9000}}),
    ],
)
def test_an_inserted_canary_keeps_what_the_canary_names(canary: Destination, inserted: VirtualServiceBody) -> None:
    written = with_canary_weight(checkout(), ["primary"], STABLE, canary, 30)
    assert http_route(written, "primary")["route"][1] == {"destination": inserted, "weight": 30}


def test_a_missing_canary_is_not_inserted_for_weight_zero() -> None:
    assert with_canary_weight(checkout(), ["primary"], STABLE, CANARY, 0) == checkout()


def test_a_route_already_at_the_weight_is_returned_unchanged() -> None:
    assert with_canary_weight(checkout(), ["api-v2"], STABLE, CANARY, 10) == checkout()


def test_a_zero_weight_third_destination_is_left_alone() -> None:
    written = with_canary_weight(checkout(), ["api-v2"], STABLE, CANARY, 40)
    assert http_route(written, "api-v2")["route"][2] == {"destination": {"host": "checkout-legacy"}, "weight": 0}
    assert [entry["weight"] for entry in http_route(written, "api-v2")["route"]] == [60, 40, 0]


def test_a_single_unnamed_route_gains_a_canary() -> None:
    stable, canary = Destination("payments", "stable"), Destination("payments", "canary")
    written = with_canary_weight(payments(), None, stable, canary, 25)
    assert written["spec"]["http"][0] == {
        "route": [
            {"destination": {"host": "payments", "subset": "stable"}, "weight": 75},
            {"destination": {"host": "payments", "subset": "canary"}, "weight": 25},
        ],
        "timeout": "10s",
    }


def test_weights_not_summing_to_100_are_rewritten() -> None:
    vs = checkout()
    set_weights("api-v2", 50, 10)(vs)
    written = with_canary_weight(vs, ["api-v2"], STABLE, CANARY, 10)
    assert read_weights(written, ["api-v2"], STABLE, CANARY) == (RouteWeights("api-v2", 90, 10),)


@pytest.mark.parametrize(
    ("edit", "route_names", "error", "reason"),
    [
        (no_edit, ["checkout-v3"], RouteNotFoundError, Reason.ROUTE_NOT_FOUND),
        (no_edit, None, InvalidRouteError, Reason.AMBIGUOUS_ROUTE),
        (set_weights("api-v2", 85, 10, 5), ["api-v2"], InvalidRouteError, Reason.FOREIGN_WEIGHT),
        (no_edit, ["maintenance"], InvalidRouteError, Reason.STABLE_NOT_ROUTED),
    ],
)
def test_with_canary_weight_refuses_what_it_cannot_do_safely(
    edit: Edit, route_names: list[str] | None, error: type[RouterError], reason: RoutingProblemReason
) -> None:
    vs = checkout()
    edit(vs)
    with pytest.raises(error) as raised:
        with_canary_weight(vs, route_names, STABLE, CANARY, 10)
    assert raised.value.reason == reason


@pytest.mark.parametrize("weight", [-1, 101, True])
def test_with_canary_weight_rejects_weights_outside_0_to_100(weight: int) -> None:
    with pytest.raises(ValueError, match="canary weight must be an integer from 0 to 100"):
        with_canary_weight(checkout(), ["primary"], STABLE, CANARY, weight)


# ---- snapshot and restore ----


def test_snapshot_is_json_and_holds_the_exact_routes() -> None:
    snapshots = snapshot(checkout(), ["primary", "api-v2"])
    assert [(s.virtual_service, s.route) for s in snapshots] == [("checkout", "primary"), ("checkout", "api-v2")]
    json.dumps([dataclasses.asdict(s) for s in snapshots])
    assert snapshots[0].route_json == dumps(http_route(checkout(), "primary"))


@pytest.mark.parametrize("weight", [0, 10, 50, 100])
def test_restore_undoes_any_write_byte_for_byte(weight: int) -> None:
    original = checkout()
    saved = snapshot(original, ["primary", "api-v2"])
    shifted = with_canary_weight(original, ["primary", "api-v2"], STABLE, CANARY, weight)
    restored = restore(shifted, saved)
    assert dumps(restored) == dumps(original)
    assert shifted == with_canary_weight(checkout(), ["primary", "api-v2"], STABLE, CANARY, weight)


def test_restore_is_idempotent_and_ignores_other_virtual_services() -> None:
    saved = snapshot(checkout(), ["primary"]) + snapshot(payments(), None)
    assert restore(checkout(), saved) == checkout()
    assert dumps(restore(restore(checkout(), saved), saved)) == dumps(checkout())


def test_restore_a_single_unnamed_route() -> None:
    stable, canary = Destination("payments", "stable"), Destination("payments", "canary")
    saved = snapshot(payments(), None)
    shifted = with_canary_weight(payments(), None, stable, canary, 60)
    assert dumps(restore(shifted, saved)) == dumps(payments())


def test_restore_refuses_when_the_route_is_gone() -> None:
    saved = snapshot(checkout(), ["primary"])
    vs = checkout()
    rename_route("primary", "main")(vs)
    with pytest.raises(RouteNotFoundError, match="has no http route named 'primary'"):
        restore(vs, saved)


def test_snapshot_refuses_an_unknown_route() -> None:
    with pytest.raises(RouteNotFoundError, match="no http route named 'nope'"):
        snapshot(checkout(), ["nope"])


def test_nothing_is_shared_between_input_and_output() -> None:
    original = checkout()
    written = with_canary_weight(original, ["api-v2"], STABLE, CANARY, 30)
    written["spec"]["hosts"].append("mutated")
    http_route(written, "admin")["timeout"] = "1s"
    assert original == checkout()
