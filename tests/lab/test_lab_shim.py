"""The mesh shim's translation, as tables: VirtualService in, Envoy RouteConfiguration out. No processes."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.lab.errors import ShimError
from e2e.lab.shim import (
    ROUTE_CONFIG_NAME,
    EnvoyClusterWeight,
    EnvoyRoute,
    EnvoyRouteAction,
    EnvoyRouteMatch,
    virtualservice_to_envoy_routes,
    weights_of,
)

CLUSTERS = {
    ("app", "stable"): "stable",
    ("app", "canary"): "canary",
    ("app.default.svc.cluster.local", "canary"): "canary",
    ("app-primary", None): "stable",
    ("app-canary", None): "canary",
}


def dest(host: str, subset: str | None = None, weight: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"destination": {"host": host} | ({"subset": subset} if subset else {})}
    return d | ({"weight": weight} if weight is not None else {})


def vs(*http: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "app", "resourceVersion": "7"}, "spec": {"hosts": ["app"], "http": list(http)}}


CATCH_ALL: EnvoyRouteMatch = {"prefix": "/"}
TO_STABLE: EnvoyRouteAction = {"cluster": "stable", "timeout": "0s"}
TO_CANARY: EnvoyRouteAction = {"cluster": "canary", "timeout": "0s"}


def split(stable: int, canary: int) -> EnvoyRouteAction:
    clusters: list[EnvoyClusterWeight] = [{"name": "stable", "weight": stable}, {"name": "canary", "weight": canary}]
    return {"weighted_clusters": {"clusters": clusters}, "timeout": "0s"}


TRANSLATIONS: list[tuple[str, dict[str, Any], list[EnvoyRoute]]] = [
    (
        "a single destination takes everything, whatever its weight",
        vs({"route": [dest("app", "stable")]}),
        [{"name": "http-0", "match": CATCH_ALL, "route": TO_STABLE}],
    ),
    (
        "90/10 becomes weighted clusters, in order",
        vs({"name": "primary", "route": [dest("app", "stable", 90), dest("app", "canary", 10)]}),
        [{"name": "primary", "match": CATCH_ALL, "route": split(90, 10)}],
    ),
    (
        "weight 0 is dropped, leaving one plain cluster",
        vs({"route": [dest("app", "stable", 0), dest("app", "canary", 100)]}),
        [{"name": "http-0", "match": CATCH_ALL, "route": TO_CANARY}],
    ),
    (
        "a missing weight next to others counts as 0 (Istio)",
        vs({"route": [dest("app", "stable", 100), dest("app", "canary")]}),
        [{"name": "http-0", "match": CATCH_ALL, "route": TO_STABLE}],
    ),
    (
        "weights are relative, not required to sum to 100 (Istio)",
        vs({"route": [dest("app", "stable", 3), dest("app", "canary", 1)]}),
        [{"name": "http-0", "match": CATCH_ALL, "route": split(3, 1)}],
    ),
    (
        "two destinations on one cluster add up",
        vs(
            {
                "route": [
                    dest("app", "canary", 10),
                    dest("app.default.svc.cluster.local", "canary", 20),
                    dest("app", "stable", 70),
                ]
            }
        ),
        [
            {
                "name": "http-0",
                "match": CATCH_ALL,
                "route": {
                    "weighted_clusters": {
                        "clusters": [{"name": "canary", "weight": 30}, {"name": "stable", "weight": 70}]
                    },
                    "timeout": "0s",
                },
            }
        ],
    ),
    (
        "host-based destinations (a service per version) need no subset",
        vs({"route": [dest("app-primary", weight=80), dest("app-canary", weight=20)]}),
        [{"name": "http-0", "match": CATCH_ALL, "route": split(80, 20)}],
    ),
    (
        "header exact/prefix/regex and uri prefix, routes kept in order, header names lower-cased and sorted",
        vs(
            {
                "name": "canary-by-header",
                "match": [
                    {
                        "uri": {"prefix": "/api"},
                        "headers": {
                            "X-Canary": {"exact": "always"},
                            "cookie": {"regex": ".*user=(alice|bob).*"},
                            "x-build": {"prefix": "v2"},
                        },
                    }
                ],
                "route": [dest("app", "canary")],
            },
            {"name": "primary", "route": [dest("app", "stable", 95), dest("app", "canary", 5)]},
        ),
        [
            {
                "name": "canary-by-header",
                "match": {
                    "prefix": "/api",
                    "headers": [
                        {"name": "cookie", "string_match": {"safe_regex": {"regex": ".*user=(alice|bob).*"}}},
                        {"name": "x-build", "string_match": {"prefix": "v2"}},
                        {"name": "x-canary", "string_match": {"exact": "always"}},
                    ],
                },
                "route": TO_CANARY,
            },
            {"name": "primary", "match": CATCH_ALL, "route": split(95, 5)},
        ],
    ),
    (
        "several matches of one route are ORed: one Envoy route each, same action",
        vs(
            {
                "name": "beta",
                "match": [{"name": "by-header", "headers": {"x-beta": {"exact": "1"}}}, {"uri": {"exact": "/beta"}}],
                "route": [dest("app", "canary")],
            }
        ),
        [
            {
                "name": "beta/by-header",
                "match": {"prefix": "/", "headers": [{"name": "x-beta", "string_match": {"exact": "1"}}]},
                "route": TO_CANARY,
            },
            {"name": "beta/1", "match": {"path": "/beta"}, "route": TO_CANARY},
        ],
    ),
    (
        "uri regex and ignoreUriCase",
        vs({"match": [{"uri": {"regex": "/v[0-9]+/.*"}, "ignoreUriCase": True}], "route": [dest("app", "stable")]}),
        [
            {
                "name": "http-0",
                "match": {"safe_regex": {"regex": "/v[0-9]+/.*"}, "case_sensitive": False},
                "route": TO_STABLE,
            }
        ],
    ),
    (
        "fields that do not choose a version (timeout, retries, header manipulation) are accepted and ignored",
        vs(
            {
                "route": [dest("app", "stable") | {"headers": {"request": {"set": {"x-a": "b"}}}}],
                "timeout": "3s",
                "retries": {"attempts": 2},
                "headers": {"response": {"remove": ["x"]}},
            }
        ),
        [{"name": "http-0", "match": CATCH_ALL, "route": TO_STABLE}],
    ),
]


@pytest.mark.parametrize(("case", "virtualservice", "routes"), TRANSLATIONS, ids=[t[0] for t in TRANSLATIONS])
def test_translation(case: str, virtualservice: dict[str, Any], routes: list[EnvoyRoute]) -> None:
    config = virtualservice_to_envoy_routes(virtualservice, CLUSTERS)
    assert config["name"] == ROUTE_CONFIG_NAME
    [vhost] = config["virtual_hosts"]
    assert vhost["domains"] == ["*"]
    assert vhost["name"] == "app"
    assert vhost["routes"] == routes


def test_a_bare_spec_translates_like_the_whole_object() -> None:
    whole = vs({"route": [dest("app", "stable", 90), dest("app", "canary", 10)]})
    assert (
        virtualservice_to_envoy_routes(whole["spec"], CLUSTERS)["virtual_hosts"][0]["routes"]
        == (virtualservice_to_envoy_routes(whole, CLUSTERS)["virtual_hosts"][0]["routes"])
    )


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("an unknown subset", vs({"route": [dest("app", "canary2")]}), "no lab backend for host 'app' subset 'canary2'"),
    (
        "an unknown host, even at weight 0",
        vs({"route": [dest("app", "stable", 100), dest("ap", "canary", 0)]}),
        "host 'ap'",
    ),
    ("no http routes", {"spec": {"hosts": ["app"], "tcp": [{"route": []}]}}, "no http routes"),
    (
        "every weight 0",
        vs({"route": [dest("app", "stable", 0), dest("app", "canary", 0)]}),
        "every destination has weight 0",
    ),
    ("a single destination at weight 0", vs({"route": [dest("app", "stable", 0)]}), "only destination has weight 0"),
    (
        "a negative weight",
        vs({"route": [dest("app", "stable", -1), dest("app", "canary", 101)]}),
        "greater than or equal to 0",
    ),
    ("a route without destinations", vs({"route": []}), "route"),
    (
        "a mirror we do not model",
        vs({"route": [dest("app", "stable")], "mirror": {"host": "app", "subset": "canary"}}),
        "mirror",
    ),
    ("a redirect we do not model", vs({"redirect": {"uri": "/x"}, "route": [dest("app", "stable")]}), "redirect"),
    (
        "a match field we do not model",
        vs({"match": [{"queryParams": {"c": {"exact": "1"}}}], "route": [dest("app", "stable")]}),
        "queryParams",
    ),
    (
        "a string match with two kinds",
        vs({"match": [{"uri": {"exact": "/", "prefix": "/"}}], "route": [dest("app", "stable")]}),
        "exactly one of",
    ),
]


@pytest.mark.parametrize(("case", "virtualservice", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusal(case: str, virtualservice: dict[str, Any], message: str) -> None:
    with pytest.raises(ShimError, match=None) as err:
        virtualservice_to_envoy_routes(virtualservice, CLUSTERS)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("http", "weights"),
    [
        ([{"route": [dest("app", "stable", 90), dest("app", "canary", 10)]}], {"stable": 90, "canary": 10}),
        ([{"route": [dest("app", "canary")]}], {"canary": 100}),
    ],
)
def test_weights_of_reads_the_split_back(http: list[dict[str, Any]], weights: dict[str, int]) -> None:
    assert weights_of(virtualservice_to_envoy_routes(vs(*http), CLUSTERS)) == weights
