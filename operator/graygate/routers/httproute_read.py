"""Reading a Gateway API HTTPRoute: which rules graygate manages, their weights, and their snapshot.

Why pure, and why the same shape as ``virtualservice_read.py``: every decision about an HTTPRoute (which rule is
ours, which backendRef is stable, is it safe to shift weight) is a table test with no API server; ``gateway_api.py``
only adds the get/replace loop. Rules are chosen by ``spec.rules[].name``; a lone unnamed managed rule is found
among the rules that are not header rules (``header_routes.is_header_route``), so a release's own header rule is
never taken for the rule it colours.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from graygate.errors import InvalidRouteError, RouteNotFoundError, RouterError
from graygate.ports.routing import (
    Destination,
    HTTPRouteBody,
    RouteSnapshot,
    RouteWeights,
    RoutingProblem,
    RoutingProblemReason,
)
from graygate.routers import header_routes
from graygate.routers.httproute_view import (
    BackendMatcher,
    HTTPRouteView,
    RuleView,
    describe_backend,
    effective_weights,
    parse_view,
    rule_label,
)

__all__ = ["Inspection", "ManagedRule", "inspect_rules", "read_weights", "routing_error", "select_rules", "snapshot"]

_Reason = RoutingProblemReason


@dataclass(frozen=True)
class ManagedRule:
    """A rule graygate manages, as found: where it and its two backendRefs are, and the weights it applies."""

    index: int  # position in spec.rules
    name: str | None
    stable_index: int  # position in the rule's backendRefs
    canary_index: int | None
    weights: tuple[int, ...]

    @property
    def stable_weight(self) -> int:
        return self.weights[self.stable_index]

    @property
    def canary_weight(self) -> int:
        return 0 if self.canary_index is None else self.weights[self.canary_index]


def select_rules(view: HTTPRouteView, rule_names: Sequence[str] | None) -> list[tuple[int, RuleView]] | RoutingProblem:
    """The rules graygate manages, chosen by name only."""
    rules = view.spec.rules
    labels = ", ".join(rule_label(rule, i) for i, rule in enumerate(rules)) or "none"
    if not rule_names:
        own = [(i, rule) for i, rule in enumerate(rules) if not header_routes.is_header_route(rule.name)]
        if len(own) == 1:
            return own
        return RoutingProblem(
            view.metadata.name,
            _Reason.AMBIGUOUS_ROUTE,
            f"HTTPRoute {view.display_name} has {len(rules)} rules ({labels}); "
            "name the rules graygate should manage in the release (spec.rules[].name)",
        )
    selected: list[tuple[int, RuleView]] = []
    for name in dict.fromkeys(rule_names):
        indices = [i for i, rule in enumerate(rules) if rule.name == name]
        if not indices:
            return RoutingProblem(
                view.metadata.name,
                _Reason.RULE_NOT_FOUND,
                f"HTTPRoute {view.display_name} has no rule named '{name}' (its rules: {labels})",
            )
        if len(indices) > 1:
            return RoutingProblem(
                view.metadata.name,
                _Reason.AMBIGUOUS_ROUTE,
                f"HTTPRoute {view.display_name} has {len(indices)} rules named '{name}'; "
                "rule names must be unique for graygate to know which one to shift",
            )
        selected.append((indices[0], rules[indices[0]]))
    return selected


def _inspect_rule(
    view: HTTPRouteView, index: int, rule: RuleView, stable: Destination, canary: Destination, matcher: BackendMatcher
) -> ManagedRule | RoutingProblem:
    where = f"rule {rule_label(rule, index)} of HTTPRoute {view.display_name}"

    def problem(reason: RoutingProblemReason, message: str) -> RoutingProblem:
        return RoutingProblem(view.metadata.name, reason, f"{where} {message}")

    refs = rule.backend_refs
    stable_hits = [i for i, ref in enumerate(refs) if matcher.matches(ref, stable)]
    canary_hits = [i for i, ref in enumerate(refs) if matcher.matches(ref, canary)]
    routed = ", ".join(describe_backend(ref) for ref in refs) or "nothing"
    for i in set(stable_hits) & set(canary_hits):
        return problem(
            _Reason.DUPLICATE_DESTINATION,
            f"has backendRef {describe_backend(refs[i])} matching both stable ({stable}) and canary ({canary}); "
            "give them distinct Services or ports",
        )
    if not stable_hits:
        return problem(
            _Reason.STABLE_NOT_ROUTED, f"has no backendRef to the stable Service {stable} (it has: {routed})"
        )
    for wanted, hits in (("stable", stable_hits), ("canary", canary_hits)):
        if len(hits) > 1:
            return problem(
                _Reason.DUPLICATE_DESTINATION,
                f"lists the {wanted} backend {len(hits)} times ({routed}); keep one backendRef per Service",
            )
    weights = effective_weights(rule)
    for i, ref in enumerate(refs):
        if i not in stable_hits and i not in canary_hits and weights[i] > 0:
            return problem(
                _Reason.FOREIGN_WEIGHT,
                f"also sends weight {weights[i]} to {describe_backend(ref)}, which is neither stable nor canary; "
                "graygate cannot keep the weights summing to 100 without taking traffic from it. Set its weight "
                "to 0 or move it to a rule of its own",
            )
    return ManagedRule(
        index=index,
        name=rule.name,
        stable_index=stable_hits[0],
        canary_index=canary_hits[0] if canary_hits else None,
        weights=weights,
    )


@dataclass(frozen=True)
class Inspection:
    """An HTTPRoute whose managed rules can all be shifted, with those rules."""

    view: HTTPRouteView
    rules: list[ManagedRule]


def inspect_rules(
    route: HTTPRouteBody, rule_names: Sequence[str] | None, stable: Destination, canary: Destination
) -> Inspection | RoutingProblem:
    """The managed rules of ``route``, or the first reason graygate cannot shift their weights."""
    view = parse_view(route)
    if isinstance(view, RoutingProblem):
        return view
    selected = select_rules(view, rule_names)
    if isinstance(selected, RoutingProblem):
        return selected
    matcher = BackendMatcher(view.metadata.namespace)
    managed: list[ManagedRule] = []
    for index, rule in selected:
        inspected = _inspect_rule(view, index, rule, stable, canary, matcher)
        if isinstance(inspected, RoutingProblem):
            return inspected
        managed.append(inspected)
    return Inspection(view, managed)


def routing_error(problem: RoutingProblem) -> RouterError:
    """``problem`` as the error a write raises (a read returns the problem instead)."""
    not_found = {_Reason.HTTP_ROUTE_NOT_FOUND, _Reason.RULE_NOT_FOUND}
    error_type = RouteNotFoundError if problem.reason in not_found else InvalidRouteError
    return error_type(problem.message, reason=problem.reason)


def read_weights(
    route: HTTPRouteBody,
    rule_names: Sequence[str] | None,
    stable: Destination,
    canary: Destination,
    *,
    release: str | None = None,
) -> tuple[RouteWeights, ...] | RoutingProblem:
    """The actual (stable, canary) split of each managed rule, or the first reason it cannot be trusted.

    A canary backendRef that is not listed reads as weight 0; a rule whose traffic all goes to one of the two
    backends reads 100 for it, whatever its weight, since Gateway API weights are proportions. ``rule_names`` None
    or empty: the HTTPRoute must have exactly one rule (header rules aside). With ``release``, each reading also
    says whether that release's header rule for it exists.
    """
    inspection = inspect_rules(route, rule_names, stable, canary)
    if isinstance(inspection, RoutingProblem):
        return inspection
    view = inspection.view
    for rule in inspection.rules:
        if sum(rule.weights) != 100 and not _one_sided(rule):
            label = rule_label(view.spec.rules[rule.index], rule.index)
            return RoutingProblem(
                view.metadata.name,
                _Reason.WEIGHTS_NOT_100,
                f"rule {label} of HTTPRoute {view.display_name} has backendRef weights {list(rule.weights)} "
                f"summing to {sum(rule.weights)}, not 100, so the canary's share is not what it says; "
                "setting a canary weight rewrites them",
            )
    names = {rule.name for rule in view.spec.rules}
    return tuple(
        RouteWeights(
            rule.name,
            100 if _one_sided(rule) and rule.stable_weight else rule.stable_weight,
            100 if _one_sided(rule) and rule.canary_weight else rule.canary_weight,
            header_route=release is not None and header_routes.header_route_name(release, rule.name) in names,
        )
        for rule in inspection.rules
    )


def _one_sided(rule: ManagedRule) -> bool:
    """Whether all of the rule's traffic goes to one of its two backends (any other is at 0, ``_inspect_rule``
    saw to that): Gateway API weights are proportions, so ``[stable 1, canary 0]`` (an omitted weight is 1) sends
    100 % to stable whatever the numbers add up to."""
    return (rule.stable_weight == 0) != (rule.canary_weight == 0)


def snapshot(route: HTTPRouteBody, rule_names: Sequence[str] | None) -> list[RouteSnapshot]:
    """The managed rules exactly as they are now, as JSON text fit for the release status."""
    view = parse_view(route)
    if isinstance(view, RoutingProblem):
        raise routing_error(view)
    selected = select_rules(view, rule_names)
    if isinstance(selected, RoutingProblem):
        raise routing_error(selected)
    rules = route["spec"]["rules"]
    return [
        RouteSnapshot(
            virtual_service=view.metadata.name,
            route=rule.name,
            route_json=json.dumps(rules[index], separators=(",", ":"), ensure_ascii=False, allow_nan=False),
            kind="HTTPRoute",
        )
        for index, rule in selected
    ]
