"""The spec of a CanaryRelease: what the user asks for.

Why: this model is the single source of truth for the manifest's shape. The CRD is generated from it, the README's
reference is generated from its docstrings, and the operator parses every object through it, so a rule written here
holds everywhere. Rules that CEL can express are also attached as `x-kubernetes-validations` so `kubectl apply`
refuses a bad manifest before the operator ever sees it; the pydantic validators say the same thing in the same
words, and cover what CEL cannot. Where the split is applied, and between which destinations, is `traffic.py`'s;
the rules that tie it to the steps and workloads are here, where the whole spec is in view.

Decisions a user should know:

* `setWeight` values never decrease along the plan: lowering traffic is what a rollback or an abort is for.
* The last step does not have to be `setWeight: 100`: when the plan is done the release is promoted, which sets
  the canary's weight to 100. A plan that ends with `setWeight: 100` simply gets its gates checked at 100 % first.
* `stepWeights` (+ `stepInterval`) is a shorthand for `steps`; exactly one of the two is given.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from graygate.api.analysis import Analysis
from graygate.api.base import SpecModel
from graygate.api.cel import exactly_one, rules
from graygate.api.durations import Duration, Interval, format_duration
from graygate.api.field_errors import at_field
from graygate.api.fields import DNS_SUBDOMAIN
from graygate.api.gates.prometheus import Prometheus
from graygate.api.gates.promql import UnsafeValue, render_template, variables_in
from graygate.api.gateway_limits import MAX_RULES
from graygate.api.header_routes import SetHeaderRoute
from graygate.api.hooks import HOOK_RULES, MAX_HOOKS, Hook, check_hooks
from graygate.api.notifications import Notifications
from graygate.api.release_config import ReleaseConfig
from graygate.api.traffic import RouteDestination, TrafficRouting

__all__ = [
    "Analysis",
    "CanaryReleaseSpec",
    "CanaryReplicas",
    "FollowedWorkload",
    "PauseSpec",
    "Step",
    "Weight",
    "WorkloadRef",
]

Weight = Annotated[int, Field(ge=0, le=100)]
"""A canary traffic weight in percent."""


def _weights_never_decrease(weights: tuple[int, ...]) -> tuple[int, ...]:
    for earlier, later in pairwise(weights):
        if later < earlier:
            raise ValueError(
                f"weights must not decrease ({later} comes after {earlier}); to lower traffic, abort or let a gate "
                "roll the release back"
            )
    return weights


def _steps_never_decrease(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    _weights_never_decrease(tuple(step.set_weight for step in steps if step.set_weight is not None))
    return steps


class WorkloadRef(SpecModel):
    """A workload behind a destination."""

    kind: Literal["Deployment"] = "Deployment"
    """The workload's kind. Only `Deployment` today."""

    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    """The workload's name, in the release's namespace."""


class CanaryReplicas(SpecModel):
    """How many replicas the canary runs during a run."""

    follow_traffic: bool = False
    """Scale the canary with its traffic share: `ceil(weight% x primary replicas)`, never below `min`. Off: the
    canary runs as many replicas as the primary from the start of a run."""

    min: int = Field(default=1, ge=1, le=1000)
    """The fewest replicas the canary runs during a run."""


