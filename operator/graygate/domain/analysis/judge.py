"""The judge dispatch: a gate's check and its measurement in, the sample verdict of that kind's judge out.

Why: thresholds live in one pure judge per gate kind (`http_probe.py`, `prometheus.py`, ...), next to nothing
else: not next to the HTTP call or the query (Flagger's habit), so a judge is tested with a table of measurements
and no server. Each measurement names its judge (`Measurement.judged`), so this dispatch knows no list of kinds,
and it refuses a measurement of another gate or kind loudly instead of falling back to something silently.
"""

from __future__ import annotations

from graygate.api.gates import Gate
from graygate.domain.analysis.conditions import has_conditions, judge_conditions
from graygate.domain.analysis.measurements import Measurement
from graygate.domain.analysis.verdicts import Verdict
from graygate.domain.errors import MeasurementMismatch

__all__ = ["judge"]


def judge(gate: Gate, measurement: Measurement, *, weight: int | None = None) -> Verdict:
    """The sample verdict of `measurement` under `gate`'s check, taken while the canary had `weight` percent of
    the traffic (None: unknown). `metricParity` looks at the weight (at 0 % no traffic is expected), and
    `routingCheck` (the uncoloured requests must follow it). A gate with a `successCondition` or
    `failureCondition` is decided by those instead of the kind's thresholds (`conditions`)."""
    check = gate.check
    if measurement.gate != gate.name or measurement.kind != check.kind:
        raise MeasurementMismatch(
            f"gate {gate.name} ({check.kind}) cannot judge a {measurement.kind} measurement of gate {measurement.gate}"
        )
    verdict = measurement.judged(check, weight)
    return judge_conditions(gate, measurement, verdict) if has_conditions(gate) else verdict
