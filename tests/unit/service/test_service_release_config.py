"""A release's etcd keys (`spec.config`) through the real service, the real domain and the real Istio router, over
hand-written fakes (`tests.unit.fakes`): an in-memory etcd with the real store's guards, and status and Event
writers that share one call log with it. Every tick starts from the status the previous one patched, as a restarted
operator would read it, so a crash is just a fresh operator over the same etcd and VirtualService."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus, Phase
from graygate.api.release_config import ConfigState
from graygate.domain.release.config_moves import MAX_ATTEMPTS
from graygate.errors import GraygateError
from graygate.lifecycle import restore_config_on_delete
from graygate.metrics import OperatorMetrics
from graygate.ports.release import ReleaseRef
from graygate.routers.istio import IstioRouter
from graygate.service import Deps, ReleaseView, tick
from tests.unit.domain.release_builders import at, no_gates, spec
from tests.unit.fakes.config_keys import InMemoryConfigKeys
from tests.unit.fakes.events import RecordingEvents
from tests.unit.fakes.gates import Probes
from tests.unit.fakes.statuses import Crash, RecordingStatuses
from tests.unit.fakes.virtual_services import InMemoryVirtualServiceStore
from tests.unit.fakes.workloads import no_workload
from tests.unit.service.harness import user_vs

P, S = Phase, ConfigState
REF = ReleaseRef("shop", "checkout", "uid-1")
CONFIG: dict[str, Any] = {
    "etcd": {"endpoints": ["127.0.0.1:2379"]},
    "keys": [{"key": "/a", "value": "new-a"}, {"key": "/b", "value": "new-b"}, {"key": "/gone", "delete": True}],
}
STEPS = [{"setWeight": 20}, {"setWeight": 60}]
PLAIN = no_gates(config=CONFIG, steps=STEPS)
GATED = spec(config=CONFIG, steps=STEPS)
BEFORE = {"/a": ("old-a", 2), "/gone": ("old", 3)}
"""The application's etcd before graygate: /a holds old-a, /b does not exist, /gone holds old."""


@dataclass
class Operator:
    """One operator process (its own status and Event writers) over the shared etcd and VirtualService store."""

    etcd: InMemoryConfigKeys
    store: InMemoryVirtualServiceStore
    spec: CanaryReleaseSpec = PLAIN
    status: CanaryReleaseStatus = field(default_factory=CanaryReleaseStatus)
    seconds: float = 0
    generation: int = 1
    probes: Probes = field(default_factory=Probes)
    statuses: RecordingStatuses = field(init=False)
    events: RecordingEvents = field(init=False)
    deps: Deps = field(init=False)

    def __post_init__(self) -> None:
        self.statuses, self.events = RecordingStatuses(self.etcd.log), RecordingEvents(self.etcd.log)
        self.deps = Deps(
            router=IstioRouter(self.store),
            gates=self.probes,
            workload=no_workload,
            statuses=self.statuses,
            events=self.events,
            metrics=OperatorMetrics(),
            config_keys=self.etcd,
        )

    def restarted(self) -> Operator:
        """A fresh process reading the status the last one managed to write."""
        return Operator(self.etcd, self.store, self.spec, self.status, self.seconds, self.generation, self.probes)

    async def tick(self, seconds: float = 1, command: str | None = None) -> None:
        self.seconds += seconds
        view = ReleaseView(ref=REF, generation=self.generation, spec=self.spec, status=self.status, command=command)
        result = await tick(view, self.deps, at(self.seconds))
        if result.status_written:
            self.status = CanaryReleaseStatus.model_validate(self.statuses.patches[-1])

    def weight(self) -> int:
        routes = self.store.current("shop", "checkout")["spec"]["http"][0]["route"]
        return sum(r["weight"] for r in routes if r["destination"]["subset"] == "canary")

    def config(self) -> tuple[ConfigState, int | None, int] | None:
        recorded = self.status.config
        if recorded is None:
            return None
        written = {entry.written_revision for entry in recorded.keys if entry.value is not None}
        return recorded.state, written.pop() if len(written) == 1 else None, recorded.attempts


