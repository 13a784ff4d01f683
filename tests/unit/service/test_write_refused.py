"""A VirtualService write the API server refuses (Istio's validating webhook answers 400 with a `Status` whose
message says why): the refusal is reported with the API server's words, in the status, its conditions and an
Event, the routes stay as they were, and the release holds as for any route it cannot use; a refused move towards
stable stays the intent and is written again."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from kubernetes.client.exceptions import ApiException

from graygate.api import Phase
from graygate.errors import KubeError, RejectedError, RouterError
from graygate.kube.client import translate
from graygate.ports.routing import (
    RoutingProblemReason,
    TrafficSplit,
    TrafficTarget,
    VirtualServiceBody,
    VirtualServiceRef,
)
from graygate.routers.gateway_api import GatewayAPIRouter
from graygate.routers.istio import IstioRouter
from graygate.routers.refusals import REFUSAL_LIMIT
from tests.http_routes import backend, http_route, rule
from tests.unit.domain.release_builders import spec
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.unit.service.harness import Operator, user_vs
from tests.virtual_services import CANARY, STABLE, route, virtual_service

ISTIO_SAYS = (
    'admission webhook "validation.istio.io" denied the request: configuration is invalid: '
    'header match regex "(?=yes)" is invalid: error parsing regexp: invalid or unsupported Perl syntax: `(?=`'
)


def refusal(code: int, message: str) -> ApiException:
    """What the kubernetes client raises for a refused write: the API server's `Status` as the body."""
    error = ApiException(status=code, reason="Bad Request" if code == 400 else "Unprocessable Entity")
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}
    error.body = json.dumps(status)
    return error


class RefusingStore(InMemoryVirtualServiceStore):
    """The in-memory API server, with Istio's webhook refusing every replace while `refusing` holds its message."""

    refusing: str | None = None

    async def replace(self, namespace: str, name: str, body: VirtualServiceBody) -> VirtualServiceBody:
        if self.refusing is not None:
            self.replaces.append((namespace, name))
            raise translate(refusal(400, self.refusing), f"VirtualService {namespace}/{name}")
        return await super().replace(namespace, name, body)


# ---- the API server's answer, as graygate's error ----


@pytest.mark.parametrize("code", [400, 422])
def test_a_refused_object_carries_the_api_servers_message(code: int) -> None:
    error = translate(refusal(code, ISTIO_SAYS), "VirtualService shop/checkout")
    assert isinstance(error, RejectedError)
    assert error.message == ISTIO_SAYS
    assert str(error) == f"VirtualService shop/checkout: rejected ({code}): {ISTIO_SAYS}"


def test_a_refusal_without_a_status_body_carries_the_reason() -> None:
    error = translate(ApiException(status=400, reason="Bad Request"), "VirtualService shop/checkout")
    assert isinstance(error, RejectedError)
    assert error.message == "Bad Request"


@pytest.mark.parametrize("code", [401, 404, 409, 500])
def test_other_answers_are_not_refusals(code: int) -> None:
    error = translate(refusal(code, "no"), "VirtualService shop/checkout")
    assert isinstance(error, KubeError)
    assert not isinstance(error, RejectedError)


# ---- the router: a problem of that VirtualService, nothing written ----


def target() -> TrafficTarget:
    return TrafficTarget(
        namespace="shop", virtual_services=(VirtualServiceRef("checkout", ("primary",)),), stable=STABLE, canary=CANARY
    )


@pytest.mark.parametrize(
    ("said", "reported"),
    [
        (ISTIO_SAYS, ISTIO_SAYS),
        ("denied:\n  first problem\n  second problem", "denied: first problem second problem"),
        ("x" * 1000, "x" * (REFUSAL_LIMIT - 1) + "…"),
    ],
    ids=["as-said", "one-line", "trimmed"],
)
async def test_the_router_reports_a_refused_write_and_writes_nothing(said: str, reported: str) -> None:
    store = RefusingStore(user_vs())
    store.refusing = said
    before = store.current("shop", "checkout")
    result = await IstioRouter(store).set_split(target(), TrafficSplit(20))
    [problem] = result.problems
    assert problem.reason is RoutingProblemReason.WRITE_REFUSED
    assert problem.message == (
        f"the API server refused the write of VirtualService shop/checkout, which stays as it was: {reported}"
    )
    assert (result.written, result.unchanged) == ((), ())
    assert store.current("shop", "checkout") == before


# ---- the release: holds where it was and says why ----

PAUSE_AT_20 = spec(steps=[{"setWeight": 20}, {"pause": {}}])


