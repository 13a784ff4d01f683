"""Fetching documents for the release checks: a metrics exposition, an OpenAPI document, a config answer.

Why apart from the probe gate: the probe reports a status and a small piece of a body; a release check needs the
whole document, of a size the probe would cut (an OpenAPI document of a few hundred KiB is common), and only from
a successful answer. So this module answers one question: "the body at this URL, or why not", with the same
habits as the probe (`http.client`): the operator's event loop, one session reused and closed with `close()`, no
redirects followed, no cookies kept, a timeout per request and a bound on the body (a larger body is an error,
never a truncated document that would parse into something misleading).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from graygate.domain.analysis.measurements import DocumentReading
from graygate.http.client import HttpClient, HttpConnectionFailure, HttpFailure, HttpTimeout, Outbound

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

    def __init__(self, limit: int = MAX_BYTES, *, outbound: Outbound | None = None) -> None:
        self._limit = limit
        self._client = HttpClient(USER_AGENT, name="release-check fetcher", outbound=outbound)

    async def get(self, url: str, *, headers: Mapping[str, str], timeout_s: float, accept: str = "*/*") -> Download:
        """The body at `url`; every failure (no answer, a non-2xx status, too large) is in `error`, never raised."""
        try:
            answer = await self._client.request(
                "GET", url, headers={"Accept": accept, **headers}, limit=self._bound, timeout_s=timeout_s
            )
        except HttpTimeout:
            return Download(url=url, error=f"no answer within {timeout_s:g}s")
        except HttpConnectionFailure as error:
            return Download(url=url, error=f"connection failed: {error}")
        except HttpFailure as error:
            return Download(url=url, error=f"{error.cause}: {error}")
        if not 200 <= answer.status < 300:
            return Download(url=url, error=f"answered status {answer.status}")
        if len(answer.body) > self._limit:
            return Download(url=url, error=f"the answer is larger than {self._limit // 1024} KiB")
        return Download(url=url, body=answer.body, content_type=answer.content_type)

    async def close(self) -> None:
        await self._client.close()

    def _bound(self, status: int, content_type: str) -> int:
        """One byte past the limit for a 2xx answer, so a larger body is seen; nothing of any other."""
        return self._limit + 1 if 200 <= status < 300 else 0


def json_document(download: Download) -> DocumentReading[object]:
    """The downloaded body parsed as JSON, or why it cannot be (a bare `null` counts as nothing)."""
    if download.error is not None:
        return DocumentReading(url=download.url, error=download.error)
    try:
        document = json.loads(download.body)
    except ValueError as error:
        return DocumentReading(url=download.url, error=f"the answer is not JSON: {error}")
    except RecursionError:
        return DocumentReading(url=download.url, error="the answer is JSON nested deeper than graygate reads")
    if document is None:
        return DocumentReading(url=download.url, error="the answer is JSON null")
    return DocumentReading(url=download.url, content=document)
