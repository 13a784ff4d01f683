"""The operator as `graygate.wiring.wire` composes it (the real router from the registry, the real gate runner
probing a local HTTP server, the freeze switch), with hand-written fakes standing in for the API server only: a
release advances while its probe passes, and rolls back the moment its critical probe fails."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from graygate.api import CanaryReleaseStatus, Phase
from graygate.lifecycle import Slots, run_tick
from graygate.metrics import OperatorMetrics
from graygate.service import ReleaseView
from graygate.wiring import KubeAdapters, OperatorSettings, wire
from tests.unit.domain.release_builders import spec
from tests.unit.fakes.events import RecordingEvents
from tests.unit.fakes.followed import FakeFollowedWorkloads
from tests.unit.fakes.secrets import FakeSecrets
from tests.unit.fakes.statuses import RecordingStatuses
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.unit.fakes.workloads import no_workload
from tests.unit.http_servers import serving, url
from tests.unit.service.harness import REF, T0, user_vs


def canary_weight(store: InMemoryVirtualServiceStore) -> int:
    routes = store.current("shop", "checkout")["spec"]["http"][-1]["route"]
    return sum(r["weight"] for r in routes if r["destination"]["subset"] == "canary")


async def test_a_release_through_the_wired_operator_advances_then_rolls_back_on_a_failing_probe() -> None:
    answers: list[int] = []  # the canary's health, one status code per probe it answered
    code = 200

    async def healthz(request: web.Request) -> web.Response:
        answers.append(code)
        return web.json_response({"ok": code == 200}, status=code)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    store, statuses, events = InMemoryVirtualServiceStore(user_vs()), RecordingStatuses(), RecordingEvents()
    kube = KubeAdapters(
        virtual_services=store,
        http_routes=InMemoryVirtualServiceStore(),
        statuses=statuses,
        events=events,
        secrets=FakeSecrets(),
        workload=no_workload,
        followed=FakeFollowedWorkloads(),
    )
    async with serving(app) as server:
        gate = {"name": "health", "critical": True, "httpProbe": {"url": url(server, "/healthz")}}
        release = spec(
            steps=[{"setWeight": 20}, {"pause": {}}], analysis={"interval": "30s", "failureLimit": 1, "gates": [gate]}
        )
        wired = await wire(OperatorSettings(instance="test-operator"), OperatorMetrics(), kube)
        assert wired.api is None, "given the adapters, no API server client is made"
        assert wired.deps.followed is kube.followed, "the followed workload's adapter reaches the tick"
        try:
            with Slots().held(REF.uid, CanaryReleaseStatus()) as slot:
                seconds = 0

                async def tick() -> None:
                    nonlocal seconds
                    seconds += 31
                    view = ReleaseView(ref=REF, generation=1, spec=release, status=slot.status, command=None)
                    assert await run_tick(slot, view, wired.deps, T0 + timedelta(seconds=seconds)) is None

                for _ in range(3):
                    await tick()
                assert (slot.status.phase, canary_weight(store)) == (Phase.PAUSED, 20)
                assert statuses.last().phase is Phase.PAUSED, "the status reached the status writer"
                assert answers, "the wired gate runner probed the canary"
                assert set(answers) == {200}

                code = 503  # the canary breaks
                await tick()
                assert (slot.status.phase, canary_weight(store)) == (Phase.FAILED, 0)
                assert statuses.last().phase is Phase.FAILED
                assert answers[-1] == 503
                assert "RolledBack" in events.reasons()
                assert store.current("shop", "checkout")["spec"] == user_vs()["spec"]
        finally:
            await wired.close()
