"""One release run the way the handlers run it: a daemon's ticks through `lifecycle.run_tick` and a deletion
through `lifecycle.delete_release`, over the real service, domain and Istio router, with hand-written fakes of the
API server and the gates (`tests.unit.fakes`). Nothing here carries the status from one tick to the next: the
release's `Slot` does, as in the operator."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus
from graygate.api.validation import InvalidSpec
from graygate.domain.release.claims import Claim, RouteKey
from graygate.lifecycle import Deleted, Slot, Slots, delete_release, run_tick
from graygate.metrics import OperatorMetrics
from graygate.ports.release import ReleaseRef
from graygate.ports.routing import VirtualServiceBody
from graygate.routers.istio import IstioRouter
from graygate.service import Deps, ReleaseView
from tests.unit.fakes.events import RecordingEvents
from tests.unit.fakes.followed import FakeFollowedWorkloads
from tests.unit.fakes.gates import Probes
from tests.unit.fakes.statuses import RecordingStatuses
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.unit.fakes.workloads import no_workload
from tests.virtual_services import route, virtual_service

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CREATED = T0 - timedelta(hours=1)
REF = ReleaseRef("shop", "checkout", "uid-1")


def user_vs() -> VirtualServiceBody:
    """The user's VirtualService: one route, `primary`, all on stable."""
    return virtual_service("checkout", route("primary"), namespace="shop")


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


class Operator:
    """A release's daemon and delete handler in one operator process."""

    def __init__(self, spec: CanaryReleaseSpec | InvalidSpec, store: InMemoryVirtualServiceStore | None = None):
        self.spec = spec
        self.store = store or InMemoryVirtualServiceStore(user_vs())
        self.router = BuggyRouter(self.store)
        self.statuses, self.events, self.probes = RecordingStatuses(), RecordingEvents(), Probes()
        self.followed = FakeFollowedWorkloads()
        self.metrics = OperatorMetrics()
        self.deps = Deps(
            router=self.router,
            gates=self.probes,
            workload=no_workload,
            statuses=self.statuses,
            events=self.events,
            metrics=self.metrics,
            followed=self.followed,
        )
        self.slots = Slots()
        self.seconds = 0.0
        self.labels: dict[str, str] = {}
        self.annotations: dict[str, str] = {}
        """The release's own labels and annotations, as `release_view` reads them."""
        self.command: str | None = None
        """The command annotation the next ticks see (`retry`, `abort`…)."""
        self._daemon = ExitStack()
        self.slot: Slot = self._daemon.enter_context(self.slots.held(REF.uid, CanaryReleaseStatus()))

    async def tick(self, seconds: float = 1) -> Exception | None:
        """One daemon tick, `seconds` after the last one."""
        self.seconds += seconds
        view = ReleaseView(
            ref=REF,
            generation=1,
            spec=self.spec,
            status=self.slot.status,
            command=self.command,
            labels=self.labels,
            annotations=self.annotations,
        )
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
