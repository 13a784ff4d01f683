"""The watch cache's rules: events applied, stale events ignored, 410 and resync relist, failures back off, stop ends
the thread; driven by a hand-written event source (tests/unit/fakes/event_source.py)."""

from __future__ import annotations

import threading
import time

import pytest

from graygate.kube.watch_cache import Gone, WatchCache, strip_managed_fields
from tests.unit.fakes.event_source import Changes, ScriptedSource, obj

KIND = "VirtualService"


def cache_over(source: ScriptedSource, changes: Changes | None = None, **kwargs: object) -> WatchCache:
    return WatchCache(KIND, source, on_change=changes, backoff_s=(0.01, 0.02), **kwargs)  # type: ignore[arg-type]


def run_until_idle(cache: WatchCache, source: ScriptedSource) -> None:
    """Runs the cache's thread until its watch has run out of script, then stops it."""
    cache.start()
    assert source.idle.wait(5), "the watch never reached the end of its script"
    assert cache.stop(5), "the cache's thread did not end"


def test_the_first_list_fills_the_cache_and_makes_it_ready_without_callbacks() -> None:
    source, changes = ScriptedSource([obj("a", 3), obj("b", 4)], version=7), Changes()
    cache = cache_over(source, changes)
    assert not cache.ready
    assert cache.get("team-a", "a") is None
    cache.relist()
    assert cache.ready
    assert cache.get("team-a", "a") == obj("a", 3)
    assert cache.resource_version == "7"
    assert changes.seen == [], "the first list is the starting point, not a change"


def test_added_modified_deleted_change_the_cache_and_call_back() -> None:
    changes = Changes()
    cache = cache_over(ScriptedSource([obj("a", 3)]), changes)
    cache.relist()
    cache.apply("ADDED", obj("b", 11))
    cache.apply("MODIFIED", obj("a", 12, weight=10))
    cache.apply("DELETED", obj("b", 13))
    assert cache.get("team-a", "a") == obj("a", 12, weight=10)
    assert cache.get("team-a", "b") is None
    assert cache.resource_version == "13"
    assert changes.seen == [(KIND, "team-a", "b"), (KIND, "team-a", "a"), (KIND, "team-a", "b")]


def test_an_event_older_than_a_writes_answer_is_ignored() -> None:
    changes = Changes()
    cache = cache_over(ScriptedSource([obj("a", 3)]), changes)
    cache.relist()
    cache.put(obj("a", 20, weight=50))
    assert changes.seen == [(KIND, "team-a", "a")], "a newer version put in is a change, as its event would be"
    cache.apply("MODIFIED", obj("a", 15, weight=10))
    assert cache.get("team-a", "a") == obj("a", 20, weight=50)
    cache.apply("MODIFIED", obj("a", 20, weight=50))
    assert len(changes.seen) == 1, "the write coming back through the watch is no change"
    cache.apply("MODIFIED", obj("a", 21, weight=60))
    assert changes.seen == [(KIND, "team-a", "a")] * 2


@pytest.mark.parametrize(
    ("held", "put", "told"),
    [
        (None, 5, True),  # created a moment ago, before its ADDED event
        (3, 5, True),  # newer than the cache's: whoever else reads it must hear of it
        (5, 5, False),  # the version the cache holds
        (7, 5, False),  # older than the cache's: not stored
    ],
)
def test_put_calls_back_only_when_it_stores_a_newer_version(held: int | None, put: int, told: bool) -> None:
    changes = Changes()
    cache = cache_over(ScriptedSource([] if held is None else [obj("a", held)]), changes)
    cache.relist()
    cache.put(obj("a", put))
    assert changes.seen == ([(KIND, "team-a", "a")] if told else [])
    assert cache.get("team-a", "a") == obj("a", max(put, held or 0))


def test_a_bookmark_moves_the_resource_version_only() -> None:
    cache = cache_over(ScriptedSource([obj("a", 3)]))
    cache.relist()
    cache.apply("BOOKMARK", {"metadata": {"resourceVersion": "99"}})
    assert cache.resource_version == "99"
    assert cache.keys() == {("team-a", "a")}


def test_an_error_event_410_is_gone_and_any_other_is_a_failure() -> None:
    cache = cache_over(ScriptedSource())
    with pytest.raises(Gone):
        cache.apply("ERROR", {"kind": "Status", "code": 410, "message": "too old resource version: 5 (9)"})
    with pytest.raises(RuntimeError, match="500"):
        cache.apply("ERROR", {"kind": "Status", "code": 500, "message": "boom"})


def test_the_cache_hands_out_copies() -> None:
    cache = cache_over(ScriptedSource([obj("a", 3, weight=1)]))
    cache.relist()
    read = cache.get("team-a", "a")
    assert read is not None
    read["spec"]["weight"] = 99
    assert cache.get("team-a", "a") == obj("a", 3, weight=1)


