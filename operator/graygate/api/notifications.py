"""Notifications: the chat channels (Slack, Microsoft Teams, Discord) and plain webhooks a release's transitions are
announced to, and how often (`spec.notifications`, or the `graygate-notifications` ConfigMap of the release's
namespace, or of the operator's own namespace: the first one found is used whole).

Why URLs come from Secrets only: a Slack, Teams or Discord incoming-webhook URL is itself the credential (whoever
holds it can post to the channel), so it never appears in a manifest or a ConfigMap.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from graygate.api.base import SpecModel
from graygate.api.refs import SecretRef

__all__ = [
    "CHANNEL_KINDS",
    "EVENTS",
    "ChannelKind",
    "Event",
    "NotificationChannel",
    "Notifications",
    "RateLimit",
    "SecretKeySelector",
    "UrlSource",
]

ChannelKind = Literal["slack", "teams", "discord", "webhook"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("slack", "teams", "discord", "webhook")

Event = Literal[
    "started", "stepAdvanced", "paused", "waitingForApproval", "succeeded", "rolledBack", "aborted", "stalled"
]
EVENTS: tuple[Event, ...] = (
    "started",
    "stepAdvanced",
    "paused",
    "waitingForApproval",
    "succeeded",
    "rolledBack",
    "aborted",
    "stalled",
)


class SecretKeySelector(SecretRef):
    """One key of a Secret in the namespace the notification settings come from."""

    key: str = Field(min_length=1, max_length=253)
    """The key in the Secret's data."""


class UrlSource(SpecModel):
    """Where a channel's URL is read from: a Secret only (an incoming-webhook URL is a credential)."""

    secret_key_ref: SecretKeySelector
    """The Secret key holding the URL (the operator needs `get` on the Secret: the chart's `secretNames`)."""


class NotificationChannel(SpecModel):
    """One place to announce transitions to."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    """The channel's name, unique in its list (it keys the rate limit and appears in logs)."""

    kind: ChannelKind
    """`slack`, `teams`, `discord` (their incoming webhooks) or `webhook` (a JSON document POSTed as is)."""

    url_from: UrlSource
    """The channel's URL, from a Secret. It must be in the operator's URL allowlist, as a probe's URL."""

    events: tuple[Event, ...] | None = Field(default=None, min_length=1)
    """The transitions to announce; absent: all of `started`, `stepAdvanced`, `paused`, `waitingForApproval`,
    `succeeded`, `rolledBack`, `aborted`, `stalled`."""


class RateLimit(SpecModel):
    """A token bucket per release and channel: `burst` messages at once, then `perMinute` more each minute.
    Messages over the limit are dropped and counted; the next one sent says how many were suppressed."""

    burst: int = Field(default=10, ge=1, le=100)
    """Messages that may be sent back to back."""

    per_minute: float = Field(default=2.0, gt=0, le=60)
    """Messages the bucket regains per minute."""


class Notifications(SpecModel):
    """Where a release's transitions are announced. Set on the release it replaces the namespace's and the
    cluster's defaults entirely (an empty `channels` list silences a release)."""

    channels: tuple[NotificationChannel, ...] = Field(default=(), max_length=10)
    """The channels, each with a unique name."""

    rate_limit: RateLimit = Field(default_factory=RateLimit)
    """How many messages a release may send to each channel."""

    @model_validator(mode="after")
    def _unique_names(self) -> Notifications:
        names = [channel.name for channel in self.channels]
        if duplicated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"channel names must be unique: {', '.join(duplicated)}")
        return self
