"""Which URLs the operator may call on a release author's behalf: the platform team's allowlist.

Why it exists: a CanaryRelease names URLs (an httpProbe, a Prometheus address, a metrics or OpenAPI document) that
the operator then requests from inside the cluster, with the operator's network reach. A platform team that lets
application teams write releases limits that reach with `graygate run --probe-url-allowlist` (the chart's
`probeUrlAllowlist`). A URL outside the list is refused before any request is sent.

An entry is a URL prefix, compared part by part, never as a string (so `http://shop.svc` does not allow
`http://shop.svc.evil.example`):

* scheme: equal (`http` does not allow `https`, nor the reverse);
* host: equal, case-insensitive; `*.shop.svc` allows any name ending in `.shop.svc` (one label or more), but not
  `shop.svc` itself;
* port: equal; an entry without one means the scheme's default (80, 443), as the URL itself would;
* path: the URL's path is the entry's path or lies under it, segment by segment (`/api` allows `/api` and
  `/api/v1`, not `/apix`); an entry without a path allows every path.

A URL with user information (`http://user@host/`), with a `.`, `..` or `..;` path segment or a segment holding an
encoded `/` or `\\` (which a server may resolve elsewhere), or that does not parse, is never allowed. Query strings
and fragments are not compared. An empty list allows everything: the allowlist is opt-in.

Link-local and cloud metadata hosts are refused even when the list allows them, unless an entry names the host
exactly (`graygate.domain.outbound`); `refusal` says so before anything is sent, and the HTTP clients check every
address a name resolves to before they connect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from graygate.domain.outbound import AddressRules

__all__ = ["AllowedPrefix", "UrlAllowlist"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$|^[0-9a-f:.]+$")


@dataclass(frozen=True, slots=True)
class _Parts:
    scheme: str
    host: str
    port: int
    path: str


def _parts(url: str) -> _Parts:
    """The comparable parts of an http(s) URL; ValueError when it is not one, or is ambiguous."""
    split = urlsplit(url.strip())
    scheme = split.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("not an http:// or https:// URL")
    if "@" in split.netloc:
        raise ValueError("user information in a URL is not allowed")
    host = (split.hostname or "").lower()
    if not host:
        raise ValueError("no host")
    port = split.port  # urlsplit raises ValueError for a port out of range
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    path = split.path
    if any(_ambiguous(unquote(segment)) for segment in path.split("/")):
        raise ValueError("a '.' or '..' path segment (or one that decodes to a separator) is not allowed")
    return _Parts(scheme=scheme, host=host, port=port, path=path)


@dataclass(frozen=True, slots=True)
class AllowedPrefix:
    """One allowlist entry, as the operator was given it (`text`) and parsed."""

    text: str
    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, text: str) -> AllowedPrefix:
        try:
            parts = _parts(text)
        except ValueError as error:
            raise ValueError(f"allowlist entry {text!r}: {error}") from error
        host = parts.host.removeprefix("*.")
        if "*" in host or not all(_LABEL.match(label) for label in host.split(".")):
            raise ValueError(f"allowlist entry {text!r}: a host is a DNS name, an IP, or *.<DNS name>")
        return cls(text=text.strip(), scheme=parts.scheme, host=parts.host, port=parts.port, path=parts.path)

    def allows(self, url: str) -> bool:
        try:
            parts = _parts(url)
        except ValueError:
            return False
        return (
            parts.scheme == self.scheme
            and parts.port == self.port
            and _host_matches(self.host, parts.host)
            and _path_under(self.path, parts.path)
        )


def _ambiguous(segment: str) -> bool:
    # Servers resolve these differently from a plain prefix comparison: dot segments, Tomcat and Spring's `..;`
    # path parameters, and an encoded `/` or `\` that a proxy or framework may decode into a separator.
    return segment in {".", ".."} or segment.startswith("..;") or "/" in segment or "\\" in segment


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def _path_under(prefix: str, path: str) -> bool:
    base = prefix.rstrip("/")
    return not base or path == base or path.startswith(base + "/")


@dataclass(frozen=True, slots=True)
class UrlAllowlist:
    """The operator's allowlist; empty (the default) allows every URL."""

    entries: tuple[AllowedPrefix, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> UrlAllowlist:
        """From the comma-separated form of `--probe-url-allowlist` / GRAYGATE_PROBE_URL_ALLOWLIST; blanks are
        ignored. ValueError names the first entry that is not an http(s) URL prefix."""
        items = [item.strip() for item in (text or "").split(",")]
        return cls(tuple(AllowedPrefix.parse(item) for item in items if item))

    def allows(self, url: str) -> bool:
        return not self.entries or any(entry.allows(url) for entry in self.entries)

    def addresses(self, *trusted: str | None) -> AddressRules:
        """The address rules with the hosts the entries name exactly, and those of the `trusted` URLs (addresses
        the platform team configured itself), as explicit exceptions."""
        hosts = [entry.host for entry in self.entries] + [_host(url) for url in trusted if url]
        return AddressRules.naming(hosts)

    def refusal(self, gate: str, url: str) -> str | None:
        """None when `url` may be called; else the sentence that says which gate, which URL, and what is allowed."""
        if self.allows(url):
            host = _host(url)
            why = self.addresses().host_refusal(host) if host else None
            return f"gate {gate}: {url}: {why}; nothing was sent" if why else None
        allowed = ", ".join(entry.text for entry in self.entries)
        return (
            f"gate {gate}: {url} is not in the operator's URL allowlist ({allowed}); nothing was sent. "
            "Ask the platform team to add it to probeUrlAllowlist (graygate run --probe-url-allowlist)"
        )


def _host(url: str) -> str:
    try:
        return urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
