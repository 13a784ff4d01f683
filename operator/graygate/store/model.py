"""The plain data the etcd store takes and returns: settings, snapshots, what an apply changed, what a restore did.

Why apart from `graygate.store.etcd`: these values cross into the service and into `.status` (an `Applied` is
what a crashed operator needs to undo its change on the next tick), so they must be importable, comparable and
testable without loading etcd3. All are frozen; revisions are etcd's int64 revisions, 0 meaning "absent".

Keys and values are `str`. etcd stores bytes: they are decoded as UTF-8 with `surrogateescape`, so any bytes
round-trip through graygate unchanged, and text (JSON, YAML, flags) reads naturally.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Applied",
    "EtcdSettings",
    "GuardedApply",
    "KeyState",
    "KeysSnapshot",
    "PrefixSnapshot",
    "PriorValue",
    "RestoreConflict",
    "RestoreResult",
    "Versioned",
    "WatchEvent",
    "WatchInterrupted",
    "content_hash",
    "decode",
    "encode",
]

_ENDPOINT = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]/@\s]+)):(?P<port>[0-9]{1,5})/?"
)


def encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdSettings:
    """How to reach etcd.

    `endpoints` are `host:port` (`[::1]:2379` for IPv6) or etcd's own client URLs, `http://host:port` and
    `https://host:port` (what `--advertise-client-urls` and the chart's `etcd.endpoints` hold), tried in order: the
    first that answers within `dial_timeout_s` is used until it fails, then the list is tried again.
    `request_timeout_s` bounds every call.
    TLS: `ca_file` alone verifies the server; with `cert_file` and `key_file` it also authenticates the client.
    A scheme only states what the TLS settings must agree with, it never turns TLS on or off by itself:
    `https://` needs `ca_file` (there is no system trust store for etcd's gRPC), `http://` refuses one, and all
    endpoints with a scheme share it. `username` and `password` go together (etcd's own auth).
    """

    endpoints: tuple[str, ...]
    dial_timeout_s: float = 2.0
    request_timeout_s: float = 5.0
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ValueError("etcd settings need at least one endpoint (host:port)")
        schemes = {self.scheme(endpoint) for endpoint in self.endpoints} - {None}
        if len(schemes) > 1:
            raise ValueError("etcd endpoints mix http:// and https://: one cluster speaks TLS or does not")
        if "https" in schemes and self.ca_file is None:
            raise ValueError("https:// etcd endpoints need ca_file (ca.crt) to verify the server with")
        if "http" in schemes and self.ca_file is not None:
            raise ValueError("http:// etcd endpoints are plain, but ca_file turns TLS on: use https://")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        if self.cert_file is not None and self.ca_file is None:
            raise ValueError("a client certificate needs ca_file too (TLS is off without it)")
        if (self.username is None) != (self.password is None):
            raise ValueError("etcd authentication needs both username and password")
        if self.dial_timeout_s <= 0 or self.request_timeout_s <= 0:
            raise ValueError("etcd timeouts must be positive")

    @staticmethod
    def split(endpoint: str) -> tuple[str, int]:
        """(`host`, `port`) of `host:port`, `http://host:port` or `https://host:port` (a final `/` allowed)."""
        match = _endpoint(endpoint)
        return match["v6"] or match["host"], int(match["port"])

    @staticmethod
    def scheme(endpoint: str) -> str | None:
        """`http`, `https`, or None for a bare `host:port`."""
        scheme = _endpoint(endpoint)["scheme"]
        return scheme.lower() if scheme else None


def _endpoint(endpoint: str) -> re.Match[str]:
    match = _ENDPOINT.fullmatch(endpoint.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"etcd endpoint {endpoint!r} is not host:port, http://host:port or https://host:port")
    if match["scheme"] and match["scheme"].lower() not in ("http", "https"):
        raise ValueError(f"etcd endpoint {endpoint!r}: only http:// and https:// are etcd client URLs")
    return match


@dataclass(frozen=True, slots=True)
class Versioned:
    """A value and the revision that last wrote it."""

    value: str
    mod_revision: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefixSnapshot:
    """Every key under `prefix`, read at store revision `revision` (one consistent read)."""

    prefix: str
    revision: int
    entries: Mapping[str, Versioned]

    @property
    def hash(self) -> str:
        return content_hash({key: entry.value for key, entry in self.entries.items()})


@dataclass(frozen=True, slots=True)
class KeysSnapshot:
    """Named keys, read at store revision `revision` (one consistent read): each asked key's value and
    mod_revision, or None when it is absent."""

    revision: int
    entries: Mapping[str, Versioned | None]

    @property
    def mod_revisions(self) -> dict[str, int]:
        """Each key's mod_revision, 0 when absent: the `expected` of an `apply_if_unchanged` of these keys."""
        return {key: 0 if entry is None else entry.mod_revision for key, entry in self.entries.items()}


@dataclass(frozen=True, slots=True)
class GuardedApply:
    """What `apply_if_unchanged` did, in one transaction at store revision `revision`.

    `applied`: every guard held and every change was written (each put key's mod_revision is now `revision`).
    Not applied: some key had moved since it was read, and nothing was written; `revision` is then the store's
    revision at the failed comparison.
    """

    applied: bool
    revision: int


def content_hash(values: Mapping[str, str]) -> str:
    """`sha256:<hex>` over the sorted `key=value` pairs: equal exactly when the keys and values are equal.

    Each pair is framed with the byte lengths (`<len>:<key>=<len>:<value>\\n`) so no choice of keys and values
    (newlines and `=` included) can make two different contents hash alike. Revisions are left out: rewriting
    the same value does not change the hash.
    """
    digest = hashlib.sha256()
    for key in sorted(values, key=encode):
        raw_key, raw_value = encode(key), encode(values[key])
        digest.update(b"%d:%b=%d:%b\n" % (len(raw_key), raw_key, len(raw_value), raw_value))
    return f"sha256:{digest.hexdigest()}"


@dataclass(frozen=True, slots=True)
class PriorValue:
    """What a key held before graygate wrote it: `value` None and `mod_revision` 0 when it did not exist."""

    value: str | None
    mod_revision: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    """What `apply` did, all in one transaction at store revision `revision`.

    `previous` is each key's value before; `written` is each key's mod_revision after (the transaction's revision
    for a put, 0 for a delete). Keep both (in `.status`): `restore` needs them to undo exactly this change.
    """

    revision: int
    previous: Mapping[str, PriorValue]
    written: Mapping[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreConflict:
    """A key someone else changed after graygate wrote it: left as they set it."""

    key: str
    expected_revision: int
    actual_revision: int
    actual_value: str | None

    def __str__(self) -> str:
        now = "deleted" if self.actual_value is None else f"rewritten at revision {self.actual_revision}"
        return f"{self.key} was {now} after graygate wrote it at revision {self.expected_revision}; left as is"


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreResult:
    """What `restore` did, in one transaction at store revision `revision`.

    `restored`: keys put back (or deleted again). `unchanged`: keys that already hold their previous value, e.g.
    because this restore already ran before a crash. `conflicts`: keys changed by someone else since our write.
    """

    revision: int
    restored: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    conflicts: tuple[RestoreConflict, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.conflicts


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyState:
    """A watched key's value (None: absent) as of `mod_revision` (0: absent). Delivered once when the watch
    starts, on every change, and again after a reconnection if the key changed while the connection was down."""

    key: str
    value: str | None
    mod_revision: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchInterrupted:
    """The watch lost etcd; it reconnects by itself and then delivers the key's state if it changed meanwhile."""

    key: str
    error: str


WatchEvent = KeyState | WatchInterrupted
