"""`EtcdStore`: a connection to one etcd cluster, and each thing the config store does as one etcd request.

Why its own module: the package's `__init__` says what the package is; this is the adapter itself, beside `rpc`
(loading etcd3, the error table) and `watch_connection` (the client a `Watch` owns).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from graygate.store.errors import EtcdError, EtcdUnavailable
from graygate.store.etcd.rpc import AUTH, TRANSLATED, Client, etcd3, etcdrpc, grpc, quietly, translate, unary
from graygate.store.etcd.watch_connection import EtcdWatchConnection
from graygate.store.model import (
    Applied,
    EtcdSettings,
    GuardedApply,
    KeysSnapshot,
    PrefixSnapshot,
    PriorValue,
    RestoreConflict,
    RestoreResult,
    Versioned,
    WatchEvent,
    decode,
    encode,
)
from graygate.store.watch import Watch

__all__ = ["EtcdStore", "prefix_range_end"]

T = TypeVar("T")


def prefix_range_end(prefix: bytes) -> bytes:
    """The end of the key range holding every key that starts with `prefix` (etcd's own rule; b"\\0" for all)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return b"\0"
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


class EtcdStore:
    """A connection to one etcd cluster. Async methods run the blocking client in a worker thread."""

    def __init__(self, settings: EtcdSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client: Client | None = None
        self.endpoint: str | None = None

    # ---- connection ----

    def dial(self) -> tuple[Client, str]:
        """A new client on the first endpoint that answers, and that endpoint. Blocking; used by the store and by
        each `Watch` (which owns its client)."""
        problems: list[str] = []
        s = self.settings
        for endpoint in s.endpoints:
            host, port = EtcdSettings.split(endpoint)
            client = None
            try:
                client = etcd3.client(
                    host=host,
                    port=port,
                    ca_cert=str(s.ca_file) if s.ca_file else None,
                    cert_cert=str(s.cert_file) if s.cert_file else None,
                    cert_key=str(s.key_file) if s.key_file else None,
                    timeout=s.request_timeout_s,
                    user=s.username,
                    password=s.password,
                )
                self._probe(client)
            except OSError as error:  # the TLS files cannot be read: the same for every endpoint
                raise EtcdError(f"cannot set up TLS for etcd: {error}") from error
            except TRANSLATED as error:
                if client is not None:
                    client.close()
                translated = translate(error, endpoint)
                if not isinstance(translated, EtcdUnavailable):
                    raise translated from error  # it answered, and refused: another member would refuse too
                problems.append(str(translated))
                continue
            return client, endpoint
        raise EtcdUnavailable(f"no etcd endpoint answered: {'; '.join(problems)}")

    def _probe(self, client: Client) -> None:
        # a linearizable read needs a leader and a quorum; a permission error still proves the member serves
        request = etcdrpc.RangeRequest(key=b"\0", count_only=True)
        try:
            unary(client, client.kvstub.Range, request, self.settings.dial_timeout_s)
        except grpc.RpcError as error:
            if error.code() not in AUTH:
                raise

    def _current(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client, self.endpoint = self.dial()
            return self._client

    def _forget(self, client: Client) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
        client.close()

    def _call(self, doing: str, action: Callable[[Client], T]) -> T:
        client = self._current()
        try:
            return action(client)
        except TRANSLATED as error:
            translated = translate(error, doing)
            if isinstance(translated, EtcdUnavailable):
                self._forget(client)
            raise translated from error

    def _txn(self, client: Client, request: object) -> Any:
        return unary(client, client.kvstub.Txn, request, self.settings.request_timeout_s)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # ---- reads ----

    async def get_prefix(self, prefix: str) -> PrefixSnapshot:
        """Every key under `prefix` with its value and mod_revision, and the store revision of the read."""
        return await asyncio.to_thread(self.get_prefix_sync, prefix)

    def get_prefix_sync(self, prefix: str) -> PrefixSnapshot:
        raw = encode(prefix)
        request = etcdrpc.RangeRequest(key=raw or b"\0", range_end=prefix_range_end(raw))

        def read(client: Client) -> PrefixSnapshot:
            response = unary(client, client.kvstub.Range, request, self.settings.request_timeout_s)
            entries = {decode(kv.key): Versioned(decode(kv.value), int(kv.mod_revision)) for kv in response.kvs}
            ordered = dict(sorted(entries.items(), key=lambda item: encode(item[0])))
            return PrefixSnapshot(prefix=prefix, revision=int(response.header.revision), entries=ordered)

        return self._call(f"reading prefix {prefix!r}", read)

    async def content_hash(self, prefix: str) -> tuple[str, int]:
        """The content hash of `prefix` and the store revision it was read at."""
        snapshot = await self.get_prefix(prefix)
        return snapshot.hash, snapshot.revision

    async def read_keys(self, keys: Sequence[str]) -> KeysSnapshot:
        """Each key's value and mod_revision (None: absent), all read in one transaction at one store revision."""
        return await asyncio.to_thread(self.read_keys_sync, keys)

    def read_keys_sync(self, keys: Sequence[str]) -> KeysSnapshot:
        asked = list(dict.fromkeys(keys))
        ranges = [etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=encode(key))) for key in asked]

        def run(client: Client) -> KeysSnapshot:
            response = self._txn(client, etcdrpc.TxnRequest(success=ranges))
            entries: dict[str, Versioned | None] = {}
            for key, answer in zip(asked, response.responses, strict=True):
                kvs = answer.response_range.kvs
                entries[key] = Versioned(decode(kvs[0].value), int(kvs[0].mod_revision)) if kvs else None
            return KeysSnapshot(revision=int(response.header.revision), entries=entries)

        return self._call(f"reading {len(asked)} key(s)", run)

    # ---- leases ----

    async def put_with_lease(self, key: str, value: str, ttl_s: int) -> int:
        """Put `key` under a new lease of `ttl_s` seconds; returns the lease id (refresh it to keep the key)."""
        return await asyncio.to_thread(self.put_with_lease_sync, key, value, ttl_s)

    def put_with_lease_sync(self, key: str, value: str, ttl_s: int) -> int:
        if ttl_s < 1:
            raise ValueError("a lease lives at least 1 s")

        def put(client: Client) -> int:
            lease = client.lease(ttl_s)
            try:
                client.put(encode(key), encode(value), lease=lease.id)
            except TRANSLATED:
                quietly(lambda: client.revoke_lease(lease.id))
                raise
            return int(lease.id)

        return self._call(f"putting {key!r} with a {ttl_s} s lease", put)

    async def refresh_lease(self, lease_id: int) -> int:
        """Refresh a lease; returns its TTL in seconds (0 or less: it has expired, its keys are gone)."""

        def refresh(client: Client) -> int:
            answers = list(client.refresh_lease(lease_id))
            return int(answers[0].TTL) if answers else 0

        return await asyncio.to_thread(self._call, f"refreshing lease {lease_id}", refresh)

    async def revoke_lease(self, lease_id: int) -> None:
        """Revoke a lease now, deleting its keys."""
        await asyncio.to_thread(self._call, f"revoking lease {lease_id}", lambda c: c.revoke_lease(lease_id))

    # ---- apply and restore ----

    async def apply(self, changes: Mapping[str, str | None]) -> Applied:
        """Put each key to its value (None: delete it) in one transaction; returns what they held before."""
        return await asyncio.to_thread(self.apply_sync, changes)

    def apply_sync(self, changes: Mapping[str, str | None]) -> Applied:
        keys = list(changes)
        ops = [_write_op(key, changes[key], prev_kv=True) for key in keys]

        def run(client: Client) -> Applied:
            response = self._txn(client, etcdrpc.TxnRequest(success=ops))
            revision = int(response.header.revision)
            previous: dict[str, PriorValue] = {}
            written: dict[str, int] = {}
            for key, answer in zip(keys, response.responses, strict=True):
                if changes[key] is None:
                    prior = answer.response_delete_range.prev_kvs
                    previous[key] = _prior(prior[0] if prior else None)
                    written[key] = 0
                else:
                    put = answer.response_put
                    previous[key] = _prior(put.prev_kv if put.HasField("prev_kv") else None)
                    written[key] = revision
            return Applied(revision=revision, previous=previous, written=written)

        return self._call(f"applying {len(keys)} key(s)", run)

    async def apply_if_unchanged(self, changes: Mapping[str, str | None], expected: Mapping[str, int]) -> GuardedApply:
        """Put each key to its value (None: delete it) in one transaction, only if every key's mod_revision is
        still `expected[key]` (0: still absent); if any one moved, nothing is written."""
        return await asyncio.to_thread(self.apply_if_unchanged_sync, changes, expected)

    def apply_if_unchanged_sync(self, changes: Mapping[str, str | None], expected: Mapping[str, int]) -> GuardedApply:
        if set(changes) != set(expected):
            raise ValueError(f"a guarded apply needs a revision for each key: {sorted(set(changes) ^ set(expected))}")
        keys = list(changes)
        guards = [_unchanged_since(key, expected[key]) for key in keys]
        ops = [_write_op(key, changes[key], prev_kv=False) for key in keys]

        def run(client: Client) -> GuardedApply:
            response = self._txn(client, etcdrpc.TxnRequest(compare=guards, success=ops))
            return GuardedApply(applied=bool(response.succeeded), revision=int(response.header.revision))

        return self._call(f"applying {len(keys)} key(s) if unchanged", run)

    async def restore(self, previous: Mapping[str, PriorValue], written: Mapping[str, int]) -> RestoreResult:
        """Undo an `apply`: put back each key whose mod_revision is still `written[key]`, report the others."""
        return await asyncio.to_thread(self.restore_sync, previous, written)

    def restore_sync(self, previous: Mapping[str, PriorValue], written: Mapping[str, int]) -> RestoreResult:
        if set(previous) != set(written):
            raise ValueError(f"restore needs a written revision for each key: {sorted(set(previous) ^ set(written))}")
        keys = list(previous)
        guarded = [
            etcdrpc.RequestOp(
                request_txn=etcdrpc.TxnRequest(
                    compare=[_unchanged_since(key, written[key])],
                    success=[_write_op(key, previous[key].value, prev_kv=False)],
                    failure=[etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=encode(key)))],
                )
            )
            for key in keys
        ]

        def run(client: Client) -> RestoreResult:
            response = self._txn(client, etcdrpc.TxnRequest(success=guarded))
            restored: list[str] = []
            unchanged: list[str] = []
            conflicts: list[RestoreConflict] = []
            for key, answer in zip(keys, response.responses, strict=True):
                sub = answer.response_txn
                if sub.succeeded:
                    restored.append(key)
                    continue
                kvs = sub.responses[0].response_range.kvs
                value = decode(kvs[0].value) if kvs else None
                if value == previous[key].value:
                    unchanged.append(key)
                    continue
                actual = int(kvs[0].mod_revision) if kvs else 0
                conflicts.append(
                    RestoreConflict(key=key, expected_revision=written[key], actual_revision=actual, actual_value=value)
                )
            return RestoreResult(
                revision=int(response.header.revision),
                restored=tuple(restored),
                unchanged=tuple(unchanged),
                conflicts=tuple(conflicts),
            )

        return self._call(f"restoring {len(keys)} key(s)", run)

    # ---- watching ----

    async def watch_key(self, key: str, callback: Callable[[WatchEvent], None]) -> Watch:
        """Call `callback` with the key's state now and on every change, until the returned `Watch` is cancelled.

        Raises `EtcdUnavailable` when the first connection fails; later outages are the watch's to survive (see
        `graygate.store.watch`). The callback runs on the watch's thread: hand over to an event loop with
        `loop.call_soon_threadsafe`.
        """
        watch = Watch(key, lambda: EtcdWatchConnection(self.dial, self.settings.request_timeout_s), callback)
        await asyncio.to_thread(watch.start)
        return watch


def _prior(kv: Any) -> PriorValue:
    return PriorValue(None) if kv is None else PriorValue(decode(kv.value), int(kv.mod_revision))


def _write_op(key: str, value: str | None, *, prev_kv: bool) -> Any:
    if value is None:
        return etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=encode(key), prev_kv=prev_kv))
    return etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=encode(key), value=encode(value), prev_kv=prev_kv))


def _unchanged_since(key: str, mod_revision: int) -> Any:
    # etcd compares a missing key as an empty KeyValue for MOD targets, so 0 holds exactly while the key is absent
    return etcdrpc.Compare(
        key=encode(key), result=etcdrpc.Compare.EQUAL, target=etcdrpc.Compare.MOD, mod_revision=mod_revision
    )