async def pending(release: CanaryReleaseSpec = PLAIN, **etcd: Any) -> Operator:
    """An operator that has recorded the release's routes: Pending, nothing written to etcd."""
    operator = Operator(
        InMemoryConfigKeys(data=dict(BEFORE), revision=3, **etcd), InMemoryVirtualServiceStore(user_vs()), release
    )
    await operator.tick(0)
    assert (operator.status.phase, operator.status.config, operator.weight()) == (P.PENDING, None, 0)
    operator.etcd.log.clear()
    return operator


async def running(release: CanaryReleaseSpec = PLAIN) -> Operator:
    operator = await pending(release)
    await operator.tick()
    await operator.tick()
    assert (operator.status.phase, operator.weight(), operator.config()) == (P.PROGRESSING, 20, (S.APPLIED, 4, 1))
    return operator


NEW = {"/a": "new-a", "/b": "new-b"}
OLD = {"/a": "old-a", "/gone": "old"}


# ---- 1. written after the intent, confirmed before the first traffic ----


async def test_the_intent_is_recorded_before_etcd_is_written_then_confirmed_before_traffic() -> None:
    operator = await pending()
    await operator.tick()
    assert operator.config() == (S.APPLYING, None, 1)
    assert operator.status.config is not None
    assert [(k.key, k.previous_value, k.previous_revision) for k in operator.status.config.keys] == [
        ("/a", "old-a", 2),
        ("/b", None, 0),
        ("/gone", "old", 3),
    ]
    log = operator.etcd.log
    assert log.index("status:Applying") < log.index("etcd.apply"), log
    assert operator.etcd.values() == NEW
    assert operator.weight() == 0, "no traffic before the write is confirmed"

    await operator.tick()
    assert operator.config() == (S.APPLIED, operator.etcd.revision, 1)
    assert operator.status.phase is P.PROGRESSING
    assert operator.weight() == 20
    assert log.count("etcd.apply") == 1
    assert "ConfigApplied" in operator.events.reasons()

    await operator.tick()
    assert operator.etcd.log.count("etcd.read") == 2, "no etcd traffic once the config is confirmed"


# ---- 2. crash safety ----


async def test_a_crash_between_the_etcd_write_and_the_applied_status_loses_nothing() -> None:
    operator = await pending()
    operator.statuses.crash_when = "Applied"
    await operator.tick()
    with pytest.raises(Crash):
        await operator.tick()
    assert (operator.config(), operator.weight()) == ((S.APPLYING, None, 1), 0), "the last status written"

    again = operator.restarted()
    await again.tick()
    assert again.config() == (S.APPLIED, again.etcd.revision, 1)
    assert (again.status.phase, again.weight()) == (P.PROGRESSING, 20)
    assert again.etcd.log.count("etcd.apply") == 1, "written once"
    assert again.etcd.values() == NEW
    assert again.events.reasons().count("ConfigApplied") == 1


async def test_a_write_that_never_ran_is_made_again() -> None:
    operator = await pending(failing_applies=1)
    await operator.tick()
    assert operator.config() == (S.APPLYING, None, 1)
    assert operator.etcd.values() == OLD
    assert ("Warning", "ConfigApplyFailed") in [(kind, reason) for kind, reason, _ in operator.events.posted]

    again = operator.restarted()
    await again.tick()
    assert again.config() == (S.APPLYING, None, 2)
    assert again.etcd.values() == NEW
    await again.tick()
    assert again.config() == (S.APPLIED, again.etcd.revision, 2)
    assert (again.status.phase, again.weight()) == (P.PROGRESSING, 20)


async def test_writes_etcd_never_takes_fail_the_release_at_zero() -> None:
    operator = await pending(failing_applies=99)
    for _ in range(MAX_ATTEMPTS + 1):
        await operator.tick()  # never raises
    assert operator.etcd.log.count("etcd.apply") == MAX_ATTEMPTS
    assert operator.events.reasons().count("ConfigApplyFailed") == MAX_ATTEMPTS
    assert "ConfigFailed" in operator.events.reasons()
    assert (operator.status.phase, operator.status.canary_weight, operator.weight()) == (P.FAILED, 0, 0)
    assert operator.config() == (S.RESTORED, None, MAX_ATTEMPTS), "nothing was written: nothing to put back"
    assert operator.etcd.values() == OLD


