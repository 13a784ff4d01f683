"""A release's etcd keys (`spec.config`), rule by rule: recognising graygate's own write from a reading, planning a
guarded restore, and how `decide` writes the keys before the first traffic and puts them back after a failure, an
abort or a fresh start. Every reading is plain data: a crash between the etcd write and the status write is just
the next row."""

from __future__ import annotations

from typing import Any

import pytest
from release_builders import SNAPSHOT, T0, at, no_gates, observe, probe, spec, status

from graygate.api import CanaryReleaseStatus, Phase
from graygate.api.etcd import EtcdConnection
from graygate.api.release_config import MAX_VALUE, ConfigKeyStatus, ConfigState, ConfigStatus, ReleaseConfig
from graygate.domain.config.release_config import (
    ApplyConfig,
    ConfigReading,
    KeyReading,
    RestoreConfig,
    intent,
    keys_to_read,
    recognise,
    restore_plan,
    to_restore_on_delete,
    untouched,
)
from graygate.domain.release.config_moves import MAX_ATTEMPTS
from graygate.domain.release.decide import decide
from graygate.domain.release.decision import Abort, Advance, Hold, Reason, Restart, Rollback
from graygate.domain.release.observations import Observations

P, S = Phase, ConfigState
ETCD = EtcdConnection(endpoints=("127.0.0.1:2379",))
CONFIG: dict[str, Any] = {
    "etcd": {"endpoints": ["127.0.0.1:2379"]},
    "keys": [{"key": "/a", "value": "new-a"}, {"key": "/b", "value": "new-b"}, {"key": "/gone", "delete": True}],
}
WANTED = ReleaseConfig.model_validate(CONFIG)


def read(**keys: tuple[str | None, int]) -> ConfigReading:
    """A reading: `a=("v", 7)` is key `/a` holding "v" at mod_revision 7; `gone=(None, 0)` is absent."""
    return ConfigReading(keys={f"/{name}": KeyReading(value, revision) for name, (value, revision) in keys.items()})


BEFORE = read(a=("old-a", 5), b=(None, 0), gone=("old", 3))
"""Before graygate: /a holds old-a, /b does not exist, /gone holds old."""
AFTER = read(a=("new-a", 9), b=("new-b", 9), gone=(None, 0))
"""graygate's write at revision 9."""


def recorded(state: ConfigState = S.APPLYING, written: int | None = None, attempts: int = 1) -> ConfigStatus:
    found = intent(WANTED, BEFORE, attempts=attempts)
    assert isinstance(found, ConfigStatus)
    if written is None:
        return found.model_copy(update={"state": state})
    keys = tuple(
        entry.model_copy(update={"written_revision": 0 if entry.value is None else written}) for entry in found.keys
    )
    return found.model_copy(update={"state": state, "keys": keys})


# ---- the pure rules ----


def test_intent_records_each_previous_value_and_revision() -> None:
    found = intent(WANTED, BEFORE, attempts=1)
    assert isinstance(found, ConfigStatus)
    assert found.state is S.APPLYING
    assert [(k.key, k.value, k.previous_value, k.previous_revision, k.written_revision) for k in found.keys] == [
        ("/a", "new-a", "old-a", 5, None),
        ("/b", "new-b", None, 0, None),
        ("/gone", None, "old", 3, None),
    ]


def test_intent_refuses_a_previous_value_too_long_to_keep() -> None:
    found = intent(WANTED, read(a=("x" * (MAX_VALUE + 1), 5)), attempts=1)
    assert isinstance(found, str)
    assert "/a" in found
    assert str(MAX_VALUE) in found


@pytest.mark.parametrize(
    ("reading", "written"),
    [
        pytest.param(AFTER, {"/a": 9, "/b": 9, "/gone": 0}, id="every key holds graygate's value"),
        pytest.param(BEFORE, None, id="nothing written yet"),
        pytest.param(
            read(a=("hotfix", 12), b=("new-b", 9), gone=(None, 0)),
            {"/a": 9, "/b": 9, "/gone": 0},
            id="written, then one key changed by someone else",
        ),
        pytest.param(
            read(a=("new-a", 9), b=("new-b", 11), gone=(None, 0)),
            {"/a": 9, "/b": 11, "/gone": 0},
            id="every key holds graygate's value, one rewritten since with the same value",
        ),
        pytest.param(
            read(a=("new-a", 9), b=("new-b", 11), gone=("back", 12)),
            None,
            id="graygate's values at two revisions and a key not as written: not one transaction",
        ),
        pytest.param(read(a=("other", 12), b=("other", 12), gone=("old", 3)), None, id="someone else's write"),
    ],
)
def test_recognise_finds_graygates_one_transaction(reading: ConfigReading, written: dict[str, int] | None) -> None:
    assert recognise(recorded(), reading) == written


