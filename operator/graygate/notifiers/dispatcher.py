"""The background task that sends notifications: the ticks enqueue, this task resolves the channels, applies the
rate limit and POSTs, so a slow or hanging receiver delays other notifications at most, never a tick.

- The queue is bounded (`capacity`): when it is full, `submit` drops the notifications and counts them (`dropped`).
- Settings: the release's `spec.notifications`, else the `graygate-notifications` ConfigMap of its namespace, else
  that of the operator's own namespace (the chart's `notifications` value): the first found is used whole, and its
  Secrets are read from the namespace it came from. Both ConfigMaps are read at each message, so a change applies to
  the next one.
- Each channel's URL is read from its Secret at each message (a rotated URL is picked up) and must pass the
  operator's URL allowlist, as a probe's; it is never logged (an incoming-webhook URL is a credential).
- Rate limit per release and channel (`notifiers.rate_limit`); over it: dropped, counted `rate_limited`.
- Each message: a timeout per attempt, bounded retries with backoff (`send`), counted `sent` or `failed` in
  `graygate_notifications_total{channel_kind, result}`. Messages go out one at a time, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import yaml
from pydantic import ValidationError

from graygate.api.notifications import NotificationChannel, Notifications
from graygate.domain.release.notifications import Notification
from graygate.domain.url_allowlist import UrlAllowlist
from graygate.errors import GraygateError
from graygate.http.client import Outbound
from graygate.metrics import OperatorMetrics
from graygate.notifiers.kinds import FORMATS
from graygate.notifiers.rate_limit import RateLimiter
from graygate.notifiers.send import Delivery, JsonPoster
from graygate.ports.notifications import SETTINGS_CONFIG_MAP, SETTINGS_KEY, NotificationSettingsReader
from graygate.ports.release import ReleaseRef
from graygate.ports.secrets import SecretReader

__all__ = ["QUEUE_DROP_KIND", "Dispatcher"]

log = logging.getLogger("graygate.notifications")

QUEUE_DROP_KIND = "any"
"""The `channel_kind` of a notification dropped by a full queue, before its channels were known."""


@dataclass(frozen=True, slots=True)
class _Item:
    ref: ReleaseRef
    settings: Notifications | None
    notifications: tuple[Notification, ...]


class Dispatcher:
    """Implements `graygate.ports.notifications.NotificationSink`; `start` and `close` run with the operator."""

    def __init__(
        self,
        *,
        secrets: SecretReader,
        settings: NotificationSettingsReader | None,
        allowlist: UrlAllowlist,
        metrics: OperatorMetrics,
        home: str | None,
        delivery: Delivery | None = None,
        capacity: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secrets = secrets
        self._settings = settings
        self._allowlist = allowlist
        self._metrics = metrics
        self._home = home
        self._poster = JsonPoster(delivery or Delivery(), Outbound(allowlist.addresses()))
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(capacity)
        self._limiter = RateLimiter()
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="graygate-notifications")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._poster.close()

    def submit(self, ref: ReleaseRef, settings: Notifications | None, notifications: tuple[Notification, ...]) -> None:
        if not notifications:
            return
        try:
            self._queue.put_nowait(_Item(ref, settings, notifications))
        except asyncio.QueueFull:
            self._count(QUEUE_DROP_KIND, "dropped", len(notifications))
            log.warning(
                "notification queue full: %d notification(s) dropped",
                len(notifications),
                extra={"release": f"{ref.namespace}/{ref.name}"},
            )

    async def drain(self) -> None:
        """Wait until every notification submitted so far is handled (tests)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._deliver(item)
            except Exception:  # a bug in one message must not stop the next ones
                log.exception("notifications of %s/%s not sent", item.ref.namespace, item.ref.name)
            finally:
                self._queue.task_done()

    async def _deliver(self, item: _Item) -> None:
        found = await self._resolve(item)
        if found is None:
            return
        settings, source = found
        limit = settings.rate_limit
        for note in item.notifications:
            for channel in settings.channels:
                if channel.events is not None and note.kind.value not in channel.events:
                    continue
                key = (item.ref.namespace, item.ref.name, channel.name)
                admission = self._limiter.admit(key, self._clock(), burst=limit.burst, per_minute=limit.per_minute)
                if not admission.allowed:
                    self._count(channel.kind, "rate_limited")
                    continue
                await self._send(item.ref, channel, source, note, admission.suppressed)

    async def _resolve(self, item: _Item) -> tuple[Notifications, str] | None:
        """The settings that apply and the namespace their Secrets are in; None: no notifications."""
        if item.settings is not None:
            return item.settings, item.ref.namespace
        if self._settings is None:
            return None
        for namespace in dict.fromkeys(filter(None, (item.ref.namespace, self._home))):
            try:
                text = await self._settings.notification_settings(namespace)
                if text is None:
                    continue
                return Notifications.model_validate(yaml.safe_load(text) or {}), namespace
            except (GraygateError, yaml.YAMLError, ValidationError) as error:
                where = f"ConfigMap {namespace}/{SETTINGS_CONFIG_MAP} key {SETTINGS_KEY}"
                log.warning("%s cannot be used: %s", where, error, extra={"release": _named(item.ref)})
                return None
        return None

    async def _send(
        self, ref: ReleaseRef, channel: NotificationChannel, source: str, note: Notification, suppressed: int
    ) -> None:
        where = {"release": _named(ref)}
        secret = channel.url_from.secret_key_ref
        try:
            url = (await self._secrets.secret_value(source, secret.name, secret.key)).strip()
        except GraygateError as error:
            self._count(channel.kind, "failed")
            log.warning("channel %s: its URL cannot be read: %s", channel.name, error, extra=where)
            return
        if not self._allowlist.allows(url):
            self._count(channel.kind, "failed")
            allowed = ", ".join(entry.text for entry in self._allowlist.entries)
            log.warning(
                "channel %s: the URL in Secret %s/%s is not in the operator's URL allowlist (%s); nothing was sent",
                channel.name, source, secret.name, allowed, extra=where,
            )  # fmt: skip
            return
        payload = FORMATS[channel.kind](note, suppressed)
        sent = await self._poster.post(url, payload)
        self._count(channel.kind, "sent" if sent.ok else "failed")
        if not sent.ok:
            log.warning(
                "channel %s: %s not delivered after %d attempt(s): %s",
                channel.name, note.kind.value, sent.attempts, sent.detail, extra=where,
            )  # fmt: skip

    def _count(self, kind: str, result: str, amount: int = 1) -> None:
        self._metrics.notifications.labels(kind, result).inc(amount)


def _named(ref: ReleaseRef) -> str:
    return f"{ref.namespace}/{ref.name}"
