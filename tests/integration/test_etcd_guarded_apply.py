"""`read_keys` and `apply_if_unchanged` against a real etcd: named keys read at one revision, and a compare-and-swap
over several keys that writes all of them or, when any one guard fails, none, with 0 guarding absence as etcd
itself compares it. A replay of an applied call fails its guards, so a retry after a crash is detected."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from graygate.sandbox.processes import free_port
from graygate.store import EtcdUnavailable, GuardedApply, KeysSnapshot, Versioned
from graygate.store.etcd.store import EtcdStore
from tests.etcd_server import Etcd, settings


@pytest.fixture
async def someone(etcd: Etcd) -> AsyncIterator[EtcdStore]:
    """Another writer on the same etcd: a human's hotfix, another operator."""
    connected = EtcdStore(settings(etcd.endpoint))
    yield connected
    await connected.aclose()


@pytest.fixture
def keys() -> tuple[str, str, str]:
    prefix = f"/graygate-test/{uuid.uuid4().hex[:8]}/"
    return f"{prefix}a", f"{prefix}b", f"{prefix}c"


async def test_read_keys_gives_each_asked_key_its_value_and_mod_revision_at_one_revision(
    store: EtcdStore, keys: tuple[str, str, str]
) -> None:
    a, b, c = keys
    first = await store.apply({a: "1"})
    second = await store.apply({b: "two"})

    snapshot = await store.read_keys([c, a, b])
    assert snapshot.entries == {c: None, a: Versioned("1", first.revision), b: Versioned("two", second.revision)}
    assert list(snapshot.entries) == [c, a, b]  # in the order asked
    assert snapshot.revision >= second.revision
    assert snapshot.mod_revisions == {c: 0, a: first.revision, b: second.revision}
    assert await store.read_keys([]) == KeysSnapshot(revision=snapshot.revision, entries={})


async def test_apply_if_unchanged_writes_every_key_when_every_guard_holds(
    store: EtcdStore, keys: tuple[str, str, str]
) -> None:
    a, b, c = keys  # a is rewritten, b deleted, c (absent, guarded by 0) created
    await store.apply({a: "1", b: "2"})
    before = await store.read_keys(keys)
    assert before.mod_revisions[c] == 0

    result = await store.apply_if_unchanged({a: "10", b: None, c: "3"}, before.mod_revisions)
    assert result.applied
    assert result.revision > before.revision
    after = await store.read_keys(keys)
    assert after.entries == {a: Versioned("10", result.revision), b: None, c: Versioned("3", result.revision)}


async def test_zero_guards_exactly_the_absence_of_a_key(store: EtcdStore, keys: tuple[str, str, str]) -> None:
    a, _, _ = keys
    # never written: etcd compares a missing key as an empty KeyValue, whose mod_revision is 0
    created = await store.apply_if_unchanged({a: "created"}, {a: 0})
    assert created.applied
    # present: 0 no longer holds, nothing is written
    assert not (await store.apply_if_unchanged({a: "again"}, {a: 0})).applied
    assert (await store.read_keys([a])).entries[a] == Versioned("created", created.revision)
    # deleted: absent again, so 0 holds again
    await store.apply({a: None})
    assert (await store.apply_if_unchanged({a: "recreated"}, {a: 0})).applied


Move = Callable[[EtcdStore, tuple[str, str, str]], Awaitable[object]]
MOVES: dict[str, Move] = {
    "a-present-key-rewritten": lambda other, keys: other.apply({keys[0]: "hotfix"}),
    "a-present-key-rewritten-with-the-same-value": lambda other, keys: other.apply({keys[1]: "2"}),
    "a-present-key-deleted": lambda other, keys: other.apply({keys[1]: None}),
    "an-absent-key-created": lambda other, keys: other.apply({keys[2]: "theirs"}),
}


@pytest.mark.parametrize("move", sorted(MOVES))
async def test_one_failed_guard_writes_nothing_and_leaves_the_other_write_alone(
    store: EtcdStore, someone: EtcdStore, keys: tuple[str, str, str], move: str
) -> None:
    a, b, c = keys
    await store.apply({a: "1", b: "2"})
    before = await store.read_keys(keys)
    await MOVES[move](someone, keys)  # between graygate's read and its write
    theirs = await store.read_keys(keys)

    result = await store.apply_if_unchanged({a: "10", b: "20", c: "30"}, before.mod_revisions)
    assert result == GuardedApply(applied=False, revision=theirs.revision)
    assert (await store.read_keys(keys)).entries == theirs.entries  # their write kept, none of ours made


async def test_a_replay_of_an_applied_call_fails_its_guards(store: EtcdStore, keys: tuple[str, str, str]) -> None:
    a, b, c = keys
    await store.apply({a: "1", b: "2"})
    expected = (await store.read_keys(keys)).mod_revisions
    changes = {a: "10", b: None, c: "3"}

    first = await store.apply_if_unchanged(changes, expected)
    assert first.applied
    replay = await store.apply_if_unchanged(changes, expected)  # a crash before recording the first one
    assert replay == GuardedApply(applied=False, revision=first.revision)
    assert (await store.read_keys(keys)).mod_revisions == {a: first.revision, b: 0, c: first.revision}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"/x/a": "1"}, {}, id="a-change-without-a-guard"),
        pytest.param({"/x/a": "1"}, {"/x/a": 0, "/x/b": 0}, id="a-guard-without-a-change"),
    ],
)
def test_a_guarded_apply_needs_exactly_one_guard_per_key(changes: dict[str, str], expected: dict[str, int]) -> None:
    store = EtcdStore(settings(f"127.0.0.1:{free_port()}"))  # refused before dialling: nothing answers there
    with pytest.raises(ValueError, match="a revision for each key"):
        store.apply_if_unchanged_sync(changes, expected)


@pytest.mark.parametrize("call", ["read_keys", "apply_if_unchanged"])
async def test_nothing_answering_is_etcd_unavailable(call: str) -> None:
    store = EtcdStore(settings(f"127.0.0.1:{free_port()}"))
    actions = {
        "read_keys": lambda: store.read_keys(["/x/a"]),
        "apply_if_unchanged": lambda: store.apply_if_unchanged({"/x/a": "1"}, {"/x/a": 0}),
    }
    with pytest.raises(EtcdUnavailable, match="no etcd endpoint answered"):
        await actions[call]()
