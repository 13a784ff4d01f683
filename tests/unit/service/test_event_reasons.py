"""Every Event reason the service posts comes from the fixed vocabulary, `Reason`: the port takes a `Reason`, so
`mypy --strict` refuses a bare string at any call site, and the Event fakes of the service tests refuse at run time
any reason outside it (the config failures below were such strings once). Every note of a decision is posted, and
each note fits the API server's limit, counted in bytes."""

from __future__ import annotations

import typing

import pytest

from graygate import service
from graygate.api import CanaryReleaseStatus
from graygate.domain.release.decision import Abort, Note, Reason
from graygate.kube.events import fit_note
from graygate.ports.release import EventSink
from graygate.service import ReleaseView
from tests.unit.domain.release_builders import spec
from tests.unit.fakes.events import RecordingEvents
from tests.unit.service.harness import REF, T0, Operator


def test_the_event_port_takes_a_reason_from_the_vocabulary() -> None:
    assert typing.get_type_hints(EventSink.post)["reason"] is Reason


@pytest.mark.parametrize("reason", ["ConfigApplyFailed", "ConfigRestoreFailed"])
def test_the_config_failures_are_in_the_vocabulary(reason: str) -> None:
    assert Reason(reason).value == reason


async def test_the_fakes_refuse_a_reason_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="ConfigExploded"):
        await RecordingEvents().post(REF, "Warning", "ConfigExploded", "", T0)


async def test_every_note_of_a_decision_is_posted_after_its_event() -> None:
    # a gate starting to fail and the release's config reported in one tick: neither Event replaces the other
    operator = Operator(spec())
    notes = (Note("Warning", Reason.GATE_FAILED, "gate latency failed"), Note("Normal", Reason.CONFIG_RESTORED, "ok"))
    status = CanaryReleaseStatus()
    decision = Abort(reason=Reason.ABORTED, message="aborted", status=status, event="Warning", notes=notes)
    view = ReleaseView(ref=REF, generation=1, spec=operator.spec, status=CanaryReleaseStatus(), command=None)
    await service._announce(view, decision, operator.deps, T0)
    assert operator.events.kinds() == [("Warning", "Aborted"), ("Warning", "GateFailed"), ("Normal", "ConfigRestored")]


@pytest.mark.parametrize(
    ("note", "limit", "fitted"),
    [
        ("short", 1024, "short"),
        ("x" * 1024, 1024, "x" * 1024),  # exactly the limit: kept whole
        ("x" * 1025, 1024, "x" * 1021 + "…"),  # "…" is 3 bytes
        ("é" * 600, 1024, "é" * 510 + "…"),  # 2-byte characters: 1,200 bytes, never cut inside one
        ("ab€", 5, "ab€"),
        ("ab€x", 5, "ab…"),
        ("a€€", 6, "a…"),  # the cut lands inside a €: the partial character is dropped, not left invalid
    ],
)
def test_an_event_note_is_cut_by_utf8_bytes_to_the_api_servers_limit(note: str, limit: int, fitted: str) -> None:
    cut = fit_note(note, limit)
    assert cut == fitted
    assert len(cut.encode()) <= limit


def test_the_default_cut_is_the_api_servers_1024_bytes() -> None:
    assert len(fit_note("…" * 1000).encode()) <= 1024
    assert fit_note("…" * 1000).endswith("…")
