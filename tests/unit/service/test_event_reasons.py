"""Every Event reason the service posts comes from the fixed vocabulary, `Reason`: the port takes a `Reason`, so
`mypy --strict` refuses a bare string at any call site, and the Event fakes of the service tests refuse at run time
any reason outside it (the config failures below were such strings once)."""

from __future__ import annotations

import typing

import pytest

from graygate.domain.decision import Reason
from graygate.service import EventSink
from tests.unit.service.harness import REF, T0, Events


def test_the_event_port_takes_a_reason_from_the_vocabulary() -> None:
    assert typing.get_type_hints(EventSink.post)["reason"] is Reason


@pytest.mark.parametrize("reason", ["ConfigApplyFailed", "ConfigRestoreFailed"])
def test_the_config_failures_are_in_the_vocabulary(reason: str) -> None:
    assert Reason(reason).value == reason


async def test_the_fakes_refuse_a_reason_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="ConfigExploded"):
        await Events().post(REF, "Warning", "ConfigExploded", "", T0)
