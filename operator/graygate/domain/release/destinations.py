"""Destinations that exist: the DestinationRule subsets a release routes to, checked before any traffic moves.

Why: a VirtualService route to `host: checkout, subset: canary` whose subset no DestinationRule defines gets no
endpoints from istiod, so Envoy answers 503 for that share of the requests; a subset whose `labels` select none of
the canary's pods does the same. Neither shows in the VirtualService, and the webhook accepts both. So a Pending
release whose `stable` or `canary` names a subset starts only once a DestinationRule defines each of them, and the
canary's subset selects the canary workload's pods.

How Istio finds the DestinationRule of a host, as far as graygate follows it: `spec.host` is resolved against the
DestinationRule's own namespace (`checkout` in `shop` is `checkout.shop.svc.cluster.local`), a wildcard
(`*.shop.svc.cluster.local`) matches any host below it, and an exact host outranks a wildcard. The rules are looked
for in the release's namespace first, then in the host's namespace, then in Istio's root namespace; the first of
those with a rule for the host decides, and its rules for that host are merged (their subsets together, the first
definition of a name winning), as istiod merges them. A rule of another namespace counts only where its `exportTo`
lets the release's namespace see it (none given: everywhere, Istio's default).

The limits: Istio looks from the namespace of the proxy that routes (a sidecar's, a gateway's), which graygate does
not know; it takes the release's namespace, where the VirtualService lives. A rule with a `workloadSelector`
applies only to some proxies; graygate counts it like any other. A mesh whose `defaultDestinationRuleExportTo` or
root namespace differs from Istio's defaults is read with those defaults.

Why wait rather than fail at once: a GitOps sync applies a release and its DestinationRule in no fixed order, so a
rule missing at first sight is often a moment away. The release holds at 0 % while one is missing, counted against
`progressDeadline` like a canary workload that is not Available yet, and fails (`PreCheckFailed`, whatever
`onProgressDeadline` says: there is no weight to pause at) once the deadline has passed with the subset still
missing. Traffic never moves while one is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus, Phase
from graygate.api.traffic import RouteDestination

__all__ = [
    "DEFAULT_CLUSTER_DOMAIN",
    "ROOT_NAMESPACE",
    "DestinationRuleSeen",
    "DestinationRulesReading",
    "SubsetSeen",
    "missing_destinations",
    "namespaces_to_read",
]

ROOT_NAMESPACE = "istio-system"
"""Istio's default root namespace: a DestinationRule there applies mesh-wide."""
DEFAULT_CLUSTER_DOMAIN = "cluster.local"

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SubsetSeen:
    """One entry of a DestinationRule's `spec.subsets`."""

    name: str
    labels: Labels = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationRuleSeen:
    """A DestinationRule as far as the check reads it: `host` as written in its spec."""

    namespace: str
    name: str
    host: str
    subsets: tuple[SubsetSeen, ...] = ()
    export_to: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationRulesReading:
    """The DestinationRules of the namespaces `namespaces_to_read` named, for a release in `namespace` (where its
    VirtualServices route from); `errors`, one per namespace that could not be read (`shop: forbidden: ...`)."""

    namespace: str
    rules: tuple[DestinationRuleSeen, ...] = ()
    errors: tuple[str, ...] = ()


def _routed_subsets(spec: CanaryReleaseSpec) -> tuple[tuple[str, RouteDestination], ...]:
    return tuple((side, dest) for side, dest in (("stable", spec.stable), ("canary", spec.canary)) if dest.subset)


