"""The pure reads and writes of an HTTPRoute: every RoutingProblem, byte-for-byte writes, header rules, restore."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from graygate.errors import InvalidRouteError, RouteNotFoundError
from graygate.ports.routing import (
    Destination,
    HeaderMatch,
    HeaderRoute,
    HTTPRouteBody,
    RouteWeights,
    RoutingProblem,
    TrafficSplit,
)
from graygate.routers.httproute_read import read_weights, snapshot
from graygate.routers.httproute_write import restore, with_canary_weight, with_split
from tests.http_routes import CANARY, STABLE, backend, http_route, rule

RELEASE = "checkout"


def two_rules() -> HTTPRouteBody:
    """A managed rule 'web', a rule 'api' at 90/10, and an 'admin' rule and its filters that must never change."""
    return http_route(
        "checkout",
        rule("web", backend("checkout")),
        rule("api", backend("checkout", 90), backend("checkout-v2", 10), path="/api"),
        rule(
            "admin",
            backend("admin", 1, port=9000),
            path="/admin",
            filters=[
                {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x", "value": "y"}]}}
            ],
        ),
        resourceVersion="7",
    )


# ---- reads ----


@pytest.mark.parametrize(
    ("rules", "names", "expected"),
    [
        ([rule(None, backend("checkout"))], None, (RouteWeights(None, 100, 0),)),
        ([rule(None, backend("checkout", None))], None, (RouteWeights(None, 100, 0),)),
        ([rule("web", backend("checkout", 75), backend("checkout-v2", 25))], None, (RouteWeights("web", 75, 25),)),
        (
            [rule("web", backend("checkout", 100), backend("checkout-v2", 0), backend("legacy", 0))],
            ("web",),
            (RouteWeights("web", 100, 0),),
        ),
        ([rule("web", backend("checkout", None), backend("checkout-v2", 0))], None, (RouteWeights("web", 100, 0),)),
        ([rule("web", backend("checkout", 3), backend("legacy", 0))], None, (RouteWeights("web", 100, 0),)),
        ([rule("web", backend("checkout", 0), backend("checkout-v2", 1))], None, (RouteWeights("web", 0, 100),)),
    ],
    ids=[
        "lone stable",
        "lone stable, weight defaulted",
        "split",
        "a foreign backend at 0",
        "stable defaulted to 1, canary at 0: all on stable",
        "stable at 3, a foreign backend at 0: all on stable",
        "stable at 0, canary at 1: all on canary",
    ],
)
def test_read_weights(rules: list[dict[str, Any]], names: tuple[str, ...] | None, expected: object) -> None:
    assert read_weights(http_route("checkout", *rules), names, STABLE, CANARY) == expected


def test_read_weights_of_named_rules_leaves_the_others_alone() -> None:
    assert read_weights(two_rules(), ("web", "api"), STABLE, CANARY) == (
        RouteWeights("web", 100, 0),
        RouteWeights("api", 90, 10),
    )


@pytest.mark.parametrize(
    ("body", "names", "reason", "words"),
    [
        ({"metadata": {"name": "checkout"}, "spec": {"rules": "no"}}, None, "MalformedHTTPRoute", "spec.rules"),
        (two_rules(), ("checkout",), "RuleNotFound", "no rule named 'checkout'"),
        (two_rules(), None, "AmbiguousRoute", "has 3 rules"),
        (http_route("c", rule("a"), rule("a")), ("a",), "AmbiguousRoute", "2 rules named 'a'"),
        (http_route("c", rule("a", backend("other"))), None, "StableDestinationNotRouted", "stable Service"),
        (
            http_route("c", rule("a", backend("checkout", 50, port=9090), backend("checkout-v2", 50))),
            None,
            "StableDestinationNotRouted",
            "checkout:9090",
        ),
        (
            http_route("c", rule("a", backend("checkout", 50), backend("checkout", 50))),
            None,
            "DuplicateDestination",
            "lists the stable backend 2 times",
        ),
        (
            http_route("c", rule("a", backend("checkout", 80), backend("legacy", 20))),
            None,
            "ForeignWeightedDestination",
            "weight 20 to legacy:8080",
        ),
        (
            http_route("c", rule("a", backend("checkout"), backend("checkout-v2"))),
            None,
            "WeightsDoNotSumTo100",
            "[1, 1]",
        ),
        (http_route("c", rule("a", backend("checkout", 0))), None, "WeightsDoNotSumTo100", "summing to 0"),
    ],
    ids=[
        "malformed",
        "rule not found",
        "no rule named, several rules",
        "two rules of one name",
        "stable not routed",
        "stable on another port",
        "stable twice",
        "foreign weight",
        "defaulted weights are 50/50, not 100/0",
        "a lone backend at weight 0 sends nothing",
    ],
)
def test_read_weights_reports_each_problem(
    body: HTTPRouteBody, names: tuple[str, ...] | None, reason: str, words: str
) -> None:
    problem = read_weights(body, names, STABLE, CANARY)
    assert isinstance(problem, RoutingProblem)
    assert (problem.reason.value, problem.virtual_service) == (reason, body["metadata"]["name"])
    assert words in problem.message


def test_a_backend_of_another_namespace_or_kind_is_not_the_stable_one() -> None:
    foreign = [
        backend("checkout", 100, namespace="elsewhere"),
        backend("checkout", 100, group="example.com", kind="Bucket"),
    ]
    for ref in foreign:
        problem = read_weights(http_route("c", rule("a", ref)), None, STABLE, CANARY)
        assert isinstance(problem, RoutingProblem)
        assert problem.reason.value == "StableDestinationNotRouted"


def test_a_port_free_destination_matches_any_port() -> None:
    body = http_route("c", rule("a", backend("checkout", 60, port=1), backend("checkout-v2", 40, port=2)))
    assert read_weights(body, None, Destination("checkout"), Destination("checkout-v2")) == (RouteWeights("a", 60, 40),)


# ---- weight writes ----


def _without_weights(body: HTTPRouteBody) -> str:
    stripped = copy.deepcopy(body)
    for each in stripped["spec"]["rules"]:
        for ref in each.get("backendRefs", []):
            ref.pop("weight", None)
    return json.dumps(stripped)


@pytest.mark.parametrize("weight", [0, 1, 10, 50, 99, 100])
def test_a_weight_write_changes_only_the_two_weights_and_they_sum_to_100(weight: int) -> None:
    before = http_route("c", *two_rules()["spec"]["rules"][1:])  # 'api' has both backends, 'admin' untouched
    after = with_canary_weight(before, ("api",), STABLE, CANARY, weight)
    assert _without_weights(after) == _without_weights(before), "everything but the weights, key order included"
    assert read_weights(after, ("api",), STABLE, CANARY) == (RouteWeights("api", 100 - weight, weight),)
    assert after["spec"]["rules"][1] == before["spec"]["rules"][1]
    assert list(after) == list(before)
    assert list(after["spec"]) == list(before["spec"])


def test_the_canary_backend_is_added_after_the_stable_one_for_a_weight_above_0() -> None:
    body = two_rules()
    assert with_canary_weight(body, ("web",), STABLE, CANARY, 0) == body, "back to 0 on an untouched rule: no write"
    after = with_canary_weight(body, ("web",), STABLE, CANARY, 20)
    assert after["spec"]["rules"][0]["backendRefs"] == [
        backend("checkout", 80),
        {"group": "", "kind": "Service", "name": "checkout-v2", "port": 8080, "weight": 20},
    ]
    assert after["spec"]["rules"][1:] == body["spec"]["rules"][1:]
    ported = with_canary_weight(body, ("web",), STABLE, Destination("checkout-v2", port=9000), 20)
    assert ported["spec"]["rules"][0]["backendRefs"][1]["port"] == 9000


def test_a_rule_already_at_the_split_is_not_rewritten() -> None:
    body = two_rules()
    assert with_canary_weight(body, ("api",), STABLE, CANARY, 10) == body


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (http_route("c", rule("a", backend("other"))), InvalidRouteError),
        (two_rules(), RouteNotFoundError),
    ],
    ids=["stable not routed", "rule not found"],
)
def test_a_write_raises_what_a_read_reports(body: HTTPRouteBody, error: type[Exception]) -> None:
    with pytest.raises(error):
        with_canary_weight(body, ("nope",) if error is RouteNotFoundError else None, STABLE, CANARY, 10)


def test_a_write_fixes_weights_that_do_not_sum_to_100() -> None:
    body = http_route("c", rule("a", backend("checkout"), backend("checkout-v2")))
    after = with_canary_weight(body, None, STABLE, CANARY, 30)
    assert read_weights(after, None, STABLE, CANARY) == (RouteWeights("a", 70, 30),)


# ---- header rules ----

COLOURED = (
    HeaderRoute((HeaderMatch("x-canary", "exact", "always"),)),
    HeaderRoute((HeaderMatch("x-b", "regex", "v2.*"),)),
)


def test_a_header_rule_goes_before_the_managed_rule_and_sends_matching_requests_to_the_canary() -> None:
    body = two_rules()
    after = with_split(body, ("api",), STABLE, CANARY, TrafficSplit(10, COLOURED), release=RELEASE)
    names = [each.get("name") for each in after["spec"]["rules"]]
    assert names == ["web", "graygate-checkout-header-api", "api", "admin"]
    header = after["spec"]["rules"][1]
    assert header["backendRefs"] == [{"group": "", "kind": "Service", "name": "checkout-v2", "port": 8080, "weight": 1}]
    assert header["matches"] == [
        {
            "path": {"type": "PathPrefix", "value": "/api"},
            "headers": [{"name": "x-canary", "type": "Exact", "value": "always"}],
        },
        {
            "path": {"type": "PathPrefix", "value": "/api"},
            "headers": [{"name": "x-b", "type": "RegularExpression", "value": "v2.*"}],
        },
    ]
    assert [r for r in after["spec"]["rules"] if r.get("name") != header["name"]] == body["spec"]["rules"]
    assert read_weights(after, ("api",), STABLE, CANARY, release=RELEASE) == (
        RouteWeights("api", 90, 10, header_route=True),
    )
    assert read_weights(after, ("web",), STABLE, CANARY, release=RELEASE) == (RouteWeights("web", 100, 0),)


def test_header_rules_are_idempotent_rewritten_and_removed() -> None:
    split = TrafficSplit(10, COLOURED)
    once = with_split(two_rules(), ("api",), STABLE, CANARY, split, release=RELEASE)
    assert with_split(once, ("api",), STABLE, CANARY, split, release=RELEASE) == once, "no second write"
    narrower = with_split(once, ("api",), STABLE, CANARY, TrafficSplit(10, COLOURED[:1]), release=RELEASE)
    assert len(narrower["spec"]["rules"][1]["matches"]) == 1
    removed = with_split(once, ("api",), STABLE, CANARY, TrafficSplit(10), release=RELEASE)
    assert removed == two_rules()


def test_a_lone_unnamed_rule_gets_the_bare_header_rule_name_and_stays_the_managed_one() -> None:
    body = http_route("c", rule(None, backend("checkout", 100), backend("checkout-v2", 0)))
    after = with_split(body, None, STABLE, CANARY, TrafficSplit(0, COLOURED[:1]), release=RELEASE)
    assert [each.get("name") for each in after["spec"]["rules"]] == ["graygate-checkout-header", None]
    assert read_weights(after, None, STABLE, CANARY, release=RELEASE) == (
        RouteWeights(None, 100, 0, header_route=True),
    )


def test_a_header_rule_keeps_the_rules_filters_and_replaces_a_header_of_the_same_name() -> None:
    own = rule(
        "api",
        backend("checkout", 100),
        matches=[{"path": {"type": "Exact", "value": "/api"}, "headers": [{"name": "X-Canary", "value": "no"}]}],
        filters=[{"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "a", "value": "b"}]}}],
    )
    after = with_split(http_route("c", own), ("api",), STABLE, CANARY, TrafficSplit(0, COLOURED[:1]), release=RELEASE)
    header = after["spec"]["rules"][0]
    assert header["filters"] == own["filters"]
    assert header["matches"] == [
        {
            "path": {"type": "Exact", "value": "/api"},
            "headers": [{"name": "x-canary", "type": "Exact", "value": "always"}],
        }
    ]


def test_only_this_releases_header_rules_are_removed() -> None:
    theirs = rule("graygate-other-header-web", backend("checkout-v2"))
    body = http_route("c", theirs, *two_rules()["spec"]["rules"])
    assert with_split(body, ("api",), STABLE, CANARY, TrafficSplit(10), release=RELEASE) == body


def crowded(rules: int = 0, matches: int = 1, headers: int = 0) -> HTTPRouteBody:
    """The managed rule 'api' (`matches` matches of `headers` headers each) among `rules` rules of others."""
    own_match = {
        "path": {"type": "PathPrefix", "value": "/api"},
        "headers": [{"name": f"h{i}", "type": "Exact", "value": "v"} for i in range(headers)],
    }
    others = [rule(f"other-{i}", backend("assets"), path=f"/o{i}") for i in range(rules)]
    return http_route("c", *others, rule("api", backend("checkout", 100), matches=[own_match] * matches))


@pytest.mark.parametrize(
    ("body", "release", "split", "refused"),
    [
        (crowded(rules=14), RELEASE, COLOURED, None),
        (crowded(rules=15), RELEASE, COLOURED, "17 rules, over the 16 an HTTPRoute holds (spec.rules)"),
        (crowded(rules=14, matches=57), RELEASE, COLOURED[:1], None),
        (crowded(rules=14, matches=58), RELEASE, COLOURED[:1], "130 matches in all, over the 128"),
        (crowded(matches=32), RELEASE, COLOURED, None),
        (crowded(matches=33), RELEASE, COLOURED, "66 matches in graygate-checkout-header-api, over 64"),
        (crowded(headers=15), RELEASE, COLOURED, None),
        (crowded(headers=16), RELEASE, COLOURED, "a match of graygate-checkout-header-api with over 16 headers"),
        (crowded(), "r" * 233, COLOURED, None),
        (crowded(), "r" * 234, COLOURED, "a rule named in 254 characters, over 253 (rules[].name)"),
        (crowded(rules=15, matches=64), "r" * 234, (), None),
    ],
    ids=[
        "16-rules",
        "17-rules",
        "128-matches",
        "130-matches",
        "64-matches-in-a-rule",
        "66-matches-in-a-rule",
        "16-headers-in-a-match",
        "17-headers-in-a-match",
        "name-of-253",
        "name-of-254",
        "no-header-rule",
    ],
)
def test_header_rules_past_a_gateway_api_bound_are_refused_before_any_write(
    body: HTTPRouteBody, release: str, split: tuple[HeaderRoute, ...], refused: str | None
) -> None:
    """At each bound the header rules fit; one past it, graygate refuses the write with the bound's words, where the
    API server would have refused it only once written."""
    colour = TrafficSplit(10, split)
    if refused is None:
        after = with_split(body, ("api",), STABLE, CANARY, colour, release=release)
        assert len(after["spec"]["rules"]) == len(body["spec"]["rules"]) + (1 if split else 0)
        return
    with pytest.raises(InvalidRouteError) as error:
        with_split(body, ("api",), STABLE, CANARY, colour, release=release)
    assert error.value.reason == "HeaderRulesDoNotFit"
    assert str(error.value).startswith("HTTPRoute shop/c cannot take this release's 1 header rule(s): it would have ")
    assert refused in str(error.value)


# ---- snapshot and restore ----


def test_restore_puts_the_snapshotted_rules_back_exactly_and_drops_the_header_rules() -> None:
    body = two_rules()
    saved = snapshot(body, ("web", "api"))
    assert [(s.virtual_service, s.route, s.kind) for s in saved] == [
        ("checkout", "web", "HTTPRoute"),
        ("checkout", "api", "HTTPRoute"),
    ]
    moved = with_split(body, ("web", "api"), STABLE, CANARY, TrafficSplit(60, COLOURED), release=RELEASE)
    assert moved != body
    assert restore(moved, saved, release=RELEASE) == body
    assert json.dumps(restore(moved, saved, release=RELEASE)) == json.dumps(body), "byte for byte, key order kept"


def test_restore_of_a_rule_gone_since_the_snapshot_raises() -> None:
    saved = snapshot(two_rules(), ("web",))
    gone = http_route("checkout", *two_rules()["spec"]["rules"][1:])
    with pytest.raises(RouteNotFoundError):
        restore(gone, saved)
