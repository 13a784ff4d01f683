"""Which PromQL a `prometheus` gate sends, resolved for one release: templates filled in, built-ins spelled out.

Why pure and apart from the gate: the resolved query is part of every verdict's evidence ("what exactly did you
ask Prometheus?"), so it must be computable, and tested, without a Prometheus. The built-in metrics are written as
templates themselves and go through the same renderer as users' queries, so there is one way a name gets into a
query, with one escaping rule and one refusal of missing values.

Built-ins use Istio's standard telemetry as the destination's sidecar reports it, selected by the workloads' names
(`destination_workload`, `destination_workload_namespace`), for the canary and the stable side over the same window:

    requestSuccessRate  sum by (response_code) (increase(istio_requests_total{...}[window]))
    requestDuration     histogram_quantile(q, sum by (le) (rate(istio_request_duration_milliseconds_bucket{...}[w])))
                        and sum(increase(istio_requests_total{...}[window])) for the request counts
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from graygate.api.gates.prometheus import Prometheus
from graygate.api.gates.promql import promql_duration, render_template
from graygate.api.spec import CanaryReleaseSpec

__all__ = ["QueryPlan", "QueryScope", "plan_queries", "template_values", "window_of"]

_SELECTOR = (
    'reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload="{{ %sWorkload }}"'
)
_CODES = "sum by (response_code) (increase(istio_requests_total{%s}[{{ interval }}]))"
_REQUESTS = "sum(increase(istio_requests_total{%s}[{{ interval }}]))"
_QUANTILE = "histogram_quantile(%s, sum by (le) (rate(istio_request_duration_milliseconds_bucket{%s}[{{ interval }}])))"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryScope:
    """The release a gate's queries are about: where it lives, its name and its spec."""

    namespace: str
    release: str
    spec: CanaryReleaseSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryPlan:
    """The resolved queries of one analysis. `stable` and the request counts are None when the check has none."""

    window: str
    """The window as a PromQL duration, e.g. `30s`."""
    canary: str
    stable: str | None = None
    canary_requests: str | None = None
    stable_requests: str | None = None


def window_of(check: Prometheus, spec: CanaryReleaseSpec) -> timedelta:
    """The check's window, else the analysis interval."""
    return check.window or spec.analysis.interval


def template_values(scope: QueryScope, window: timedelta) -> dict[str, str | None]:
    """Every template variable's value for this release (None when the spec does not name it)."""
    spec = scope.spec
    return {
        "namespace": scope.namespace,
        "release": scope.release,
        "canaryHost": spec.canary.host,
        "canarySubset": spec.canary.subset,
        "stableHost": spec.stable.host,
        "stableSubset": spec.stable.subset,
        "canaryWorkload": spec.canary_workload.name if spec.canary_workload else None,
        "stableWorkload": spec.stable_workload.name if spec.stable_workload else None,
        "interval": promql_duration(window),
    }


def plan_queries(check: Prometheus, scope: QueryScope) -> QueryPlan:
    """The queries to send; raises `graygate.api.promql.UnresolvedVariable` when a used name has no value."""
    window = window_of(check, scope.spec)
    values = template_values(scope, window)

    def render(template: str) -> str:
        return render_template(template, values)

    def side(pattern: str, role: str, *head: str) -> str:
        return render(pattern % (*head, _SELECTOR % role))

    duration = promql_duration(window)
    if check.request_success_rate is not None:
        return QueryPlan(window=duration, canary=side(_CODES, "canary"), stable=side(_CODES, "stable"))
    if check.request_duration is not None:
        quantile = f"{check.request_duration.quantile:g}"
        return QueryPlan(
            window=duration,
            canary=side(_QUANTILE, "canary", quantile),
            stable=side(_QUANTILE, "stable", quantile),
            canary_requests=side(_REQUESTS, "canary"),
            stable_requests=side(_REQUESTS, "stable"),
        )
    if check.query is not None:
        stable = check.query.stable_expr
        return QueryPlan(
            window=duration, canary=render(check.query.expr), stable=render(stable) if stable is not None else None
        )
    raise AssertionError("unreachable: the model requires exactly one metric")  # pragma: no cover
