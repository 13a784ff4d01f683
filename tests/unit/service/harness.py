"""One release run the way the handlers run it: a daemon's ticks through `lifecycle.run_tick` and a deletion
through `lifecycle.delete_release`, over the real service, domain and Istio router, with hand-written fakes of the
API server and the gates. Nothing here carries the status from one tick to the next: the release's `Slot` does, as
in the operator.

The Event fake refuses a reason outside `Reason`, so every test that drives the service checks the vocabulary."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus
from graygate.api.gates import Gate
from graygate.api.validation import InvalidSpec
from graygate.domain.analysis.measurements import Measurement, WorkloadReading
from graygate.domain.release.claims import Claim, RouteKey
from graygate.domain.release.decision import Reason
from graygate.lifecycle import Deleted, Slot, Slots, delete_release, run_tick
from graygate.metrics import OperatorMetrics
from graygate.ports import ReleaseRef
from graygate.routers.istio import IstioRouter
from graygate.service import Deps, ReleaseView
from tests.unit.domain.release_builders import probe
from tests.unit.routers.fakes import InMemoryVirtualServiceStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CREATED = T0 - timedelta(hours=1)
REF = ReleaseRef("shop", "checkout", "uid-1")


def user_vs() -> dict[str, Any]:
    route = [{"destination": {"host": "checkout", "subset": "stable"}, "weight": 100}]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {"hosts": ["checkout"], "http": [{"name": "primary", "route": route}]},
    }


@dataclass
class Statuses:
    patches: list[dict[str, Any]] = field(default_factory=list)

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.patches.append(status)

    def last(self) -> CanaryReleaseStatus:
        return CanaryReleaseStatus.model_validate(self.patches[-1])


@dataclass
class Events:
    posted: list[tuple[str, str]] = field(default_factory=list)

    async def post(self, release: ReleaseRef, event_type: str, reason: str, note: str, now: datetime) -> None:
        Reason(reason)  # raises ValueError for a reason outside the vocabulary
        self.posted.append((event_type, reason))

    def reasons(self) -> list[str]:
        return [reason for _, reason in self.posted]


@dataclass
class Probes:
    """Every due gate answers with `code`; while `hold` is set, a measurement waits for it to be cleared (a slow
    gate), after saying so in `started`."""

    code: int = 200
    hold: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def measure(self, gates: Sequence[Gate], now: datetime, scope: Any = None) -> tuple[Measurement, ...]:
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        return tuple(probe(gate.name, self.code, when=now) for gate in gates)


class Boom(Exception):
    """A bug: an error from outside graygate's error tree."""


class BuggyRouter(IstioRouter):
    """The real router, whose next `observe` calls fail with `Boom`."""

    booms: int = 0

    async def observe(self, target: Any) -> Any:
        if self.booms:
            self.booms -= 1
            raise Boom("an unexpected bug")
        return await super().observe(target)


async def _no_workload(namespace: str, name: str) -> WorkloadReading:
    raise AssertionError("the spec names no workload")


class Operator:
    """A release's daemon and delete handler in one operator process."""

    def __init__(self, spec: CanaryReleaseSpec | InvalidSpec, store: InMemoryVirtualServiceStore | None = None):
        self.spec = spec
        self.store = store or InMemoryVirtualServiceStore(user_vs())
        self.router = BuggyRouter(self.store)
        self.statuses, self.events, self.probes = Statuses(), Events(), Probes()
        self.metrics = OperatorMetrics()
        self.deps = Deps(
            router=self.router,
            gates=self.probes,
            workload=_no_workload,
            statuses=self.statuses,
            events=self.events,
            metrics=self.metrics,
        )
        self.slots = Slots()
        self.seconds = 0.0
        self._daemon = ExitStack()
        self.slot: Slot = self._daemon.enter_context(self.slots.held(REF.uid, CanaryReleaseStatus()))

    async def tick(self, seconds: float = 1) -> Exception | None:
        """One daemon tick, `seconds` after the last one."""
        self.seconds += seconds
        view = ReleaseView(ref=REF, generation=1, spec=self.spec, status=self.slot.status, command=None)
        return await run_tick(self.slot, view, self.deps, T0 + timedelta(seconds=self.seconds))

    async def delete(self, held: Sequence[tuple[RouteKey, Claim]] = ()) -> None:
        """The delete handler, with the route claims index holding `held`."""
        deleted = Deleted(ref=REF, created_at=CREATED, spec=self.spec, held=held)
        with self.slots.held(REF.uid, self.slot.status) as slot:
            await delete_release(slot, deleted, self.deps, T0 + timedelta(seconds=self.seconds))

    def stop(self) -> None:
        """The daemon exits."""
        self._daemon.close()

    def weight(self) -> int:
        routes = self.store.current("shop", "checkout")["spec"]["http"][-1]["route"]
        return sum(r["weight"] for r in routes if r["destination"]["subset"] == "canary")
