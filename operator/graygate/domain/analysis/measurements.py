"""Measurements: what a gate observed, with no opinion about it.

Why: gates do I/O and the domain judges; the seam between them is this plain data. A measurement carries the
inputs (the URL, the method), the raw readings (status code, latency, body) and the error text when there was no
reading, so the judge can explain its verdict and a test can build any situation in one line.

Each gate kind's measurement lives in that kind's module (`http_probe.py`, `prometheus.py`, ...) beside its judge,
and subclasses `Measurement` here. A subclass says which judge it goes to (`judged`) and, when it records more of
its check than the gate's name, how it looks when nothing could be measured (`unmeasured`). So `judge.judge`
dispatches without knowing the list of kinds, and a new kind touches no file of the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Generic, Self, TypeVar

from graygate.api.gates import GateCheck
from graygate.domain.errors import MeasurementMismatch

if TYPE_CHECKING:
    from graygate.domain.analysis.verdicts import Verdict

__all__ = ["DocumentReading", "Measurement", "WorkloadReading", "checked"]

T = TypeVar("T")
C = TypeVar("C")


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """What one gate observed at `observed_at`; `error` is set when it could not observe at all."""

    kind: ClassVar[str] = ""

    gate: str
    observed_at: datetime
    error: str | None = None

    def judged(self, check: GateCheck, weight: int | None) -> Verdict:
        """This measurement's sample verdict under `check`, taken while the canary had `weight` percent of the
        traffic (None: unknown). Each kind answers with its own judge."""
        raise NotImplementedError(f"{type(self).__name__} names no judge")

    def numbers(self) -> Mapping[str, float]:
        """The numbers this measurement holds, by name (a closed set per kind, so a metric's series stay bounded);
        NaN for a reading taken that found nothing. A kind that observes no single number has none."""
        return {}

    def result(self) -> Mapping[str, object] | None:
        """What a gate's `successCondition` and `failureCondition` see as `result`, typed as the check's
        `result_sample()` declares it (a test keeps the two alike); None when there is nothing to evaluate and the
        kind's own verdict stands (e.g. a query that found no data, judged by `onNoData`). Default: `numbers()`."""
        return dict(self.numbers())

    @classmethod
    def unmeasured(cls, gate: str, check: GateCheck, now: datetime, why: str) -> Self:
        """The measurement of a gate that could not observe (`why`): its URL was refused, or its observer raised."""
        return cls(gate=gate, observed_at=now, error=why)


def checked(check: GateCheck, model: type[C], measurement: Measurement) -> C:
    """`check` as the model its measurement's kind expects, or `MeasurementMismatch`."""
    if isinstance(check, model):
        return check
    raise MeasurementMismatch(
        f"a {check.kind} check cannot judge a {measurement.kind} measurement of gate {measurement.gate}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentReading(Generic[T]):
    """One document a release check fetched: its parsed `content`, or why there is none in `error` (no answer, an
    error status, a body too large or not in the expected format)."""

    url: str
    content: T | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadReading:
    """The canary workload's availability (its `Available` condition), with the condition's message."""

    kind: str
    name: str
    available: bool
    message: str = ""
    pod_labels: tuple[tuple[str, str], ...] | None = None
    """The labels of its pod template, sorted; None when unknown (the Deployment could not be read)."""

    @property
    def label(self) -> str:
        """`Deployment/checkout-canary`."""
        return f"{self.kind}/{self.name}"
