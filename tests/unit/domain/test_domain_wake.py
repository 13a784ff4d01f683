"""When a release must tick next without any event (`wake.next_due`), one row per rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from release_builders import T0, at, follow_spec, spec, status

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus, PauseReason, Phase
from graygate.api.conditions import STALLED, set_condition
from graygate.api.status import ConditionStatus, HookRecord
from graygate.api.validation import InvalidSpec
from graygate.domain.release.decision import Reason
from graygate.domain.release.hooks import POST_ROLLOUT_CALLS
from graygate.domain.release.wake import CONFIG_POLL, POLL_CAP, deadline_at, next_due

P = Phase
NOW = at(10)
JUST_AFTER = timedelta(milliseconds=1)
DEADLINE = timedelta(minutes=10)
"""`progressDeadline`'s default."""


def hook(name: str, stage: str) -> dict[str, Any]:
    return {"name": name, "stage": stage, "webhook": {"url": f"http://hooks.test/{name}"}}


def hooked(*hooks: dict[str, Any]) -> CanaryReleaseSpec:
    return spec(steps=[{"setWeight": 10}, {"setWeight": 50}], analysis={"interval": "30s"}, hooks=list(hooks))


def record(name: str, stage: str, *, calls: int = 1, passed: bool = False, when: datetime = T0) -> HookRecord:
    return HookRecord(name=name, stage=stage, at=when, calls=calls, passed=passed)


def stalled_on_routes(phase: Phase, **fields: Any) -> CanaryReleaseStatus:
    conditions = set_condition(
        (), STALLED, ConditionStatus.TRUE, Reason.ROUTE_UNAVAILABLE.value, "no such VirtualService", generation=1,
        now=T0,
    )  # fmt: skip
    return status(phase, conditions=conditions, **fields)


INVALID = InvalidSpec(("spec.steps: at least one step",))
STEP_1 = {"current_step_index": 0, "canary_weight": 10, "step_started_at": T0}
PAUSE_2M = {"current_step_index": 1, "canary_weight": 10, "step_started_at": T0}
"""The base plan's second step: a 2-minute pause."""

