"""WebhookObserver against a real aiohttp receiver on 127.0.0.1: what it sends, when it retries, what it records."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port

from graygate.api import CanaryReleaseStatus, Outcome
from graygate.api.gates import Webhook
from graygate.api.status import Phase
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.analysis.webhook import judge_webhook
from graygate.gates.tools import GateTools
from graygate.gates.webhook import WebhookObserver
from tests.unit.fakes.secrets import FakeSecrets
from tests.unit.http_servers import serving, url

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SCOPE = QueryScope(
    namespace="shop",
    release="checkout",
    spec=None,  # type: ignore[arg-type]  # the webhook reads no spec
    status=CanaryReleaseStatus(phase=Phase.PROGRESSING, current_step_index=0, canary_weight=10),
    labels={"team": "payments"},
    annotations={"owner": "ana"},
)


@dataclass
class Receiver:
    """Answers each POST with the next of `answers` (the last one repeats) and records what it received."""

    answers: list[tuple[int, Any]] = field(default_factory=lambda: [(200, {"ok": True})])
    delay_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append({"headers": dict(request.headers), "body": await request.read(), "method": request.method})
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status, body = self.answers[min(len(self.received), len(self.answers)) - 1]
        if status == 302:
            raise web.HTTPFound("/elsewhere")
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def server(receiver: Receiver) -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_route("*", "/hook", receiver.handle)
    async with serving(app) as test_server:
        yield test_server


async def no_pause(seconds: float) -> None:
    return None


async def observe(hook: dict[str, Any], secrets: FakeSecrets | None = None, scope: QueryScope | None = SCOPE) -> Any:
    observer = WebhookObserver(secrets, sleep=no_pause)
    try:
        return await observer.observe("smoke", Webhook.model_validate(hook), NOW, scope)
    finally:
        await observer.close()


async def test_a_2xx_passes_and_the_receiver_gets_the_release_s_data(server: TestServer, receiver: Receiver) -> None:
    measured = await observe({"url": url(server, "/hook"), "metadata": {"suite": "smoke"}})
    assert (measured.status_code, measured.attempts, measured.error) == (200, 1, None)
    assert (measured.body_is_json, measured.body_json) == (True, {"ok": True})
    [call] = receiver.received
    assert call["method"] == "POST"
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["headers"]["User-Agent"] == "graygate-webhook"
    assert json.loads(call["body"]) == {
        "name": "checkout",
        "namespace": "shop",
        "phase": "Progressing",
        "stage": "rollout",
        "step": 1,
        "canaryWeight": 10,
        "stableWeight": 90,
        "canaryRevision": None,
        "stableRevision": None,
        "labels": {"team": "payments"},
        "annotations": {"owner": "ana"},
        "metadata": {"suite": "smoke"},
    }


async def test_a_5xx_is_retried_until_a_2xx(server: TestServer, receiver: Receiver) -> None:
    receiver.answers = [(500, "warming up"), (503, "still"), (200, {"ok": True})]
    measured = await observe({"url": url(server, "/hook"), "retries": 3})
    assert (measured.status_code, measured.attempts, len(receiver.received)) == (200, 3, 3)


async def test_retries_run_out_on_the_last_5xx(server: TestServer, receiver: Receiver) -> None:
    receiver.answers = [(500, "db down " + "x" * 400)]
    hook = {"url": url(server, "/hook"), "retries": 2}
    measured = await observe(hook)
    assert (measured.status_code, measured.attempts) == (500, 3)
    verdict = judge_webhook(Webhook.model_validate(hook), measured)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.value == "500 db down " + "x" * (256 - len("db down "))
    assert "after 3 attempts" in verdict.reason


async def test_a_4xx_is_the_receiver_s_answer_and_is_not_retried(server: TestServer, receiver: Receiver) -> None:
    receiver.answers = [(409, {"approved": False})]
    measured = await observe({"url": url(server, "/hook"), "retries": 3})
    assert (measured.status_code, measured.attempts, len(receiver.received)) == (409, 1, 1)
    assert measured.body == '{"approved": false}'


async def test_a_redirect_is_not_followed(server: TestServer, receiver: Receiver) -> None:
    receiver.answers = [(302, "")]
    measured = await observe({"url": url(server, "/hook")})
    assert (measured.status_code, len(receiver.received)) == (302, 1)


async def test_a_receiver_that_hangs_is_retried_within_the_total_timeout(
    server: TestServer, receiver: Receiver
) -> None:
    receiver.delay_s = 2.0
    measured = await observe({"url": url(server, "/hook"), "timeout": "400ms", "retries": 1})
    assert measured.status_code is None
    assert measured.attempts == 2
    assert measured.error is not None
    assert "timed out after 0.2s" in measured.error
    assert measured.latency is not None
    assert measured.latency.total_seconds() < 1.0


async def test_a_refused_connection_is_retried_and_recorded() -> None:
    measured = await observe({"url": f"http://127.0.0.1:{unused_port()}/hook", "retries": 2, "timeout": "2s"})
    assert (measured.status_code, measured.attempts) == (None, 3)
    assert measured.error is not None
    assert measured.error.startswith("connection failed")


async def test_header_values_come_from_secrets_in_the_release_s_namespace(
    server: TestServer, receiver: Receiver
) -> None:
    secrets = FakeSecrets({("Secret", "shop", "hook-token", "token"): "s3cret\n"})
    headers = [
        {"name": "X-Token", "valueFrom": {"secretKeyRef": {"name": "hook-token", "key": "token"}}},
        {"name": "X-Team", "value": "payments"},
    ]
    measured = await observe({"url": url(server, "/hook"), "headers": headers}, secrets)
    assert measured.status_code == 200
    [call] = receiver.received
    assert (call["headers"]["X-Token"], call["headers"]["X-Team"]) == ("s3cret", "payments")
    assert b"s3cret" not in call["body"]


@pytest.mark.parametrize(
    ("secrets", "scope", "problem"),
    [
        (FakeSecrets(), SCOPE, "cannot read key token of Secret shop/hook-token"),
        (None, SCOPE, "no Secret reader is configured"),
        (FakeSecrets(), None, "no release namespace"),
        (FakeSecrets({("Secret", "shop", "hook-token", "token"): "a\nb"}), SCOPE, "holds a line break"),
    ],
)
async def test_a_header_that_cannot_be_read_sends_nothing(
    server: TestServer, receiver: Receiver, secrets: FakeSecrets | None, scope: QueryScope | None, problem: str
) -> None:
    headers = [{"name": "X-Token", "valueFrom": {"secretKeyRef": {"name": "hook-token", "key": "token"}}}]
    hook = {"url": url(server, "/hook"), "headers": headers}
    measured = await observe(hook, secrets, scope)
    assert measured.request_error is not None
    assert problem in measured.request_error
    assert (measured.attempts, receiver.received) == (0, [])
    assert judge_webhook(Webhook.model_validate(hook), measured).outcome is Outcome.ERROR


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"result": "passed", "ticket": "CHG-1"}, Outcome.PASS),
        ({"result": "failed", "ticket": "CHG-1"}, Outcome.FAIL),
        ({"result": "passed"}, Outcome.FAIL),
        ("not json", Outcome.FAIL),
    ],
)
async def test_expect_checks_the_json_answer(
    server: TestServer, receiver: Receiver, answer: Any, outcome: Outcome
) -> None:
    receiver.answers = [(200, answer)]
    hook = {"url": url(server, "/hook"), "expect": [{"path": "$.result", "equals": "passed"}, {"path": "$.ticket"}]}
    measured = await observe(hook)
    assert judge_webhook(Webhook.model_validate(hook), measured).outcome is outcome


async def test_the_observer_is_built_from_the_tools(server: TestServer, receiver: Receiver) -> None:
    tools = GateTools(secrets=FakeSecrets())
    observer = WebhookObserver.of(tools)
    measured = await observer.observe("smoke", Webhook.model_validate({"url": url(server, "/hook")}), NOW, None)
    await observer.close()
    await tools.close()
    assert measured.status_code == 200
    assert json.loads(receiver.received[0]["body"])["name"] == ""


async def test_a_stage_hook_calls_with_its_own_stage(server: TestServer, receiver: Receiver) -> None:
    observer = WebhookObserver(None, sleep=no_pause)
    hook = Webhook.model_validate({"url": url(server, "/hook")})
    measured = await observer.call("pre", hook, NOW, SCOPE, "preRollout")
    await observer.close()
    assert (measured.gate, measured.status_code) == ("pre", 200)
    assert json.loads(receiver.received[0]["body"])["stage"] == "preRollout"


async def _echo(request: web.Request) -> web.StreamResponse:
    """A receiver that echoes the headers it got: as JSON (`/json`, values also under their own key) or as text."""
    headers = dict(request.headers)
    if request.path.endswith("/json"):
        token = headers.get("X-Token", "")
        return web.json_response({"headers": headers, token: "the key", "list": [f"got {token}!"]}, status=403)
    return web.Response(status=500, text=" ".join(f"{name}={value}" for name, value in headers.items()))


@pytest.mark.parametrize("path", ["/echo/json", "/echo/text"])
async def test_a_secret_header_echoed_back_is_hidden_from_the_measurement(path: str) -> None:
    app = web.Application()
    app.router.add_route("*", "/echo/{kind}", _echo)
    secrets = FakeSecrets({("Secret", "shop", "hook-token", "token"): "s3cret/token\n"})
    headers = [
        {"name": "X-Token", "valueFrom": {"secretKeyRef": {"name": "hook-token", "key": "token"}}},
        {"name": "X-Team", "value": "payments"},
    ]
    hook = {"url": "", "headers": headers, "expect": [{"path": "$.approved", "equals": "true"}]}
    async with serving(app) as echo:
        hook["url"] = url(echo, path)
        measured = await observe(hook, secrets)
    assert measured.status_code in (403, 500)
    verdict = judge_webhook(Webhook.model_validate(hook), measured)
    shown = json.dumps([measured.body, measured.body_json, repr(verdict)])
    assert "s3cret" not in shown
    assert "<secret>" in measured.body
    assert "payments" in measured.body, "a header given inline in the spec is not a Secret's value"
    if measured.body_json is not None:
        assert measured.body_json["headers"]["X-Token"] == "<secret>"
        assert measured.body_json["<secret>"] == "the key"
        assert measured.body_json["list"] == ["got <secret>!"]
