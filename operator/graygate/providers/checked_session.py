"""A `requests` session for the Prometheus client that follows no redirect, reads an answer only up to a bound,
and connects only to checked addresses.

Why: the Prometheus address may be a release's (`source.address`), and `requests` would follow a redirect to any
host and connect to whatever a name resolves to. Here a redirect is an answer (the client reports its 3xx), the
host's addresses are resolved once, each is checked against the operator's address rules
(`graygate.domain.outbound`), and the socket is opened to a checked address, never re-resolved: the TLS name and
the Host header stay the URL's. Through a proxy (`HTTPS_PROXY`) the connection is the proxy's, and the proxy
decides where the request goes: the rules then apply to the proxy's address only. An answer larger than
`MAX_ANSWER_BYTES` is `AnswerTooLarge` after that many bytes, never read whole into memory.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection

from graygate.domain.outbound import AddressRules

__all__ = [
    "MAX_ANSWER_BYTES",
    "AddressRefused",
    "AnswerTooLarge",
    "Lookup",
    "checked_adapter",
    "refusal_in",
    "session",
    "system_lookup",
]

MAX_ANSWER_BYTES = 8 * 1024 * 1024
"""The most of a Prometheus answer read (a gate's query answers one number, or a few series)."""

Lookup = Callable[[str, int], Sequence[str]]
"""A host's addresses, as `getaddrinfo` gives them."""


def system_lookup(host: str, port: int) -> Sequence[str]:
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


class AddressRefused(NewConnectionError):
    """The address rules refused the host or one of its addresses; nothing was sent."""

    def __init__(self, conn: Any, reason: str) -> None:
        super().__init__(conn, reason)
        self.refusal = reason


class AnswerTooLarge(requests.RequestException):
    """The answer's body passed the bound; the rest was not read."""


class _Bounded(requests.Session):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        response = super().request(*args, **kwargs)
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self._limit:
                    raise AnswerTooLarge(f"the answer is larger than {self._limit // 1024} KiB; the rest was not read")
                chunks.append(chunk)
        finally:
            response.close()
        response._content = b"".join(chunks)  # what `content`, `text` and `json()` read from then on
        return response


def _connections(rules: AddressRules, lookup: Lookup) -> tuple[type[HTTPConnection], type[HTTPSConnection]]:
    def new_conn(conn: HTTPConnection) -> socket.socket:
        host = conn._dns_host.rstrip(".")  # urllib3 keeps the name as written for resolution here
        if (why := rules.host_refusal(host)) is not None:
            raise AddressRefused(conn, why)
        try:
            addresses = lookup(host, conn.port or 0)
        except socket.gaierror as error:
            raise NewConnectionError(conn, f"Failed to resolve {host}: {error}") from error
        if (why := rules.address_refusal(host, addresses)) is not None:
            raise AddressRefused(conn, why)
        last: OSError | None = None
        for address in addresses:
            try:
                return connection.create_connection(
                    (address, conn.port or 0),
                    conn.timeout,
                    source_address=conn.source_address,
                    socket_options=conn.socket_options,
                )
            except TimeoutError as error:
                raise ConnectTimeoutError(conn, f"Connection to {host} timed out") from error
            except OSError as error:
                last = error
        raise NewConnectionError(conn, f"Failed to establish a new connection: {last}")

    class Checked(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class CheckedTLS(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    return Checked, CheckedTLS


def checked_adapter(rules: AddressRules, lookup: Lookup, **kwargs: Any) -> HTTPAdapter:
    """An adapter whose pools open their connections through the rules."""
    plain, tls = _connections(rules, lookup)

    class Pool(HTTPConnectionPool):
        ConnectionCls = plain

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = tls

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **options: Any) -> None:
            super().init_poolmanager(*args, **options)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}

    return Adapter(**kwargs)


def session(rules: AddressRules, lookup: Lookup, limit: int = MAX_ANSWER_BYTES, **adapter: Any) -> requests.Session:
    """A session that follows no redirect, reads at most `limit` bytes of an answer and connects through the rules,
    for every http(s) URL."""
    made = _Bounded(limit)
    for prefix in ("http://", "https://"):
        made.mount(prefix, checked_adapter(rules, lookup, **adapter))
    return made


def refusal_in(error: BaseException) -> str | None:
    """The address rules' refusal somewhere in `error`'s chain of wrappers (requests wraps urllib3's), else None."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, AddressRefused):
            return seen.refusal
        nested = getattr(seen, "reason", None)
        wrapped = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = nested if isinstance(nested, BaseException) else wrapped or seen.__cause__ or seen.__context__
    return None
