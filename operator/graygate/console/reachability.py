"""Whether `graygate check` could reach what a gate calls: a gate that failed because its target cannot be reached
from here did not judge the canary.

Why only in `check`: in the cluster, a canary that refuses connections is a failing canary, and the operator's
judges say `Fail`. From a laptop or a CI job, an in-cluster name that does not resolve (or a port-forward that is
not running) says nothing about the canary: `check` reports such a gate `Error` (could not judge, exit 2), naming
what it could not reach. A failed gate's URLs are tried once more, by name resolution and a TCP connection only;
a gate whose targets all answer keeps its `Fail`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from graygate.api import Outcome
from graygate.domain.analysis.verdicts import Verdict

__all__ = ["judged_from_here", "unreachable", "urls_in"]

CONNECT_TIMEOUT_S = 3.0


def urls_in(value: Any) -> Iterator[str]:
    """Every http(s) URL in a gate's check (a probe's `url`, a parity gate's `canaryUrl`, a source's `address`)."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from urls_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from urls_in(item)


def unreachable(url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> str | None:
    """Why `url`'s host and port cannot be reached from here, or None when a TCP connection opens."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return f"{host} does not resolve from here ({error.strerror})"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except ConnectionRefusedError:
        return f"{host}:{port} refused the connection"
    except TimeoutError:
        return f"{host}:{port} accepted no connection within {timeout_s:g}s"
    except OSError as error:
        return f"{host}:{port} cannot be reached ({error.strerror or error})"


def judged_from_here(verdict: Verdict, check: Any) -> Verdict:
    """`verdict`, or `Error` (not judged) when it is a `Fail` and something the gate calls cannot be reached."""
    if verdict.outcome is not Outcome.FAIL:
        return verdict
    body = check.model_dump(mode="json", by_alias=True) if hasattr(check, "model_dump") else check
    for url in dict.fromkeys(urls_in(body)):
        why = unreachable(url)
        if why is not None:
            reason = f"not judged: {why}; point the gate at a reachable address with --url (it said: {verdict.reason})"
            return replace(verdict, outcome=Outcome.ERROR, reason=reason)
    return verdict
