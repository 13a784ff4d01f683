"""Stage hooks through the service and the lifecycle, with the gates faked: the hooks are measured as `webhook`
gates with their stage in the scope, and an approval kept in the status outlives the operator process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from graygate.api import CanaryReleaseSpec, Outcome, Phase
from graygate.api.gates import Gate
from graygate.domain.analysis.measurements import Measurement
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.analysis.webhook import WebhookMeasurement
from graygate.hook_calls import call_hooks
from tests.unit.domain.release_builders import spec
from tests.unit.service.harness import REF, Operator


@dataclass
class Receiver:
    """Every webhook gate answers with `codes[name]` (200 by default); each call is kept with its stage."""

    codes: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    phases: list[tuple[str, str]] = field(default_factory=list)
    """(hook, the release's phase in its payload) of each call."""

    async def measure(
        self, gates: Sequence[Gate], now: datetime, scope: QueryScope | None = None
    ) -> tuple[Measurement, ...]:
        stage = scope.stage if scope is not None else ""
        self.calls += [(gate.name, stage) for gate in gates]
        phase = scope.status.phase.value if scope is not None and scope.status is not None else ""
        self.phases += [(gate.name, phase) for gate in gates]
        return tuple(
            WebhookMeasurement(
                gate=gate.name, observed_at=now, url="http://hooks.test/", status_code=self.codes.get(gate.name, 200)
            )
            for gate in gates
        )


def released(receiver: Receiver, *hooks: dict[str, Any]) -> Operator:
    release = spec(steps=[{"setWeight": 20}, {"setWeight": 60}], analysis={"interval": "5s"}, hooks=list(hooks))
    operator = Operator(release)
    operator.deps = type(operator.deps)(**{**operator.deps.__dict__, "gates": receiver})
    return operator


def hook(name: str, stage: str) -> dict[str, Any]:
    return {"name": name, "stage": stage, "webhook": {"url": f"http://hooks.test/{name}", "timeout": "1s"}}


async def test_hooks_are_called_with_their_stage_and_a_promotion_waits_across_a_restart() -> None:
    receiver = Receiver(codes={"ship-it": 409, "kill": 404})
    stages = (hook("smoke", "preRollout"), hook("load", "rollout"), hook("ship-it", "confirmPromotion"))
    operator = released(receiver, *stages, hook("kill", "rollback"), hook("tell", "postRollout"))
    for _ in range(40):
        await operator.tick(3)
        if operator.slot.status.phase is Phase.PAUSED:
            break
    status = operator.slot.status
    assert status.pause_reason is not None
    assert status.pause_reason.value == "AwaitingConfirmation"
    assert operator.weight() == 60
    assert ("smoke", "preRollout") in receiver.calls
    assert ("load", "rollout") in receiver.calls
    assert ("kill", "rollback") in receiver.calls
    for _ in range(4):
        await operator.tick(3)
    assert operator.slot.status.phase is Phase.PAUSED
    assert ("ship-it", "confirmPromotion") in receiver.calls
    operator.stop()

    # a new operator process starts from the status the API server holds; the receiver says yes meanwhile
    receiver.codes["ship-it"] = 200
    again = released(receiver, *stages, hook("kill", "rollback"), hook("tell", "postRollout"))
    again.store = operator.store
    again.router = operator.router
    again.deps = type(again.deps)(**{**again.deps.__dict__, "router": operator.router})
    again.slot.status = operator.slot.status
    again.seconds = operator.seconds
    for _ in range(6):
        await again.tick(3)
    done = again.slot.status
    assert done.phase is Phase.SUCCEEDED
    assert again.weight() == 100
    assert ("tell", "postRollout") in receiver.calls
    told = next(record for record in done.hooks if record.name == "tell")
    assert told.passed
    assert told.calls == 1
    reasons = [reason for _, reason in again.events.kinds()]
    assert "HookConfirmed" in reasons
    assert "HookDelivered" in reasons


async def test_a_run_started_over_right_after_its_end_still_tells_post_rollout_the_old_phase() -> None:
    """The hooks are called before the tick decides, from the status before it: the tick that starts a Failed run
    over (a retry) calls the `postRollout` hook with `Failed` first, so its notice is not lost to the new run."""
    receiver = Receiver(codes={"kill": 200})
    operator = released(receiver, hook("kill", "rollback"), hook("tell", "postRollout"))
    for _ in range(20):
        await operator.tick(3)
        if operator.slot.status.phase is Phase.FAILED:
            break
    assert operator.slot.status.phase is Phase.FAILED
    assert ("tell", "postRollout") not in receiver.calls
    receiver.codes["kill"] = 404  # the kill switch is off again
    operator.command = "retry"
    await operator.tick(3)
    assert operator.slot.status.phase is not Phase.FAILED, "started over"
    assert [call for call in receiver.phases if call[0] == "tell"] == [("tell", "Failed")]
    assert [record.name for record in operator.slot.status.hooks if record.stage == "postRollout"] == []
    operator.stop()


@dataclass
class Rendezvous(Receiver):
    """Each call waits until `together` calls are under way at once (one after the other they never are: the call
    times out), and `slow` answers last, so the answers come back out of spec order."""

    together: int = 2
    slow: str = ""
    started: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)

    async def measure(
        self, gates: Sequence[Gate], now: datetime, scope: QueryScope | None = None
    ) -> tuple[Measurement, ...]:
        self.started += 1
        if self.started >= self.together:
            self.all_in.set()
        await asyncio.wait_for(self.all_in.wait(), 1)
        if any(gate.name == self.slow for gate in gates):
            await asyncio.sleep(0.05)
        return await super().measure(gates, now, scope)


