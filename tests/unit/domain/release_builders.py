"""Builders for the domain tables: a release spec, a status, one tick's observations, probe measurements.

Plain functions, so parametrize tables can call them at collection time. Every value is a real model or dataclass;
nothing is mocked.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from graygate.api import CanaryReleaseSpec, CanaryReleaseStatus, OriginalRoute, Outcome, Phase
from graygate.api.gates import GateCheck
from graygate.domain.analysis.http_probe import HttpProbeMeasurement
from graygate.domain.analysis.measurements import Measurement, WorkloadReading
from graygate.domain.analysis.verdicts import Verdict
from graygate.domain.release.decision import Decision, Reason
from graygate.domain.release.observations import DeploymentState, FollowedState, Observations, RouteReading

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VS = "checkout"
SNAPSHOT = OriginalRoute(virtual_service=VS, route="primary", route_json='{"name":"primary"}')

BASE: dict[str, Any] = {
    "trafficRouting": {"istio": {"virtualServices": [{"name": VS, "routes": ["primary"]}]}},
    "stable": {"host": "checkout", "subset": "stable"},
    "canary": {"host": "checkout", "subset": "canary"},
    "steps": [{"setWeight": 10}, {"pause": {"duration": "2m"}}, {"setWeight": 50}, {"pause": {}}],
    "analysis": {
        "interval": "30s",
        "failureLimit": 1,
        "inconclusiveLimit": 2,
        "gates": [
            {"name": "health", "critical": True, "httpProbe": {"url": "http://checkout-canary:8080/healthz"}},
            {"name": "latency", "httpProbe": {"url": "http://checkout-canary:8080/", "latencyBudget": "300ms"}},
        ],
    },
}


def at(seconds: float = 0) -> datetime:
    """T0 plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def manifest(**changes: Any) -> dict[str, Any]:
    """The base spec (camelCase) with top-level keys replaced; a value of None removes the key."""
    body = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def spec(**changes: Any) -> CanaryReleaseSpec:
    """The base spec as a model, with `manifest`'s changes."""
    return CanaryReleaseSpec.model_validate(manifest(**changes))


def no_gates(**changes: Any) -> CanaryReleaseSpec:
    """A spec without gates."""
    return spec(analysis={"interval": "30s"}, **changes)


def status(phase: Phase = Phase.PROGRESSING, **fields: Any) -> CanaryReleaseStatus:
    """A status already initialized (generation 1, routes recorded), in `phase`, with `fields` (snake_case)."""
    values: dict[str, Any] = {
        "phase": phase,
        "observed_generation": 1,
        "original_routes": (SNAPSHOT,),
        "step_started_at": T0,
        "next_check_at": T0,
        "message": "",
    }
    values.update(fields)
    return CanaryReleaseStatus(**values)


def routes(*weights: int | None, error: str = "VirtualServiceNotFound: checkout is gone") -> tuple[RouteReading, ...]:
    """One reading per weight, on routes `primary`, `secondary`...; None is an unreadable route."""
    names = ["primary", "secondary", "tertiary"]
    return tuple(
        RouteReading(virtual_service=VS, route=names[i], canary_weight=weight, error=error if weight is None else None)
        for i, weight in enumerate(weights)
    )


def observe(
    weight: int | None = 0,
    *,
    generation: int = 1,
    analysis: tuple[Measurement, ...] | None = None,
    command: str | None = None,
    frozen: bool = False,
    workload: WorkloadReading | None = None,
    snapshots: tuple[OriginalRoute, ...] | None = None,
    readings: tuple[RouteReading, ...] | None = None,
    followed: FollowedState | None = None,
) -> Observations:
    """One tick's observations: by default one readable route at `weight` and nothing else."""
    return Observations(
        generation=generation,
        routes=routes(weight) if readings is None else readings,
        workload=workload,
        analysis=analysis,
        snapshots=snapshots,
        command=command,
        frozen=frozen,
        followed=followed,
    )


def follow_spec(*weights: int, **changes: Any) -> CanaryReleaseSpec:
    """A spec without gates that follows Deployment `checkout` through `setWeight` steps (default 10, 30, 60);
    `workload` changes (camelCase) go in `changes["workload"]`."""
    workload = {"name": "checkout", **changes.pop("workload", {})}
    steps = [{"setWeight": weight} for weight in weights or (10, 30, 60)]
    return spec(**{"analysis": {"interval": "30s"}, "steps": steps, "workload": workload, **changes})


def deployments(
    revision: str | None = "rev-2",
    primary: str | None = "rev-1",
    *,
    replicas: int = 3,
    primary_replicas: int = 3,
    primary_ready: bool = True,
    exists: bool = True,
    primary_exists: bool | None = None,
) -> FollowedState:
    """`checkout` at `revision` with `replicas`, and `checkout-primary` at `primary` (missing when None, unless
    `primary_exists` says it exists anyway: a Deployment graygate did not make)."""
    there = primary is not None if primary_exists is None else primary_exists
    return FollowedState(
        canary=DeploymentState(
            name="checkout", exists=exists, revision=revision if exists else None, replicas=replicas, ready=True
        ),
        primary=DeploymentState(
            name="checkout-primary",
            exists=there,
            revision=primary,
            replicas=primary_replicas if there else 0,
            ready=there and primary_ready,
            message="" if primary_ready else "1/3 updated",
        ),
    )


def probe(
    gate: str = "health",
    code: int | None = 200,
    *,
    latency_ms: float = 20,
    body: str | None = None,
    error: str | None = None,
    when: datetime = T0,
) -> HttpProbeMeasurement:
    """One httpProbe measurement."""
    return HttpProbeMeasurement(
        gate=gate,
        observed_at=when,
        url=f"http://checkout-canary:8080/{gate}",
        status_code=None if error else code,
        latency=timedelta(milliseconds=latency_ms),
        body=body,
        error=error,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Judged(Measurement):
    """A measurement that carries its own sample verdict: for outcomes and fields (`harm`, `evidence`) the real
    judges of the base gates (httpProbe) do not produce."""

    kind: ClassVar[str] = "httpProbe"
    verdict: Verdict

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        return self.verdict


def judged(
    gate: str,
    outcome: Outcome,
    reason: str = "judged",
    *,
    harm: str | None = None,
    evidence: dict[str, str] | None = None,
    when: datetime = T0,
) -> Judged:
    """A measurement of `gate` whose sample verdict is `outcome`, with `harm` and `evidence` as given."""
    verdict = Verdict(
        gate=gate,
        kind="httpProbe",
        outcome=outcome,
        reason=reason,
        at=when,
        harm=harm,
        evidence=evidence or {},
    )
    return Judged(gate=gate, observed_at=when, verdict=verdict)


def passing(when: datetime = T0) -> tuple[Measurement, ...]:
    """Both base gates passing."""
    return (probe("health", when=when), probe("latency", when=when))


def available(yes: bool = True) -> WorkloadReading:
    """The canary Deployment's availability."""
    return WorkloadReading(kind="Deployment", name="checkout-canary", available=yes, message="" if yes else "0/2 ready")


def check(decision: Decision, kind: type[Decision], phase: Phase, target: int | None, reason: Reason) -> None:
    """A decision is of `kind`, into `phase`, aiming at `target` % on the canary, for `reason`."""
    assert type(decision) is kind, decision.message
    assert decision.status.phase is phase
    assert decision.target_weight == target
    assert decision.reason is reason
