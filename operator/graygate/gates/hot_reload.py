"""The `hotReload` gate's observation side: write a nonce to etcd, then ask the canary until it reports it.

Why it only observes: whether 10 s without the new value fails a release is the judge's call
(`graygate.domain.analysis.hot_reload`). This module writes the probe key (with a lease, so it disappears by itself),
polls the config endpoint every `pollInterval` until the nonce shows up or the deadline passes, and records what
the canary last said and how long it took. A failure to write the nonce is recorded, never raised.

Time: the deadline is measured with an injectable monotonic clock and the waits use an injectable sleep, so a test
walks the loop without waiting; `observed_at` is the `now` passed in. The nonce comes from `secrets` (a value the
canary cannot have seen before); tests inject their own.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

from graygate.api.gates import GateCheck, HotReload
from graygate.domain.analysis.hot_reload import HotReloadMeasurement
from graygate.domain.analysis.measurements import DocumentReading
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.compare.jsonpath import Found, lookup, render
from graygate.errors import GraygateError
from graygate.gates.fetch import HttpFetcher, json_document
from graygate.gates.tools import GateTools, expect
from graygate.store.connections import EtcdConnector

__all__ = ["HotReloadObserver", "new_nonce"]

_MIN_REQUEST_S = 0.05


def new_nonce() -> str:
    """A fresh value for the probe key: `graygate-` and 16 random hex digits."""
    return f"graygate-{secrets.token_hex(8)}"


class HotReloadObserver:
    """Observes `hotReload` gates through a shared connector and fetcher (which their owner closes)."""

    @classmethod
    def of(cls, tools: GateTools) -> HotReloadObserver:
        return cls(tools.etcd, tools.fetcher)

    def __init__(
        self,
        connector: EtcdConnector,
        fetcher: HttpFetcher,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        self._connector = connector
        self._fetcher = fetcher
        self._clock = clock
        self._sleep = sleep
        self._nonce = nonce

    async def observe(
        self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None = None
    ) -> HotReloadMeasurement:
        return await self._observe(gate, expect(check, HotReload), now, scope.namespace if scope is not None else None)

    async def close(self) -> None:
        """Nothing of its own to close: the fetcher and the etcd connections belong to the tools."""

    async def _observe(self, gate: str, check: HotReload, now: datetime, namespace: str | None) -> HotReloadMeasurement:
        """One probe: write, then poll until the nonce is reported or `check.deadline` has passed."""
        seen = partial(
            HotReloadMeasurement,
            gate=gate,
            observed_at=now,
            key=check.key,
            url=check.url,
            json_path=check.json_path,
            deadline=check.deadline,
        )
        nonce = self._nonce()
        try:
            store = await self._connector.store(check.etcd, namespace)
            await store.put_with_lease(check.key, nonce, max(1, math.ceil(check.ttl.total_seconds())))
        except GraygateError as error:
            return seen(error=str(error))
        started = self._clock()
        deadline = started + check.deadline.total_seconds()
        polls, reported, problem = 0, None, None
        while True:
            remaining = deadline - self._clock()
            download = await self._fetcher.get(
                check.url, headers=check.headers, timeout_s=max(remaining, _MIN_REQUEST_S), accept="application/json"
            )
            polls += 1
            reported, problem = _reported(json_document(download), check.json_path)
            remaining = deadline - self._clock()
            if reported == nonce or remaining <= 0:
                break
            await self._sleep(min(check.poll_interval.total_seconds(), remaining))
        waited = timedelta(seconds=max(0.0, self._clock() - started))
        return seen(nonce=nonce, waited=waited, polls=polls, reported=reported, report_error=problem)


def _reported(answer: DocumentReading[object], path: str) -> tuple[str | None, str | None]:
    """(the value at `path` as text, None), or (None, why there is none)."""
    if answer.content is None:
        return None, f"{answer.url}: {answer.error or 'no content'}"
    found = lookup(answer.content, path)
    if not isinstance(found, Found):
        return None, f"no {path} in its answer ({found.why} at {found.where})"
    return render(found.value), None
