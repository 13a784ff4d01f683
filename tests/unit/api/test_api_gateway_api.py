"""`spec.trafficRouting.gatewayAPI`: exactly one router, backendRefs without subsets, header matches Gateway API can
express; and the release's target, claims and snapshots for an HTTPRoute."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from graygate.api import CanaryReleaseSpec, InvalidSpec, OriginalRoute, parse_spec
from graygate.domain.release.claims import Claim, claims_of, contested_by
from graygate.ports.routing import Destination, HTTPRouteRef, RouteSnapshot
from graygate.routing import snapshots_from_status, snapshots_to_status, target_of

ISTIO = {"istio": {"virtualServices": [{"name": "checkout"}]}}
GATEWAY = {"gatewayAPI": {"httpRoutes": [{"name": "public", "rules": ["web", "api"]}, {"name": "internal"}]}}


def spec(routing: dict[str, Any] = GATEWAY, **fields: Any) -> CanaryReleaseSpec:
    base = {
        "trafficRouting": routing,
        "stable": {"host": "checkout", "port": 8080},
        "canary": {"host": "checkout-v2"},
        "stepWeights": [10],
    }
    return CanaryReleaseSpec.model_validate(base | fields)


def header_steps(**match: str) -> list[dict[str, Any]]:
    return [{"setHeaderRoute": {"match": [{"headers": {"x-canary": match}}]}}, {"setWeight": 10}]


def rules_of(count: int) -> dict[str, Any]:
    """Gateway API routing through HTTPRoute `public`, managing `count` of its rules."""
    return {"gatewayAPI": {"httpRoutes": [{"name": "public", "rules": [f"r{i}" for i in range(count)]}]}}


def test_a_gateway_api_release_parses_and_round_trips() -> None:
    release = spec()
    assert release.traffic_routing.istio is None
    assert [(ref.name, ref.routes) for ref in release.traffic_routing.managed()] == [
        ("public", ("web", "api")),
        ("internal", None),
    ]
    wire = release.model_dump(by_alias=True, exclude_none=True, mode="json")["trafficRouting"]
    assert wire == {"gatewayAPI": {"httpRoutes": [{"name": "public", "rules": ["web", "api"]}, {"name": "internal"}]}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trafficRouting": ISTIO | GATEWAY}, "exactly one of istio or gatewayAPI"),
        ({"trafficRouting": {}}, "exactly one of istio or gatewayAPI"),
        ({"canary": {"host": "checkout-v2", "subset": "canary"}}, "subset is an Istio DestinationRule subset"),
        ({"stable": {"host": "checkout", "subset": "stable"}}, "subset is an Istio DestinationRule subset"),
        ({"stepWeights": None, "steps": header_steps(prefix="v2")}, "cannot use prefix"),
        ({"trafficRouting": {"gatewayAPI": {"httpRoutes": [{"name": "a"}, {"name": "a"}]}}}, "unique names"),
        ({"trafficRouting": {"gatewayAPI": {"httpRoutes": [{"name": "a", "rules": ["r", "r"]}]}}}, "rules must be"),
        ({"trafficRouting": {"gatewayAPI": {"httpRoutes": []}}}, "at least 1 item"),
        (
            {"trafficRouting": rules_of(9), "stepWeights": None, "steps": header_steps(exact="always")},
            r"an HTTPRoute holds at most 16 rules \(Gateway API\): list at most 8 in each httpRoutes\[\]\.rules "
            r"\(public lists 9\)",
        ),
    ],
    ids=[
        "both",
        "neither",
        "canary subset",
        "stable subset",
        "prefix header",
        "route twice",
        "rule twice",
        "none",
        "9 coloured rules",
    ],
)
def test_what_gateway_api_refuses(changes: dict[str, Any], message: str) -> None:
    fields = {"trafficRouting": GATEWAY} | changes
    with pytest.raises(ValidationError, match=message):
        spec(**fields)


@pytest.mark.parametrize(
    ("count", "steps"),
    [(8, header_steps(exact="always")), (16, [{"setWeight": 10}])],
    ids=["8-coloured", "16-uncoloured"],
)
def test_the_rules_an_http_route_has_room_for_are_fine(count: int, steps: list[dict[str, Any]]) -> None:
    assert spec(rules_of(count), stepWeights=None, steps=steps).traffic_routing.gateway_api is not None


# A header rule is named graygate-<release>-header-<rule>: 20 characters besides the two names for a rule `web`.
NAME_LIMIT = 253 - len("graygate--header-web")


@pytest.mark.parametrize(
    ("routing", "steps", "release", "problem"),
    [
        (GATEWAY, header_steps(exact="always"), "r" * NAME_LIMIT, None),
        (
            GATEWAY,
            header_steps(exact="always"),
            "r" * (NAME_LIMIT + 1),
            "spec.trafficRouting.gatewayAPI.httpRoutes[0].rules[0]: the header rule beside rule web would be named "
            "graygate-<metadata.name>-header-<rule>, 254 characters with this release's 234-character name; Gateway "
            "API allows at most 253 in an HTTPRoute's rules[].name: shorten metadata.name or the rule's name",
        ),
        (
            GATEWAY,
            header_steps(exact="always"),
            "r" * 240,
            "spec.trafficRouting.gatewayAPI.httpRoutes[1]: the header rule beside the HTTPRoute rule would be named "
            "graygate-<metadata.name>-header, 256 characters with this release's 240-character name; Gateway API "
            "allows at most 253 in an HTTPRoute's rules[].name: shorten metadata.name",
        ),
        (GATEWAY, [{"setWeight": 10}], "r" * 253, None),
        (ISTIO, header_steps(exact="always"), "r" * 253, None),
    ],
    ids=["name-of-253", "name-of-254", "unnamed-rule", "no-header-step", "istio"],
)
def test_a_header_rule_name_past_gateway_apis_bound_makes_the_spec_invalid_with_the_release_name(
    routing: dict[str, Any], steps: list[dict[str, Any]], release: str, problem: str | None
) -> None:
    raw = {
        "trafficRouting": routing,
        "stable": {"host": "checkout", "port": 8080},
        "canary": {"host": "checkout-v2"},
        "steps": steps,
    }
    assert isinstance(parse_spec(raw), CanaryReleaseSpec), "without the name the spec alone is fine"
    parsed = parse_spec(raw, release=release)
    if problem is None:
        assert isinstance(parsed, CanaryReleaseSpec)
    else:
        assert isinstance(parsed, InvalidSpec)
        assert problem in parsed.problems


@pytest.mark.parametrize("match", [{"exact": "always"}, {"regex": "v2.*"}])
def test_exact_and_regex_header_routes_are_fine(match: dict[str, str]) -> None:
    assert spec(stepWeights=None, steps=header_steps(**match)).plan_steps()[0].set_header_route is not None


def test_subsets_and_prefixes_stay_fine_with_istio() -> None:
    release = spec(
        ISTIO,
        stable={"host": "checkout", "subset": "stable"},
        canary={"host": "checkout", "subset": "canary"},
        stepWeights=None,
        steps=header_steps(prefix="v2"),
    )
    assert release.traffic_routing.gateway_api is None


def test_the_target_names_http_routes_and_backends() -> None:
    target = target_of("shop", spec(), release="checkout")
    assert (target.kind, target.virtual_services) == ("HTTPRoute", ())
    assert target.http_routes == (HTTPRouteRef("public", ("web", "api")), HTTPRouteRef("internal"))
    assert (target.stable, target.canary) == (Destination("checkout", port=8080), Destination("checkout-v2"))
    assert target_of("shop", spec(ISTIO)).kind == "VirtualService"


def test_a_snapshot_keeps_its_kind_through_the_status() -> None:
    saved = (RouteSnapshot("public", "web", '{"name":"web"}', kind="HTTPRoute"),)
    status = snapshots_to_status(saved)
    assert status == (
        OriginalRoute(virtual_service="public", route="web", route_json='{"name":"web"}', kind="HTTPRoute"),
    )
    assert snapshots_from_status(status) == saved
    assert OriginalRoute.model_validate({"virtualService": "c", "routeJson": "{}"}).kind == "VirtualService"


def test_an_http_route_never_contests_a_virtual_service_of_the_same_name() -> None:
    older = Claim(datetime(2025, 1, 1, tzinfo=UTC), "older")
    me = Claim(datetime(2025, 1, 2, tzinfo=UTC), "me")
    mine = claims_of("shop", spec({"gatewayAPI": {"httpRoutes": [{"name": "checkout"}]}}))
    istio_held = [(key, older) for key in claims_of("shop", spec(ISTIO, stable={"host": "a"}, canary={"host": "b"}))]
    assert contested_by(me, mine, istio_held) is None
    gateway_held = [(key, older) for key in mine]
    assert contested_by(me, mine, gateway_held) == (
        "all routes of HTTPRoute checkout is already managed by CanaryRelease older; "
        "delete that release or manage another route"
    )
