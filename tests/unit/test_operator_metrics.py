"""The operator's own metrics, read back from its registry after real ticks (the service harness: real service,
domain and Istio router over fakes): what a platform team alerts on must say what happened, and a deleted release
must leave no series behind."""

from __future__ import annotations

import math
from datetime import timedelta

from graygate.api import CanaryReleaseStatus, Phase
from graygate.domain.analysis.http_probe import HttpProbeMeasurement
from graygate.domain.analysis.prometheus import PrometheusMeasurement, QueryReading, SeriesValue
from graygate.domain.analysis.routing_check import RoutingCheckMeasurement
from graygate.lifecycle import run_tick
from graygate.metrics import OperatorMetrics
from graygate.ports.release import ReleaseRef
from graygate.recording import gate_readings
from graygate.service import ReleaseView
from tests.unit.domain.release_builders import spec
from tests.unit.service.harness import T0, Operator

RELEASE = {"namespace": "shop", "release": "checkout"}


def sample(operator: Operator, name: str, **labels: str) -> float | None:
    return operator.metrics.registry.get_sample_value(name, {**RELEASE, **labels})


def series_of(metrics: OperatorMetrics, release: str) -> list[str]:
    return [
        f"{s.name}{s.labels}"
        for family in metrics.registry.collect()
        for s in family.samples
        if s.labels.get("release") == release
    ]


async def rolled_back() -> Operator:
    """Paused at 20 %, then the critical gate fails: one rollback."""
    operator = Operator(spec(steps=[{"setWeight": 20}, {"pause": {}}]))
    for _ in range(3):
        await operator.tick(31)
    operator.probes.code = 500
    await operator.tick(31)
    assert (operator.slot.status.phase, operator.weight()) == (Phase.FAILED, 0)
    return operator


async def test_phase_and_weight_follow_the_release() -> None:
    operator = Operator(spec(steps=[{"setWeight": 20}, {"pause": {}}]))
    for _ in range(3):
        await operator.tick(31)
    phases = {phase.value: sample(operator, "graygate_release_phase", phase=phase.value) for phase in Phase}
    assert phases == {phase.value: 1.0 if phase is Phase.PAUSED else 0.0 for phase in Phase}
    assert sample(operator, "graygate_canary_weight_percent") == 20


async def test_verdicts_rollbacks_and_time_to_rollback_are_counted() -> None:
    operator = await rolled_back()
    assert sample(operator, "graygate_gate_verdicts_total", gate="health", verdict="Pass", dry_run="false") == 1
    assert sample(operator, "graygate_gate_verdicts_total", gate="health", verdict="Fail", dry_run="false") == 1
    assert sample(operator, "graygate_rollbacks_total") == 1
    assert sample(operator, "graygate_time_to_rollback_seconds_count") == 1
    assert sample(operator, "graygate_canary_weight_percent") == 0
    assert sample(operator, "graygate_release_phase", phase="Failed") == 1


async def test_each_measured_gate_sets_its_values() -> None:
    operator = Operator(spec(steps=[{"setWeight": 20}, {"pause": {}}]))
    for _ in range(3):
        await operator.tick(31)
    assert sample(operator, "graygate_gate_value", gate="health", reading="statusCode") == 200
    assert sample(operator, "graygate_gate_value", gate="latency", reading="latencySeconds") == 0.02
    operator.probes.code = 500
    await operator.tick(31)
    assert sample(operator, "graygate_gate_value", gate="health", reading="statusCode") == 500


def test_gate_readings_take_a_number_from_each_reading() -> None:
    by_code = (
        SeriesValue(labels=(("response_code", "200"),), value=95),
        SeriesValue(labels=(("response_code", "503"),), value=5),
    )
    prometheus = PrometheusMeasurement(
        gate="errors",
        observed_at=T0,
        canary=QueryReading(query="q1", series=by_code),
        stable=QueryReading(query="q2", series=(SeriesValue(value=math.nan),)),
        canary_served=QueryReading(query="q3", error="timeout"),
    )
    readings = gate_readings(prometheus)
    assert readings["canary"] == 100
    assert math.isnan(readings["stable"]), "a reading that found nothing"
    assert math.isnan(readings["canaryServed"]), "a reading that failed"
    assert set(readings) == {"canary", "stable", "canaryServed"}

    refused = HttpProbeMeasurement(gate="health", observed_at=T0, url="http://x/", error="refused")
    assert gate_readings(refused) == {}
    answered = HttpProbeMeasurement(
        gate="health", observed_at=T0, url="http://x/", status_code=503, latency=timedelta(milliseconds=250)
    )
    assert gate_readings(answered) == {"statusCode": 503, "latencySeconds": 0.25}
    assert gate_readings(RoutingCheckMeasurement(gate="colour", observed_at=T0, url="http://x/")) == {}


async def test_reconcile_errors_are_counted_by_class() -> None:
    operator = Operator(spec(steps=[{"setWeight": 20}, {"pause": {}}]))
    await operator.tick(31)
    operator.router.booms = 2
    await operator.tick(31)
    await operator.tick(31)
    assert sample(operator, "graygate_reconcile_errors_total", error="Boom") == 2


async def test_a_deleted_release_leaves_no_series() -> None:
    operator = await rolled_back()
    operator.router.booms = 1
    await operator.tick(31)
    other = {"namespace": "shop", "release": "payments"}
    operator.metrics.canary_weight.labels(*other.values()).set(10)
    assert len(series_of(operator.metrics, "checkout")) > 20

    await operator.delete()
    assert series_of(operator.metrics, "checkout") == []
    assert operator.metrics.registry.get_sample_value("graygate_canary_weight_percent", other) == 10


async def test_a_daemon_exiting_late_leaves_the_series_of_the_release_recreated_under_its_name() -> None:
    operator = await rolled_back()
    await operator.delete()
    assert series_of(operator.metrics, "checkout") == []

    again = ReleaseRef("shop", "checkout", "uid-2")  # created again under the same name: another release
    with operator.slots.held(again.uid, CanaryReleaseStatus()) as slot:
        view = ReleaseView(ref=again, generation=1, spec=operator.spec, status=slot.status, command=None)
        assert await run_tick(slot, view, operator.deps, T0) is None
        operator.stop()  # the deleted release's daemon exits only now, and forgets its name as handlers.reconcile does
        operator.metrics.forget("shop", "checkout")
        assert sample(operator, "graygate_release_phase", phase="Pending") == 1, "the new release's series stay"

    operator.metrics.forget("shop", "checkout")  # the new release's daemon exits (the operator stops): no one left
    assert series_of(operator.metrics, "checkout") == []


async def test_a_dry_run_gates_verdicts_are_counted_apart() -> None:
    """An alert on `verdict="Fail"` must be able to leave out the gates that count toward nothing."""
    gates = [
        {
            "name": "health",
            "critical": True,
            "dryRun": True,
            "httpProbe": {"url": "http://checkout-canary:8080/healthz"},
        },
    ]
    operator = Operator(spec(steps=[{"setWeight": 20}, {"pause": {}}], analysis={"interval": "30s", "gates": gates}))
    operator.probes.code = 500
    for _ in range(3):
        await operator.tick(31)
    assert operator.slot.status.phase is Phase.PAUSED, "a dry-run gate's failure changes nothing"
    assert sample(operator, "graygate_gate_verdicts_total", gate="health", verdict="Fail", dry_run="true") == 1
    assert sample(operator, "graygate_gate_verdicts_total", gate="health", verdict="Fail", dry_run="false") is None