def test_managed_fields_are_not_kept() -> None:
    body = obj("a", 3)
    body["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    assert strip_managed_fields(body) == obj("a", 3)
    assert "managedFields" in body["metadata"], "the original is not changed"


def test_the_loop_watches_from_the_lists_version_and_resumes_from_the_last_event() -> None:
    source, changes = ScriptedSource([obj("a", 3)], version=10), Changes()
    source.sessions = [[("MODIFIED", obj("a", 11, weight=5))], [("ADDED", obj("b", 12))]]
    cache = cache_over(source, changes)
    run_until_idle(cache, source)
    assert source.lists == 1, "a watch the server ends is resumed, not relisted"
    assert source.watched_from == ["10", "11", "12"]
    assert changes.seen == [(KIND, "team-a", "a"), (KIND, "team-a", "b")]


def test_410_gone_relists_and_reports_what_changed_meanwhile() -> None:
    source, changes = ScriptedSource([obj("a", 3), obj("b", 4), obj("c", 5)], version=10), Changes()
    cache = cache_over(source, changes)

    def gone_after_changes() -> list[tuple[str, dict[str, object]]]:
        # While the watch was down: a deleted, b modified, d added, c untouched.
        source.objects = [obj("b", 30, weight=1), obj("c", 5), obj("d", 31)]
        source.version = 40
        raise Gone("too old resource version")

    source.sessions = [_Lazy(gone_after_changes)]  # type: ignore[list-item]
    run_until_idle(cache, source)
    assert source.lists == 2
    assert source.watched_from == ["10", "40"], "the watch resumes from the relist's version"
    assert cache.keys() == {("team-a", "b"), ("team-a", "c"), ("team-a", "d")}
    assert sorted(changes.seen) == [(KIND, "team-a", "a"), (KIND, "team-a", "b"), (KIND, "team-a", "d")]


def test_a_failed_watch_backs_off_and_relists() -> None:
    source = ScriptedSource([obj("a", 3)], version=10)
    source.sessions = [ConnectionError("refused"), ConnectionError("refused"), [("MODIFIED", obj("a", 11))]]
    cache = cache_over(source)
    run_until_idle(cache, source)
    assert source.lists == 3, "each failure is followed by a relist, which makes the cache ready again"
    assert source.watched_from == ["10", "10", "10", "11"]
    assert cache.ready


def test_a_failed_first_list_is_retried_and_the_cache_is_not_ready_meanwhile() -> None:
    source = _FailingListSource(failures=2, objects=[obj("a", 3)])
    cache = cache_over(source)
    cache.start()
    assert cache.wait_ready(5)
    assert source.lists == 3
    assert cache.get("team-a", "a") == obj("a", 3)
    assert cache.stop(5)


def test_the_periodic_resync_relists_and_catches_a_missed_event() -> None:
    now = [0.0]
    source, changes = ScriptedSource([obj("a", 3)], version=10), Changes()

    def missed_then_time_passes() -> list[tuple[str, dict[str, object]]]:
        source.objects = [obj("a", 50, weight=7)]  # changed, and the watch never said so
        source.version = 50
        now[0] += 301
        return []

    source.sessions = [_Lazy(missed_then_time_passes)]  # type: ignore[list-item]
    cache = cache_over(source, changes, resync_s=300.0, clock=lambda: now[0])
    run_until_idle(cache, source)
    assert source.lists == 2
    assert cache.get("team-a", "a") == obj("a", 50, weight=7)
    assert changes.seen == [(KIND, "team-a", "a")]


def test_a_callback_that_raises_does_not_end_the_watch() -> None:
    def broken(kind: str, namespace: str, name: str) -> None:
        raise ValueError("bug")

    source = ScriptedSource([obj("a", 3)], version=10)
    source.sessions = [[("MODIFIED", obj("a", 11)), ("MODIFIED", obj("a", 12))]]
    cache = WatchCache(KIND, source, on_change=broken)
    run_until_idle(cache, source)
    assert cache.resource_version == "12"


def test_stop_ends_a_watch_that_is_waiting_for_events() -> None:
    source = ScriptedSource([obj("a", 3)])
    cache = cache_over(source)
    cache.start()
    assert source.idle.wait(5)
    started = time.monotonic()
    assert cache.stop(5)
    assert time.monotonic() - started < 1
    assert not any(thread.name == f"graygate-watch-{KIND}" for thread in threading.enumerate())


class _Lazy:
    """A watch session computed when the watch starts (it may change the source, or raise)."""

    def __init__(self, make: object) -> None:
        self._make = make

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._make())  # type: ignore[operator]


