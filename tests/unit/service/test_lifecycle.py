"""A release's ticks and its deletion as the handlers run them (`graygate.lifecycle`), over the real service, domain
and Istio router: a revert that failed to reach the VirtualService is retried and never undone, a deletion never
overlaps a tick, a deletion restores the routes from the recorded snapshots alone (unless another release holds
them), and an unexpected error is counted and retried like any other."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import pytest

from graygate.api import OriginalRoute, Phase
from graygate.api.validation import InvalidSpec
from graygate.domain.release.claims import ALL_ROUTES, Claim, RouteKey
from graygate.errors import ApiUnavailableError, ConflictError, ForbiddenError, GateError
from graygate.handlers import retry_after
from graygate.routers.registry import ROUTERS, RouterClients, TargetRouter
from tests import http_routes as gateway
from tests.unit.domain.release_builders import spec
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.unit.service.harness import CREATED, Boom, Operator, user_vs

PAUSE_AT_20 = spec(steps=[{"setWeight": 20}, {"pause": {}}])
TWO_STEPS = spec(steps=[{"setWeight": 20}, {"setWeight": 50}])


async def paused_at_20() -> Operator:
    operator = Operator(PAUSE_AT_20)
    for _ in range(3):
        assert await operator.tick(31) is None
    assert (operator.slot.status.phase, operator.weight()) == (Phase.PAUSED, 20)
    return operator


def sample(operator: Operator, name: str, **labels: str) -> float:
    value = operator.metrics.registry.get_sample_value(name, {"namespace": "shop", "release": "checkout", **labels})
    return value or 0.0  # a series never written reads as 0


async def test_a_rollback_whose_restore_failed_is_retried_and_never_undone() -> None:
    operator = await paused_at_20()
    events = operator.events
    events.posted.clear()  # only the Events from here on
    operator.probes.code = 500
    operator.store.concurrent_edits = [lambda body: None] * 3  # every attempt of the restore meets a conflict
    error = await operator.tick(31)
    assert isinstance(error, ConflictError)
    assert operator.statuses.last().phase is Phase.FAILED, "the rollback's status was written"
    assert operator.weight() == 20, "but the restore did not reach the VirtualService"
    [said] = [note for reason, note in events.notes() if reason == "RolledBack"]
    assert "critical gate health failed" in said, "the rollback's Event names the gate"
    assert "ConflictError" in said, "and says its traffic change has not landed yet"
    assert sample(operator, "graygate_rollbacks_total") == 1
    assert sample(operator, "graygate_gate_verdicts_total", gate="health", verdict="Fail", dry_run="false") == 1
    assert sample(operator, "graygate_time_to_rollback_seconds_count") == 0, "the weights are not back yet"

    operator.probes.code = 200  # the flapping gate passes again
    events.posted.clear()
    for _ in range(3):
        assert await operator.tick(31) is None
        assert operator.weight() == 0
        assert (operator.statuses.last().phase, operator.statuses.last().canary_weight) == (Phase.FAILED, 0)
    assert operator.store.current("shop", "checkout")["spec"] == user_vs()["spec"]
    [(reason, said)] = events.notes()  # the retry that wrote the weights back; the ticks after it post nothing
    assert (reason, said) == ("DriftCorrected", "drift: wanted 0% on the canary, found checkout/primary at 20%; "
                                                "setting it again")  # fmt: skip
    assert sample(operator, "graygate_rollbacks_total") == 1, "the retry is not another rollback"
    assert sample(operator, "graygate_gate_verdicts_total", gate="health", verdict="Fail", dry_run="false") == 1
    assert sample(operator, "graygate_time_to_rollback_seconds_count") == 1, "observed when the weights were written"


async def test_a_deletion_waits_for_the_tick_in_flight_and_no_tick_writes_after_it() -> None:
    operator = Operator(TWO_STEPS)
    await operator.tick(31)
    await operator.tick(31)
    assert operator.weight() == 20
    operator.probes.hold, operator.probes.started = asyncio.Event(), asyncio.Event()
    ticking = asyncio.create_task(operator.tick(31))  # its slow analysis passes: it will advance to 50
    await operator.probes.started.wait()
    deleting = asyncio.create_task(operator.delete())
    await asyncio.sleep(0.01)
    assert not deleting.done(), "the deletion waits for the tick"
    operator.probes.hold.set()
    assert await ticking is None
    await deleting
    assert operator.store.current("shop", "checkout")["spec"] == user_vs()["spec"]

    writes, patches = len(operator.store.replaces), len(operator.statuses.patches)
    assert await operator.tick(31) is None
    assert len(operator.store.replaces) == writes, "no VirtualService write after the deletion"
    assert len(operator.statuses.patches) == patches, "no status write after the deletion"
    assert operator.weight() == 0


def _claim(release: str, *, older: bool, route: str = "primary") -> tuple[RouteKey, Claim]:
    when = CREATED.replace(hour=CREATED.hour - 1) if older else CREATED.replace(hour=CREATED.hour + 1)
    return ("shop", "checkout", route), Claim(created_at=when, release=release)


@pytest.mark.parametrize("spec_ok", [True, False], ids=["valid spec", "spec invalid since"])
@pytest.mark.parametrize(
    ("held", "restored"),
    [
        ([], True),
        ([_claim("first", older=False)], True),
        ([_claim("first", older=True, route="secondary")], True),
        ([_claim("first", older=True)], False),
        ([_claim("first", older=True, route=ALL_ROUTES)], False),
    ],
    ids=["unclaimed", "newer release", "older release, another route", "older release", "older release, all routes"],
)
async def test_deleting_restores_from_the_snapshots_unless_an_older_release_holds_the_route(
    spec_ok: bool, held: list[tuple[RouteKey, Claim]], restored: bool
) -> None:
    operator = await paused_at_20()
    if not spec_ok:
        operator.spec = InvalidSpec(problems=("steps: the edit broke it",))
        await operator.tick(31)
        assert (operator.slot.status.phase, operator.weight()) == (Phase.INVALID, 20)
    await operator.delete(held=[*held, _claim("checkout", older=False)])
    if restored:
        assert operator.store.current("shop", "checkout")["spec"] == user_vs()["spec"]
    else:
        assert operator.weight() == 20, "the older release's route is left alone"


async def test_deleting_with_an_invalid_spec_restores_the_snapshots_of_both_kinds_of_object() -> None:
    """A release whose spec moved from Istio to Gateway API holds snapshots of both kinds until it starts again;
    deleted then with an invalid spec, it puts back its VirtualService and its HTTPRoute."""
    operator = await paused_at_20()
    original = gateway.http_route("public", gateway.rule("web", gateway.backend("checkout")))
    shifted = gateway.http_route(
        "public", gateway.rule("web", gateway.backend("checkout", 80), gateway.backend("checkout-v2", 20))
    )
    http_routes = InMemoryVirtualServiceStore(shifted)
    clients = RouterClients(virtual_services=operator.store, http_routes=http_routes)
    operator.deps = dataclasses.replace(operator.deps, router=TargetRouter(ROUTERS, clients))
    operator.spec = InvalidSpec(problems=("steps: the edit broke it",))
    await operator.tick(31)
    rule_json = json.dumps(original["spec"]["rules"][0], separators=(",", ":"))
    saved = OriginalRoute(virtual_service="public", route="web", route_json=rule_json, kind="HTTPRoute")
    status = operator.slot.status
    operator.slot.status = status.model_copy(update={"original_routes": (*status.original_routes, saved)})

    await operator.delete()
    assert operator.store.current("shop", "checkout")["spec"] == user_vs()["spec"]
    assert http_routes.current("shop", "public")["spec"] == original["spec"]


async def test_an_unexpected_error_is_counted_logged_and_retried_at_the_next_tick(
    caplog: pytest.LogCaptureFixture,
) -> None:
    operator = Operator(TWO_STEPS)
    await operator.tick(31)
    operator.router.booms = 1
    with caplog.at_level(logging.ERROR, logger="graygate.lifecycle"):
        error = await operator.tick(31)
    assert isinstance(error, Boom)
    errors = operator.metrics.registry.get_sample_value(
        "graygate_reconcile_errors_total", {"namespace": "shop", "release": "checkout", "error": "Boom"}
    )
    assert errors == 1
    [record] = caplog.records
    assert record.exc_info is not None, "logged with its traceback"
    assert record.exc_info[1] is error

    assert await operator.tick(31) is None
    assert (operator.slot.status.phase, operator.weight()) == (Phase.PROGRESSING, 20)


@pytest.mark.parametrize(
    ("error", "after"),
    [(None, 1.0), (Boom(), 1.0), (ConflictError(), 0.2), (ApiUnavailableError(), 2.0), (ForbiddenError(), 5.0),
     (GateError(), 5.0)],
    ids=["none", "a bug", "conflict", "API unavailable", "forbidden", "another graygate error"],
)  # fmt: skip
def test_a_bug_is_retried_at_the_tick_interval_and_known_errors_by_their_class(
    error: Exception | None, after: float
) -> None:
    assert retry_after(error, 1.0) == after
