"""graygate's one HTTP client, and the only importer of aiohttp.

Why one owner: the probe, the routing check, the release checks' fetcher, the webhook gate and hooks, and the
notifiers share the same habits, so they are written once here: requests on the operator's event loop, one
session reused and opened lazily (a session must be born inside the running loop), no cookies kept, redirects
never followed, and a body read only up to a bound, so a huge or endless answer cannot exhaust memory. aiohttp's
exceptions are translated once, into `HttpFailure`, `HttpTimeout` and `HttpConnectionFailure` (each keeps the name
of aiohttp's exception, which the gates quote, and chains it), so no gate or notifier needs to know aiohttp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp

from graygate.errors import GateError

__all__ = ["Answer", "HttpClient", "HttpConnectionFailure", "HttpFailure", "HttpTimeout"]


class HttpFailure(GateError):
    """No answer came: a protocol error, an invalid URL, a reset. `cause` names the client's exception."""

    def __init__(self, message: str, *, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


class HttpTimeout(HttpFailure):
    """No answer within the request's timeout."""


class HttpConnectionFailure(HttpFailure):
    """The connection could not be made (refused, no route, a name that does not resolve, TLS)."""


@dataclass(frozen=True)
class Answer:
    """What came back: the status, the headers (looked up case-insensitively), the content type and charset, and
    the beginning of the body, at most the bound the caller gave."""

    status: int
    headers: Mapping[str, str]
    content_type: str
    charset: str | None
    body: bytes


class HttpClient:
    """Sends requests with one session. `user_agent` names the gate; `fresh_connections` opens a new connection
    per request (so a mesh balances each one on its own). Once closed, a client `reopens` on the next request, or
    refuses with a `GateError` naming `name`."""

    def __init__(self, user_agent: str, *, name: str, fresh_connections: bool = False, reopens: bool = False) -> None:
        self._user_agent = user_agent
        self._name = name
        self._fresh = fresh_connections
        self._reopens = reopens
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        limit: int | Callable[[int, str], int],
        timeout_s: float | None = None,
        body: str | bytes | None = None,
    ) -> Answer:
        """One request; its body is read up to `limit` bytes (or `limit(status, content_type)`).

        Raises `HttpFailure` (or a subclass) when no answer came."""
        session = self._open()
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s is not None else None
        try:
            async with session.request(
                method, url, headers=dict(headers), data=body, timeout=timeout, allow_redirects=False
            ) as response:
                bound = limit(response.status, response.content_type) if callable(limit) else limit
                return Answer(
                    status=response.status,
                    headers=response.headers,
                    content_type=response.content_type,
                    charset=response.charset,
                    body=await _read_at_most(response.content, bound),
                )
        except TimeoutError as error:
            raise HttpTimeout(f"no answer within {timeout_s:g}s", cause=type(error).__name__) from error
        except aiohttp.ClientConnectorError as error:
            raise HttpConnectionFailure(str(error), cause=type(error).__name__) from error
        except aiohttp.ClientError as error:
            raise HttpFailure(str(error), cause=type(error).__name__) from error

    async def close(self) -> None:
        self._closed = not self._reopens
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise GateError(f"the {self._name} is closed; create a new one")
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(force_close=True) if self._fresh else None
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self._user_agent}, cookie_jar=aiohttp.DummyCookieJar(), connector=connector
            )
        return self._session


async def _read_at_most(stream: aiohttp.StreamReader, limit: int) -> bytes:
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
