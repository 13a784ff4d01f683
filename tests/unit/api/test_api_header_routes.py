"""The `setHeaderRoute` step and the `routingCheck` gate as manifests: what is accepted and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from graygate.api import CanaryReleaseSpec

BASE: dict[str, Any] = {
    "trafficRouting": {"istio": {"virtualServices": [{"name": "app"}]}},
    "stable": {"host": "app", "subset": "stable"},
    "canary": {"host": "app", "subset": "canary"},
}


def with_step(step: dict[str, Any]) -> dict[str, Any]:
    return {**BASE, "steps": [step, {"pause": {}}]}


def test_a_header_route_step_is_parsed() -> None:
    step = {"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "always"}, "x-team": {"regex": "qa-.*"}}}]}}
    spec = CanaryReleaseSpec.model_validate(with_step(step))
    route = spec.plan_steps()[0].set_header_route
    assert route is not None
    assert route.match[0].headers["x-canary"].as_istio() == {"exact": "always"}
    assert route.match[0].headers["x-team"].as_istio() == {"regex": "qa-.*"}


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ({"setHeaderRoute": {"match": []}}, "at least 1"),
        ({"setHeaderRoute": {"match": [{"headers": {}}]}}, "at least 1"),
        ({"setHeaderRoute": {"match": [{"headers": {"X-Canary": {"exact": "a"}}}]}}, "lower-case"),
        ({"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "a", "prefix": "b"}}}]}}, "exactly one"),
        ({"setHeaderRoute": {"match": [{"headers": {"x-canary": {}}}]}}, "exactly one"),
        ({"setHeaderRoute": {"match": [{"uri": {"prefix": "/"}, "headers": {"a": {"exact": "b"}}}]}}, "Extra inputs"),
        ({"setWeight": 10, "setHeaderRoute": {"match": [{"headers": {"a": {"exact": "b"}}}]}}, "exactly one of"),
    ],
)
def test_bad_header_route_steps_are_refused(step: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        CanaryReleaseSpec.model_validate(with_step(step))


def routing_gate(**fields: Any) -> dict[str, Any]:
    gate = {"name": "routing", "routingCheck": {"url": "http://app.shop/", **fields}}
    return {**BASE, "steps": [{"setWeight": 10}], "analysis": {"interval": "10s", "gates": [gate]}}


def test_a_routing_check_has_sensible_defaults() -> None:
    spec = CanaryReleaseSpec.model_validate(routing_gate())
    check = spec.analysis.gates[0].routing_check
    assert check is not None
    assert (check.colored_requests, check.uncolored_requests) == (10, 20)
    assert (check.version_header, check.canary_value, dict(check.colored_headers)) == (
        "x-served-by",
        "canary",
        {"x-canary": "always"},
    )


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"timeout": "10s"}, "shorter than the analysis interval"),
        ({"uncoloredRequests": 5000}, "less than or equal to 1000"),
        ({"coloredRequests": 500}, "less than or equal to 200"),
        ({"url": "app.shop"}, "pattern"),
    ],
)
def test_bad_routing_checks_are_refused(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        CanaryReleaseSpec.model_validate(routing_gate(**fields))
