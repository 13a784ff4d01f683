"""Runs every gate of a release once, concurrently, and hands the domain one Measurement per gate.

Why here and not in the service: the service asks "measure these gates" and gets plain data back. The runner builds
one observer per line of the table of kinds (`gates.kinds`) from the tools it is given, and knows no kind itself. A
gate that raises is a bug in that gate, not a verdict: it is turned into an error measurement (the kind's
`Measurement.unmeasured`), so one broken gate never stops the others, and the domain judges it as `Error`.

The platform team's `url_allowlist` is checked here, once for every kind, before a gate is asked to observe: a
gate whose URL (`CheckModel.urls`) is outside it measures an error naming the gate and the URL, and sends nothing
(`refusals` lets the handler refuse such a release as Invalid before it starts; this check covers a list narrowed
mid-release). The operator's own default Prometheus address is the platform team's choice, so it is not checked; an
address a release names is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from graygate.api.gates import Gate
from graygate.domain.analysis.measurements import Measurement
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.url_allowlist import UrlAllowlist
from graygate.gates.kinds import KINDS, kind_of
from graygate.gates.tools import GateTools
from graygate.ports.gates import Observer
from graygate.store.connections import EtcdConnector


class GateRunner:
    """Measures gates with one observer per kind, built from `tools` (owned from here on, closed by `close()`;
    default: tools with no metric provider, no Secret reader and no default Prometheus, whose `prometheus` gates
    then measure an error saying so). `url_allowlist` bounds the URLs every gate may call."""

    def __init__(self, tools: GateTools | None = None, *, url_allowlist: UrlAllowlist | None = None) -> None:
        self._tools = tools or GateTools()
        self._allowlist = url_allowlist or UrlAllowlist()
        self._observers: dict[str, Observer] = {kind.name: kind.observer(self._tools) for kind in KINDS}

    @property
    def etcd_connector(self) -> EtcdConnector:
        """The etcd connections the gates use; a release's config keys go through the same pool."""
        return self._tools.etcd

    async def measure(
        self, gates: Sequence[Gate], now: datetime, scope: QueryScope | None = None
    ) -> tuple[Measurement, ...]:
        """One measurement per gate, in order. `scope` is the release: query templates name it and the etcd gates
        read their Secrets from its namespace."""
        results = await asyncio.gather(*(self._measure(gate, now, scope) for gate in gates))
        return tuple(results)

    def refusals(self, gates: Sequence[Gate]) -> tuple[str, ...]:
        """What the allowlist refuses among the URLs these gates would call, one sentence per URL: the release is
        refused before it starts, rather than rolled back when its first check is not sent."""
        return tuple(
            refusal
            for gate in gates
            for url in gate.check.urls()
            if (refusal := self._allowlist.refusal(gate.name, url)) is not None
        )

    async def close(self) -> None:
        for observer in self._observers.values():
            await observer.close()
        await self._tools.close()

    async def _measure(self, gate: Gate, now: datetime, scope: QueryScope | None) -> Measurement:
        check, name = gate.check, gate.name
        kind = kind_of(check.kind)
        refused = next(filter(None, (self._allowlist.refusal(name, url) for url in check.urls())), None)
        if refused is not None:
            return kind.measurement.unmeasured(name, check, now, refused)
        try:
            return await self._observers[kind.name].observe(name, check, now, scope)
        except Exception as error:
            return kind.measurement.unmeasured(name, check, now, f"the gate failed: {type(error).__name__}: {error}")
