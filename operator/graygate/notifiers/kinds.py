"""The channel kinds: the one table from a channel's `kind` to the function that formats its payload. A new kind
is a module with its formatter and one line here (and its name in `api.notifications.ChannelKind`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from graygate.api.notifications import ChannelKind
from graygate.domain.release.notifications import Notification
from graygate.notifiers.discord import discord_payload
from graygate.notifiers.slack import slack_payload
from graygate.notifiers.teams import teams_payload
from graygate.notifiers.webhook import notification_document

__all__ = ["FORMATS", "Format"]

Format = Callable[[Notification, int], dict[str, Any]]
"""(notification, messages suppressed before it) → the JSON body to POST."""

FORMATS: Mapping[ChannelKind, Format] = MappingProxyType(
    {
        "slack": slack_payload,
        "teams": teams_payload,
        "discord": discord_payload,
        "webhook": notification_document,
    }
)