def test_untouched_means_no_key_moved_since_the_intent() -> None:
    assert untouched(recorded(), BEFORE)
    assert not untouched(recorded(), read(a=("old-a", 8), b=(None, 0), gone=("old", 3)))


@pytest.mark.parametrize(
    ("reading", "pending", "conflicts", "state"),
    [
        pytest.param(AFTER, {"/a": 9, "/b": 9, "/gone": 0}, [], S.RESTORING, id="all still graygate's: put back"),
        pytest.param(BEFORE, {}, [], S.RESTORED, id="all hold their previous value"),
        pytest.param(
            read(a=("hotfix", 12), b=("new-b", 9), gone=(None, 0)),
            {"/b": 9, "/gone": 0},
            ["/a"],
            S.RESTORING,
            id="a hotfix is left alone, the rest put back",
        ),
        pytest.param(
            read(a=("hotfix", 12), b=(None, 0), gone=("old", 14)),
            {},
            ["/a"],
            S.CONFLICT,
            id="done, with a conflict",
        ),
        pytest.param(
            read(a=("new-a", 9), b=(None, 0), gone=("old", 14)),
            {"/a": 9},
            [],
            S.RESTORING,
            id="a deleted key someone else recreated with the old value counts as restored",
        ),
        pytest.param(
            read(a=("old-a", 5), b=("new-b", 9), gone=("again", 15)),
            {"/b": 9},
            ["/gone"],
            S.RESTORING,
            id="a deleted key someone else recreated",
        ),
    ],
)
def test_restore_plan(
    reading: ConfigReading, pending: dict[str, int], conflicts: list[str], state: ConfigState
) -> None:
    plan = restore_plan(recorded(S.RESTORING, written=9), reading)
    assert (plan.action.written if plan.action else {}) == pending
    if plan.action is not None:
        before = {"/a": "old-a", "/b": None, "/gone": "old"}
        assert dict(plan.action.previous) == {key: before[key] for key in pending}
    assert [entry.key for entry in plan.conflicts] == conflicts
    assert plan.state is state


def test_restore_plan_names_the_conflict() -> None:
    plan = restore_plan(recorded(S.RESTORING, written=9), read(a=("hotfix", 12), b=(None, 0), gone=(None, 0)))
    (conflict,) = plan.conflicts
    assert conflict.conflict == "set to 'hotfix' at revision 12 after graygate wrote it at revision 9; left as is"


@pytest.mark.parametrize(
    ("reading", "pending", "conflicts"),
    [
        pytest.param(BEFORE, {}, [], id="the write never happened: nothing to do"),
        pytest.param(AFTER, {"/a": 9, "/b": 9, "/gone": 0}, [], id="the write happened: put back"),
        pytest.param(read(a=("x", 12), b=(None, 0), gone=("old", 3)), {}, ["/a"], id="cannot tell: left alone"),
    ],
)
def test_restore_plan_of_an_unconfirmed_write(
    reading: ConfigReading, pending: dict[str, int], conflicts: list[str]
) -> None:
    plan = restore_plan(recorded(S.RESTORING), reading)
    assert (plan.action.written if plan.action else {}) == pending
    assert [entry.key for entry in plan.conflicts] == conflicts


@pytest.mark.parametrize(
    ("before", "reads"),
    [
        (status(P.PENDING), ("/a", "/b", "/gone")),
        (status(P.PROGRESSING, config=recorded(S.APPLIED, written=9)), None),
        (status(P.FAILED, config=recorded(S.RESTORING, written=9)), ("/a", "/b", "/gone")),
        (status(P.FAILED, config=recorded(S.RESTORED, written=9)), None),
        (status(P.SUCCEEDED, config=recorded(S.APPLIED, written=9)), None),
    ],
)
def test_keys_are_read_only_while_something_is_outstanding(
    before: CanaryReleaseStatus, reads: tuple[str, ...] | None
) -> None:
    found = keys_to_read(no_gates(config=CONFIG), before)
    assert (found[1] if found else None) == reads


@pytest.mark.parametrize(
    ("before", "restores"),
    [
        (status(P.SUCCEEDED, config=recorded(S.APPLIED, written=9)), False),
        (status(P.PROGRESSING, config=recorded(S.APPLIED, written=9)), True),
        (status(P.PENDING, config=recorded(S.APPLYING)), True),
        (status(P.FAILED, config=recorded(S.RESTORING, written=9)), True),
        (status(P.FAILED, config=recorded(S.CONFLICT, written=9)), False),
        (status(P.PROGRESSING), False),
    ],
)
def test_what_deletion_puts_back(before: CanaryReleaseStatus, restores: bool) -> None:
    assert (to_restore_on_delete(before) is not None) is restores


