"""PromQL templates and the queries a `prometheus` gate sends: every variable filled in, escaped, never empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from release_builders import manifest

from graygate.api import CanaryReleaseSpec, Prometheus, UnresolvedVariable, promql_duration, render_template
from graygate.api.gates.promql import check_template, variables_in
from graygate.domain.analysis.promql import QueryPlan, QueryScope, plan_queries

VALUES = {
    "namespace": "shop",
    "release": "checkout",
    "canaryWorkload": "checkout-canary",
    "stableWorkload": "checkout-stable",
    "canarySubset": None,
    "interval": "30s",
}


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("up", "up"),
        ('up{namespace="{{ namespace }}"}', 'up{namespace="shop"}'),
        ('up{namespace="{{namespace}}"}', 'up{namespace="shop"}'),
        ("rate(x{w='{{ canaryWorkload }}'}[{{ interval }}])", "rate(x{w='checkout-canary'}[30s])"),
        ("{{ release }}/{{ release }}", "checkout/checkout"),
        ('x{a="{{  stableWorkload  }}"} / y{}', 'x{a="checkout-stable"} / y{}'),
    ],
)
def test_render(template: str, rendered: str) -> None:
    assert render_template(check_template(template), VALUES) == rendered


@pytest.mark.parametrize(
    ("template", "missing"),
    [
        ('x{subset="{{ canarySubset }}"}', "{{ canarySubset }}"),
        ('x{subset="{{ stableSubset }}", h="{{ canaryHost }}"}', "{{ stableSubset }}, {{ canaryHost }}"),
    ],
)
def test_a_variable_without_a_value_is_refused_not_left_empty(template: str, missing: str) -> None:
    with pytest.raises(UnresolvedVariable, match=f"no value for {missing}"):
        render_template(template, VALUES)


def test_values_cannot_end_a_string_early() -> None:
    assert render_template('x{h="{{ canaryHost }}"}', {"canaryHost": 'a"} or vector(1) #\\'}) == (
        'x{h="a\\"} or vector(1) #\\\\"}'
    )


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ pod }}", "unknown template variable {{ pod }}"),
        ("{{ Namespace }}", "unknown template variable {{ Namespace }}"),
        ("{{ namespace }", "malformed placeholder"),
        ("{{ 1 }}", "malformed placeholder"),
        ("{{}}", "malformed placeholder"),
    ],
)
def test_check_template(template: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_template(template)


def test_variables_in_order_of_first_use() -> None:
    assert variables_in("{{ interval }} {{ namespace }} {{interval}}") == ("interval", "namespace")


@pytest.mark.parametrize(
    ("window", "text"),
    [(timedelta(seconds=30), "30s"), (timedelta(minutes=2), "120s"), (timedelta(milliseconds=1500), "1500ms")],
)
def test_promql_duration(window: timedelta, text: str) -> None:
    assert promql_duration(window) == text


def test_a_zero_window_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        promql_duration(timedelta(0))


def scope(**changes: Any) -> QueryScope:
    body = manifest(canaryWorkload={"name": "checkout-canary"}, stableWorkload={"name": "checkout-stable"}, **changes)
    return QueryScope(namespace="shop", release="checkout", spec=CanaryReleaseSpec.model_validate(body))


DESTINATION = 'reporter="destination", destination_workload_namespace="shop", destination_workload="checkout-%s"'
CALLER = (
    'reporter="source", destination_service_namespace="shop", destination_service_name="checkout", '
    'destination_subset="%s"'
)
REQUESTS = "istio_requests_total{%s}"
BUCKETS = "istio_request_duration_milliseconds_bucket{%s}"


def since(aggregation: str, series: str, span: str) -> str:
    return f"{aggregation} (clamp_min({series} - {series} offset {span}, 0) or {series})"


@pytest.mark.parametrize(
    ("check", "plan"),
    [
        (
            {"requestSuccessRate": {"min": 99}},
            QueryPlan(
                window="30s",
                span="30s",
                canary=since("sum by (response_code)", REQUESTS % (CALLER % "canary"), "30s"),
                stable=since("sum by (response_code)", REQUESTS % (CALLER % "stable"), "30s"),
                canary_served=since("sum", REQUESTS % (DESTINATION % "canary"), "30s"),
                stable_served=since("sum", REQUESTS % (DESTINATION % "stable"), "30s"),
                canary_recent=f"sum by (response_code) (increase({REQUESTS % (CALLER % 'canary')}[30s]))",
                stable_recent=f"sum by (response_code) (increase({REQUESTS % (CALLER % 'stable')}[30s]))",
            ),
        ),
        (
            {"window": "2m", "requestDuration": {"quantile": 0.95, "max": "1s"}},
            QueryPlan(
                window="120s",
                span="120s",
                canary=since("sum by (le)", BUCKETS % (DESTINATION % "canary"), "120s"),
                stable=since("sum by (le)", BUCKETS % (DESTINATION % "stable"), "120s"),
            ),
        ),
        (
            {"query": {"expr": 'sum(up{ns="{{ namespace }}", s="{{ canarySubset }}"})', "max": 1}},
            QueryPlan(window="30s", canary='sum(up{ns="shop", s="canary"})'),
        ),
        (
            {
                "query": {
                    "expr": 'x{h="{{ canaryHost }}", r="{{ release }}"}[{{ interval }}]',
                    "stableExpr": 'x{h="{{ stableHost }}", s="{{ stableSubset }}"}',
                    "maxRatio": 2,
                }
            },
            QueryPlan(window="30s", canary='x{h="checkout", r="checkout"}[30s]', stable='x{h="checkout", s="stable"}'),
        ),
    ],
    ids=["success-rate", "duration", "custom", "custom-with-stable"],
)
def test_plan_queries(check: dict[str, Any], plan: QueryPlan) -> None:
    assert plan_queries(Prometheus.model_validate(check), scope()) == plan


def test_planning_refuses_a_name_the_release_lacks() -> None:
    check = Prometheus.model_validate({"requestSuccessRate": {"min": 99}})
    lacking = QueryScope(namespace="shop", release="checkout", spec=CanaryReleaseSpec.model_validate(manifest()))
    with pytest.raises(UnresolvedVariable, match="canaryWorkload"):
        plan_queries(check, lacking)


def test_counts_reach_back_to_the_step_start_in_whole_seconds() -> None:
    started = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    running = QueryScope(namespace="shop", release="checkout", spec=scope().spec, step_started_at=started)
    check = Prometheus.model_validate({"requestSuccessRate": {"maxIncreasePoints": 1}})
    plan = plan_queries(check, running, started + timedelta(seconds=94, milliseconds=200))
    assert plan.span == "95s"
    assert "offset 95s" in plan.canary
    assert "[30s]" in (plan.canary_recent or "")
    assert plan_queries(check, running, started).span == "1s", "at least one second"


def test_the_destination_reporter_and_a_host_based_canary() -> None:
    check = Prometheus.model_validate({"requestSuccessRate": {"min": 99, "reporter": "destination"}})
    plan = plan_queries(check, scope())
    assert 'destination_workload="checkout-canary"' in plan.canary
    hosts = scope(canary={"host": "checkout-canary.shop.svc.cluster.local"}, stable={"host": "checkout.other"})
    plan = plan_queries(Prometheus.model_validate({"requestSuccessRate": {"min": 99}}), hosts)
    assert 'destination_service_namespace="shop", destination_service_name="checkout-canary"}' in plan.canary
    assert 'destination_service_namespace="other", destination_service_name="checkout"}' in (plan.stable or "")
