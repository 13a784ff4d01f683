"""One notification's POST: JSON, a timeout per attempt, a bounded number of retries with exponential backoff.

Retried: no answer (a connection refused, a timeout), a 5xx and a 429; another 4xx is the receiver saying the
message itself is wrong, so sending it again cannot help. Redirects are not followed (the allowlist judged the
URL given, not where a redirect would lead)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

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
                detail = f"HTTP {response.status}: {body}".strip()
                if response.status < 500 and response.status != 429:
                    break
        except TimeoutError:
            detail = f"no answer within {delivery.timeout_s:g}s"
        except aiohttp.InvalidURL:
            return Sent(ok=False, attempts=attempts, detail="InvalidURL: the channel's URL does not parse")
        except aiohttp.ClientError as error:
            detail = f"{type(error).__name__}: {error}"
    # the URL is a credential (a webhook's token is in its path): never in a log line
    return Sent(ok=False, attempts=attempts, detail=detail.replace(url, "<the channel's URL>"))