# ---- through decide ----

RELEASE = no_gates(config=CONFIG, steps=[{"setWeight": 20}, {"setWeight": 60}])
PENDING = status(P.PENDING, next_check_at=None, step_started_at=None)


def seen(weight: int = 0, config: ConfigReading | None = None, **more: Any) -> Observations:
    base = observe(weight, **more)
    return Observations(
        generation=base.generation,
        routes=base.routes,
        analysis=base.analysis,
        command=base.command,
        frozen=base.frozen,
        config=config,
    )


def test_a_starting_release_records_the_previous_values_then_writes_guarded() -> None:
    decision = decide(RELEASE, PENDING, seen(config=BEFORE), T0)
    assert isinstance(decision, Hold)
    assert decision.reason is Reason.CONFIG_APPLYING
    assert decision.target_weight is None, "no traffic before the config is confirmed"
    assert decision.status.config == recorded()
    assert decision.config == ApplyConfig(
        etcd=ETCD, changes={"/a": "new-a", "/b": "new-b", "/gone": None}, expected={"/a": 5, "/b": 0, "/gone": 3}
    )


def test_the_confirmed_write_starts_the_release() -> None:
    decision = decide(RELEASE, PENDING.model_copy(update={"config": recorded()}), seen(config=AFTER), T0)
    assert isinstance(decision, Advance)
    assert decision.reason is Reason.STARTED
    assert decision.target_weight == 20
    assert decision.status.config == recorded(S.APPLIED, written=9).model_copy(
        update={"message": "wrote 3 config key(s) at revision 9"}
    )
    assert [note.reason for note in decision.notes] == [Reason.CONFIG_APPLIED]


def test_a_write_that_did_not_happen_is_made_again_then_fails_the_release() -> None:
    again = decide(RELEASE, PENDING.model_copy(update={"config": recorded()}), seen(config=BEFORE), T0)
    assert isinstance(again.config, ApplyConfig)
    assert again.status.config is not None
    assert again.status.config.attempts == 2

    tired = PENDING.model_copy(update={"config": recorded(attempts=MAX_ATTEMPTS)})
    failed = decide(RELEASE, tired, seen(config=BEFORE), T0)
    assert isinstance(failed, Rollback)
    assert failed.reason is Reason.CONFIG_FAILED
    assert failed.status.phase is P.FAILED
    assert failed.status.canary_weight == 0
    assert failed.status.config is not None
    assert failed.status.config.state is S.RESTORED, "nothing had been written"
    assert failed.config is None


def test_a_key_changed_between_reading_and_writing_is_read_again() -> None:
    moved = read(a=("other", 7), b=(None, 0), gone=("old", 3))
    decision = decide(RELEASE, PENDING.model_copy(update={"config": recorded()}), seen(config=moved), T0)
    assert isinstance(decision.config, ApplyConfig)
    assert decision.config.expected == {"/a": 7, "/b": 0, "/gone": 3}
    assert decision.status.config is not None
    assert decision.status.config.keys[0].previous_value == "other"


def test_an_unreadable_etcd_holds_the_start() -> None:
    decision = decide(RELEASE, PENDING, seen(config=ConfigReading(error="no etcd endpoint answered")), T0)
    assert isinstance(decision, Hold)
    assert decision.reason is Reason.CONFIG_UNAVAILABLE
    assert "no etcd endpoint answered" in decision.message
    assert decision.config is None


def test_a_previous_value_too_long_fails_before_anything_is_written() -> None:
    decision = decide(RELEASE, PENDING, seen(config=read(a=("x" * (MAX_VALUE + 1), 5))), T0)
    assert isinstance(decision, Rollback)
    assert decision.reason is Reason.CONFIG_FAILED
    assert decision.config is None
    assert decision.status.config is None


def test_a_rollback_puts_the_keys_back_then_reports_a_conflict() -> None:
    gated = spec(config=CONFIG)
    running = status(P.PROGRESSING, canary_weight=10, config=recorded(S.APPLIED, written=9))
    failed = decide(gated, running, seen(10, analysis=(probe("health", 500),)), T0)
    assert isinstance(failed, Rollback)
    assert failed.restore_routes
    assert failed.status.config is not None
    assert failed.status.config.state is S.RESTORING

    hotfix = read(a=("hotfix", 12), b=("new-b", 9), gone=(None, 0))
    putting_back = decide(gated, failed.status, seen(0, config=hotfix), at(1))
    assert putting_back.config == RestoreConfig(
        etcd=ETCD, previous={"/b": None, "/gone": "old"}, written={"/b": 9, "/gone": 0}
    )

    after = read(a=("hotfix", 12), b=(None, 0), gone=("old", 13))
    done = decide(gated, putting_back.status, seen(0, config=after), at(2))
    assert done.config is None
    assert done.status.config is not None
    assert done.status.config.state is S.CONFLICT
    [note] = done.notes
    assert note.type == "Warning"
    assert note.reason is Reason.CONFIG_CONFLICT
    assert "/a: set to 'hotfix' at revision 12" in note.message
    assert done.status.phase is P.FAILED
    assert done.status.canary_weight == 0


