"""Microsoft Teams: an Adaptive Card in a `message`, the form both a Teams Workflows ("Post to a channel when a
webhook request is received") webhook and the older Office 365 connector's incoming webhook accept."""

from __future__ import annotations

from typing import Any

from graygate.domain.release.notifications import Kind, Notification
from graygate.notifiers.text import facts, suppressed_line, title

__all__ = ["teams_payload"]

_STYLE = {Kind.ROLLED_BACK: "attention", Kind.STALLED: "attention", Kind.SUCCEEDED: "good"}


def teams_payload(note: Notification, suppressed: int = 0) -> dict[str, Any]:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": title(note),
                "weight": "Bolder",
                "size": "Medium",
                "color": _STYLE.get(note.kind, "default"),
                "wrap": True,
            },
            {"type": "TextBlock", "text": note.message + suppressed_line(suppressed), "wrap": True},
            {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in facts(note).items()]},
        ],
    }
    return {
        "type": "message",
        "summary": note.message,
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
