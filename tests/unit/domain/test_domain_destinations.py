"""Destinations that exist: which DestinationRules define a release's subsets, and what a Pending release does
while one is missing. Traffic never moves while a subset is missing; past `progressDeadline` the release fails at
0 % with a message naming the host, the subset, the rules seen and what to fix."""

from __future__ import annotations

from dataclasses import replace

import pytest
from release_builders import T0, at, check, observe, spec, status

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus, Phase
from graygate.domain.analysis.measurements import WorkloadReading
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Advance, Hold, Reason, Rollback
from graygate.domain.release.destinations import (
    DestinationRuleSeen,
    DestinationRulesReading,
    SubsetSeen,
    missing_destinations,
    namespaces_to_read,
)
from graygate.domain.release.observations import Observations

NS = "shop"
CANARY_PODS = (("app", "checkout"), ("version", "v2"))
STABLE = SubsetSeen(name="stable", labels=(("version", "v1"),))
CANARY = SubsetSeen(name="canary", labels=(("version", "v2"),))


def rule(
    *subsets: SubsetSeen,
    host: str = "checkout",
    namespace: str = NS,
    name: str = "checkout",
    export: tuple[str, ...] = (),
) -> DestinationRuleSeen:
    return DestinationRuleSeen(namespace=namespace, name=name, host=host, subsets=subsets, export_to=export)


def reading(*rules: DestinationRuleSeen, errors: tuple[str, ...] = ()) -> DestinationRulesReading:
    return DestinationRulesReading(namespace=NS, rules=rules, errors=errors)


BASE = spec()
HOST_ONLY = spec(stable={"host": "checkout-stable"}, canary={"host": "checkout-canary"})
FQDN = spec(
    stable={"host": "checkout.pay.svc.cluster.local", "subset": "stable"},
    canary={"host": "checkout.pay.svc.cluster.local", "subset": "canary"},
)


# ---- which DestinationRules decide a subset ----


@pytest.mark.parametrize(
    ("release", "seen", "pods", "missing"),
    [
        (BASE, reading(rule(STABLE, CANARY)), CANARY_PODS, ()),
        (BASE, reading(rule(STABLE, CANARY)), None, ()),
        (BASE, reading(), CANARY_PODS, ("stable destination checkout subset stable", "canary destination checkout")),
        (BASE, reading(rule(STABLE)), CANARY_PODS,
         ("canary destination checkout subset canary", "its subsets: stable")),
        (BASE, reading(rule(STABLE, SubsetSeen(name="canary", labels=(("version", "v3"),)))), CANARY_PODS,
         ("version=v3", "select no pod of Deployment/checkout-canary", "app=checkout, version=v2")),
        (BASE, reading(rule(STABLE, SubsetSeen(name="canary"))), CANARY_PODS, ()),
        (BASE, reading(rule(STABLE, CANARY, host="checkout.shop.svc.cluster.local")), CANARY_PODS, ()),
        (BASE, reading(rule(STABLE, CANARY, host="checkout", namespace="pay")), CANARY_PODS,
         ("no DestinationRule for host checkout.shop.svc.cluster.local", "pay/checkout (host checkout)")),
        (BASE, reading(rule(STABLE), rule(CANARY, name="checkout-canary")), CANARY_PODS, ()),
        (BASE, reading(rule(STABLE, CANARY, host="*.shop.svc.cluster.local", namespace="istio-system")), CANARY_PODS,
         ()),
        (BASE, reading(rule(STABLE, CANARY, namespace="istio-system", export=("other",))), CANARY_PODS,
         ("no DestinationRule for host",)),
        (BASE, reading(rule(STABLE), rule(STABLE, CANARY, namespace="istio-system")), CANARY_PODS,
         ("DestinationRule shop/checkout has no subset canary",)),
        (FQDN, reading(rule(STABLE, CANARY, namespace="pay")), CANARY_PODS, ()),
        (FQDN, reading(rule(STABLE, CANARY, namespace="pay", export=(".",))), CANARY_PODS,
         ("no DestinationRule for host checkout.pay.svc.cluster.local",)),
        (FQDN, reading(rule(STABLE, CANARY, namespace="pay", export=("shop",))), CANARY_PODS, ()),
        (HOST_ONLY, reading(), CANARY_PODS, ()),
        (BASE, reading(errors=("istio-system: forbidden",)), CANARY_PODS, ("not read: istio-system: forbidden",)),
        (BASE, reading(rule(STABLE, CANARY), errors=("istio-system: forbidden",)), CANARY_PODS, ()),
    ],
    ids=[
        "both-subsets-defined",
        "pods-unknown",
        "no-rule-at-all",
        "canary-subset-missing",
        "labels-select-no-canary-pod",
        "subset-without-labels-selects-all",
        "rule-host-written-in-full",
        "rule-of-another-namespace-for-its-own-host",
        "two-rules-merged",
        "root-namespace-wildcard",
        "root-namespace-not-exported-here",
        "first-namespace-decides",
        "host-namespace-rule",
        "host-namespace-rule-kept-private",
        "host-namespace-rule-exported-here",
        "no-subsets-nothing-to-check",
        "unreadable-namespace-named",
        "unreadable-namespace-does-not-matter-when-found",
    ],
)  # fmt: skip
def test_missing_destinations(
    release: CanaryReleaseSpec,
    seen: DestinationRulesReading,
    pods: tuple[tuple[str, str], ...] | None,
    missing: tuple[str, ...],
) -> None:
    found = missing_destinations(release, seen, ("Deployment/checkout-canary", pods) if pods is not None else None)
    if not missing:
        assert found is None
    else:
        assert found is not None
        for part in missing:
            assert part in found


