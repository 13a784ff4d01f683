"""graygate's one HTTP client, and the only importer of aiohttp.

Why one owner: the probe, the routing check, the release checks' fetcher, the webhook gate and hooks, and the
notifiers share the same habits, so they are written once here: requests on the operator's event loop, one
session reused and opened lazily (a session must be born inside the running loop), no cookies kept, redirects
never followed, and a body read only up to a bound, so a huge or endless answer cannot exhaust memory. Every
connection goes only to an address the operator's address rules accept (`graygate.domain.outbound`): the URL's host
is checked before anything is sent, and every address a name resolves to is checked by the connector's resolver
before aiohttp connects to one of them (so a name resolving to the metadata service is refused). aiohttp's
exceptions are translated once, into `HttpFailure`, `HttpTimeout`, `HttpConnectionFailure` and `HttpRefused` (each
keeps the name of aiohttp's exception, which the gates quote, and chains it), so no gate or notifier needs to know
aiohttp.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from graygate.domain.outbound import AddressRules
from graygate.errors import GateError

__all__ = [
    "Answer",
    "HttpClient",
    "HttpConnectionFailure",
    "HttpFailure",
    "HttpRefused",
    "HttpTimeout",
    "Outbound",
    "Resolve",
]

Resolve = Callable[[str, int], Awaitable[Sequence[str]]]
"""How a name is resolved to addresses (default: the system's `getaddrinfo`, in a thread)."""


@dataclass(frozen=True)
class Outbound:
    """Where requests may go: `rules` (default: no link-local or metadata address) and how names are resolved
    (`resolve`; default: the system's)."""

    rules: AddressRules = field(default_factory=AddressRules)
    resolve: Resolve | None = None


class HttpFailure(GateError):
    """No answer came: a protocol error, an invalid URL, a reset. `cause` names the client's exception."""

    def __init__(self, message: str, *, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


class HttpTimeout(HttpFailure):
    """No answer within the request's timeout."""


class HttpConnectionFailure(HttpFailure):
    """The connection could not be made (refused, no route, a name that does not resolve, TLS)."""


class HttpRefused(HttpConnectionFailure):
    """The operator's address rules refused the host or an address it resolves to; nothing was sent."""


class _AddressRefused(OSError):
    """Raised by the resolver so that aiohttp gives up on the host; turned into `HttpRefused`."""


class _CheckedResolver(AbstractResolver):
    """Resolves with `resolve` (or aiohttp's threaded resolver) and refuses the whole answer when one address is
    refused: aiohttp then connects only to addresses that went through the rules."""

    def __init__(self, rules: AddressRules, resolve: Resolve | None) -> None:
        self._rules = rules
        self._resolve = resolve
        self._system: aiohttp.ThreadedResolver | None = None

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._resolve is not None:
            found = [_result(host, address, port) for address in await self._resolve(host, port)]
        else:
            self._system = self._system or aiohttp.ThreadedResolver()
            found = await self._system.resolve(host, port, family)
        if (why := self._rules.address_refusal(host, [result["host"] for result in found])) is not None:
            raise _AddressRefused(why)
        return found

    async def close(self) -> None:
        if self._system is not None:
            await self._system.close()


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(hostname=host, host=address, port=port, family=family, proto=0, flags=0)


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
    refuses with a `GateError` naming `name`. `outbound` says which hosts and addresses may be called."""

    def __init__(
        self,
        user_agent: str,
        *,
        name: str,
        fresh_connections: bool = False,
        reopens: bool = False,
        outbound: Outbound | None = None,
    ) -> None:
        self._outbound = outbound or Outbound()
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

        Raises `HttpFailure` (or a subclass) when no answer came; `HttpRefused` when the address rules refuse the
        host, before anything is sent."""
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        if (why := self._outbound.rules.host_refusal(host)) is not None:
            raise HttpRefused(why, cause="refused by the operator's address rules")
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
            if isinstance(error.os_error, _AddressRefused):
                raise HttpRefused(str(error.os_error), cause="refused by the operator's address rules") from error
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
            resolver = _CheckedResolver(self._outbound.rules, self._outbound.resolve)
            connector = aiohttp.TCPConnector(force_close=self._fresh, resolver=resolver)
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