def test_a_clean_restore_is_reported_once() -> None:
    failed = status(P.FAILED, canary_weight=0, config=recorded(S.RESTORING, written=9))
    done = decide(RELEASE, failed, seen(0, config=BEFORE), T0)
    assert done.status.config is not None
    assert done.status.config.state is S.RESTORED
    assert [note.reason for note in done.notes] == [Reason.CONFIG_RESTORED]
    quiet = decide(RELEASE, done.status, seen(0), at(1))
    assert quiet.notes == ()
    assert quiet.config is None


@pytest.mark.parametrize(
    ("reading", "config_reason"),
    [(BEFORE, Reason.CONFIG_RESTORED), (read(a=("hotfix", 12), b=(None, 0), gone=("old", 3)), Reason.CONFIG_CONFLICT)],
    ids=["restored", "conflict"],
)
def test_a_gate_failing_in_the_tick_that_reports_the_config_is_heard_too(
    reading: ConfigReading, config_reason: Reason
) -> None:
    # an abort typed while the latency gate starts failing (within failureLimit): the abort's tick reports that
    # failure and, the keys being read as already put back (or changed by someone), the config's Event as well
    gated = spec(config=CONFIG)
    running = status(P.PROGRESSING, canary_weight=10, config=recorded(S.APPLIED, written=9))
    slow = (probe("health"), probe("latency", latency_ms=999))
    decision = decide(gated, running, seen(10, config=reading, analysis=slow, command="abort"), T0)
    assert isinstance(decision, Abort)
    assert [(note.type, note.reason) for note in decision.notes] == [
        ("Warning", Reason.GATE_FAILED),
        ("Warning" if config_reason is Reason.CONFIG_CONFLICT else "Normal", config_reason),
    ]
    assert decision.notes[0].message.startswith("gate latency failed: took 999ms")


def test_a_succeeded_release_keeps_its_config() -> None:
    done = status(P.SUCCEEDED, canary_weight=100, config=recorded(S.APPLIED, written=9))
    decision = decide(RELEASE, done, seen(100), T0)
    assert decision.config is None
    assert decision.status.config == done.config


def test_starting_over_puts_the_keys_back_before_writing_again() -> None:
    running = status(P.PROGRESSING, canary_weight=20, config=recorded(S.APPLIED, written=9))
    restarted = decide(RELEASE, running, seen(20, generation=2), T0)
    assert isinstance(restarted, Restart)
    assert restarted.status.config is not None
    assert restarted.status.config.state is S.RESTORING

    waiting = decide(RELEASE, restarted.status, seen(0, generation=2, config=AFTER), at(1))
    assert isinstance(waiting, Hold)
    assert waiting.reason is Reason.CONFIG_RESTORING
    assert isinstance(waiting.config, RestoreConfig)

    restored = decide(RELEASE, waiting.status, seen(0, generation=2, config=BEFORE), at(2))
    assert restored.status.config is not None
    assert restored.status.config.state is S.RESTORED
    writing = decide(RELEASE, restored.status, seen(0, generation=2, config=BEFORE), at(3))
    assert isinstance(writing.config, ApplyConfig), "a fresh intent for the new run"


def test_a_release_without_config_never_touches_etcd() -> None:
    decision = decide(no_gates(), PENDING, seen(), T0)
    assert isinstance(decision, Advance)
    assert decision.config is None
    assert decision.status.config is None


def test_original_routes_are_untouched_by_config() -> None:
    assert PENDING.original_routes == (SNAPSHOT,)


def test_config_key_status_roundtrips_through_json() -> None:
    entry = ConfigKeyStatus(key="/a", value=None, previous_value="x", previous_revision=3, written_revision=0)
    assert ConfigKeyStatus.model_validate(entry.model_dump(mode="json", by_alias=True)) == entry


def test_editing_a_succeeded_release_keeps_its_keys_for_the_next_run() -> None:
    done = status(P.SUCCEEDED, canary_weight=100, config=recorded(S.APPLIED, written=9))
    restarted = decide(RELEASE, done, seen(100, generation=2), T0)
    assert isinstance(restarted, Restart)
    assert restarted.config is None
    assert restarted.status.config is None, "the next run records its own intent over the stable's values"
