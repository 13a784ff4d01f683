"""Traffic colouring as pure VirtualService transforms: inserted above the managed route, idempotent, removed on
demand and by a restore, and every other route left byte-for-byte."""

from __future__ import annotations

import pytest

from graygate.ports.routing import (
    Destination,
    HeaderMatch,
    HeaderRoute,
    TrafficSplit,
    TrafficTarget,
    VirtualServiceBody,
    VirtualServiceRef,
)
from graygate.routers.istio import IstioRouter
from graygate.routers.virtualservice_read import read_weights, snapshot
from graygate.routers.virtualservice_write import restore, with_split
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.virtual_services import CANARY, STABLE, UNMANAGED_ROUTES, checkout, dumps, http_route, payments

ALWAYS = HeaderRoute((HeaderMatch("x-canary", "exact", "always"),))
QA = HeaderRoute((HeaderMatch("x-team", "prefix", "qa-"), HeaderMatch("x-env", "regex", "^stag.*")))
RELEASE = "checkout-v2"
PAY_STABLE = Destination("payments", "stable")
PAY_CANARY = Destination("payments", "canary")


def ends(vs: VirtualServiceBody) -> tuple[Destination, Destination]:
    return (PAY_STABLE, PAY_CANARY) if vs["metadata"]["name"] == "payments" else (STABLE, CANARY)


def names(vs: VirtualServiceBody) -> list[str | None]:
    return [route.get("name") for route in vs["spec"]["http"]]


def coloured(vs: VirtualServiceBody, routes: list[str] | None, weight: int, *header: HeaderRoute) -> VirtualServiceBody:
    return with_split(vs, routes, *ends(vs), TrafficSplit(weight, header), release=RELEASE)


@pytest.mark.parametrize("weight", [0, 10, 50])
def test_the_header_route_goes_directly_above_the_managed_route(weight: int) -> None:
    written = coloured(checkout(), ["primary"], weight, ALWAYS)
    order = names(written)
    assert order[order.index("primary") - 1] == "graygate-checkout-v2-header-primary"
    header = http_route(written, "graygate-checkout-v2-header-primary")
    assert header["route"] == [{"destination": {"host": "checkout", "subset": "canary", "port": {"number": 8080}}}]
    # the managed route's own match, with the colouring header added (AND), so it only takes the route's traffic
    assert header["match"] == [
        {"uri": {"prefix": "/"}, "ignoreUriCase": True, "headers": {"x-canary": {"exact": "always"}}}
    ]
    assert read_weights(written, ["primary"], STABLE, CANARY, release=RELEASE)[0].canary_weight == weight  # type: ignore[index]


def test_other_routes_are_untouched_byte_for_byte() -> None:
    before = checkout()
    written = coloured(before, ["primary", "api-v2"], 10, ALWAYS, QA)
    for name in UNMANAGED_ROUTES:
        assert dumps(http_route(written, name)) == dumps(http_route(before, name))
    assert [n for n in names(written) if n and n.startswith("graygate-")] == [
        "graygate-checkout-v2-header-primary",
        "graygate-checkout-v2-header-api-v2",
    ]
    assert {k: v for k, v in written.items() if k != "spec"} == {k: v for k, v in before.items() if k != "spec"}


def test_several_matches_are_ored_and_headers_anded() -> None:
    written = coloured(payments(), None, 0, ALWAYS, QA)
    header = written["spec"]["http"][0]
    assert header["name"] == "graygate-checkout-v2-header"
    assert header["match"] == [
        {"headers": {"x-canary": {"exact": "always"}}},
        {"headers": {"x-team": {"prefix": "qa-"}, "x-env": {"regex": "^stag.*"}}},
    ]
    assert header["route"] == [{"destination": {"host": "payments", "subset": "canary"}}]


@pytest.mark.parametrize("weight", [0, 30])
def test_it_is_idempotent(weight: int) -> None:
    once = coloured(payments(), None, weight, ALWAYS)
    assert coloured(once, None, weight, ALWAYS) == once
    # the lone unnamed managed route is still found with the header route above it
    [reading] = read_weights(once, None, PAY_STABLE, PAY_CANARY, release=RELEASE)  # type: ignore[misc]
    assert (reading.canary_weight, reading.header_route) == (weight, True)


