"""The notifier as `wire` composes it: a release's transitions reach a local receiver through the real dispatcher,
the URL read from the (fake) Secret, and `Wired.close` stops the background task."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

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


async def test_the_wired_operator_announces_transitions_and_closes_the_notifier() -> None:
    got: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with serving(app) as server:
        secrets = FakeSecrets({("Secret", "shop", "hook", "url"): url(server, "/hook")})
        kube = KubeAdapters(
            virtual_services=InMemoryVirtualServiceStore(user_vs()), http_routes=InMemoryVirtualServiceStore(),
            statuses=RecordingStatuses(), events=RecordingEvents(), secrets=secrets, workload=no_workload,
            followed=FakeFollowedWorkloads(),
        )  # fmt: skip
        channel = {"name": "audit", "kind": "webhook", "urlFrom": {"secretKeyRef": {"name": "hook", "key": "url"}}}
        release = spec(
            steps=[{"setWeight": 20}, {"pause": {}}],
            analysis={"interval": "30s"},
            notifications={"channels": [channel]},
        )
        wired = await wire(OperatorSettings(instance="test-operator"), OperatorMetrics(), kube)
        notifier = wired.notifier
        assert notifier is not None
        assert wired.deps.notifications is notifier
        try:
            with Slots().held(REF.uid, CanaryReleaseStatus()) as slot:
                for seconds in (31, 62, 93):
                    view = ReleaseView(ref=REF, generation=1, spec=release, status=slot.status, command=None)
                    assert await run_tick(slot, view, wired.deps, T0 + timedelta(seconds=seconds)) is None
                assert slot.status.phase is Phase.PAUSED
                await asyncio.wait_for(notifier.drain(), 5)
        finally:
            await wired.close()
    assert [body["transition"] for body in got] == ["started", "waitingForApproval"]
    assert notifier._task is None, "closed with the operator"
