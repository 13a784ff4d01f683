"""The etcd config store against a real etcd v3.6 on 127.0.0.1: consistent prefix reads and hashes, apply and
restore as single transactions that never clobber someone else's edit, leases that expire, a watch that sees a
change within a second and survives a restart, and EtcdUnavailable when nothing answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import queue
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from graygate.sandbox.pki import write_pki
from graygate.sandbox.processes import free_port
from graygate.store import (
    EtcdAuthError,
    EtcdSettings,
    EtcdUnavailable,
    KeyState,
    PriorValue,
    RestoreConflict,
    WatchEvent,
    WatchInterrupted,
    content_hash,
)
from graygate.store.etcd.store import EtcdStore
from tests.etcd_server import Etcd, settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def prefix() -> str:
    return f"/graygate-test/{uuid.uuid4().hex[:8]}/"


class Recorder:
    """Collects watch events from the watch's thread, with the time each arrived."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[float, WatchEvent]] = queue.Queue()

    def __call__(self, event: WatchEvent) -> None:
        self.events.put((time.monotonic(), event))

    def next(self, timeout_s: float = 3.0) -> tuple[float, WatchEvent]:
        return self.events.get(timeout=timeout_s)

    def next_state(self, timeout_s: float = 3.0) -> tuple[float, KeyState]:
        deadline = time.monotonic() + timeout_s
        while True:
            at, event = self.next(max(0.01, deadline - time.monotonic()))
            if isinstance(event, KeyState):
                return at, event


async def test_get_prefix_reads_every_key_under_it_with_revisions_and_hash(store: EtcdStore, prefix: str) -> None:
    applied = await store.apply({f"{prefix}a": "1", f"{prefix}b/c": "two", f"{prefix[:-1]}-outside": "x"})
    snapshot = await store.get_prefix(prefix)
    assert {key: entry.value for key, entry in snapshot.entries.items()} == {f"{prefix}a": "1", f"{prefix}b/c": "two"}
    assert {entry.mod_revision for entry in snapshot.entries.values()} == {applied.revision}
    assert snapshot.revision >= applied.revision
    assert snapshot.hash == content_hash({f"{prefix}a": "1", f"{prefix}b/c": "two"})

    await store.apply({f"{prefix}a": "1"})  # the same value again: new revision, same content
    rewritten = await store.get_prefix(prefix)
    assert rewritten.entries[f"{prefix}a"].mod_revision > applied.revision
    assert rewritten.hash == snapshot.hash

    await store.apply({f"{prefix}a": "changed"})
    assert (await store.content_hash(prefix))[0] != snapshot.hash
    assert (await store.get_prefix(f"{prefix}nothing/")).entries == {}


async def test_apply_then_restore_leaves_the_keys_exactly_as_before(store: EtcdStore, prefix: str) -> None:
    a, b, c = f"{prefix}a", f"{prefix}b", f"{prefix}c"
    await store.apply({a: "1", b: "2"})
    before = await store.get_prefix(prefix)

    applied = await store.apply({a: "10", b: None, c: "3"})
    assert applied.previous == {
        a: PriorValue("1", before.entries[a].mod_revision),
        b: PriorValue("2", before.entries[b].mod_revision),
        c: PriorValue(None, 0),
    }
    assert applied.written == {a: applied.revision, b: 0, c: applied.revision}
    during = await store.get_prefix(prefix)
    assert {key: entry.value for key, entry in during.entries.items()} == {a: "10", c: "3"}

    restored = await store.restore(applied.previous, applied.written)
    assert restored.clean
    assert sorted(restored.restored) == [a, b, c]
    after = await store.get_prefix(prefix)
    assert {key: entry.value for key, entry in after.entries.items()} == {a: "1", b: "2"}  # c is absent again
    assert after.hash == before.hash

    again = await store.restore(applied.previous, applied.written)  # a crash before recording the first restore
    assert again.clean
    assert sorted(again.unchanged) == [a, b, c]
    assert (await store.get_prefix(prefix)).entries == after.entries