def test_a_changed_match_replaces_the_route_in_place() -> None:
    once = coloured(payments(), None, 0, ALWAYS)
    again = coloured(once, None, 0, QA)
    assert len(again["spec"]["http"]) == 2
    assert again["spec"]["http"][0]["match"][0]["headers"] == {
        "x-team": {"prefix": "qa-"},
        "x-env": {"regex": "^stag.*"},
    }


@pytest.mark.parametrize("weight", [0, 100])
def test_no_header_routes_removes_them_and_gives_back_the_original(weight: int) -> None:
    before = payments()
    gone = coloured(
        coloured(before, None, 0, ALWAYS),
        None,
        weight,
    )
    assert names(gone) == [None]
    if weight == 0:
        assert dumps(gone) == dumps(before)


def test_without_a_release_name_nothing_is_coloured() -> None:
    written = with_split(payments(), None, PAY_STABLE, PAY_CANARY, TrafficSplit(0, (ALWAYS,)), release=None)
    assert written == payments()


def test_only_this_releases_header_routes_are_removed() -> None:
    theirs = with_split(payments(), None, PAY_STABLE, PAY_CANARY, TrafficSplit(0, (QA,)), release="other")
    mine = coloured(theirs, None, 0, ALWAYS)
    assert names(coloured(mine, None, 0)) == ["graygate-other-header", None]


def test_restore_drops_the_header_route_a_snapshot_never_had() -> None:
    before = checkout()
    saved = snapshot(before, ["primary"])
    during = coloured(before, ["primary"], 40, ALWAYS)
    assert dumps(restore(during, saved, release=RELEASE)) == dumps(before)
    # an unnamed managed route is found again despite the header route above it
    lone = payments()
    assert dumps(restore(coloured(lone, None, 20, ALWAYS), snapshot(lone, None), release=RELEASE)) == dumps(lone)


def test_the_reading_says_when_the_header_route_is_missing() -> None:
    [reading] = read_weights(payments(), None, PAY_STABLE, PAY_CANARY, release=RELEASE)  # type: ignore[misc]
    assert reading.header_route is False


# ---- through the router: level-based and economical ----

TARGET = TrafficTarget(
    namespace="shop",
    virtual_services=(VirtualServiceRef("payments"),),
    stable=PAY_STABLE,
    canary=PAY_CANARY,
    release=RELEASE,
)


async def test_the_router_reasserts_a_deleted_header_route_and_writes_nothing_when_in_place() -> None:
    store = InMemoryVirtualServiceStore(payments())
    router = IstioRouter(store)
    first = await router.set_split(TARGET, TrafficSplit(0, (ALWAYS,)))
    assert [w.virtual_service for w in first.written] == ["payments"]
    again = await router.set_split(TARGET, TrafficSplit(0, (ALWAYS,)))
    assert (again.written, again.unchanged) == ((), ("payments",))
    seen = await router.observe(TARGET)
    assert seen.virtual_services[0].routes[0].header_route is True

    body = await store.get("shop", "payments")
    assert body is not None
    body["spec"]["http"].pop(0)  # someone deletes it
    await store.replace("shop", "payments", body)
    assert (await router.observe(TARGET)).virtual_services[0].routes[0].header_route is False
    healed = await router.set_split(TARGET, TrafficSplit(0, (ALWAYS,)))
    assert len(healed.written) == 1
    assert (await router.observe(TARGET)).virtual_services[0].routes[0].header_route is True


async def test_the_router_restore_removes_the_header_route() -> None:
    store = InMemoryVirtualServiceStore(payments())
    router = IstioRouter(store)
    saved = await router.snapshot(TARGET)
    await router.set_split(TARGET, TrafficSplit(30, (ALWAYS,)))
    result = await router.restore(TARGET, saved)
    assert result.as_asked
    after = await store.get("shop", "payments")
    assert after is not None
    assert dumps(after["spec"]) == dumps(payments()["spec"])
