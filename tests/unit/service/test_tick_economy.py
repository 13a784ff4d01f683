"""One tick through the real service, the real domain and the real Istio router, against hand-written fakes of the
API server: a tick that changes nothing writes nothing, and a step costs one VirtualService write, one status
patch and one Event. The fakes count every call."""

from __future__ import annotations

from datetime import timedelta

from graygate.api import CanaryReleaseStatus, parse_spec
from graygate.metrics import OperatorMetrics
from graygate.ports.release import ReleaseRef
from graygate.routers.istio import IstioRouter
from graygate.service import Deps, ReleaseView, tick
from tests.unit.fakes.events import RecordingEvents
from tests.unit.fakes.gates import Probes
from tests.unit.fakes.statuses import RecordingStatuses
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.unit.fakes.workloads import no_workload
from tests.unit.service.harness import T0, user_vs

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
    store = InMemoryVirtualServiceStore(user_vs())
    statuses, events = RecordingStatuses(), RecordingEvents()
    deps = Deps(
        router=IstioRouter(store),
        gates=Probes(),
        workload=no_workload,
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
    store = InMemoryVirtualServiceStore(user_vs())
    deps = Deps(
        router=IstioRouter(store),
        gates=Probes(),
        workload=no_workload,
        statuses=RecordingStatuses(),
        events=RecordingEvents(),
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
    assert store.current("shop", "checkout")["spec"] == user_vs()["spec"]
