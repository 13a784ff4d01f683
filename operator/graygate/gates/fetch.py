"""Fetching documents for the release checks: a metrics exposition, an OpenAPI document, a config answer.

Why apart from the probe gate: the probe reports a status and a small piece of a body; a release check needs the
whole document, of a size the probe would cut (an OpenAPI document of a few hundred KiB is common), and only from
a successful answer. So this module answers one question: "the body at this URL, or why not", with the same
habits as the probe: aiohttp on the operator's event loop, one session reused and closed with `close()`, no
redirects followed, no cookies kept, a timeout per request and a bound on the body (a larger body is an error,
never a truncated document that would parse into something misleading).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from graygate.domain.analysis.measurements import Fetched
from graygate.errors import GateError

__all__ = ["MAX_BYTES", "Download", "HttpFetcher", "json_document"]

MAX_BYTES = 4 * 1024 * 1024
USER_AGENT = "graygate-release-check"


@dataclass(frozen=True)
class Download:
    """A successful (2xx) answer's body and content type, or in `error` why there is none."""

    url: str
    body: bytes = b""
    content_type: str = ""
    error: str | None = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class HttpFetcher:
    """GETs whole documents, bounded; satisfies nothing bigger than its one method (and `close`)."""

    def __init__(self, limit: int = MAX_BYTES) -> None:
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def get(self, url: str, *, headers: Mapping[str, str], timeout_s: float, accept: str = "*/*") -> Download:
        """The body at `url`; every failure (no answer, a non-2xx status, too large) is in `error`, never raised."""
        session = self._open()
        try:
            async with session.get(
                url,
                headers={"Accept": accept, **headers},
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
            ) as response:
                if not 200 <= response.status < 300:
                    return Download(url=url, error=f"answered status {response.status}")
                body = await read_at_most(response.content, self._limit + 1)
                if len(body) > self._limit:
                    return Download(url=url, error=f"the answer is larger than {self._limit // 1024} KiB")
                return Download(url=url, body=body, content_type=response.content_type)
        except TimeoutError:
            return Download(url=url, error=f"no answer within {timeout_s:g}s")
        except aiohttp.ClientConnectorError as error:
            return Download(url=url, error=f"connection failed: {error}")
        except aiohttp.ClientError as error:
            return Download(url=url, error=f"{type(error).__name__}: {error}")

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise GateError("the release-check fetcher is closed; create a new one")
        if self._session is None:  # created lazily: a ClientSession must be born inside the running event loop
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT}, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session


def json_document(download: Download) -> Fetched[object]:
    """The downloaded body parsed as JSON, or why it cannot be (a bare `null` counts as nothing)."""
    if download.error is not None:
        return Fetched(url=download.url, error=download.error)
    try:
        document = json.loads(download.body)
    except ValueError as error:
        return Fetched(url=download.url, error=f"the answer is not JSON: {error}")
    if document is None:
        return Fetched(url=download.url, error="the answer is JSON null")
    return Fetched(url=download.url, content=document)


async def read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """At most `limit` bytes of a body: a gate never holds more of an answer than it can judge."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
