"""One JSON POST with retries, for the webhook gate and stage hooks and for the notifiers: the loop written once,
each caller giving its policy (`Retrying`) and saying the outcome in its own words.

Retried: no answer (`HttpFailure`: refused, reset, timed out; unless `retry_failure` says otherwise; never an
address the operator's rules refuse, `HttpRefused`) and an answer `retry_status` accepts (a 5xx by default); any
other answer is the receiver's decision and ends the call. Between
attempts a pause grows with each one (linearly, or doubling). `total_s` bounds the whole call, pauses included:
each attempt then takes at most what remains. Redirects are never followed (`http.client`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from graygate.http.client import Answer, HttpClient, HttpFailure, HttpRefused

__all__ = ["Posted", "Retrying", "json_body", "post_json"]


def _server_error(status: int) -> bool:
    return status >= 500


def _any_failure(failure: HttpFailure) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Retrying:
    """How hard to try: `retries` more attempts after the first, each within `attempt_s`."""

    retries: int
    attempt_s: float
    total_s: float | None = None
    """The bound on the whole call, pauses included (None: only each attempt's)."""
    backoff_s: float = 0.2
    """The pause before the first retry; then `backoff_s * n` before the n-th, or doubling with `doubling`."""
    doubling: bool = False
    retry_status: Callable[[int], bool] = _server_error
    retry_failure: Callable[[HttpFailure], bool] = _any_failure

    def pause(self, attempts: int) -> float:
        return self.backoff_s * (2 ** (attempts - 1) if self.doubling else attempts)


@dataclass(frozen=True, slots=True)
class Posted:
    """The last attempt's answer, or why it had none (`failure`; both None: no time was left for an attempt)."""

    answer: Answer | None
    failure: HttpFailure | None
    attempts: int
    latency_s: float
    timeout_s: float
    """The last attempt's timeout."""


def json_body(payload: object) -> bytes:
    """`payload` as the compact JSON every POST sends."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


async def post_json(
    client: HttpClient,
    url: str,
    payload: object,
    headers: Mapping[str, str],
    retrying: Retrying,
    *,
    limit: int,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Posted:
    """POST `payload` as JSON to `url` with `headers`, retrying as `retrying` says; the answer's body is read up to
    `limit` bytes."""
    body = json_body(payload)
    sent = {**headers, "Content-Type": "application/json"}
    started = clock()
    attempts, answer, failure = 0, None, None
    timeout_s = retrying.attempt_s
    while attempts <= retrying.retries:
        if retrying.total_s is not None:
            remaining = retrying.total_s - (clock() - started)
            if remaining <= 0.001:
                break
            timeout_s = min(retrying.attempt_s, remaining)
        attempts += 1
        answer, failure = None, None
        try:
            answer = await client.request("POST", url, headers=sent, body=body, limit=limit, timeout_s=timeout_s)
        except HttpFailure as error:
            failure = error
        if answer is not None and not retrying.retry_status(answer.status):
            break
        if failure is not None and (isinstance(failure, HttpRefused) or not retrying.retry_failure(failure)):
            break  # a refused address stays refused: nothing to retry
        pause = retrying.pause(attempts)
        if retrying.total_s is not None:
            pause = min(pause, retrying.total_s - (clock() - started))
        if attempts <= retrying.retries and pause > 0:
            await sleep(pause)
    return Posted(answer, failure, attempts, max(0.0, clock() - started), timeout_s)
