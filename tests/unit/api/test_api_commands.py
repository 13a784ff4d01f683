"""The `graygate.dev/command` annotation: `<action>` or `<action>/<id>`."""

from __future__ import annotations

import pytest

from graygate.api import Action, Command, CommandSyntaxError, parse_command


@pytest.mark.parametrize(
    ("value", "action", "command_id"),
    [
        ("promote", Action.PROMOTE, None),
        ("promote/1", Action.PROMOTE, "1"),
        ("promote-full/2026-03-01T12:00", Action.PROMOTE_FULL, "2026-03-01T12:00"),
        ("pause/incident-42", Action.PAUSE, "incident-42"),
        ("resume", Action.RESUME, None),
        ("abort/x", Action.ABORT, "x"),
        ("retry/1712345678", Action.RETRY, "1712345678"),
        (" Abort/OPS_7 ", Action.ABORT, "OPS_7"),
    ],
)
def test_parse(value: str, action: Action, command_id: str | None) -> None:
    assert parse_command(value) == Command(action=action, id=command_id, value=value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "unknown command"),
        ("rollback", "unknown command"),
        ("promote-all/1", "unknown command"),
        ("promote/", "bad command id"),
        ("promote/a b", "bad command id"),
        ("promote/" + "x" * 64, "bad command id"),
        ("promote/1/2", "bad command id"),
    ],
)
def test_parse_rejects(value: str, problem: str) -> None:
    with pytest.raises(CommandSyntaxError, match=problem):
        parse_command(value)