def namespaces_to_read(
    namespace: str,
    spec: CanaryReleaseSpec,
    status: CanaryReleaseStatus,
    *,
    root: str = ROOT_NAMESPACE,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> tuple[str, ...] | None:
    """Where to look for the DestinationRules, in Istio's order, or None when there is nothing to check this tick:
    the release is not Pending (traffic moves only from Pending), or no destination names a subset."""
    if status.phase is not Phase.PENDING or status.observed_generation is None:
        return None
    routed = _routed_subsets(spec)
    if not routed:
        return None
    found = [namespace]
    for _, dest in routed:
        found.append(_host_namespace(_fqdn(dest.host, namespace, cluster_domain), cluster_domain) or namespace)
    found.append(root)
    return tuple(dict.fromkeys(found))


def missing_destinations(
    spec: CanaryReleaseSpec,
    reading: DestinationRulesReading,
    canary_pods: tuple[str, Labels] | None,
    *,
    root: str = ROOT_NAMESPACE,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> str | None:
    """What is missing for the release's subsets to have endpoints, in one message naming the host, the subset, the
    DestinationRules seen and what to fix; None when nothing is. `canary_pods` is the canary workload's label
    (`Deployment/checkout-canary`) and its pod template's labels, when known."""
    namespace = reading.namespace
    problems: list[str] = []
    for side, dest in _routed_subsets(spec):
        subset = dest.subset or ""
        host = _fqdn(dest.host, namespace, cluster_domain)
        rules = _rules_for(host, namespace, reading.rules, root, cluster_domain)
        where = f"{side} destination {dest.host} subset {subset}"
        if not rules:
            problems.append(f"{where}: {_no_rule(host, dest.host, subset, namespace, reading)}")
            continue
        merged = _merged_subsets(rules)
        names = ", ".join(r.label for r in rules)
        if subset not in merged:
            have = ", ".join(merged) or "none"
            problems.append(
                f"{where}: DestinationRule {names} has no subset {subset} (its subsets: {have}); add "
                f"`- name: {subset}` with labels that select the {side}'s pods to its spec.subsets"
            )
            continue
        if side == "canary" and canary_pods is not None:
            label, pods = canary_pods
            wanted = merged[subset]
            if not _selects(wanted, pods):
                problems.append(
                    f"{where}: the subset's labels ({_show(wanted)}) in DestinationRule {names} select no pod of "
                    f"{label} (its pod template's labels: {_show(pods) or 'none'}); make the subset's labels match "
                    f"the canary's pods"
                )
    if problems and reading.errors:
        problems.append(f"DestinationRules not read: {'; '.join(reading.errors)}")
    return "; ".join(problems) or None


def _no_rule(host: str, written: str, subset: str, namespace: str, reading: DestinationRulesReading) -> str:
    seen = ", ".join(f"{r.label} (host {r.host})" for r in reading.rules) or "none"
    return (
        f"no DestinationRule for host {host} (DestinationRules seen: {seen}); create one in namespace {namespace} "
        f"with spec.host: {written} and a subset named {subset} whose labels select the pods of that version"
    )


def _rules_for(
    host: str, namespace: str, rules: Sequence[DestinationRuleSeen], root: str, cluster_domain: str
) -> tuple[DestinationRuleSeen, ...]:
    """The rules that decide `host`'s subsets for a route in `namespace` (see the module docstring)."""
    order = [namespace, _host_namespace(host, cluster_domain) or namespace, root]
    for candidate in dict.fromkeys(order):
        visible = [r for r in rules if r.namespace == candidate and _exported(r, namespace)]
        exact = [r for r in visible if _fqdn(r.host, r.namespace, cluster_domain) == host]
        if exact:
            return tuple(exact)
        wild = [r for r in visible if _wildcard_matches(_fqdn(r.host, r.namespace, cluster_domain), host)]
        if wild:
            longest = max(len(r.host) for r in wild)
            return tuple(r for r in wild if len(r.host) == longest)
    return ()


def _merged_subsets(rules: Sequence[DestinationRuleSeen]) -> dict[str, Labels]:
    merged: dict[str, Labels] = {}
    for rule in rules:
        for subset in rule.subsets:
            merged.setdefault(subset.name, subset.labels)
    return merged


def _exported(rule: DestinationRuleSeen, namespace: str) -> bool:
    if rule.namespace == namespace or not rule.export_to:
        return True
    return "*" in rule.export_to or namespace in rule.export_to


def _selects(wanted: Labels, pods: Labels) -> bool:
    have: Mapping[str, str] = dict(pods)
    return all(have.get(key) == value for key, value in wanted)


def _show(labels: Labels) -> str:
    return ", ".join(f"{key}={value}" for key, value in labels)


def _fqdn(host: str, namespace: str, cluster_domain: str) -> str:
    """The host as Istio resolves it in an object of `namespace`: only a name without dots is expanded."""
    if host == "*" or "." in host or ":" in host:
        return host
    return f"{host}.{namespace}.svc.{cluster_domain}"


def _host_namespace(host: str, cluster_domain: str) -> str | None:
    """`shop` for `checkout.shop.svc.cluster.local`; None for a host outside the cluster's services."""
    suffix = f".svc.{cluster_domain}"
    if not host.endswith(suffix):
        return None
    parts = host[: -len(suffix)].split(".")
    return parts[1] if len(parts) == 2 else None


def _wildcard_matches(pattern: str, host: str) -> bool:
    return pattern == "*" or (pattern.startswith("*.") and host.endswith(pattern[1:]))