async def test_restore_leaves_a_key_someone_else_changed_and_reports_it(
    etcd: Etcd, store: EtcdStore, prefix: str
) -> None:
    a, b, c = f"{prefix}a", f"{prefix}b", f"{prefix}c"
    await store.apply({a: "1", b: "2"})
    applied = await store.apply({a: "10", b: "20", c: "30"})

    someone = EtcdStore(settings(etcd.endpoint))
    hotfix = await someone.apply({a: "hotfix", b: None})  # between graygate's apply and its restore
    await someone.aclose()

    result = await store.restore(applied.previous, applied.written)
    assert result.restored == (c,)
    assert result.conflicts == (
        RestoreConflict(
            key=a, expected_revision=applied.revision, actual_revision=hotfix.revision, actual_value="hotfix"
        ),
        RestoreConflict(key=b, expected_revision=applied.revision, actual_revision=0, actual_value=None),
    )
    assert not result.clean
    final = {key: entry.value for key, entry in (await store.get_prefix(prefix)).entries.items()}
    assert final == {a: "hotfix"}  # a kept the hotfix, b stays deleted, c is absent again as before the apply


async def test_restore_of_a_key_deleted_by_someone_else_that_was_absent_before_is_unchanged(
    etcd: Etcd, store: EtcdStore, prefix: str
) -> None:
    key = f"{prefix}new"
    applied = await store.apply({key: "ours"})
    someone = EtcdStore(settings(etcd.endpoint))
    await someone.apply({key: None})
    await someone.aclose()
    result = await store.restore(applied.previous, applied.written)
    assert (result.restored, result.unchanged, result.conflicts) == ((), (key,), ())


async def test_a_leased_key_disappears_when_its_lease_expires(store: EtcdStore, prefix: str) -> None:
    key = f"{prefix}claim"
    lease = await store.put_with_lease(key, "operator-1", ttl_s=1)
    assert lease > 0
    assert (await store.get_prefix(key)).entries[key].value == "operator-1"
    deadline = time.monotonic() + 8  # etcd raises very short TTLs to its minimum (about 2 s by default)
    while key in (await store.get_prefix(key)).entries:
        assert time.monotonic() < deadline, "the leased key outlived its lease"
        await asyncio.sleep(0.2)
    assert await store.refresh_lease(lease) <= 0


async def test_revoking_a_lease_deletes_its_key_now(store: EtcdStore, prefix: str) -> None:
    key = f"{prefix}claim"
    lease = await store.put_with_lease(key, "operator-1", ttl_s=30)
    assert 0 < await store.refresh_lease(lease) <= 30
    await store.revoke_lease(lease)
    assert (await store.get_prefix(key)).entries == {}


async def test_a_watch_sees_every_change_within_a_second(store: EtcdStore, prefix: str) -> None:
    key = f"{prefix}freeze"
    seen = Recorder()
    watch = await store.watch_key(key, seen)
    try:
        _, initial = seen.next_state()
        assert initial == KeyState(key=key, value=None, mod_revision=0)
        for value in ("on", "off", None):
            began = time.monotonic()
            applied = await store.apply({key: value})
            at, state = seen.next_state()
            assert state == KeyState(key=key, value=value, mod_revision=applied.written[key])
            assert at - began < 1.0, f"the watch took {at - began:.3f} s"
    finally:
        watch.cancel()
    assert not watch.active


async def test_a_watch_survives_an_etcd_restart_and_reports_the_outage(tmp_path: Path, prefix: str) -> None:
    server = Etcd(tmp_path)
    server.start()
    store = EtcdStore(settings(server.endpoint))
    key = f"{prefix}freeze"
    seen = Recorder()
    try:
        await store.apply({key: "off"})
        watch = await store.watch_key(key, seen)
        assert seen.next_state()[1].value == "off"

        server.stop(grace_s=0.5)  # etcd's graceful stop waits for open watch streams: kill it soon, like a crash
        _, event = seen.next()
        assert isinstance(event, WatchInterrupted)
        with pytest.raises(EtcdUnavailable):
            await store.get_prefix(prefix)

        server.start()
        began = time.monotonic()
        await store.apply({key: "on"})
        at, state = seen.next_state()
        assert state.value == "on"
        assert at - began < 1.0, f"the watch took {at - began:.3f} s after the restart"
        watch.cancel()
    finally:
        await store.aclose()
        server.stop()