def test_a_missing_rule_names_what_to_create() -> None:
    found = missing_destinations(BASE, reading(), None)
    assert found is not None
    assert "canary destination checkout subset canary: no DestinationRule for host checkout.shop.svc.cluster.local" in (
        found
    )
    assert "DestinationRules seen: none" in found
    assert "create one in namespace shop with spec.host: checkout and a subset named canary" in found


@pytest.mark.parametrize(
    ("release", "before", "where"),
    [
        (BASE, status(Phase.PENDING), ("shop", "istio-system")),
        (FQDN, status(Phase.PENDING), ("shop", "pay", "istio-system")),
        (HOST_ONLY, status(Phase.PENDING), None),
        (BASE, status(Phase.PROGRESSING), None),
        (BASE, status(Phase.PENDING, observed_generation=None), None),
    ],
    ids=["pending", "host-in-another-namespace", "no-subsets", "progressing", "first-sight"],
)
def test_namespaces_to_read(
    release: CanaryReleaseSpec, before: CanaryReleaseStatus, where: tuple[str, ...] | None
) -> None:
    assert namespaces_to_read(NS, release, before) == where


# ---- what a Pending release does ----

NO_GATES = spec(analysis={"interval": "30s"}, progressDeadline="10m")
PENDING = status(Phase.PENDING, progress_at=T0, next_check_at=None, step_started_at=None)
AVAILABLE = WorkloadReading(kind="Deployment", name="checkout-canary", available=True, pod_labels=CANARY_PODS)


def seen(destinations: DestinationRulesReading | None, workload: WorkloadReading | None = AVAILABLE) -> Observations:
    observed: Observations = replace(observe(0, workload=workload), destinations=destinations)
    return observed


@pytest.mark.parametrize("policy", ["rollback", "pause"])
def test_a_missing_subset_holds_at_zero_then_fails_at_the_deadline(policy: str) -> None:
    release = spec(analysis={"interval": "30s"}, progressDeadline="10m", onProgressDeadline=policy)
    held = decide(release, PENDING, seen(reading(rule(STABLE))), at(60))
    check(held, Hold, Phase.PENDING, None, Reason.DESTINATION_MISSING)
    assert held.event == "Warning"
    assert "waiting for its destinations to exist: canary destination checkout subset canary" in held.message

    again = decide(release, held.status, seen(reading(rule(STABLE))), at(90))
    assert again.event is None  # the same hold is announced once

    failed = decide(release, held.status, seen(reading(rule(STABLE))), at(11 * 60))
    check(failed, Rollback, Phase.FAILED, 0, Reason.PRE_CHECK_FAILED)
    assert "past progressDeadline 10m" in failed.message
    assert "failed with the canary never having had traffic" in failed.message
    assert "has no subset canary" in failed.message


def test_a_rule_applied_later_lets_the_release_start() -> None:
    held = decide(NO_GATES, PENDING, seen(reading()), at(60))
    check(held, Hold, Phase.PENDING, None, Reason.DESTINATION_MISSING)
    started = decide(NO_GATES, held.status, seen(reading(rule(STABLE, CANARY))), at(90))
    check(started, Advance, Phase.PROGRESSING, 10, Reason.STARTED)


def test_labels_that_select_no_canary_pod_hold_the_release() -> None:
    wrong = rule(STABLE, SubsetSeen(name="canary", labels=(("version", "v3"),)))
    held = decide(NO_GATES, PENDING, seen(reading(wrong)), at(60))
    check(held, Hold, Phase.PENDING, None, Reason.DESTINATION_MISSING)
    assert "select no pod of Deployment/checkout-canary" in held.message


def test_nothing_read_nothing_checked() -> None:
    started = decide(NO_GATES, PENDING, seen(None), at(60))
    check(started, Advance, Phase.PROGRESSING, 10, Reason.STARTED)


def test_an_unavailable_workload_is_waited_for_first() -> None:
    starting = WorkloadReading(kind="Deployment", name="checkout-canary", available=False, pod_labels=CANARY_PODS)
    held = decide(NO_GATES, PENDING, seen(reading(), starting), at(60))
    check(held, Hold, Phase.PENDING, None, Reason.WAITING_FOR_WORKLOAD)
