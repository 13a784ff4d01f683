"""Stage hooks against the real operator, the traffic lab and a local webhook receiver (a small HTTP server on
127.0.0.1 whose answer per hook a test sets): a failing `preRollout` hook stops the release before any user sees the
canary, a `confirmPromotion` hook holds it until the receiver says yes (across an operator restart), a `rollback`
hook answering 2xx rolls it back mid-release, and `postRollout` is told the final phase."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kubernetes import client

from e2e.lab import TrafficLab
from e2e.support import apply_release, lab_release, wait_phase, wait_weights
from tests.cluster_support import OperatorProcess, release

MAX_KEPT = 2000
"""Calls the receiver keeps, so a runaway loop cannot fill the test's memory."""


class Receiver:
    """Answers `POST /<hook>` with `codes[hook]` (default 200) and keeps each call's JSON payload."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 1 << 16)
                body = json.loads(self.rfile.read(length) or b"{}")
                name = self.path.strip("/")
                with receiver._lock:
                    if len(receiver.calls) < MAX_KEPT:
                        receiver.calls.append((name, body))
                    code = receiver.codes.get(name, 200)
                answer = f'{{"hook": "{name}", "answer": {code}}}'.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.timeout = 5
        self._thread = threading.Thread(target=self._server.serve_forever, name="hook receiver", daemon=True)
        self._thread.start()

    def url(self, hook: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{hook}"

    def payloads(self, hook: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for name, body in self.calls if name == hook]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def hook(receiver: Receiver, name: str, stage: str) -> dict[str, Any]:
    return {"name": name, "stage": stage, "webhook": {"url": receiver.url(name), "timeout": "500ms"}}


def hooked(receiver: Receiver, steps: list[dict[str, Any]], *hooks: tuple[str, str]) -> dict[str, Any]:
    body = lab_release("app", steps, [])
    body["metadata"]["labels"] = {"team": "shop"}
    body["spec"]["hooks"] = [hook(receiver, name, stage) for name, stage in hooks]
    return body


async def eventually(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def status_of(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = (await asyncio.to_thread(release, api, namespace, "app")).get("status") or {}
    return found


async def test_a_failing_pre_rollout_hook_stops_the_release_at_zero(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess, receiver: Receiver
) -> None:
    receiver.codes["smoke"] = 500
    load = lab.load(rate_per_s=40, max_requests=800, max_duration_s=15)
    load.start()
    body = hooked(receiver, [{"setWeight": 50}], ("smoke", "preRollout"), ("tell", "postRollout"))
    await apply_release(api, namespace, body)
    done = await wait_phase(api, namespace, "app", {"Failed", "Succeeded"}, 30)
    await eventually(lambda: receiver.payloads("tell"), 10, "the postRollout hook")
    await asyncio.sleep(1.0)
    result = await load.stop()

    status = done["status"]
    assert status["phase"] == "Failed", status["message"]
    assert status["history"][-1]["reason"] == "HookFailed"
    assert "preRollout hook smoke failed" in status["message"]
    assert "500" in status["message"], "the message says what the hook answered"
    assert status["canaryWeight"] == 0
    assert result.counts(), "the load generator sent nothing"
    assert result.share("canary") == 0.0, f"a user saw the canary: {result.counts()}"
    (smoke,) = receiver.payloads("smoke")
    assert smoke["stage"] == "preRollout"
    assert smoke["phase"] == "Pending"
    assert smoke["canaryWeight"] == 0
    assert smoke["labels"] == {"team": "shop"}
    assert receiver.payloads("tell")[0]["phase"] == "Failed"
    assert receiver.payloads("tell")[0]["stage"] == "postRollout"


async def test_confirm_promotion_holds_the_release_across_an_operator_restart(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess, receiver: Receiver
) -> None:
    receiver.codes["ship-it"] = 403
    steps = [{"setWeight": 20}, {"setWeight": 60}]
    body = hooked(receiver, steps, ("ship-it", "confirmPromotion"), ("tell", "postRollout"))
    await apply_release(api, namespace, body)
    paused = await wait_phase(api, namespace, "app", {"Paused", "Succeeded", "Failed"}, 30)
    assert paused["status"]["phase"] == "Paused", paused["status"]["message"]
    assert paused["status"]["pauseReason"] == "AwaitingConfirmation"
    await wait_weights(api, namespace, "app", (40, 60), 10)
    await eventually(lambda: len(receiver.payloads("ship-it")) >= 2, 10, "the approval asked twice")

    operator.stop()
    before_restart = len(receiver.payloads("ship-it"))
    operator.start()
    await eventually(lambda: len(receiver.payloads("ship-it")) >= before_restart + 2, 20, "asked again after restart")
    status = await status_of(api, namespace)
    assert status["phase"] == "Paused", "the restarted operator waits for the approval too"
    (record,) = [r for r in status["hooks"] if r["name"] == "ship-it"]
    assert record["lastVerdict"] == "Fail"
    assert not record.get("passed")
    assert record["calls"] >= before_restart, "the calls are counted across the restart, in the status"
    assert not receiver.payloads("tell"), "nothing has ended"

    receiver.codes["ship-it"] = 200
    done = await wait_phase(api, namespace, "app", {"Succeeded", "Failed"}, 20)
    assert done["status"]["phase"] == "Succeeded", done["status"]["message"]
    await wait_weights(api, namespace, "app", (0, 100), 10)
    asked = receiver.payloads("ship-it")
    assert {payload["stage"] for payload in asked} == {"confirmPromotion"}
    assert asked[-1]["phase"] == "Paused"
    assert asked[-1]["canaryWeight"] == 60
    await eventually(lambda: receiver.payloads("tell"), 10, "the postRollout hook")
    (told,) = receiver.payloads("tell")
    assert told["phase"] == "Succeeded"
    assert told["stage"] == "postRollout"


async def test_a_rollback_hook_answering_2xx_rolls_the_release_back(
    api: client.ApiClient, namespace: str, lab: TrafficLab, operator: OperatorProcess, receiver: Receiver
) -> None:
    receiver.codes["kill"] = 404
    steps = [{"setWeight": 30}, {"pause": {"duration": "60s"}}, {"setWeight": 60}]
    body = hooked(receiver, steps, ("kill", "rollback"), ("tell", "postRollout"))
    await apply_release(api, namespace, body)
    await wait_weights(api, namespace, "app", (70, 30), 30)
    await eventually(lambda: len(receiver.payloads("kill")) >= 2, 10, "the kill switch polled")
    status = await status_of(api, namespace)
    assert status["phase"] == "Progressing", status.get("message")

    receiver.codes["kill"] = 200
    done = await wait_phase(api, namespace, "app", {"Failed", "Succeeded"}, 15)
    assert done["status"]["phase"] == "Failed", done["status"]["message"]
    assert done["status"]["history"][-1]["reason"] == "RollbackHook"
    assert "rollback hook kill" in done["status"]["message"]
    await wait_weights(api, namespace, "app", (100, 0), 10)
    assert {payload["stage"] for payload in receiver.payloads("kill")} == {"rollback"}
    await eventually(lambda: receiver.payloads("tell"), 10, "the postRollout hook")
    assert receiver.payloads("tell")[0]["phase"] == "Failed"
