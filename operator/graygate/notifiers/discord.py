"""Discord's webhook: `{"content": …, "embeds": […]}`, with mentions turned off (a release's message never pings
`@everyone`, whatever a gate's reason says)."""

from __future__ import annotations

from typing import Any

from graygate.domain.release.notifications import Notification
from graygate.notifiers.text import COLOURS, facts, suppressed_line, title

__all__ = ["discord_payload"]


def discord_payload(note: Notification, suppressed: int = 0) -> dict[str, Any]:
    line = note.message + suppressed_line(suppressed)
    return {
        "content": line[:2000],
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": title(note)[:256],
                "color": COLOURS[note.kind],
                "fields": [{"name": name, "value": value, "inline": True} for name, value in facts(note).items()],
                "timestamp": note.at.isoformat(),
            }
        ],
    }