async def test_a_refused_start_holds_the_release_at_zero_with_istios_message() -> None:
    store = RefusingStore(user_vs())
    operator = Operator(PAUSE_AT_20, store)
    store.refusing = ISTIO_SAYS
    for _ in range(3):
        assert await operator.tick(31) is None
    status = operator.slot.status
    assert (status.phase, status.canary_weight, operator.weight()) == (Phase.PENDING, 0, 0)
    assert store.replaces, "the start was tried"
    assert operator.statuses.last() == status, "the status on the server is the hold, not the refused intent"
    assert "cannot use the routes: checkout: WriteRefused: the API server refused the write" in status.message
    assert ISTIO_SAYS in status.message
    conditions = {condition.type: condition for condition in status.conditions}
    assert (conditions["Stalled"].status, conditions["Stalled"].reason) == ("True", "RouteUnavailable")
    assert ISTIO_SAYS in conditions["Stalled"].message
    assert conditions["TrafficInSync"].status == "False"
    [(kind, said)] = [(kind, note) for kind, reason, note in operator.events.posted if reason == "RouteUnavailable"]
    assert kind == "Warning"
    assert ISTIO_SAYS in said
    assert "Started" not in operator.events.reasons(), "nothing started"

    assert await operator.tick(31) is None
    assert [reason for reason in operator.events.reasons() if reason == "RouteUnavailable"] == ["RouteUnavailable"]

    store.refusing = None  # the VirtualService, or the spec, was fixed
    assert await operator.tick(31) is None
    assert (operator.slot.status.phase, operator.weight()) == (Phase.PROGRESSING, 20)


async def test_a_refused_rollback_stays_the_intent_and_its_event_says_why() -> None:
    store = RefusingStore(user_vs())
    operator = Operator(PAUSE_AT_20, store)
    for _ in range(3):
        assert await operator.tick(31) is None
    assert (operator.slot.status.phase, operator.weight()) == (Phase.PAUSED, 20)
    operator.probes.code = 500
    store.refusing = ISTIO_SAYS
    error = await operator.tick(31)
    assert isinstance(error, RouterError)
    assert error.reason == "WriteRefused"
    assert operator.slot.status.phase is Phase.FAILED, "a rollback is never taken back"
    assert operator.weight() == 20
    [said] = [note for reason, note in operator.events.notes() if reason == "RolledBack"]
    assert ISTIO_SAYS in said

    store.refusing = None
    assert await operator.tick(31) is None
    assert (operator.slot.status.phase, operator.weight()) == (Phase.FAILED, 0)


class RefusingOneStore(InMemoryVirtualServiceStore):
    """The in-memory API server, refusing every replace of the VirtualService `refused`, accepting the others."""

    refused: str | None = None

    async def replace(self, namespace: str, name: str, body: VirtualServiceBody) -> VirtualServiceBody:
        if name == self.refused:
            self.replaces.append((namespace, name))
            raise translate(refusal(400, ISTIO_SAYS), f"VirtualService {namespace}/{name}")
        return await super().replace(namespace, name, body)


async def test_an_advance_one_virtual_service_refused_leaves_none_of_them_advanced() -> None:
    payments = virtual_service("payments", route("primary"), namespace="shop")
    store = RefusingOneStore(user_vs(), payments)
    both = {"istio": {"virtualServices": [{"name": "checkout"}, {"name": "payments"}]}}
    operator = Operator(spec(steps=[{"setWeight": 20}, {"pause": {}}], trafficRouting=both), store)
    store.refused = "payments"
    for _ in range(3):
        assert await operator.tick(31) is None
        status = operator.slot.status
        assert (status.phase, status.canary_weight) == (Phase.PENDING, 0)
        assert store.current("shop", "checkout")["spec"] == user_vs()["spec"], "checkout never runs ahead"
        assert store.current("shop", "payments")["spec"] == payments["spec"]
    assert ("shop", "payments") in store.replaces
    assert ISTIO_SAYS in operator.slot.status.message

    store.refused = None
    assert await operator.tick(31) is None
    assert (operator.slot.status.phase, operator.weight()) == (Phase.PROGRESSING, 20)


async def test_colouring_an_http_route_without_room_holds_the_release_and_writes_nothing() -> None:
    others = (rule(f"r{i}", backend("assets"), path=f"/r{i}") for i in range(15))
    full = http_route("public", *others, rule("web", backend("checkout", 100)))
    store = InMemoryVirtualServiceStore(full)
    coloured = spec(
        trafficRouting={"gatewayAPI": {"httpRoutes": [{"name": "public", "rules": ["web"]}]}},
        stable={"host": "checkout", "port": 8080},
        canary={"host": "checkout-v2", "port": 8080},
        steps=[{"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "always"}}}]}}, {"pause": {}}],
    )
    operator = Operator(coloured, store)
    operator.deps = replace(operator.deps, router=GatewayAPIRouter(store))
    for _ in range(3):
        assert await operator.tick(31) is None
    status = operator.slot.status
    assert (status.phase, status.canary_weight) == (Phase.PENDING, 0)
    assert "cannot use the routes: public: HeaderRulesDoNotFit: HTTPRoute shop/public cannot take" in status.message
    assert "17 rules, over the 16 an HTTPRoute holds" in status.message
    assert store.replaces == []
    assert store.current("shop", "public")["spec"] == full["spec"]
    assert "Started" not in operator.events.reasons()
