"""One tick through the real service, the real domain and the real Istio router, against hand-written fakes of the
API server: a tick that changes nothing writes nothing, and a step costs one VirtualService write, one status
patch and one Event. The fakes count every call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from graygate.api import CanaryReleaseStatus, parse_spec
from graygate.domain.analysis.measurements import WorkloadReading
from graygate.domain.release.decision import Reason
from graygate.metrics import OperatorMetrics
from graygate.ports import ReleaseRef
from graygate.routers.istio import IstioRouter
from graygate.service import Deps, ReleaseView, tick
from tests.unit.routers.fakes import InMemoryVirtualServiceStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class CountingStatuses:
    patches: list[dict[str, Any]] = field(default_factory=list)

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.patches.append(status)


@dataclass
class CountingEvents:
    posted: list[str] = field(default_factory=list)

    async def post(self, release: ReleaseRef, event_type: str, reason: str, note: str, now: datetime) -> None:
        Reason(reason)  # raises ValueError for a reason outside the fixed vocabulary
        self.posted.append(reason)


class NoGates:
    async def measure(self, gates: Any, now: datetime, scope: Any = None) -> tuple[Any, ...]:
        return ()


async def _no_workload(namespace: str, name: str) -> WorkloadReading:
    raise AssertionError("the spec names no workload")


def _vs() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {
            "hosts": ["checkout"],
            "http": [
                {"name": "primary", "route": [{"destination": {"host": "checkout", "subset": "stable"}, "weight": 100}]}
            ],
        },
    }


SPEC = parse_spec(
    {
        "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout", "routes": ["primary"]}]}},
        "stable": {"host": "checkout", "subset": "stable"},
        "canary": {"host": "checkout", "subset": "canary"},
        "steps": [{"setWeight": 20}, {"pause": {"duration": "10m"}}, {"setWeight": 50}],
        "analysis": {"interval": "30s"},
    }
)


async def test_a_quiet_tick_writes_nothing_and_a_step_costs_one_of_each() -> None:
    store = InMemoryVirtualServiceStore(_vs())
    statuses, events = CountingStatuses(), CountingEvents()
    deps = Deps(
        router=IstioRouter(store),
        gates=NoGates(),
        workload=_no_workload,
        statuses=statuses,
        events=events,
        metrics=OperatorMetrics(),
    )
    status = CanaryReleaseStatus()
    counts: list[tuple[int, int, int]] = []
    for second in (0, 1, 2, 3, 4):
        view = ReleaseView(
            ref=ReleaseRef("shop", "checkout", "uid-1"), generation=1, spec=SPEC, status=status, command=None
        )
        before = (len(store.replaces), len(statuses.patches), len(events.posted))
        result = await tick(view, deps, T0 + timedelta(seconds=second))
        status = result.decision.status
        after = (len(store.replaces), len(statuses.patches), len(events.posted))
        counts.append((after[0] - before[0], after[1] - before[1], after[2] - before[2]))

    # (VirtualService writes, status patches, Events) per tick
    assert counts[0] == (0, 1, 1), "first sight: the original routes recorded, no traffic moved"
    assert counts[1] == (1, 1, 1), "step 1: one write, one status patch, one Event"
    assert counts[2] == (0, 1, 1), "into the pause: the weight is already in place, so no VirtualService write"
    assert counts[3:] == [(0, 0, 0), (0, 0, 0)], "nothing due: nothing written"
    stored = store.current("shop", "checkout")["spec"]["http"][0]["route"]
    assert [(r["destination"]["subset"], r["weight"]) for r in stored] == [("stable", 80), ("canary", 20)]


COLOURED = parse_spec(
    {
        "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout", "routes": ["primary"]}]}},
        "stable": {"host": "checkout", "subset": "stable"},
        "canary": {"host": "checkout", "subset": "canary"},
        "steps": [{"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "always"}}}]}}, {"pause": {}}],
        "analysis": {"interval": "30s"},
    }
)


async def test_colouring_is_written_once_reasserted_after_a_deletion_and_removed_on_abort() -> None:
    store = InMemoryVirtualServiceStore(_vs())
    deps = Deps(
        router=IstioRouter(store),
        gates=NoGates(),
        workload=_no_workload,
        statuses=CountingStatuses(),
        events=CountingEvents(),
        metrics=OperatorMetrics(),
    )
    status = CanaryReleaseStatus()

    async def run(second: int, command: str | None = None) -> int:
        nonlocal status
        view = ReleaseView(
            ref=ReleaseRef("shop", "checkout", "uid-1"), generation=1, spec=COLOURED, status=status, command=command
        )
        before = len(store.replaces)
        status = (await tick(view, deps, T0 + timedelta(seconds=second))).decision.status
        return len(store.replaces) - before

    def names() -> list[str]:
        return [route["name"] for route in store.current("shop", "checkout")["spec"]["http"]]

    assert [await run(s) for s in (0, 1, 2, 3, 4)] == [0, 1, 0, 0, 0]
    assert names() == ["graygate-checkout-header-primary", "primary"]
    assert (status.phase.value, status.header_routes) == ("Paused", True)

    body = store.current("shop", "checkout")
    body["spec"]["http"].pop(0)  # someone deletes the header route
    store.put(body)
    assert await run(5) == 1
    assert names() == ["graygate-checkout-header-primary", "primary"]
    assert await run(6) == 0

    assert await run(7, "abort") == 1
    assert names() == ["primary"]
    assert (status.phase.value, status.header_routes) == ("Aborted", False)
    assert store.current("shop", "checkout")["spec"] == _vs()["spec"]
