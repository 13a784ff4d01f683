"""One notification's POST: JSON, a timeout per attempt, a bounded number of retries with exponential backoff, on
the shared JSON POST (`http.json_post`; aiohttp stays in `http.client`).

Retried: no answer (a connection refused, a timeout; not a URL that does not parse), a 5xx and a 429; another 4xx
is the receiver saying the message itself is wrong, so sending it again cannot help. Redirects are not followed
(the allowlist judged the URL given, not where a redirect would lead).

The channel's URL is a credential (an incoming webhook's token is in its path or query): a failure says only the
error's type and the URL's host, never the error's own words (which may quote the URL as the client rewrote it,
so no search for the URL as given would find it); a receiver's answer is kept with the URL's path and query cut
out of it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from graygate.http.client import HttpClient, HttpFailure, HttpTimeout, Outbound
from graygate.http.json_post import Posted, Retrying, post_json

__all__ = ["Delivery", "JsonPoster", "Sent", "deliver", "host_of"]

_BODY = 200
"""Bytes of a refusing answer's body kept for the log."""
USER_AGENT = "graygate-notifications"


@dataclass(frozen=True, slots=True)
class Delivery:
    """How hard to try."""

    timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 1.0
    """The wait before the first retry; it doubles for each next one."""

    def retrying(self) -> Retrying:
        return Retrying(
            retries=self.retries,
            attempt_s=self.timeout_s,
            backoff_s=self.backoff_s,
            doubling=True,
            retry_status=_retried_status,
            retry_failure=_retried_failure,
        )


def _retried_status(status: int) -> bool:
    return status >= 500 or status == 429


def _retried_failure(failure: HttpFailure) -> bool:
    return failure.cause != "InvalidURL"


@dataclass(frozen=True, slots=True)
class Sent:
    ok: bool
    attempts: int
    detail: str = ""
    """Why it failed: the last status and the first bytes of the body, or the error."""


class JsonPoster:
    """`deliver` on one client, opened on first use and closed (to open again on the next use) with the notifier."""

    def __init__(self, delivery: Delivery, outbound: Outbound | None = None) -> None:
        self._delivery = delivery
        self._client = HttpClient(USER_AGENT, name="notifier", reopens=True, outbound=outbound)

    async def post(self, url: str, payload: Any) -> Sent:
        return await deliver(self._client, url, payload, self._delivery)

    async def close(self) -> None:
        await self._client.close()


async def deliver(
    client: HttpClient,
    url: str,
    payload: Any,
    delivery: Delivery,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Sent:
    """POST `payload` to the channel's `url` as `delivery` says; what happened, said without the URL's secrets."""
    posted = await post_json(
        client, url, payload, {}, delivery.retrying(), limit=_BODY, clock=time.monotonic, sleep=sleep
    )
    return Sent(ok=_ok(posted), attempts=posted.attempts, detail="" if _ok(posted) else _detail(posted, url))


def _ok(posted: Posted) -> bool:
    return posted.answer is not None and 200 <= posted.answer.status < 300


def _detail(posted: Posted, url: str) -> str:
    if posted.answer is not None:
        body = posted.answer.body.decode("utf-8", "replace")
        return f"HTTP {posted.answer.status}: {_without_url(body, url)}".strip()
    failure = posted.failure
    if isinstance(failure, HttpTimeout):
        return f"no answer within {posted.timeout_s:g}s from host {host_of(url)}"
    if failure is not None and failure.cause == "InvalidURL":
        return "InvalidURL: the channel's URL does not parse"
    cause = failure.cause if failure is not None else "no attempt"
    return f"{cause} (host {host_of(url)})"


def host_of(url: str) -> str:
    """The URL's host, the only part of a channel's URL a log line may hold."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _without_url(text: str, url: str) -> str:
    """`text` without the URL, its path or its query (a receiver may quote them back)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text.replace(url, "<the channel's URL>")
    for secret in sorted(filter(None, (url, parts.path.strip("/"), parts.query)), key=len, reverse=True):
        text = text.replace(secret, "<the channel's URL>")
    return text