async def test_the_stages_due_are_called_at_once_and_answer_in_spec_order() -> None:
    """Waiting for confirmPromotion, its hook and the rollback kill switch are both due: neither waits for the
    other's timeout, and the answers keep the spec's order whichever comes first."""
    receiver = Receiver(codes={"ship-it": 409, "kill": 404})
    operator = released(receiver, hook("ship-it", "confirmPromotion"), hook("kill", "rollback"))
    for _ in range(40):
        await operator.tick(3)
        if operator.slot.status.phase is Phase.PAUSED:
            break
    status = operator.slot.status
    assert status.pause_reason is not None
    assert status.pause_reason.value == "AwaitingConfirmation"
    assert isinstance(operator.spec, CanaryReleaseSpec)
    both = Rendezvous(codes=receiver.codes, slow="ship-it")
    later = status.next_check_at or datetime.now(UTC)
    answers = await call_hooks(
        REF, operator.spec, status, None, both, later + timedelta(minutes=5), labels={}, annotations={}
    )
    assert [answer.gate for answer in answers] == ["ship-it", "kill"]
    assert sorted(both.calls) == [("kill", "rollback"), ("ship-it", "confirmPromotion")]
    operator.stop()


async def test_an_approval_given_before_a_restart_outlives_it_while_completion_is_held() -> None:
    """The receiver says yes while the latest analysis fails (the release holds: an approval never promotes on bad
    news), then says no again; the new process completes from the approval the status kept, without asking."""
    receiver = Receiver(codes={"ship-it": 409})
    stages = (hook("load", "rollout"), hook("ship-it", "confirmPromotion"))
    operator = released(receiver, *stages)
    for _ in range(40):
        await operator.tick(3)
        if operator.slot.status.phase is Phase.PAUSED:
            break
    assert operator.slot.status.message.endswith("promote to skip the wait, abort to roll back")
    receiver.codes["load"] = 503
    for _ in range(10):
        await operator.tick(3)
        if operator.slot.status.last_outcome is Outcome.FAIL:
            break
    receiver.codes["ship-it"] = 200
    for _ in range(10):
        await operator.tick(3)
        if operator.slot.status.message.startswith("approved by ship-it; waiting for a passing analysis"):
            break
    held = operator.slot.status
    assert held.phase is Phase.PAUSED, held.message
    assert held.message.startswith("approved by ship-it; waiting for a passing analysis"), held.message
    assert next(record for record in held.hooks if record.name == "ship-it").passed
    operator.stop()

    receiver.codes.update({"load": 200, "ship-it": 403})  # the analysis recovers; the receiver says no again
    asked = len([call for call in receiver.calls if call[0] == "ship-it"])
    again = released(receiver, *stages)
    again.store = operator.store
    again.router = operator.router
    again.deps = type(again.deps)(**{**again.deps.__dict__, "router": operator.router})
    again.slot.status = held
    again.seconds = operator.seconds
    for _ in range(6):
        await again.tick(3)
    assert again.slot.status.phase is Phase.SUCCEEDED, again.slot.status.message
    assert again.weight() == 100
    assert len([call for call in receiver.calls if call[0] == "ship-it"]) == asked, "the approval was not asked again"
