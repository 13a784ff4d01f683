"""A tick hands over the transitions it made, once each, after its status is written; one that did not happen
(a start the API server refused) is never announced, and a sink that fails changes nothing of the tick."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from graygate.api import Phase
from graygate.api.notifications import Notifications
from graygate.domain.release.notifications import Notification
from graygate.ports.release import ReleaseRef
from tests.unit.domain.release_builders import spec
from tests.unit.service.harness import Operator, user_vs
from tests.unit.service.test_write_refused import ISTIO_SAYS, PAUSE_AT_20, RefusingStore

SETTINGS = Notifications.model_validate(
    {"channels": [{"name": "chat", "kind": "slack", "urlFrom": {"secretKeyRef": {"name": "slack", "key": "url"}}}]}
)


@dataclass
class RecordingSink:
    said: list[tuple[str, str]] = field(default_factory=list)
    notes: list[Notification] = field(default_factory=list)
    settings: list[Notifications | None] = field(default_factory=list)
    fails: bool = False

    def submit(self, ref: ReleaseRef, settings: Notifications | None, notifications: tuple[Notification, ...]) -> None:
        if self.fails:
            raise RuntimeError("a bug in the notifier")
        self.settings.append(settings)
        self.said += [(note.kind.value, note.message) for note in notifications]
        self.notes += notifications

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.said]


def with_sink(operator: Operator, sink: RecordingSink) -> Operator:
    operator.deps = replace(operator.deps, notifications=sink)
    return operator


async def test_each_transition_is_handed_over_once() -> None:
    sink = RecordingSink()
    operator = with_sink(Operator(spec(steps=[{"setWeight": 20}, {"pause": {}}], notifications=SETTINGS)), sink)
    for _ in range(6):
        assert await operator.tick(31) is None
    assert operator.slot.status.phase is Phase.PAUSED
    assert sink.kinds() == ["started", "waitingForApproval"]
    assert sink.said[0][1] == "shop/checkout started: step 1/2: 20% to the canary"
    assert set(map(id, sink.settings)) == {id(operator.spec.notifications)}  # type: ignore[union-attr]


async def test_a_refused_start_is_not_announced_but_the_stall_is() -> None:
    store = RefusingStore(user_vs())
    sink = RecordingSink()
    operator = with_sink(Operator(PAUSE_AT_20, store), sink)
    store.refusing = ISTIO_SAYS
    for _ in range(3):
        assert await operator.tick(31) is None
    assert sink.kinds() == ["stalled"]
    assert ISTIO_SAYS in sink.said[0][1]
    store.refusing = None
    assert await operator.tick(31) is None
    assert sink.kinds() == ["stalled", "started"]
    assert sink.settings == [None, None], "no spec.notifications: the defaults apply"


async def test_a_rollback_whose_restore_failed_says_so() -> None:
    store = RefusingStore(user_vs())
    sink = RecordingSink()
    operator = with_sink(Operator(PAUSE_AT_20, store), sink)
    for _ in range(3):
        assert await operator.tick(31) is None
    operator.probes.code = 500
    store.refusing = ISTIO_SAYS
    assert await operator.tick(31) is not None
    assert sink.kinds()[-1] == "rolledBack"
    assert sink.said[-1][1].endswith("; the traffic change is not written yet (RouterError), retrying")
    store.refusing = None
    assert await operator.tick(31) is None
    assert sink.kinds().count("rolledBack") == 1


async def test_a_failing_sink_changes_nothing() -> None:
    operator = with_sink(Operator(PAUSE_AT_20), RecordingSink(fails=True))
    for _ in range(3):
        assert await operator.tick(31) is None
    assert (operator.slot.status.phase, operator.weight()) == (Phase.PAUSED, 20)


async def test_the_release_labels_and_annotations_go_with_each_notification() -> None:
    sink = RecordingSink()
    operator = with_sink(Operator(spec(steps=[{"setWeight": 20}, {"pause": {}}], notifications=SETTINGS)), sink)
    operator.labels = {"app": "checkout", "team": "payments"}
    operator.annotations = {"example.com/ticket": "CHG-42"}
    for _ in range(6):
        assert await operator.tick(31) is None
    assert [note.kind.value for note in sink.notes] == ["started", "waitingForApproval"]
    for note in sink.notes:
        assert (dict(note.labels), dict(note.annotations)) == (operator.labels, operator.annotations)
