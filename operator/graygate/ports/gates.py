"""The gates' seams: one gate kind's observer, and what the tick asks to measure the gates due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from graygate.api.gates import Gate, GateCheck
from graygate.domain.analysis.measurements import Measurement
from graygate.domain.analysis.promql import QueryScope


class Observer(Protocol):
    """One gate kind's I/O side: observes a check into a Measurement for the domain to judge. It never judges,
    reads no clock for ``observed_at`` (``now`` is given), and records a failure to observe in the measurement
    rather than raising. ``scope`` is the release the gate belongs to (None when the caller has none)."""

    async def observe(self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None) -> Measurement: ...

    async def close(self) -> None: ...


class Measurer(Protocol):
    """Takes the measurements of the gates due (`graygate.gates.runner.GateRunner`)."""

    async def measure(
        self, gates: Sequence[Gate], now: datetime, scope: QueryScope | None = None
    ) -> tuple[Measurement, ...]: ...
