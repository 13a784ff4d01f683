"""Gate templates through the real view and tick: the run's first tick records the expanded gates in the status it
writes, later ticks take them from there (a template changed meanwhile is not read again), and a quiet tick still
writes nothing."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from graygate.api import CanaryReleaseStatus
from graygate.api.gates import Gate
from graygate.domain.analysis.measurements import Measurement
from graygate.metrics import OperatorMetrics
from graygate.ports.release import ReleaseRef
from graygate.release_view import release_view
from graygate.routers.istio import IstioRouter
from graygate.service import Deps, tick
from tests.unit.fakes.events import RecordingEvents
from tests.unit.fakes.gates import Probes
from tests.unit.fakes.statuses import RecordingStatuses
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.unit.fakes.workloads import no_workload
from tests.unit.service.harness import T0, user_vs

TEMPLATE: dict[str, Any] = {
    "args": [{"name": "url"}, {"name": "timeout", "type": "duration", "default": "2s"}],
    "gates": [{"name": "health", "httpProbe": {"url": "{{ args.url }}", "timeout": "{{ args.timeout }}"}}],
}
BODY = {
    "metadata": {"name": "checkout", "generation": 1},
    "spec": {
        "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout", "routes": ["primary"]}]}},
        "stable": {"host": "checkout", "subset": "stable"},
        "canary": {"host": "checkout", "subset": "canary"},
        "steps": [{"setWeight": 20}, {"pause": {}}],
        "analysis": {"interval": "30s", "gateRefs": [{"name": "health", "args": {"url": "http://canary/healthz"}}]},
    },
}


class RecordingProbes(Probes):
    """`Probes` that keep every gate they were asked to measure."""

    def __init__(self) -> None:
        super().__init__()
        self.measured: list[Gate] = []

    async def measure(self, gates: Sequence[Gate], now: datetime, scope: Any = None) -> tuple[Measurement, ...]:
        self.measured += gates
        return await super().measure(gates, now, scope)


async def test_the_first_tick_records_the_expanded_gates_and_later_ticks_keep_them() -> None:
    statuses = RecordingStatuses()
    probes = RecordingProbes()
    deps = Deps(
        router=IstioRouter(InMemoryVirtualServiceStore(user_vs())),
        gates=probes,
        workload=no_workload,
        statuses=statuses,
        events=RecordingEvents(),
        metrics=OperatorMetrics(),
    )
    ref = ReleaseRef("shop", "checkout", "uid-1")
    changed = copy.deepcopy(TEMPLATE)
    changed["args"][1]["default"] = "5s"
    status = CanaryReleaseStatus()
    written: list[dict[str, Any]] = []
    for tick_number, template in enumerate((TEMPLATE, changed, changed, changed)):
        now = T0 + timedelta(seconds=31 * tick_number)  # each tick after the first one runs the analysis
        view = release_view(ref, BODY, status, (), lambda _: (), now, {("GateTemplate", "health"): template})
        result = await tick(view, deps, now)
        status = result.decision.status
        written.append(status.model_dump(mode="json", by_alias=True, exclude_none=True))
    first = statuses.patches[0]["expandedGates"]
    assert first["generation"] == 1
    assert first["refs"][0]["args"] == {"url": "http://canary/healthz", "timeout": "2s"}
    assert first["refs"][0]["gates"][0]["httpProbe"]["timeout"] == "2s"
    assert len(statuses.patches) >= 2
    assert all(patch["expandedGates"] == first for patch in statuses.patches), "the run keeps its gates"
    assert written[-1]["expandedGates"] == first
    assert len(probes.measured) >= 2, "the analysis ran while the template said otherwise"
    timeouts = {gate.http_probe.timeout for gate in probes.measured if gate.http_probe is not None}
    assert timeouts == {timedelta(seconds=2)}, "every analysis measured with the snapshot, not the changed template"
