"""What a tick leaves in the operator's own metrics and log: the phase and weight, the writes, the transitions, the
verdicts and gate readings, the rollbacks and their time.

Apart from `service` so the tick reads as observe → decide → act; recording is the same for every decision and
fails on its own (the tick keeps going when it does, see `service.tick`).
"""

from __future__ import annotations

import logging
import time

from graygate.api.status import CanaryReleaseStatus, Phase
from graygate.domain.analysis.measurements import Measurement
from graygate.domain.release.decision import Decision, Rollback
from graygate.metrics import OperatorMetrics
from graygate.ports.release import ReleaseRef
from graygate.ports.routing import WriteResult

# The decision log line of a tick, under the logger name of the tick itself: a log filter selects the tick by it.
log = logging.getLogger("graygate.service")
PHASES = [phase.value for phase in Phase]


def record(
    ref: ReleaseRef,
    before: CanaryReleaseStatus,
    decision: Decision,
    write: WriteResult | None,
    analysis: tuple[Measurement, ...] | None,
    measured_at: float | None,
    metrics: OperatorMetrics,
) -> None:
    """Count `decision` (taken from the status `before`) and its traffic `write` in the operator's metrics, set the
    readings of this tick's `analysis`, observe the time to rollback from `measured_at`, and log the decision."""
    ns, name = ref.namespace, ref.name
    status = decision.status
    metrics.set_phase(ns, name, status.phase.value, PHASES)
    metrics.canary_weight.labels(ns, name).set(status.canary_weight)
    if write is not None and write.written:
        metrics.virtualservice_writes.labels(ns, name).inc(len(write.written))
    if decision.event is not None:
        metrics.transitions.labels(ns, name, decision.reason.value).inc()
    # Only an analysis of this tick: a later tick that changes the status otherwise (a condition, a re-assert after
    # a failed restore) still holds the same results, which were counted when they were recorded.
    if status.last_analysis_at is not None and status.last_analysis_at != before.last_analysis_at:
        for result in status.recent_results:
            if result.at == status.last_analysis_at:
                dry_run = "true" if result.dry_run else "false"
                metrics.verdicts.labels(ns, name, result.gate, result.outcome.value, dry_run).inc()
    for measurement in analysis or ():
        for reading, value in gate_readings(measurement).items():
            metrics.gate_value.labels(ns, name, measurement.gate, reading).set(value)
    if isinstance(decision, Rollback):
        metrics.rollbacks.labels(ns, name).inc()
        if measured_at is not None:
            metrics.time_to_rollback.labels(ns, name).observe(time.monotonic() - measured_at)
    changed = decision.event is not None or decision.status != before or bool(write and write.written)
    log.log(
        logging.INFO if changed else logging.DEBUG,
        "%s: %s",
        decision.reason.value,
        decision.message,
        extra={
            "release": f"{ns}/{name}",
            "phase": status.phase.value,
            "step": status.step_display,
            "weight": status.canary_weight,
            "verdict": status.last_outcome.value if status.last_outcome else None,
            "decision": type(decision).__name__,
        },
    )


def gate_readings(measurement: Measurement) -> dict[str, float]:
    """The numbers a measurement holds, by reading (a closed set per kind, so the metric's series stay bounded)."""
    return dict(measurement.numbers())
