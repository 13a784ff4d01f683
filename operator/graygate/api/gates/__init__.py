"""Gates: the checks a release must pass at every step, one model per gate kind, each in a module of its own.

Why: a gate is a one-of. Every gate has a name, a criticality, debounce thresholds and whether it is a pre-check;
exactly one kind field says what it checks. A kind's model (a `CheckModel`) says its own URLs and bounded wait. Adding
a kind is one model module, one optional field on `Gate` and one member of `GateCheck`; the "exactly one kind" rule,
in pydantic and in CEL, and the bounded-wait rules are derived from these, so they cannot be forgotten.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graygate.api.base import SpecModel
from graygate.api.cel import exactly_one
from graygate.api.durations import Duration
from graygate.api.expressions import MAX_EXPRESSION, check_condition
from graygate.api.field_errors import at_field
from graygate.api.fields import JSON_PATH_PATTERN
from graygate.api.gates.etcd_checks import EtcdConfig, HotReload
from graygate.api.gates.http_probe import HttpProbe, JsonPathCheck
from graygate.api.gates.kind import CheckModel
from graygate.api.gates.prometheus import Prometheus
from graygate.api.gates.release_checks import ApiCompat, MetricParity
from graygate.api.gates.routing_check import RoutingCheck
from graygate.api.gates.webhook import Webhook

__all__ = [
    "CHECK_MODELS",
    "JSON_PATH_PATTERN",
    "MAX_GATES",
    "ApiCompat",
    "CheckModel",
    "EtcdConfig",
    "Gate",
    "GateCheck",
    "HotReload",
    "HttpProbe",
    "JsonPathCheck",
    "MetricParity",
    "Prometheus",
    "RoutingCheck",
    "Webhook",
]

MAX_GATES = 16
"""The most gates one release may have."""

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

GateCheck = HttpProbe | MetricParity | ApiCompat | HotReload | EtcdConfig | RoutingCheck | Webhook | Prometheus
"""Every gate kind. Kinds whose bounded wait is a field of their own come first, then the nested ones: the CRD
lists its bounded-wait rules in this order."""

CHECK_MODELS: tuple[type[CheckModel], ...] = get_args(GateCheck)
"""The models of `GateCheck`, in its order."""

_COMMON_FIELDS = (
    "name",
    "critical",
    "pre_check",
    "success_threshold",
    "failure_threshold",
    "dry_run",
    "initial_delay",
    "success_condition",
    "failure_condition",
)


_UNJUDGED_QUERY = (
    "prometheus.query: give min, max, maxRatio or a combination, or a successCondition or failureCondition"
)
_JUDGED_QUERY = (
    "!has(self.prometheus) || !has(self.prometheus.query) || has(self.prometheus.query.min) || "
    "has(self.prometheus.query.max) || has(self.prometheus.query.maxRatio) || has(self.successCondition) || "
    "has(self.failureCondition)"
)


def _one_kind_rule(schema: dict[str, Any], model: type[BaseModel]) -> None:
    kinds = [field.alias or name for name, field in model.model_fields.items() if name not in _COMMON_FIELDS]
    schema["x-kubernetes-validations"] = [
        {"rule": exactly_one(*kinds), "message": f"exactly one gate kind must be set: {', '.join(kinds)}"},
        {"rule": _JUDGED_QUERY, "message": _UNJUDGED_QUERY},
    ]


class Gate(SpecModel):
    """One named check run at every analysis. Exactly one kind field (`httpProbe`, `prometheus`, `metricParity`,
    `apiCompat`, `hotReload`, `etcdConfig`, `routingCheck`, `webhook`) must be set."""

    model_config = ConfigDict(json_schema_extra=_one_kind_rule)

    name: str = Field(pattern=DNS_LABEL, max_length=63)
    """The gate's name, unique within the release; it appears in status, events and logs."""

    critical: bool = False
    """A failing critical gate rolls the release back at once; a failing non-critical gate counts toward
    `analysis.failureLimit`."""

    pre_check: bool = False
    """Also run this gate before any traffic moves: the release starts step 1 only once every pre-check passes
    (after `successThreshold` passing samples), and a failing pre-check fails the release at once, critical or not,
    with the canary never having had any traffic. Pre-checks wait for `canaryWorkload` to be Available. After the
    start the gate runs at every analysis like any other."""

    success_threshold: int = Field(default=1, ge=1, le=100)
    """How many consecutive passing samples it takes for the gate to pass (samples are taken once per analysis)."""

    failure_threshold: int = Field(default=1, ge=1, le=100)
    """How many consecutive failing samples it takes for the gate to fail; fewer leave it `Waiting`."""

    dry_run: bool = False
    """Measure and report this gate (status results marked `dryRun`, Events, metrics) but never let it fail, hold
    or pause the release: its verdicts count toward no limit and never keep a step or a pre-check from passing."""

    initial_delay: Duration | None = None
    """How long after a weight is set (the step's `stepStartedAt`; for a pre-check, the time the release began
    waiting to start, `progressAt`) before this gate is measured: until then it is not run and shows `Waiting`,
    which holds the step without counting as a failure. Takes effect when longer than `analysis.interval` (the
    first analysis of a step is one interval after it starts); must be shorter than `progressDeadline`."""

    success_condition: str | None = Field(default=None, min_length=1, max_length=MAX_EXPRESSION)
    """A CEL expression over the measured `result` that must be true for the gate to pass, e.g.
    `result.series.all(s, s.value < 0.05)`. With a `failureCondition` too, neither being true is `Inconclusive`.
    Either condition replaces the kind's own thresholds. What `result` holds depends on the kind (README)."""

    failure_condition: str | None = Field(default=None, min_length=1, max_length=MAX_EXPRESSION)
    """A CEL expression over the measured `result` that fails the gate when true (it is checked first); without a
    `successCondition`, false passes."""

    http_probe: HttpProbe | None = None
    """Probe an HTTP endpoint."""

    prometheus: Prometheus | None = None
    """Query Prometheus: Istio's request success rate or latency (canary against stable), or PromQL of your own."""

    metric_parity: MetricParity | None = None
    """Compare the canary's `/metrics` with the stable's: no family or label lost, no type changed, names linted."""

    api_compat: ApiCompat | None = None
    """Compare the canary's OpenAPI document with the stable's: no change that breaks an existing caller."""

    hot_reload: HotReload | None = None
    """Write a nonce to etcd and wait for the canary to report it: it reloads its configuration without a restart."""

    etcd_config: EtcdConfig | None = None
    """Compare the configuration the canary reports running with the one etcd holds under a prefix."""

    routing_check: RoutingCheck | None = None
    """Send coloured and uncoloured requests through the mesh: coloured ones must reach the canary, the rest follow
    the weight."""

    webhook: Webhook | None = None
    """POST the release's data to a URL of your own (a smoke test, a change ticket): a 2xx answer passes."""

    @property
    def check(self) -> GateCheck:
        """The one kind-specific check of this gate."""
        for name in type(self).model_fields:
            if name not in _COMMON_FIELDS and (value := getattr(self, name)) is not None:
                checked: GateCheck = value
                return checked
        raise AssertionError("unreachable: the validator requires exactly one gate kind")  # pragma: no cover

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Gate:
        kinds = {name: field.alias or name for name, field in type(self).model_fields.items()}
        chosen = [kinds[name] for name in kinds if name not in _COMMON_FIELDS and getattr(self, name) is not None]
        if len(chosen) != 1:
            options = ", ".join(alias for name, alias in kinds.items() if name not in _COMMON_FIELDS)
            found = ", ".join(chosen) if chosen else "none"
            raise ValueError(f"exactly one gate kind must be set ({options}); found {found}")
        return self

    @model_validator(mode="after")
    def _conditions_hold_together(self) -> Gate:
        check = self.check
        conditions = self.success_condition is not None or self.failure_condition is not None
        if isinstance(check, Prometheus) and check.unjudged and not conditions:
            raise at_field("prometheus.query", _UNJUDGED_QUERY.split(": ", 1)[1])
        for field, alias in (("success_condition", "successCondition"), ("failure_condition", "failureCondition")):
            expression = getattr(self, field)
            if expression is None:
                continue
            why = check_condition(expression, check.result_sample(), open_keys=check.result_open_keys, kind=check.kind)
            if why is not None:
                raise at_field(alias, why)
        return self
