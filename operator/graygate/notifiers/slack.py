"""Slack's incoming webhook: `{"text": …, "blocks": […]}` (the text is what notifications and old clients show)."""

from __future__ import annotations

from typing import Any

from graygate.domain.release.notifications import Notification
from graygate.notifiers.text import facts, suppressed_line, title

__all__ = ["slack_payload"]


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters, as its docs ask: `&`, `<`, `>`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(note: Notification, suppressed: int = 0) -> dict[str, Any]:
    line = note.message + suppressed_line(suppressed)
    context = " · ".join(f"{name}: {value}" for name, value in facts(note).items())
    return {
        "text": _escape(line),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_escape(title(note))}*\n{_escape(line)}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(context)}]},
        ],
    }