class FollowedWorkload(SpecModel):
    """A Deployment whose every new revision is released: the one Deployment in Git for this service.

    Between runs it is scaled to 0 and a primary Deployment that graygate creates and owns (`primary`) serves the
    stable version. When its pod template changes (a new image, any field), a run starts: the Deployment is scaled
    up as the canary, the steps and gates run against it, and on success its template is copied to the primary,
    which becomes the stable version once its own rollout is complete; then all traffic goes back to the stable
    destination and the canary is scaled to 0."""

    kind: Literal["Deployment"] = "Deployment"
    """The workload's kind. Only `Deployment` today."""

    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    """The Deployment's name, in the release's namespace. It must have a selector label whose value is its name
    (e.g. `app: checkout`): the primary's copy of that label says `<primary>` instead, so each side has its pods."""

    primary: str | None = Field(default=None, pattern=DNS_SUBDOMAIN, max_length=253)
    """The name of the primary Deployment graygate creates and keeps (default `<name>-primary`). The stable
    destination's Service selects its pods."""

    track_config: bool = False
    """Include the ConfigMaps and Secrets the pod template mounts or references in the revision, so a change to
    one of them is released like a new image. The primary then runs on graygate's copies of them, `<name>-primary`,
    written at each promotion (the chart's `trackConfig.enabled` grants that)."""

    scale_down_delay: Duration = timedelta(seconds=30)
    """How long the canary keeps its pods after a rollback or a promotion, so they can be inspected."""

    replicas: CanaryReplicas = Field(default_factory=CanaryReplicas)
    """How many replicas the canary runs during a run."""

    def primary_name(self) -> str:
        """The primary Deployment's name."""
        return self.primary or f"{self.name}-primary"


class PauseSpec(SpecModel):
    """Hold the current weight: for `duration`, or (without one) until someone promotes the release."""

    duration: Duration | None = None
    """How long to hold. Time already spent survives operator restarts. Omit to wait for a `promote` command."""


class Step(SpecModel):
    """One step of the plan: exactly one of `setWeight`, `pause` or `setHeaderRoute`."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            (
                exactly_one("setWeight", "pause", "setHeaderRoute"),
                "a step needs exactly one of setWeight, pause or setHeaderRoute",
            )
        )
    )

    set_weight: Weight | None = None
    """Send this percentage of traffic to the canary. The step is done once the weight is in place and one
    analysis at that weight has passed (at once when there are no gates)."""

    pause: PauseSpec | None = None
    """Hold the current weight; gates keep running and can still roll the release back."""

    set_header_route: SetHeaderRoute | None = None
    """Colour traffic: from this step on, requests with matching headers go to the canary, whatever the weight.
    The step itself is done once the route is in place and one analysis has passed (at once without gates)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        if sum(kind is not None for kind in (self.set_weight, self.pause, self.set_header_route)) != 1:
            raise ValueError("a step needs exactly one of setWeight, pause or setHeaderRoute")
        return self


def _differ(field: str, absent: str) -> str:
    """CEL: `stable` and `canary` differ in the optional `field`. Compared field by field because CEL has no
    equality between two object types, even structurally identical ones."""

    def side(name: str) -> str:
        return f"(has(self.{name}.{field}) ? self.{name}.{field} : {absent})"

    return f"{side('stable')} != {side('canary')}"


_NO_SUBSET = (
    "subset is an Istio DestinationRule subset: with gatewayAPI, stable and canary name backendRef Services (host) "
    "and optionally their port; leave subset out"
)
_NO_PREFIX = (
    "Gateway API matches headers Exact or by RegularExpression only: with gatewayAPI, setHeaderRoute cannot use "
    "prefix (a regex does it: `v2.*` for values starting with v2)"
)

_COLOURED_RULES = MAX_RULES // 2
"""With colouring, each managed rule gets its header rule beside it in the same HTTPRoute."""
_TOO_MANY_COLOURED = (
    f"with gatewayAPI, a setHeaderRoute step adds a header rule beside each managed rule and an HTTPRoute holds at "
    f"most {MAX_RULES} rules (Gateway API): list at most {_COLOURED_RULES} in each httpRoutes[].rules"
)

