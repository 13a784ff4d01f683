"""What every channel's payload shares: a title, a colour and the facts line of a notification."""

from __future__ import annotations

from graygate.domain.release.notifications import Kind, Notification

__all__ = ["COLOURS", "facts", "suppressed_line", "title"]

_WORDS = {
    Kind.STARTED: "started",
    Kind.STEP_ADVANCED: "step advanced",
    Kind.PAUSED: "paused",
    Kind.WAITING_FOR_APPROVAL: "waiting for approval",
    Kind.SUCCEEDED: "succeeded",
    Kind.ROLLED_BACK: "rolled back",
    Kind.ABORTED: "aborted",
    Kind.STALLED: "stalled",
}

COLOURS: dict[Kind, int] = {
    Kind.STARTED: 0x1F6FEB,
    Kind.STEP_ADVANCED: 0x1F6FEB,
    Kind.PAUSED: 0xD29922,
    Kind.WAITING_FOR_APPROVAL: 0xD29922,
    Kind.SUCCEEDED: 0x2DA44E,
    Kind.ROLLED_BACK: 0xCF222E,
    Kind.ABORTED: 0x8C959F,
    Kind.STALLED: 0xCF222E,
}
"""An RGB colour per transition (Discord's embed colour, Teams' accent)."""


def title(note: Notification) -> str:
    """`shop/checkout: rolled back`."""
    return f"{note.namespace}/{note.release}: {_WORDS[note.kind]}"


def facts(note: Notification) -> dict[str, str]:
    """The release's state after the transition, by label, in display order."""
    shown = {
        "Phase": note.phase.value,
        "Step": note.step,
        "Weights": f"canary {note.canary_weight}% / stable {note.stable_weight}%",
        "Reason": note.reason,
    }
    if note.canary_revision:
        shown["Revision"] = note.canary_revision[:12]
    return shown


def suppressed_line(suppressed: int) -> str:
    """The sentence added to the first message after the rate limit dropped some ('' when none was)."""
    if not suppressed:
        return ""
    return f" ({suppressed} earlier notification{'s' if suppressed > 1 else ''} suppressed by the rate limit)"