class _FailingListSource(ScriptedSource):
    def __init__(self, failures: int, objects: list[dict[str, object]]) -> None:
        super().__init__(objects)
        self._failures = failures

    def list(self) -> tuple[list[dict[str, object]], str]:
        if self._failures:
            self._failures -= 1
            self.lists += 1
            raise ConnectionError("the API server is not up yet")
        return super().list()


@pytest.mark.parametrize(
    ("held", "listed", "kept"),
    [
        (20, 15, 20),  # a write's answer put in after the list was read: kept
        (15, 20, 20),  # the list is newer
        (15, 15, 15),
        (None, 15, 15),
    ],
)
def test_a_list_keeps_a_held_object_newer_than_its_own(held: int | None, listed: int, kept: int) -> None:
    source = ScriptedSource([obj("a", 3)], version=10)
    cache = cache_over(source)
    cache.relist()
    if held is not None:
        cache.put(obj("a", held, weight=held))
    source.objects, source.version = [obj("a", listed, weight=listed)], listed
    cache.relist()
    assert cache.get("team-a", "a") == obj("a", kept, weight=kept)


@pytest.mark.parametrize(
    ("held", "list_version", "kept"),
    [
        (20, "15", True),  # created after the list was read (a fresh read put it in)
        (12, "15", False),  # deleted before the list
        (20, "not-a-number", False),  # unknown: the list wins
    ],
)
def test_an_object_the_list_lacks_is_kept_only_when_newer_than_the_list(
    held: int, list_version: str, kept: bool
) -> None:
    source = ScriptedSource([], version=10)
    cache = cache_over(source)
    cache.relist()
    cache.put(obj("a", held))
    source.version = list_version  # type: ignore[assignment]
    cache.relist()
    assert (cache.get("team-a", "a") is not None) is kept


@pytest.mark.parametrize(
    ("held", "deleted", "gone"),
    [
        (20, 25, True),
        (20, 15, False),  # a deletion of an older object (then recreated, the cache holding the new one)
        (20, "x", True),  # unknown: the event wins
    ],
)
def test_a_deleted_event_older_than_the_held_object_is_ignored(held: int, deleted: int | str, gone: bool) -> None:
    changes = Changes()
    cache = cache_over(ScriptedSource([obj("a", held)]), changes)
    cache.relist()
    body = obj("a", 0)
    body["metadata"]["resourceVersion"] = str(deleted)
    cache.apply("DELETED", body)
    assert (cache.get("team-a", "a") is None) is gone
    assert changes.seen == ([(KIND, "team-a", "a")] if gone else [])


def test_a_failing_watch_makes_the_cache_not_ready_until_a_list_succeeds() -> None:
    source = ScriptedSource([obj("a", 3)], version=10)
    ready_after: list[bool] = []

    def failing() -> list[tuple[str, dict[str, object]]]:
        raise PermissionError("forbidden: the grant was revoked")

    def after_failure() -> list[tuple[str, dict[str, object]]]:
        ready_after.append(cache.ready)
        return []

    source.sessions = [_Lazy(failing), _Lazy(after_failure)]  # type: ignore[list-item]
    cache = cache_over(source)
    cache.start()
    assert source.idle.wait(5)
    assert cache.stop(5)
    assert source.lists == 2, "a failed watch is followed by a relist"
    assert ready_after == [True], "the relist made it ready again"


def test_a_failed_watch_leaves_the_cache_not_ready_while_its_relist_fails() -> None:
    source = _FailingListSource(failures=0, objects=[obj("a", 3)])

    def revoked() -> list[tuple[str, dict[str, object]]]:
        source._failures = 1_000  # the grant is gone: every list fails from now on
        raise PermissionError("forbidden")

    source.sessions = [_Lazy(revoked)]  # type: ignore[list-item]
    cache = cache_over(source)
    cache.start()
    deadline = time.monotonic() + 5
    while source.lists < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert source.lists >= 3, "the relist was not retried"
    assert not cache.ready, "a cache whose watch and list fail still served reads"
    assert cache.stop(5)


def test_a_stuck_watch_makes_the_cache_not_ready_after_twice_the_watch_timeout() -> None:
    now = [0.0]
    source = ScriptedSource([obj("a", 3)], version=10)
    cache = cache_over(source, clock=lambda: now[0], watch_timeout_s=240.0)
    cache.relist()
    now[0] = 479.0
    assert cache.ready
    cache.apply("BOOKMARK", {"metadata": {"resourceVersion": "11"}})
    now[0] = 479.0 + 480.0
    assert cache.ready, "a bookmark is news from the server"
    now[0] += 1.0
    assert not cache.ready, "nothing heard for twice the watch timeout: the stream may be stuck"
