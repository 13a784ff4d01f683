"""What a tick calls besides the traffic: the gates and stage hooks due this tick, and the notifications of the
transitions its decision made.

Apart from `service` so the tick reads as observe → decide → act, and below it (the import contract's layers), so
both take plain values, not the service's types.

Why concurrently: the gates and the stages due in one tick (while waiting for `confirmPromotion`, its hook and the
`rollback` kill switch) are independent calls; one after the other, a tick would wait for the sum of their
timeouts, and the kill switch would be heard only after the approval hook answered. The answers keep a fixed order
(the stages as the spec lists their first hook, each stage's hooks in spec order), whatever answers first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus
from graygate.api.validation import InvalidSpec
from graygate.domain.analysis.measurements import Measurement, WorkloadReading
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.release.decision import Decision
from graygate.domain.release.hooks import due as hooks_due
from graygate.domain.release.notifications import notifications_of, told
from graygate.domain.release.precheck import gates_due
from graygate.ports.gates import Measurer
from graygate.ports.notifications import NotificationSink
from graygate.ports.release import ReleaseRef

__all__ = ["Measured", "call_hooks", "measure_due", "notify"]

log = logging.getLogger("graygate.service")


@dataclass(frozen=True, slots=True)
class Measured:
    """What one tick measured: the analysis due (None: none was), the `time.monotonic()` it was taken at (where the
    time to rollback starts), and the stage hooks' answers."""

    analysis: tuple[Measurement, ...] | None
    measured_at: float | None
    hooks: tuple[Measurement, ...]


async def measure_due(
    ref: ReleaseRef,
    spec: CanaryReleaseSpec,
    status: CanaryReleaseStatus,
    workload: WorkloadReading | None,
    gates: Measurer,
    now: datetime,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> Measured:
    """Measure the gates due this tick (`precheck.gates_due`) and call the stage hooks due, all at once."""
    (analysis, measured_at), hooks = await asyncio.gather(
        _analysis(ref, spec, status, workload, gates, now, labels=labels, annotations=annotations),
        call_hooks(ref, spec, status, workload, gates, now, labels=labels, annotations=annotations),
    )
    return Measured(analysis, measured_at, hooks)


async def _analysis(
    ref: ReleaseRef,
    spec: CanaryReleaseSpec,
    status: CanaryReleaseStatus,
    workload: WorkloadReading | None,
    gates: Measurer,
    now: datetime,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> tuple[tuple[Measurement, ...] | None, float | None]:
    if (due := gates_due(spec, status, now, workload)) is None:
        return None, None
    scope = QueryScope(
        namespace=ref.namespace,
        release=ref.name,
        spec=spec,
        step_started_at=status.step_started_at,
        status=status,
        labels=labels,
        annotations=annotations,
    )
    analysis = await gates.measure(due, now, scope)
    return analysis, time.monotonic()


async def call_hooks(
    ref: ReleaseRef,
    spec: CanaryReleaseSpec,
    status: CanaryReleaseStatus,
    workload: WorkloadReading | None,
    gates: Measurer,
    now: datetime,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> tuple[Measurement, ...]:
    """Call the stage hooks due this tick (`hooks.due`) as `webhook` gates, each with its stage in the payload: the
    stages concurrently, the answers in a fixed order."""
    due = hooks_due(spec, status, now, workload)
    stages = list(dict.fromkeys(hook.stage for hook in due))
    if not stages:
        return ()

    def scope(stage: str) -> QueryScope:
        return QueryScope(
            namespace=ref.namespace,
            release=ref.name,
            spec=spec,
            status=status,
            labels=labels,
            annotations=annotations,
            stage=stage,
        )

    answers = await asyncio.gather(
        *(gates.measure([hook.gate() for hook in due if hook.stage == stage], now, scope(stage)) for stage in stages)
    )
    return tuple(answer for stage_answers in answers for answer in stage_answers)


def notify(
    ref: ReleaseRef,
    spec: CanaryReleaseSpec | InvalidSpec,
    before: CanaryReleaseStatus,
    decision: Decision,
    sink: NotificationSink,
    unrouted: Exception | None,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> None:
    """Hand the transitions `decision` made from `before` (its status is written: they happened), with the release's
    labels and annotations, to the notifier, which never blocks nor raises. A traffic change not written yet is
    said."""
    try:
        notes = notifications_of(ref.namespace, ref.name, before, decision)
        if not notes:
            return
        late = f"; the traffic change is not written yet ({type(unrouted).__name__}), retrying" if unrouted else ""
        notes = told(notes, labels=labels, annotations=annotations, said=late)
        settings = spec.notifications if isinstance(spec, CanaryReleaseSpec) else None
        sink.submit(ref, settings, notes)
    except Exception:  # a notification must never change what the tick did
        log.exception("notifications not queued", extra={"release": f"{ref.namespace}/{ref.name}"})
