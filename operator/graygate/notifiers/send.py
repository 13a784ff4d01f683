"""One notification's POST: JSON, a timeout per attempt, a bounded number of retries with exponential backoff.

Retried: no answer (a connection refused, a timeout), a 5xx and a 429; another 4xx is the receiver saying the
message itself is wrong, so sending it again cannot help. Redirects are not followed (the allowlist judged the
URL given, not where a redirect would lead).

The channel's URL is a credential (an incoming webhook's token is in its path or query): a failure says only the
error's type and the URL's host, never the error's own words (which may quote the URL as the client rewrote it,
so no search for the URL as given would find it); a receiver's answer is kept with the URL's path and query cut
out of it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

__all__ = ["Delivery", "JsonPoster", "Sent", "post_json"]

_BODY = 200
"""Bytes of a refusing answer's body kept for the log."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """How hard to try."""

    timeout_s: float = 5.0
    retries: int = 2
    backoff_s: float = 1.0
    """The wait before the first retry; it doubles for each next one."""


@dataclass(frozen=True, slots=True)
class Sent:
    ok: bool
    attempts: int
    detail: str = ""
    """Why it failed: the last status and the first bytes of the body, or the error."""


class JsonPoster:
    """`post_json` on one session, opened on first use and closed with the notifier."""

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, payload: Any) -> Sent:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "graygate-notifications"}, cookie_jar=aiohttp.DummyCookieJar()
            )
        return await post_json(self._session, url, payload, self._delivery)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def post_json(session: aiohttp.ClientSession, url: str, payload: Any, delivery: Delivery) -> Sent:
    detail = ""
    attempts = 0
    for attempt in range(delivery.retries + 1):
        if attempt:
            await asyncio.sleep(delivery.backoff_s * 2 ** (attempt - 1))
        attempts += 1
        try:
            async with session.post(
                url,
                json=payload,
                timeout=aiohttp.ClientTimeout(total=delivery.timeout_s),
                allow_redirects=False,
            ) as response:
                if 200 <= response.status < 300:
                    return Sent(ok=True, attempts=attempts)
                body = (await response.content.read(_BODY)).decode("utf-8", "replace")
                detail = f"HTTP {response.status}: {_without_url(body, url)}".strip()
                if response.status < 500 and response.status != 429:
                    break
        except TimeoutError:
            detail = f"no answer within {delivery.timeout_s:g}s from host {host_of(url)}"
        except aiohttp.InvalidURL:
            return Sent(ok=False, attempts=attempts, detail="InvalidURL: the channel's URL does not parse")
        except aiohttp.ClientError as error:
            detail = f"{type(error).__name__} (host {host_of(url)})"
    return Sent(ok=False, attempts=attempts, detail=detail)


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
