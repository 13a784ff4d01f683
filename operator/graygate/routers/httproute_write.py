"""Rewriting the backendRef weights and header rules of a Gateway API HTTPRoute, as pure functions over its JSON.

Why writes go through the dict: every write starts from a deep copy of the original JSON and assigns only the
``weight`` of the stable and canary backendRefs (or inserts the canary's), so everything else goes back
byte-for-byte, key order included.

Header rules. Colouring inserts, directly before each managed rule, a rule named as the Istio header routes are
(``graygate-<release>-header[-<rule>]``, see ``header_routes``) whose matches are the managed rule's own matches with
the colouring headers added, and whose one backendRef is the canary. Gateway API does not order rules by position: it
picks the most specific match, and among equal paths and methods the one with the most header matches, so the
header rule wins exactly the requests that carry the headers and would have reached the managed rule; it keeps the
managed rule's filters and timeouts, so only the backend differs. The rule is
written complete, with the values the CRD would default (path ``PathPrefix /``, header ``type``, backendRef
``group``, ``kind`` and ``weight``), so what the API server stores is what the next tick computes and an unchanged
rule is never written again.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence

from pydantic import JsonValue

from graygate.api import gateway_limits as limits
from graygate.errors import InvalidRouteError
from graygate.ports.routing import (
    Destination,
    HeaderRoute,
    HTTPRouteBody,
    RouteSnapshot,
    RoutingProblem,
    RoutingProblemReason,
    TrafficSplit,
)
from graygate.routers import header_routes
from graygate.routers.httproute_read import inspect_rules, routing_error, select_rules
from graygate.routers.httproute_view import parse_view

__all__ = ["restore", "with_canary_weight", "with_split"]

_DEFAULT_MATCH: dict[str, JsonValue] = {"path": {"type": "PathPrefix", "value": "/"}}
_HEADER_TYPES = {"exact": "Exact", "regex": "RegularExpression"}


def with_canary_weight(
    route: HTTPRouteBody,
    rule_names: Sequence[str] | None,
    stable: Destination,
    canary: Destination,
    canary_weight: int,
) -> HTTPRouteBody:
    """A deep copy of ``route`` whose managed rules send ``canary_weight`` % to canary and the rest to stable.

    Only those two ``weight`` values change. A missing canary backendRef is inserted right after the stable one
    (group, kind and port copied from it unless ``canary`` names its own port), only for a weight above 0. A rule
    already at the asked split is left as it is, so the result equals ``route`` when nothing needs to change.
    Raises ``RouterError`` for any problem ``read_weights`` reports, except weights not summing to 100.
    """
    if isinstance(canary_weight, bool) or not 0 <= canary_weight <= 100:
        raise ValueError(f"canary weight must be an integer from 0 to 100, got {canary_weight!r}")
    inspection = inspect_rules(route, rule_names, stable, canary)
    if isinstance(inspection, RoutingProblem):
        raise routing_error(inspection)
    result = copy.deepcopy(route)
    for rule in inspection.rules:
        refs = result["spec"]["rules"][rule.index]["backendRefs"]
        if (rule.stable_weight, rule.canary_weight) == (100 - canary_weight, canary_weight):
            continue
        refs[rule.stable_index]["weight"] = 100 - canary_weight
        if rule.canary_index is not None:
            refs[rule.canary_index]["weight"] = canary_weight
        elif canary_weight > 0:
            refs.insert(rule.stable_index + 1, _canary_ref(refs[rule.stable_index], canary, canary_weight))
    return result


def _canary_ref(stable_ref: dict[str, JsonValue], canary: Destination, weight: int) -> dict[str, JsonValue]:
    ref: dict[str, JsonValue] = {key: copy.deepcopy(stable_ref[key]) for key in ("group", "kind") if key in stable_ref}
    ref["name"] = canary.host
    if "namespace" in stable_ref:
        ref["namespace"] = stable_ref["namespace"]
    port = canary.port if canary.port is not None else stable_ref.get("port")
    if port is not None:
        ref["port"] = port
    ref["weight"] = weight
    return ref


def with_split(
    route: HTTPRouteBody,
    rule_names: Sequence[str] | None,
    stable: Destination,
    canary: Destination,
    split: TrafficSplit,
    *,
    release: str | None,
) -> HTTPRouteBody:
    """``with_canary_weight``, then (given the ``release``) exactly ``split.header_routes`` as header rules before
    the managed rules: inserted, rewritten or removed as needed. Equal to ``route`` when nothing needs to change."""
    result = with_canary_weight(route, rule_names, stable, canary, split.canary_weight)
    if release is None:
        return result
    inspection = inspect_rules(result, rule_names, stable, canary)
    if isinstance(inspection, RoutingProblem):
        raise routing_error(inspection)
    rules = result["spec"]["rules"]
    wanted: dict[int, dict[str, JsonValue]] = {}
    if split.header_routes:
        for rule in inspection.rules:
            own = rules[rule.index]
            stable_ref = own["backendRefs"][rule.stable_index]
            header_rule: dict[str, JsonValue] = {
                "name": header_routes.header_route_name(release, rule.name),
                "matches": _matches(own.get("matches"), split.header_routes),
                "backendRefs": [{"group": "", "kind": "Service", **_canary_ref(stable_ref, canary, 1)}],
            }
            # The managed rule's filters and timeouts apply to coloured requests too: only the backend differs.
            header_rule.update({key: copy.deepcopy(own[key]) for key in ("filters", "timeouts") if key in own})
            wanted[rule.index] = header_rule
    rebuilt: list[JsonValue] = []
    for index, rule in enumerate(rules):
        if isinstance(rule, dict) and header_routes.owned_by(rule.get("name"), release):
            continue
        if index in wanted:
            rebuilt.append(wanted[index])
        rebuilt.append(rule)
    if wanted:
        _check_room(inspection.view.display_name, rebuilt, list(wanted.values()))
    result["spec"]["rules"] = rebuilt
    return result


def _check_room(where: str, rules: Sequence[JsonValue], added: Sequence[dict[str, JsonValue]]) -> None:
    """Raise ``InvalidRouteError`` when the HTTPRoute with the ``added`` header rules would break a bound of Gateway
    API's CRD: so that colouring that cannot fit is reported before any HTTPRoute is written, not refused by the
    API server after some were."""
    problems: list[str] = []
    if len(rules) > limits.MAX_RULES:
        problems.append(f"{len(rules)} rules, over the {limits.MAX_RULES} an HTTPRoute holds (spec.rules)")
    total = sum(len(_listed(rule, "matches")) or 1 for rule in rules if isinstance(rule, dict))
    if total > limits.MAX_MATCHES:
        problems.append(f"{total} matches in all, over the {limits.MAX_MATCHES} an HTTPRoute holds")
    for rule in added:
        name, matches = str(rule["name"]), _listed(rule, "matches")
        if len(name) > limits.MAX_RULE_NAME:
            problems.append(f"a rule named in {len(name)} characters, over {limits.MAX_RULE_NAME} (rules[].name)")
        if len(matches) > limits.MAX_MATCHES_PER_RULE:
            problems.append(f"{len(matches)} matches in {name}, over {limits.MAX_MATCHES_PER_RULE} (rules[].matches)")
        if any(len(_listed(match, "headers")) > limits.MAX_HEADERS_PER_MATCH for match in matches):
            problems.append(f"a match of {name} with over {limits.MAX_HEADERS_PER_MATCH} headers (matches[].headers)")
    if problems:
        raise InvalidRouteError(
            f"HTTPRoute {where} cannot take this release's {len(added)} header rule(s): it would have "
            f"{'; '.join(problems)}. Colour fewer rules, with fewer matches or shorter names, or make room in it",
            reason=RoutingProblemReason.HEADER_RULES_DO_NOT_FIT,
        )


def _listed(node: JsonValue, key: str) -> list[JsonValue]:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, list) else []


def _matches(own: JsonValue, routes: Sequence[HeaderRoute]) -> list[JsonValue]:
    """Every (own match, header route) pair as one HTTPRouteMatch: Gateway API ORs ``matches`` and ANDs the parts
    of each, so the header rule takes only requests the managed rule would have taken, and only coloured ones."""
    bases = list(own) if isinstance(own, list) and own else [_DEFAULT_MATCH]
    combined: list[JsonValue] = []
    for base in bases:
        for header_route in routes:
            entry: dict[str, JsonValue] = copy.deepcopy(base) if isinstance(base, dict) else {}
            entry.setdefault("path", copy.deepcopy(_DEFAULT_MATCH["path"]))
            ours = {header.name for header in header_route.headers}
            existing = entry.get("headers")
            kept = [
                header
                for header in (existing if isinstance(existing, list) else [])
                if not (isinstance(header, dict) and str(header.get("name", "")).lower() in ours)
            ]
            added: list[JsonValue] = [
                {"name": header.name, "type": _HEADER_TYPES[header.kind], "value": header.value}
                for header in header_route.headers
            ]
            entry["headers"] = [*kept, *added]
            combined.append(entry)
    return combined


def restore(route: HTTPRouteBody, snapshots: Sequence[RouteSnapshot], *, release: str | None = None) -> HTTPRouteBody:
    """A deep copy of ``route`` with each snapshotted rule of this HTTPRoute put back exactly, and without any header
    rule of ``release``. Snapshots of other objects are ignored; a rule gone since the snapshot raises
    ``RouteNotFoundError`` rather than guessing where it belonged."""
    view = parse_view(route)
    if isinstance(view, RoutingProblem):
        raise routing_error(view)
    result = copy.deepcopy(route)
    for saved in snapshots:
        if saved.kind != "HTTPRoute" or saved.virtual_service != view.metadata.name:
            continue
        selected = select_rules(view, None if saved.route is None else [saved.route])
        if isinstance(selected, RoutingProblem):
            raise routing_error(selected)
        [(index, _rule)] = selected
        result["spec"]["rules"][index] = json.loads(saved.route_json)
    if release is None:
        return result
    result["spec"]["rules"] = [
        rule
        for rule in result["spec"]["rules"]
        if not (isinstance(rule, dict) and header_routes.owned_by(rule.get("name"), release))
    ]
    return result