_SPEC_RULES = rules(
    (
        "!has(self.analysis) || !has(self.analysis.gates) || self.analysis.gates.all(g, !has(g.prometheus) || "
        "!(has(g.prometheus.requestSuccessRate) || has(g.prometheus.requestDuration)) || "
        "has(self.workload) || (has(self.canaryWorkload) && has(self.stableWorkload)))",
        "the built-in Prometheus metrics need canaryWorkload and stableWorkload",
    ),
    (exactly_one("steps", "stepWeights"), "exactly one of steps or stepWeights must be given"),
    (
        "!has(self.workload) || (!has(self.canaryWorkload) && !has(self.stableWorkload))",
        "workload names both sides (the canary is the workload, the stable side its primary); leave canaryWorkload "
        "and stableWorkload out",
    ),
    (
        "duration(has(self.progressDeadline) ? self.progressDeadline : '10m') > "
        "duration(has(self.analysis) && has(self.analysis.interval) ? self.analysis.interval : '30s')",
        "progressDeadline must be longer than analysis.interval: a step needs at least one analysis to progress",
    ),
    (
        "!has(self.analysis) || !has(self.analysis.gates) || self.analysis.gates.all(g, !has(g.initialDelay) || "
        "duration(g.initialDelay) < duration(has(self.progressDeadline) ? self.progressDeadline : '10m'))",
        "a gate's initialDelay must be shorter than progressDeadline: the step would be past its deadline first",
    ),
    (
        "!has(self.workload) || !has(self.workload.primary) || self.workload.primary != self.workload.name",
        "workload.primary must differ from workload.name",
    ),
    ("!has(self.stepInterval) || has(self.stepWeights)", "stepInterval goes with stepWeights; with steps, use pause"),
    (
        " || ".join(("self.stable.host != self.canary.host", _differ("subset", "''"), _differ("port", "0"))),
        "stable and canary must be different destinations",
    ),
    (
        "!has(self.trafficRouting.gatewayAPI) || (!has(self.stable.subset) && !has(self.canary.subset))",
        _NO_SUBSET,
    ),
    (
        "!has(self.trafficRouting.gatewayAPI) || !has(self.steps) || self.steps.all(s, !has(s.setHeaderRoute) || "
        "s.setHeaderRoute.match.all(m, m.headers.all(h, !has(m.headers[h].prefix))))",
        _NO_PREFIX,
    ),
    (
        "!has(self.trafficRouting.gatewayAPI) || !has(self.steps) || !self.steps.exists(s, has(s.setHeaderRoute)) || "
        f"self.trafficRouting.gatewayAPI.httpRoutes.all(r, !has(r.rules) || size(r.rules) <= {_COLOURED_RULES})",
        _TOO_MANY_COLOURED,
    ),
    *HOOK_RULES,
)


