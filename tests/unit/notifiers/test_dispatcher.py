"""The notifier against a real HTTP server on 127.0.0.1: delivery, retries, a failing receiver counted, a hanging
receiver bounded by the timeout, the rate limit, the queue bound, the settings' precedence and the allowlist."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, cast

import yarl
from aiohttp import web

from graygate.api.notifications import Notifications
from graygate.api.status import Phase
from graygate.domain.release.notifications import Kind, Notification
from graygate.domain.url_allowlist import UrlAllowlist
from graygate.http.client import HttpClient, HttpConnectionFailure
from graygate.metrics import OperatorMetrics
from graygate.notifiers.dispatcher import Dispatcher
from graygate.notifiers.send import Delivery, Sent, deliver
from graygate.ports.release import ReleaseRef
from tests.unit.domain.release_builders import T0
from tests.unit.fakes.secrets import FakeSecrets
from tests.unit.http_servers import serving, url

REF = ReleaseRef(namespace="shop", name="checkout", uid="u1")
FAST = Delivery(timeout_s=0.3, retries=2, backoff_s=0.01)


STARTED = "shop/checkout started: step 1/2: 10% to the canary"


def note(kind: Kind = Kind.STARTED, message: str = STARTED) -> Notification:
    return Notification(
        namespace="shop", release="checkout", kind=kind, reason="Started", message=message,
        phase=Phase.PROGRESSING, step="1/2", step_number=1, canary_weight=10, at=T0,
    )  # fmt: skip


def settings(kind: str = "webhook", secret: str = "hook", **extra: Any) -> Notifications:
    channel = {"name": "chat", "kind": kind, "urlFrom": {"secretKeyRef": {"name": secret, "key": "url"}}}
    return Notifications.model_validate({"channels": [channel], **extra})


@dataclass
class Receiver:
    """Answers with `codes` in turn (the last one repeats); `hang` seconds before answering."""

    codes: list[int] = field(default_factory=lambda: [200])
    hang: float = 0.0
    bodies: list[Any] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        await asyncio.sleep(self.hang)
        code = self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]
        return web.Response(status=code, text="nope" if code >= 300 else "ok")


def app(receiver: Receiver) -> web.Application:
    application = web.Application()
    application.router.add_post("/hook", receiver.handle)
    return application


def dispatcher(
    secrets: FakeSecrets, metrics: OperatorMetrics, *, reader: Any = None, allowlist: str = "", **kw: Any
) -> Dispatcher:
    return Dispatcher(
        secrets=secrets, settings=reader, allowlist=UrlAllowlist.parse(allowlist), metrics=metrics,
        home="graygate-system", delivery=kw.pop("delivery", FAST), **kw,
    )  # fmt: skip


def counted(metrics: OperatorMetrics, kind: str, result: str) -> float:
    return (
        metrics.registry.get_sample_value("graygate_notifications_total", {"channel_kind": kind, "result": result})
        or 0.0
    )


async def run(notifier: Dispatcher, *batches: tuple[Notifications | None, tuple[Notification, ...]]) -> None:
    notifier.start()
    try:
        for configured, notes in batches:
            notifier.submit(REF, configured, notes)
        await asyncio.wait_for(notifier.drain(), 10)
    finally:
        await notifier.close()


async def test_a_message_is_delivered_once() -> None:
    receiver, metrics = Receiver(), OperatorMetrics()
    async with serving(app(receiver)) as server:
        secrets = FakeSecrets({("Secret", "shop", "hook", "url"): url(server, "/hook")})
        await run(dispatcher(secrets, metrics), (settings(), (note(),)))
    assert [body["transition"] for body in receiver.bodies] == ["started"]
    assert counted(metrics, "webhook", "sent") == 1


async def test_a_5xx_is_retried_until_it_passes() -> None:
    receiver, metrics = Receiver(codes=[503, 500, 200]), OperatorMetrics()
    async with serving(app(receiver)) as server:
        secrets = FakeSecrets({("Secret", "shop", "hook", "url"): url(server, "/hook")})
        await run(dispatcher(secrets, metrics), (settings("slack"), (note(),)))
    assert len(receiver.bodies) == 3
    assert (counted(metrics, "slack", "sent"), counted(metrics, "slack", "failed")) == (1, 0)


async def test_a_failing_receiver_is_counted_after_bounded_retries() -> None:
    receiver, metrics = Receiver(codes=[500]), OperatorMetrics()
    async with serving(app(receiver)) as server:
        secrets = FakeSecrets({("Secret", "shop", "hook", "url"): url(server, "/hook")})
        await run(dispatcher(secrets, metrics), (settings("teams"), (note(),)))
    assert len(receiver.bodies) == 1 + FAST.retries
    assert counted(metrics, "teams", "failed") == 1


async def test_a_4xx_is_not_retried() -> None:
    receiver, metrics = Receiver(codes=[400]), OperatorMetrics()
    async with serving(app(receiver)) as server:
        secrets = FakeSecrets({("Secret", "shop", "hook", "url"): url(server, "/hook")})
        await run(dispatcher(secrets, metrics), (settings("discord"), (note(),)))
    assert len(receiver.bodies) == 1
    assert counted(metrics, "discord", "failed") == 1


async def test_a_hanging_receiver_is_bounded_by_the_timeout_and_submit_never_waits() -> None:
    receiver, metrics = Receiver(hang=30), OperatorMetrics()
    async with serving(app(receiver)) as server:
        secrets = FakeSecrets({("Secret", "shop", "hook", "url"): url(server, "/hook")})
        notifier = dispatcher(secrets, metrics, delivery=Delivery(timeout_s=0.2, retries=1, backoff_s=0.01))
        notifier.start()
        started = time.monotonic()
        for _ in range(3):
            notifier.submit(REF, settings(), (note(),))
        assert time.monotonic() - started < 0.05, "submit returned at once"
        await asyncio.wait_for(notifier.drain(), 10)
        elapsed = time.monotonic() - started
        await notifier.close()
    assert elapsed < 3 * 2 * 0.2 + 1.0
    assert counted(metrics, "webhook", "failed") == 3


async def test_the_rate_limit_drops_and_then_says_how_many() -> None:
    receiver, metrics = Receiver(), OperatorMetrics()
    clock = [0.0]
    limited = settings(rateLimit={"burst": 2, "perMinute": 1})
    async with serving(app(receiver)) as server:
        secrets = FakeSecrets({("Secret", "shop", "hook", "url"): url(server, "/hook")})
        notifier = dispatcher(secrets, metrics, clock=lambda: clock[0])
        notifier.start()
        notifier.submit(REF, limited, tuple(note() for _ in range(5)))
        await notifier.drain()
        clock[0] = 61.0
        notifier.submit(REF, limited, (note(Kind.SUCCEEDED, "shop/checkout succeeded"),))
        await notifier.drain()
        await notifier.close()
    assert [body["suppressed"] for body in receiver.bodies] == [0, 0, 3]
    said = "shop/checkout succeeded (3 earlier notifications suppressed by the rate limit)"
    assert receiver.bodies[-1]["body"] == said
    assert (counted(metrics, "webhook", "sent"), counted(metrics, "webhook", "rate_limited")) == (3, 3)


async def test_a_connection_refused_is_retried_and_the_url_never_logged(caplog: Any) -> None:
    metrics = OperatorMetrics()
    async with serving(app(Receiver())) as server:
        where = url(server, "/hook?token=s3cret")
    secrets = FakeSecrets({("Secret", "shop", "hook", "url"): where})  # the server is gone: refused
    await run(dispatcher(secrets, metrics), (settings(), (note(),)))
    assert counted(metrics, "webhook", "failed") == 1
    assert "not delivered after 3 attempt(s)" in caplog.text
    assert "s3cret" not in caplog.text


async def test_a_full_queue_drops_and_counts() -> None:
    metrics = OperatorMetrics()
    notifier = dispatcher(FakeSecrets(), metrics, capacity=1)  # not started: nothing drains
    notifier.submit(REF, settings(), (note(),))
    notifier.submit(REF, settings(), (note(), note()))
    assert counted(metrics, "any", "dropped") == 2


async def test_the_events_filter_and_the_allowlist() -> None:
    receiver, metrics = Receiver(), OperatorMetrics()
    async with serving(app(receiver)) as server:
        secrets = FakeSecrets({("Secret", "shop", "hook", "url"): url(server, "/hook")})
        only_ends = Notifications.model_validate(
            {"channels": [{"name": "ends", "kind": "webhook", "events": ["succeeded"],
                           "urlFrom": {"secretKeyRef": {"name": "hook", "key": "url"}}}]}
        )  # fmt: skip
        await run(dispatcher(secrets, metrics), (only_ends, (note(), note(Kind.SUCCEEDED, "done"))))
        await run(dispatcher(secrets, metrics, allowlist="https://hooks.slack.com"), (settings(), (note(),)))
    assert [body["transition"] for body in receiver.bodies] == ["succeeded"]
    assert counted(metrics, "webhook", "failed") == 1, "refused by the allowlist: nothing sent"


@dataclass
class Defaults:
    """The `graygate-notifications` ConfigMaps, by namespace."""

    texts: dict[str, str]

    async def notification_settings(self, namespace: str) -> str | None:
        return self.texts.get(namespace)


CLUSTER = """
channels:
  - name: platform
    kind: webhook
    urlFrom: {secretKeyRef: {name: platform-hook, key: url}}