ROWS = [
    # 1. an invalid spec: only a spec change makes it valid again
    pytest.param(INVALID, status(P.INVALID), False, None, id="invalid-spec-rests"),
    pytest.param(INVALID, status(P.PROGRESSING), True, None, id="invalid-spec-rests-even-after-marking-it"),
    # 2. a tick that moved something is followed by another at once (at the floor)
    pytest.param(spec(), status(P.PENDING, next_check_at=None), True, NOW, id="moved-ticks-again-now"),
    pytest.param(spec(), status(P.SUCCEEDED, canary_weight=100), True, NOW, id="moved-to-the-end-ticks-again-now"),
    pytest.param(spec(), status(P.INVALID), True, NOW, id="valid-again-after-invalid-moves-on-now"),
    # 3. first sight not recorded (its tick failed): now
    pytest.param(spec(), CanaryReleaseStatus(), False, NOW, id="first-sight-not-recorded"),
    # 4. the next analysis
    pytest.param(spec(), status(P.PROGRESSING, **STEP_1, next_check_at=at(30)), False, at(30), id="next-analysis"),
    pytest.param(
        spec(),
        status(P.PAUSED, **STEP_1, next_check_at=at(30), pause_reason=PauseReason.AWAITING_PROMOTION),
        False,
        at(30),
        id="paused-analysis-goes-on",
    ),
    pytest.param(
        spec(),
        status(P.PROGRESSING, **STEP_1, next_check_at=at(5)),
        False,
        NOW + POLL_CAP,
        id="analysis-past-and-not-run-asked-again-at-the-poll",
    ),
    pytest.param(
        spec(analysis={"interval": "2s", "gates": []}),
        status(P.PROGRESSING, **STEP_1, next_check_at=at(5)),
        False,
        at(12),
        id="poll-never-longer-than-the-analysis-interval",
    ),
    # 5. a timed pause's end
    pytest.param(
        spec(), status(P.PROGRESSING, **PAUSE_2M, next_check_at=at(300)), False, at(120), id="timed-pause-ends"
    ),
    pytest.param(
        spec(step_weights=[10, 50], step_interval="45s", steps=None),
        status(P.PROGRESSING, current_step_index=1, canary_weight=10, step_started_at=T0, next_check_at=at(300)),
        False,
        at(45),
        id="step-interval-ends",
    ),
    # 6. the progress deadline
    pytest.param(
        spec(),
        status(P.PROGRESSING, **STEP_1, progress_at=T0, next_check_at=at(5000)),
        False,
        T0 + DEADLINE + JUST_AFTER,
        id="progress-deadline",
    ),
    pytest.param(
        spec(),
        status(P.PROGRESSING, **PAUSE_2M, progress_at=T0, next_check_at=at(5000)),
        False,
        at(120),
        id="timed-pause-before-its-deadline",
    ),
    pytest.param(
        spec(),
        status(P.PAUSED, **STEP_1, progress_at=T0, next_check_at=at(5000)),
        False,
        at(5000),
        id="no-deadline-while-paused",
    ),
    # 7. stage hooks
    pytest.param(
        hooked(hook("ask", "confirmPromotion")),
        status(
            P.PAUSED,
            **STEP_1,
            next_check_at=at(5000),
            pause_reason=PauseReason.AWAITING_CONFIRMATION,
            hooks=(record("ask", "confirmPromotion"),),
        ),
        False,
        at(30),
        id="confirm-promotion-polled",
    ),
    pytest.param(
        hooked(hook("tell", "postRollout")),
        status(P.SUCCEEDED, canary_weight=100, started_at=T0, hooks=(record("tell", "postRollout"),)),
        False,
        at(30),
        id="post-rollout-retried",
    ),
    pytest.param(
        hooked(hook("tell", "postRollout")),
        status(
            P.SUCCEEDED,
            canary_weight=100,
            started_at=T0,
            hooks=(record("tell", "postRollout", calls=POST_ROLLOUT_CALLS),),
        ),
        False,
        None,
        id="post-rollout-given-up",
    ),
    pytest.param(
        hooked(hook("tell", "postRollout")),
        status(P.SUCCEEDED, canary_weight=100, started_at=T0, hooks=(record("tell", "postRollout", passed=True),)),
        False,
        None,
        id="post-rollout-delivered",
    ),
    # 8. a finished run's scale-down
    pytest.param(spec(), status(P.FAILED, scale_down_at=at(30)), False, at(30), id="scale-down-ahead"),
    pytest.param(spec(), status(P.FAILED, scale_down_at=at(5)), False, None, id="scaled-down-rests"),
    # 9. polled waits on objects not all watched
    pytest.param(spec(), status(P.PENDING, next_check_at=None), False, NOW + POLL_CAP, id="pending-polled"),
    pytest.param(
        spec(analysis={"interval": "2s"}),
        status(P.PENDING, next_check_at=None),
        False,
        at(12),
        id="pending-polled-at-a-shorter-interval",
    ),
    pytest.param(spec(), status(P.PROMOTING, canary_weight=100), False, NOW + POLL_CAP, id="promoting-polled"),
    pytest.param(
        spec(),
        stalled_on_routes(P.PAUSED, **STEP_1, next_check_at=at(5000)),
        False,
        NOW + POLL_CAP,
        id="stalled-on-routes-polled",
    ),
    # 10. a finished release with trackConfig reads its ConfigMaps and Secrets again (never watched)
    pytest.param(
        follow_spec(workload={"trackConfig": True}),
        status(P.SUCCEEDED, canary_weight=0),
        False,
        NOW + CONFIG_POLL,
        id="succeeded-with-track-config-polled",
    ),
    pytest.param(
        follow_spec(workload={"trackConfig": True}),
        status(P.FAILED),
        False,
        NOW + CONFIG_POLL,
        id="failed-with-track-config-polled",
    ),
    pytest.param(
        follow_spec(workload={"trackConfig": True}),
        status(P.FAILED, scale_down_at=at(20)),
        False,
        at(20),
        id="track-config-poll-after-an-earlier-scale-down",
    ),
    pytest.param(follow_spec(), status(P.SUCCEEDED), False, None, id="followed-without-track-config-rests"),
    # at rest: only the resync or an event
    pytest.param(spec(), status(P.SUCCEEDED, canary_weight=100), False, None, id="succeeded-rests"),
    pytest.param(spec(), status(P.ABORTED), False, None, id="aborted-rests"),
    pytest.param(spec(), stalled_on_routes(P.FAILED), False, None, id="failed-rests-even-stalled"),
]


@pytest.mark.parametrize(("release", "before", "moved", "due"), ROWS)
def test_next_due(
    release: CanaryReleaseSpec | InvalidSpec, before: CanaryReleaseStatus, moved: bool, due: datetime | None
) -> None:
    assert next_due(release, before, NOW, moved=moved) == due


def test_the_deadline_is_heard_just_after_overdue_says_so() -> None:
    from graygate.domain.release.deadline import overdue

    late = status(P.PROGRESSING, **STEP_1, progress_at=T0)
    when = deadline_at(spec(), late)
    assert when is not None
    assert overdue(spec(), late, when - JUST_AFTER) is None
    assert overdue(spec(), late, when) is not None


def test_a_release_waiting_for_a_rollout_approval_has_no_deadline() -> None:
    waiting = status(P.PENDING, progress_at=T0, next_check_at=None, hooks=(record("ok", "confirmRollout"),))
    assert deadline_at(hooked(hook("ok", "confirmRollout")), waiting) is None
