"""Which PromQL a `prometheus` gate sends, resolved for one release: templates filled in, built-ins spelled out.

Why pure and apart from the gate: the resolved query is part of every verdict's evidence ("what exactly did you
ask Prometheus?"), so it must be computable, and tested, without a Prometheus. The built-in metrics are written as
templates themselves and go through the same renderer as users' queries, so there is one way a name gets into a
query, with one escaping rule and one refusal of missing values.

Two views of the same requests, both Istio's standard telemetry:

- the callers' view (`reporter="source"`, the default for `requestSuccessRate`): what the proxies sending the
  requests recorded, keyed by the destination Service (`destination_service_name`, `..._namespace`) and, when the
  side names a subset, by `destination_subset`. It includes the 503s a proxy answers itself when the canary's
  share reaches no pod, which the destination never sees. Istio's default metrics carry no `destination_subset`
  label: a subset-based release needs it added (see the README), a host-based one works as is.
- the destinations' view (`reporter="destination"`, selected by `destination_workload`): what the pods answered.
  It says how many requests each version actually served, so a canary holding weight while serving nothing is
  seen even where the callers' view is missing.

Counts since the step began, not over a sliding window: the sequential tests (`sequential`) judge every request
of the step, and a Prometheus restart in the middle of a step leaves them intact. Each counter series is read as
its value now minus its value when the step began, and a series that did not exist then counts from zero, so the
first errors of a new `response_code` series are not lost, as they are in `increase()`. A counter reset (a
restarted pod) is clamped to zero for that series, losing at most what it had counted since the step began.

    requestSuccessRate  callers' counts by response_code since the step began       canary, stable
                        destinations' request counts since the step began           canaryServed, stableServed
                        callers' counts by response_code over the last window       canaryRecent, stableRecent
    requestDuration     destinations' histogram bucket counts by le since the step began   canary, stable
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from graygate.api.gates.prometheus import Prometheus
from graygate.api.gates.promql import promql_duration, render_template
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus
from graygate.api.traffic import RouteDestination

__all__ = ["QueryPlan", "QueryScope", "plan_queries", "since_step", "template_values", "window_of"]

_DESTINATION = (
    'reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload="{{ %sWorkload }}"'
)
_CALLER = (
    'reporter="source", destination_service_namespace="{{ %sNamespace }}", destination_service_name="{{ %sService }}"'
)
_SUBSET = ', destination_subset="{{ %sSubset }}"'
_SINCE = "(clamp_min(%(x)s - %(x)s offset %(span)s, 0) or %(x)s)"
_CODES_SINCE = "sum by (response_code) " + _SINCE
_TOTAL_SINCE = "sum " + _SINCE
_BUCKETS_SINCE = "sum by (le) " + _SINCE
_CODES_RECENT = "sum by (response_code) (increase(%(x)s[{{ interval }}]))"
_REQUESTS = "istio_requests_total{%s}"
_BUCKETS = "istio_request_duration_milliseconds_bucket{%s}"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryScope:
    """The release a gate's queries are about: where it lives, its name, its spec, and when its current step
    began (None outside a running step: the counts then cover the window). `status`, `labels` and `annotations`
    (the release's own, without kubectl's and graygate's bookkeeping) are what a webhook sends of the release; None and
    empty where the caller has no release object (`graygate check`)."""

    namespace: str
    release: str
    spec: CanaryReleaseSpec
    step_started_at: datetime | None = None
    status: CanaryReleaseStatus | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    stage: str = "rollout"
    """The stage a webhook is called at: a stage hook's (`spec.hooks[].stage`), `rollout` for a gate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryPlan:
    """The resolved queries of one analysis, by role (see the module docstring); None for a role not asked."""

    window: str
    """The window as a PromQL duration, e.g. `30s`."""
    canary: str
    stable: str | None = None
    canary_served: str | None = None
    stable_served: str | None = None
    canary_recent: str | None = None
    stable_recent: str | None = None
    span: str = ""
    """How far back the counts since the step began reach, e.g. `95s` (empty for a custom query)."""


def window_of(check: Prometheus, spec: CanaryReleaseSpec) -> timedelta:
    """The check's window, else the analysis interval."""
    return check.window or spec.analysis.interval


def since_step(scope: QueryScope, window: timedelta, now: datetime) -> timedelta:
    """How far back "since the step began" reaches: whole seconds, at least one; the window when no step runs."""
    if scope.step_started_at is None:
        return window
    return timedelta(seconds=max(1, math.ceil((now - scope.step_started_at).total_seconds())))


def _service(destination: RouteDestination, namespace: str) -> tuple[str, str]:
    """(Service name, namespace) of a route destination's host: `checkout` or `checkout.shop.svc.cluster.local`."""
    parts = destination.host.split(".")
    return parts[0], parts[1] if len(parts) > 1 else namespace


def template_values(scope: QueryScope, window: timedelta) -> dict[str, str | None]:
    """Every template variable's value for this release (None when the spec does not name it)."""
    spec = scope.spec
    canary_service, canary_namespace = _service(spec.canary, scope.namespace)
    stable_service, stable_namespace = _service(spec.stable, scope.namespace)
    return {
        "namespace": scope.namespace,
        "release": scope.release,
        "canaryHost": spec.canary.host,
        "canarySubset": spec.canary.subset,
        "stableHost": spec.stable.host,
        "stableSubset": spec.stable.subset,
        "canaryWorkload": spec.canary_deployment(),
        "stableWorkload": spec.stable_deployment(),
        "interval": promql_duration(window),
        "canaryService": canary_service,
        "canaryNamespace": canary_namespace,
        "stableService": stable_service,
        "stableNamespace": stable_namespace,
    }


def plan_queries(check: Prometheus, scope: QueryScope, now: datetime | None = None) -> QueryPlan:
    """The queries to send at `now`; raises `graygate.api.promql.UnresolvedVariable` when a used name has no
    value."""
    window = window_of(check, scope.spec)
    values = template_values(scope, window)
    span = promql_duration(since_step(scope, window, now) if now is not None else window)
    duration = promql_duration(window)

    def render(template: str) -> str:
        return render_template(template, values)

    def destination(role: str) -> str:
        return _DESTINATION % role

    def caller(role: str) -> str:
        side = scope.spec.canary if role == "canary" else scope.spec.stable
        selector = _CALLER % (role, role)
        return selector + (_SUBSET % role if side.subset else "")

    if (rate := check.request_success_rate) is not None:
        seen = caller if rate.reporter == "source" else destination

        def codes(role: str) -> str:
            return render(_CODES_SINCE % {"x": _REQUESTS % seen(role), "span": span})

        def served(role: str) -> str:
            return render(_TOTAL_SINCE % {"x": _REQUESTS % destination(role), "span": span})

        def recent(role: str) -> str:
            return render(_CODES_RECENT % {"x": _REQUESTS % seen(role)})

        return QueryPlan(
            window=duration,
            span=span,
            canary=codes("canary"),
            stable=codes("stable"),
            canary_served=served("canary"),
            stable_served=served("stable"),
            canary_recent=recent("canary"),
            stable_recent=recent("stable"),
        )
    if check.request_duration is not None:

        def buckets(role: str) -> str:
            return render(_BUCKETS_SINCE % {"x": _BUCKETS % destination(role), "span": span})

        return QueryPlan(window=duration, span=span, canary=buckets("canary"), stable=buckets("stable"))
    if check.query is not None:
        stable = check.query.stable_expr
        return QueryPlan(
            window=duration, canary=render(check.query.expr), stable=render(stable) if stable is not None else None
        )
    raise AssertionError("unreachable: the model requires exactly one metric")  # pragma: no cover