class CanaryReleaseSpec(SpecModel):
    """A canary release: move traffic from the stable to the canary destination step by step, check the gates at
    every step, and put all traffic back on the stable destination the moment a check fails.

    With `workload`, the release follows a Deployment: every new revision of its pod template is a run, and a run
    that succeeds is promoted (the primary Deployment takes the new template, and all traffic returns to the
    stable destination once the primary has rolled it out). Without it, a release is one run: when the last step
    is done the canary carries 100 % and the release has Succeeded, and making the canary the new stable is the
    user's move."""

    model_config = ConfigDict(json_schema_extra=_SPEC_RULES)

    traffic_routing: TrafficRouting
    """Where the traffic split is applied."""

    stable: RouteDestination
    """The destination serving the current version; it gets what the canary does not."""

    canary: RouteDestination
    """The destination serving the new version."""

    workload: FollowedWorkload | None = None
    """The Deployment to follow: each new revision of its pod template starts a run, and success promotes it to
    the primary Deployment. Replaces `canaryWorkload` and `stableWorkload` (the workload and its primary)."""

    progress_deadline: Duration = timedelta(minutes=10)
    """How long a run may go without progress (a workload that never becomes ready, analyses that never pass, a
    promotion that does not complete) before `onProgressDeadline` applies. Time paused by a human, or waiting for
    one, does not count; a timed pause counts only once its time is up."""

    on_progress_deadline: Literal["rollback", "pause"] = "rollback"
    """What a run past its `progressDeadline` does: `rollback` fails it (all traffic to the stable destination);
    `pause` pauses it at its weight (Pending: holds at 0 %) with the `Stalled` condition. A promotion past its
    deadline is never rolled back (the canary, which passed, keeps all traffic): it is reported as Stalled."""

    canary_workload: WorkloadRef | None = None
    """The workload behind the canary destination. When given, no traffic is sent to the canary before it reports
    Available, and it becoming unavailable while it carries traffic counts as a failed check. Prometheus gates know
    it as `{{ canaryWorkload }}` (Istio's `destination_workload`)."""

    stable_workload: WorkloadRef | None = None
    """The workload behind the stable destination. graygate only uses its name: Prometheus gates know it as
    `{{ stableWorkload }}`, and the built-in metrics compare the canary with it."""

    steps: (
        Annotated[tuple[Step, ...], Field(min_length=1, max_length=64), AfterValidator(_steps_never_decrease)] | None
    ) = Field(
        default=None,
        json_schema_extra=rules(
            (
                "self.filter(s, has(s.setWeight)).map(s, s.setWeight).isSorted()",
                "weights must not decrease; to lower traffic, abort or let a gate roll the release back",
            )
        ),
    )
    """The plan, in order. Give either `steps` or `stepWeights`."""

    step_weights: (
        Annotated[tuple[Weight, ...], Field(min_length=1, max_length=64), AfterValidator(_weights_never_decrease)]
        | None
    ) = Field(
        default=None,
        json_schema_extra=rules(
            (
                "self.isSorted()",
                "weights must not decrease; to lower traffic, abort or let a gate roll the release back",
            )
        ),
    )
    """Shorthand for `steps`: `[10, 50]` means `setWeight: 10`, then `setWeight: 50`, each followed by a
    pause of `stepInterval` when that is given."""

    step_interval: Interval | None = None
    """With `stepWeights`: how long to hold each weight after it has passed its analysis."""

    analysis: Analysis = Field(default_factory=Analysis)
    """When the gates run and how their results add up."""

    config: ReleaseConfig | None = None
    """etcd keys that belong to the release: set just before the canary's first traffic, put back (guarded, in one
    transaction) when the release fails, is aborted, starts over or is deleted before it succeeded."""

    hooks: tuple[Hook, ...] = Field(
        default=(),
        max_length=MAX_HOOKS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Webhooks called at the stages of the release (Flagger's `preRollout`, `rollout`, `confirmRollout`,
    `confirmPromotion`, `postRollout`, `rollback`): approvals the release waits for, smoke tests before any
    traffic, an external kill switch, a notice after the end. See "Stage hooks" in the README."""

    notifications: Notifications | None = None
    """Where the release's transitions are announced (Slack, Teams, Discord, a webhook). Absent: the
    `graygate-notifications` ConfigMap of the release's namespace, else the operator's namespace's (the chart's
    `notifications` value)."""

    @model_validator(mode="after")
    def _consistent(self) -> CanaryReleaseSpec:
        if (self.steps is None) == (self.step_weights is None):
            raise ValueError("exactly one of steps or stepWeights must be given")
        if self.step_interval is not None and self.step_weights is None:
            raise ValueError("stepInterval goes with stepWeights; with steps, use pause")
        if self.stable == self.canary:
            raise ValueError("stable and canary must be different destinations")
        if self.traffic_routing.gateway_api is not None:
            self._check_gateway_api()
        if self.workload is not None and (self.canary_workload is not None or self.stable_workload is not None):
            raise ValueError(
                "workload names both sides (the canary is the workload, the stable side its primary); leave "
                "canaryWorkload and stableWorkload out"
            )
        if self.progress_deadline <= self.analysis.interval:
            raise ValueError(
                "progressDeadline must be longer than analysis.interval: a step needs at least one analysis to progress"
            )
        if self.workload is not None and self.workload.primary == self.workload.name:
            raise ValueError("workload.primary must differ from workload.name")
        for index, gate in enumerate(self.analysis.gates):
            if gate.prometheus is not None:
                self._check_prometheus_names(gate.name, gate.prometheus)
            if gate.initial_delay is not None and gate.initial_delay >= self.progress_deadline:
                deadline = format_duration(self.progress_deadline)
                raise at_field(
                    f"analysis.gates[{index}].initialDelay",
                    f"must be shorter than progressDeadline ({deadline}): the step would be past its deadline first",
                )
        check_hooks(self.hooks, self.analysis.gates, self.analysis.interval)
        return self

    def _check_gateway_api(self) -> None:
        if self.stable.subset is not None or self.canary.subset is not None:
            raise ValueError(_NO_SUBSET)
        coloured = [step.set_header_route for step in self.steps or () if step.set_header_route is not None]
        for header_route in coloured:
            for match in header_route.match:
                if any(value.prefix is not None for value in match.headers.values()):
                    raise ValueError(_NO_PREFIX)
        gateway = self.traffic_routing.gateway_api
        crowded = [ref for ref in gateway.http_routes if len(ref.rules or ()) > _COLOURED_RULES] if gateway else []
        if coloured and crowded:
            named = ", ".join(f"{ref.name} lists {len(ref.rules or ())}" for ref in crowded)
            raise ValueError(f"{_TOO_MANY_COLOURED} ({named})")

    def _check_prometheus_names(self, gate: str, check: Prometheus) -> None:
        """Every name a Prometheus gate needs must be in the spec, so no query is ever sent without it."""
        if check.builtin and (self.canary_deployment() is None or self.stable_deployment() is None):
            raise ValueError(f"gate {gate}: the built-in Prometheus metrics need canaryWorkload and stableWorkload")
        missing = {
            name: why
            for name, value, why in (
                ("canarySubset", self.canary.subset, "canary has no subset"),
                ("stableSubset", self.stable.subset, "stable has no subset"),
                ("canaryWorkload", self.canary_deployment(), "the spec has no canaryWorkload"),
                ("stableWorkload", self.stable_deployment(), "the spec has no stableWorkload"),
            )
            if value is None
        }
        templates = (("expr", check.query.expr), ("stableExpr", check.query.stable_expr)) if check.query else ()
        # The release's own values are written into the query now, so one that cannot stay a value where its
        # placeholder stands makes the release Invalid before any query is sent (`promql_quote`).
        known = {
            "canaryHost": self.canary.host,
            "stableHost": self.stable.host,
            "canarySubset": self.canary.subset,
            "stableSubset": self.stable.subset,
            "canaryWorkload": self.canary_deployment(),
            "stableWorkload": self.stable_deployment(),
        }
        for field, template in templates:
            if template is None:
                continue
            for name in variables_in(template):
                if name in missing:
                    raise ValueError(f"gate {gate}: the query uses {{{{ {name} }}}} but {missing[name]}")
            stand_ins = {name: known.get(name) or "x" for name in variables_in(template)}
            try:
                render_template(template, stand_ins)
            except UnsafeValue as error:
                raise ValueError(f"gate {gate}: prometheus.query.{field}: {error}") from None

    def canary_deployment(self) -> str | None:
        """The Deployment behind the canary destination: the followed workload, or `canaryWorkload`."""
        if self.workload is not None:
            return self.workload.name
        return self.canary_workload.name if self.canary_workload is not None else None

    def stable_deployment(self) -> str | None:
        """The Deployment behind the stable destination: the followed workload's primary, or `stableWorkload`."""
        if self.workload is not None:
            return self.workload.primary_name()
        return self.stable_workload.name if self.stable_workload is not None else None

    def plan_steps(self) -> tuple[Step, ...]:
        """The steps to run: `steps` as written, or `stepWeights` expanded."""
        if self.steps is not None:
            return self.steps
        expanded: list[Step] = []
        for weight in self.step_weights or ():
            expanded.append(Step(set_weight=weight))
            if self.step_interval is not None:
                expanded.append(Step(pause=PauseSpec(duration=self.step_interval)))
        return tuple(expanded)