# ---- 3. a rollback puts the keys back, except one someone else changed ----


@pytest.mark.parametrize("hotfix", [False, True], ids=["clean", "hotfix"])
@pytest.mark.parametrize("how", ["abort", "critical gate"])
async def test_a_rollback_puts_the_keys_back(how: str, hotfix: bool) -> None:
    operator = await running(GATED)
    if how == "abort":
        await operator.tick(command="abort")
    else:
        operator.probes.code = 500
        await operator.tick(60)
    assert (operator.status.phase, operator.weight()) == (P.ABORTED if how == "abort" else P.FAILED, 0)
    assert operator.config() == (S.RESTORING, 4, 1)
    if hotfix:
        operator.etcd.commit({"/a": "hotfix"})
    for _ in range(3):
        await operator.tick(command="abort" if how == "abort" else None)

    if hotfix:
        assert operator.etcd.values() == {"/a": "hotfix", "/gone": "old"}, "the hotfix is kept, the rest put back"
        assert operator.config() == (S.CONFLICT, 4, 1)
        conflicts = [(kind, note) for kind, reason, note in operator.events.posted if reason == "ConfigConflict"]
        assert len(conflicts) == 1
        assert conflicts[0][0] == "Warning"
        assert "/a: set to 'hotfix' at revision 5 after graygate wrote it at revision 4" in conflicts[0][1]
    else:
        assert operator.etcd.values() == OLD
        assert operator.config() == (S.RESTORED, 4, 1)
        assert operator.events.reasons().count("ConfigRestored") == 1
    assert operator.etcd.log.count("etcd.restore") == 1


async def test_a_restore_that_never_ran_is_reported_and_made_again() -> None:
    operator = await running(GATED)
    operator.etcd.failing_restores = 1
    await operator.tick(command="abort")
    await operator.tick(command="abort")
    assert operator.config() == (S.RESTORING, 4, 1)
    assert operator.etcd.values() == NEW
    assert ("Warning", "ConfigRestoreFailed") in [(kind, reason) for kind, reason, _ in operator.events.posted]
    for _ in range(2):
        await operator.tick(command="abort")
    assert operator.etcd.values() == OLD
    assert operator.config() == (S.RESTORED, 4, 1)


async def test_a_spec_edit_after_success_keeps_the_stable_config() -> None:
    operator = await running()
    while operator.status.phase is not P.SUCCEEDED:
        await operator.tick(600)
    operator.generation = 2  # the next release: same keys, edited spec
    seen = []
    for _ in range(3):
        await operator.tick()
        seen.append(operator.etcd.values())
    assert seen == [NEW] * 3, "the succeeded release's keys are the stable's: never put back"
    assert operator.config() == (S.APPLIED, operator.etcd.revision, 1)
    assert operator.status.config is not None
    assert [k.previous_value for k in operator.status.config.keys] == ["new-a", "new-b", None]


# ---- 4. deleting a release ----


async def test_deleting_a_running_release_puts_its_keys_back() -> None:
    operator = await running()
    await restore_config_on_delete(REF, operator.status, operator.deps, at(99))
    assert operator.etcd.values() == OLD
    assert operator.events.posted[-1][:2] == ("Normal", "ConfigRestored")


async def test_deleting_a_succeeded_release_keeps_its_keys() -> None:
    operator = await running()
    operator.etcd.log.clear()
    succeeded = operator.status.model_copy(update={"phase": P.SUCCEEDED, "canary_weight": 100})
    await restore_config_on_delete(REF, succeeded, operator.deps, at(99))
    assert operator.etcd.values() == NEW
    assert operator.etcd.log == [], "etcd not even read, no Event"


async def test_deleting_while_etcd_cannot_be_read_raises_for_a_retry() -> None:
    operator = await running()
    operator.etcd.read_error = "no etcd endpoint answered"
    with pytest.raises(GraygateError, match="no etcd endpoint answered"):
        await restore_config_on_delete(REF, operator.status, operator.deps, at(99))
    assert operator.etcd.values() == NEW