async def test_the_first_endpoint_that_answers_is_used(etcd: Etcd, prefix: str) -> None:
    dead = f"127.0.0.1:{free_port()}"
    store = EtcdStore(settings(dead, etcd.endpoint))
    await store.apply({f"{prefix}k": "v"})
    assert store.endpoint == etcd.endpoint
    await store.aclose()


@pytest.mark.parametrize("call", ["get_prefix", "apply", "put_with_lease", "watch_key"])
async def test_nothing_answering_is_etcd_unavailable(call: str) -> None:
    store = EtcdStore(settings(f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"))
    actions = {
        "get_prefix": lambda: store.get_prefix("/x/"),
        "apply": lambda: store.apply({"/x/a": "1"}),
        "put_with_lease": lambda: store.put_with_lease("/x/a", "1", 5),
        "watch_key": lambda: store.watch_key("/x/a", lambda event: None),
    }
    with pytest.raises(EtcdUnavailable, match="no etcd endpoint answered"):
        await actions[call]()


def _enable_auth(store: EtcdStore, password: str) -> None:
    """What `etcdctl user add root && etcdctl auth enable` does, through the raw gRPC API."""
    from etcd3 import etcdrpc  # only now: graygate.store.etcd has made etcd3 importable

    client, _ = store.dial()
    auth = etcdrpc.AuthStub(client.channel)
    auth.UserAdd(etcdrpc.AuthUserAddRequest(name="root", password=password), 5)
    auth.RoleAdd(etcdrpc.AuthRoleAddRequest(name="root"), 5)
    auth.UserGrantRole(etcdrpc.AuthUserGrantRoleRequest(user="root", role="root"), 5)
    auth.AuthEnable(etcdrpc.AuthEnableRequest(), 5)
    client.close()


async def test_tls_and_password_authentication(tmp_path: Path) -> None:
    server = Etcd(tmp_path, write_pki(tmp_path / "pki", dt.datetime.now(dt.UTC)))
    server.start()
    try:
        _enable_auth(EtcdStore(server.settings()), "s3cret")
        store = EtcdStore(server.settings(username="root", password="s3cret"))
        applied = await store.apply({"/graygate-test/tls": "yes"})
        assert (await store.get_prefix("/graygate-test/")).entries[
            "/graygate-test/tls"
        ].mod_revision == applied.revision
        await store.aclose()

        for wrong in (server.settings(username="root", password="wrong"), server.settings()):
            with pytest.raises(EtcdAuthError):
                await EtcdStore(wrong).get_prefix("/graygate-test/")
        plain = EtcdSettings(endpoints=(server.endpoint,), dial_timeout_s=0.5, username="root", password="s3cret")
        with pytest.raises(EtcdUnavailable):  # no TLS against a TLS port: the connection never comes up
            await EtcdStore(plain).get_prefix("/graygate-test/")
    finally:
        server.stop()


def test_the_store_imports_and_works_after_protobuf_chose_its_c_implementation(etcd: Etcd) -> None:
    script = textwrap.dedent(
        f"""
        from google.protobuf import descriptor_pb2  # any _pb2 import makes protobuf choose, for good
        from google.protobuf.internal import api_implementation
        assert api_implementation.Type() != "python", api_implementation.Type()

        import asyncio
        from graygate.store import EtcdSettings
        from graygate.store.etcd.store import EtcdStore

        async def main():
            store = EtcdStore(EtcdSettings(endpoints=({etcd.endpoint!r},)))
            applied = await store.apply({{"/graygate-test/compat": "ok"}})
            snapshot = await store.get_prefix("/graygate-test/compat")
            await store.aclose()
            print(api_implementation.Type(), snapshot.entries["/graygate-test/compat"].value, applied.revision > 0)

        asyncio.run(main())
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "operator"), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["upb", "ok", "True"]


def test_the_store_sets_the_protobuf_variable_when_nothing_chose_yet() -> None:
    script = "import graygate.store.etcd.store, os; print(os.environ['PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION'])"
    env = {key: value for key, value in os.environ.items() if key != "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "python"