"""


async def test_release_then_namespace_then_cluster() -> None:
    receiver, metrics = Receiver(), OperatorMetrics()
    async with serving(app(receiver)) as server:
        where = url(server, "/hook")
        secrets = FakeSecrets(
            {("Secret", "graygate-system", "platform-hook", "url"): where, ("Secret", "shop", "hook", "url"): where}
        )
        team = CLUSTER.replace("platform-hook", "hook").replace("platform", "team")
        cluster_only = Defaults({"graygate-system": CLUSTER})
        both = Defaults({"graygate-system": CLUSTER, "shop": team})
        await run(dispatcher(secrets, metrics, reader=cluster_only), (None, (note(message="cluster"),)))
        await run(dispatcher(secrets, metrics, reader=both), (None, (note(message="namespace"),)))
        await run(dispatcher(secrets, metrics, reader=both), (settings(), (note(message="own"),)))
        await run(dispatcher(secrets, metrics, reader=both), (Notifications(), (note(message="silenced"),)))
        broken = Defaults({"shop": "channels: 3"})
        await run(dispatcher(secrets, metrics, reader=broken), (None, (note(message="broken"),)))
    assert [body["message"] for body in receiver.bodies] == ["cluster", "namespace", "own"]


class _Refusing:
    """A client whose POST fails with an error quoting the URL as the client rewrote it (percent-encoded)."""

    async def request(self, method: str, url: str, **_: Any) -> Any:
        raise HttpConnectionFailure(f"cannot reach {yarl.URL(url)}", cause="ClientConnectorError")


async def test_a_failure_says_the_error_type_and_the_host_never_the_path_or_query() -> None:
    where = "http://hooks.example:9/services/T0K3N 42?sig=s3cret"
    sent = await deliver(cast(Any, _Refusing()), where, {"text": "hi"}, Delivery(retries=0))
    assert not sent.ok
    assert sent.detail == "ClientConnectorError (host hooks.example)"


async def test_a_refusing_answer_is_kept_without_the_url_s_path_and_query() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=403, text=f"bad token in {request.path_qs} and {request.url.path}")

    application = web.Application()
    application.router.add_post("/services/T0K3N", echo)
    async with serving(application) as server:
        sent = await post_json_once(url(server, "/services/T0K3N?sig=s3cret"))
    assert sent.detail.startswith("HTTP 403: bad token in")
    assert "T0K3N" not in sent.detail
    assert "s3cret" not in sent.detail


async def post_json_once(where: str) -> Sent:
    client = HttpClient("test", name="test client")
    try:
        return await deliver(client, where, {"text": "hi"}, Delivery(retries=0))
    finally:
        await client.close()
