"""The peers' objects read back: a VirtualService's weights by destination, as Flagger and Argo Rollouts write them."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.peers import route_weights


def vs(*routes: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"hosts": ["app"], "http": list(routes)}}


@pytest.mark.parametrize(
    ("body", "route", "expected"),
    [
        # Flagger: hosts, no subsets, first route
        (
            vs({"route": [{"destination": {"host": "app-primary"}, "weight": 90},
                          {"destination": {"host": "app-canary"}, "weight": 10}]}),
            None,
            {"app-primary": 90, "app-canary": 10},
        ),
        # Argo Rollouts, subset-level: the named route
        (
            vs({"name": "other", "route": [{"destination": {"host": "x"}}]},
               {"name": "primary", "route": [{"destination": {"host": "app", "subset": "stable"}, "weight": 75},
                                             {"destination": {"host": "app", "subset": "canary"}, "weight": 25}]}),
            "primary",
            {"app/stable": 75, "app/canary": 25},
        ),
        # a single destination without a weight takes everything, as Istio reads it
        (vs({"route": [{"destination": {"host": "app-primary"}}]}), None, {"app-primary": 100}),
        # a weight left out next to another destination is 0
        (vs({"route": [{"destination": {"host": "a"}, "weight": 100}, {"destination": {"host": "b"}}]}), None,
         {"a": 100, "b": 0}),
        (vs(), None, {}),
        (vs({"name": "other", "route": []}), "primary", {}),
    ],
)  # fmt: skip
def test_route_weights(body: dict[str, Any], route: str | None, expected: dict[str, int]) -> None:
    assert route_weights(body, route) == expected
