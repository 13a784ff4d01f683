"""Manual control through one annotation: `graygate.dev/command: <action>[/<id>]`.

Why: a command must be durable and handled exactly once. An annotation survives operator restarts (unlike an HTTP
call), works with nothing but `kubectl annotate`, and shows up in `kubectl get -o yaml`. The operator records
the value it handled in `status.lastCommand`; the same value is never run twice, so re-applying a manifest that
carries it is harmless. To give the same command again, change the id: `promote/2`, `promote/$(date +%s)`.

Actions: `promote` (finish the current step now), `promote-full` (straight to 100 % and Succeeded), `pause`,
`resume`, `abort` (all traffic back to stable, Aborted) and `retry` (start a Failed or Aborted release again).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["COMMAND_ANNOTATION", "MAX_COMMAND", "Action", "Command", "CommandSyntaxError", "parse_command", "recorded"]

MAX_COMMAND = 256
"""The longest command read (`promote-full/` and a 63-character id is 76). An annotation value may be 256 KiB: a
longer one is refused without being quoted whole, and recorded by its digest (`recorded`), so it never grows the
status or an Event."""

COMMAND_ANNOTATION = "graygate.dev/command"

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$")


class Action(StrEnum):
    """What a manual command asks for."""

    PROMOTE = "promote"
    PROMOTE_FULL = "promote-full"
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"
    RETRY = "retry"


class CommandSyntaxError(ValueError):
    """The annotation's value is not `<action>` or `<action>/<id>`."""


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command; `value` is the annotation value as written, the key for "handled once"."""

    action: Action
    id: str | None
    value: str


def recorded(value: str) -> str:
    """How a command value is kept in `status.lastCommand.value` and compared there: itself, or when longer than
    `MAX_COMMAND` its beginning, length and SHA-256 (still one value per distinct text)."""
    if len(value) <= MAX_COMMAND:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{value[:32]}… ({len(value)} characters, sha256 {digest})"


def parse_command(value: str) -> Command:
    """Parse an annotation value such as `promote` or `abort/incident-42`."""
    if len(value) > MAX_COMMAND:
        raise CommandSyntaxError(
            f"the command {recorded(value)!r} is longer than {MAX_COMMAND} characters: write an action and an id"
        )
    text = value.strip()
    action_text, _, command_id = text.partition("/")
    try:
        action = Action(action_text.lower())
    except ValueError:
        known = ", ".join(action.value for action in Action)
        raise CommandSyntaxError(f"unknown command {value!r}: the action must be one of {known}") from None
    if "/" in text and not _ID.fullmatch(command_id):
        raise CommandSyntaxError(
            f"bad command id in {value!r}: after the slash use 1-63 letters, digits, '.', '_', ':' or '-'"
        )
    return Command(action=action, id=command_id or None, value=value)
