"""The service's gates (`service.Measurer`) as a switch: every due gate answers with one HTTP status code."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graygate.api.gates import Gate
from graygate.domain.analysis.measurements import Measurement
from tests.unit.domain.release_builders import probe


@dataclass
class Probes:
    """Every due gate answers with `code`; while `hold` is set, a measurement waits for it to be cleared (a slow
    gate), after saying so in `started`."""

    code: int = 200
    hold: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def measure(self, gates: Sequence[Gate], now: datetime, scope: Any = None) -> tuple[Measurement, ...]:
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        return tuple(probe(gate.name, self.code, when=now) for gate in gates)
