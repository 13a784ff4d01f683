"""The `webhook` gate's observation side: POST the release's data, retry what a retry can fix, record the answer.

Why it only observes: what a 500 or `{"approved": false}` means for the release is the domain's judgement
(`domain.analysis.webhook`); this module reports what the receiver answered, or why there was no answer, and never
raises for a failed call, because a failed call *is* an observation.

Choices worth knowing:

* The body is the JSON of `domain.analysis.webhook_payload` (the release's data and the webhook's `metadata`),
  sent with `Content-Type: application/json`; no Secret's value is in it. Header values from Secrets are read at
  every call from the release's namespace (a rotated token is picked up at once), stripped of surrounding
  whitespace (a Secret made with `echo` ends in a newline); a value still holding a line break is refused.
* A receiver that echoes a header back would put a Secret's value in the status, Events and notifications: every
  header value read from a Secret is replaced by `<secret>` in the answer's text and in its parsed JSON strings
  before the measurement is built.
* `timeout` bounds the whole call: each of the `1 + retries` attempts may take an equal share of it, so a receiver
  that hangs is retried too, and the gate never waits longer than its bounded wait.
* A connection error, a timeout or a 5xx answer is retried (`retries` more attempts, after a short pause that
  grows with each attempt, while time remains); a 4xx answer is the receiver's decision and is not.
* Redirects are not followed (`http.client`): a webhook answers where it was configured, or fails. Only the first
  64 KiB of an answer are read (enough JSON for `expect`), and the measurement keeps its first 256 bytes as text.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from graygate.api.gates import GateCheck, Webhook
from graygate.api.gates.webhook import WebhookHeader
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.analysis.webhook import WebhookMeasurement, snippet
from graygate.domain.analysis.webhook_payload import STAGE_ROLLOUT, payload_of_scope
from graygate.errors import GateError, GraygateError
from graygate.gates.tools import GateTools, expect
from graygate.http.client import HttpClient, HttpConnectionFailure, HttpTimeout, Outbound
from graygate.http.json_post import Posted, Retrying, post_json
from graygate.ports.secrets import SecretReader

__all__ = [
    "WebhookCall",
    "WebhookObserver",
    "call_webhook",
    "hide_in_bytes",
    "hide_in_json",
    "secret_header_values",
    "webhook_headers",
]

JSON_BYTES = 64 * 1024
USER_AGENT = "graygate-webhook"
BACKOFF_S = 0.2


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """What one webhook call saw: the last answer (status, body), or why there was none (`error`)."""

    status_code: int | None
    body: bytes
    charset: str | None
    latency_s: float
    attempts: int
    error: str | None


async def webhook_headers(hook: Webhook, namespace: str | None, secrets: SecretReader | None) -> dict[str, str]:
    """The webhook's headers, values from Secrets read from `namespace`; a `GateError` says which one cannot be."""
    return {header.name: await _header_value(header, namespace, secrets) for header in hook.headers}


async def _header_value(header: WebhookHeader, namespace: str | None, secrets: SecretReader | None) -> str:
    if header.value is not None:
        return header.value
    assert header.value_from is not None  # the model requires one of value or valueFrom
    ref = header.value_from.secret_key_ref
    if secrets is None:
        raise GateError(f"header {header.name} needs Secret {ref.name}, but no Secret reader is configured")
    if namespace is None:
        raise GateError(f"header {header.name}: no release namespace to read Secret {ref.name} from")
    try:
        value = (await secrets.secret_value(namespace, ref.name, ref.key)).strip()
    except GraygateError as error:
        where = f"key {ref.key} of Secret {namespace}/{ref.name}"
        raise GateError(f"header {header.name}: cannot read {where}: {error}") from error
    if "\n" in value or "\r" in value:
        raise GateError(f"header {header.name}: key {ref.key} of Secret {namespace}/{ref.name} holds a line break")
    return value


async def call_webhook(
    client: HttpClient,
    hook: Webhook,
    payload: object,
    headers: dict[str, str],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> WebhookCall:
    """POST `payload` as `hook` says, retrying a connection error, a timeout or a 5xx within `hook.timeout`."""
    total = hook.timeout.total_seconds()
    retrying = Retrying(retries=hook.retries, attempt_s=total / (hook.retries + 1), total_s=total, backoff_s=BACKOFF_S)
    posted = await post_json(
        client, hook.url, payload, headers, retrying, limit=JSON_BYTES + 1, clock=clock, sleep=sleep
    )
    return _call(posted)


def _call(posted: Posted) -> WebhookCall:
    answer, failure = posted.answer, posted.failure
    if answer is not None:
        return WebhookCall(answer.status, answer.body, answer.charset, posted.latency_s, posted.attempts, None)
    if isinstance(failure, HttpTimeout):
        error = f"timed out after {round(posted.timeout_s, 1):g}s"
    elif isinstance(failure, HttpConnectionFailure):
        error = f"connection failed: {failure}"
    elif failure is not None:
        error = f"{failure.cause}: {failure}"
    else:
        error = "no time left for an attempt"
    return WebhookCall(None, b"", None, posted.latency_s, posted.attempts, error)


class WebhookObserver:
    """Calls `webhook` gates (a `graygate.ports.Observer`), reading header values with the tools' Secret reader."""

    @classmethod
    def of(cls, tools: GateTools) -> WebhookObserver:
        return cls(tools.secrets, outbound=tools.outbound)

    def __init__(
        self,
        secrets: SecretReader | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        outbound: Outbound | None = None,
    ) -> None:
        self._secrets = secrets
        self._clock = clock
        self._sleep = sleep
        self._client = HttpClient(USER_AGENT, name="webhook gate", outbound=outbound)

    async def observe(
        self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None = None
    ) -> WebhookMeasurement:
        """One call as `check` describes it, with the release in `scope` (at its `stage`: a stage hook's, run
        through the gate runner as a `webhook` gate), recorded for the domain to judge."""
        stage = scope.stage if scope is not None else STAGE_ROLLOUT
        return await self.call(gate, expect(check, Webhook), now, scope, stage)

    async def call(
        self, gate: str, hook: Webhook, now: datetime, scope: QueryScope | None, stage: str
    ) -> WebhookMeasurement:
        """Call `hook` for the release in `scope` at `stage` (a stage hook's, or `rollout` for the gate); `gate`
        names the gate or the hook in the measurement."""
        try:
            headers = await webhook_headers(hook, scope.namespace if scope else None, self._secrets)
        except GateError as error:
            return WebhookMeasurement(gate=gate, observed_at=now, url=hook.url, request_error=str(error))
        payload = payload_of_scope(scope, stage=stage, metadata=hook.metadata)
        call = await call_webhook(self._client, hook, payload, headers, clock=self._clock, sleep=self._sleep)
        parsed, document = _json(call.body) if call.status_code is not None else (False, None)
        hidden = secret_header_values(hook, headers)
        return WebhookMeasurement(
            gate=gate,
            observed_at=now,
            url=hook.url,
            status_code=call.status_code,
            body=snippet(hide_in_bytes(call.body, hidden, call.charset), call.charset),
            body_is_json=parsed,
            body_json=hide_in_json(document, hidden),
            latency=timedelta(seconds=call.latency_s),
            attempts=call.attempts,
            error=call.error,
        )

    async def close(self) -> None:
        await self._client.close()


SECRET = "<secret>"
"""What a Secret's value echoed by a receiver is replaced with."""


def secret_header_values(hook: Webhook, headers: dict[str, str]) -> tuple[str, ...]:
    """The header values `hook` read from Secrets, longest first (a value inside another is replaced after it)."""
    values = {headers[h.name] for h in hook.headers if h.value_from is not None and headers.get(h.name)}
    return tuple(sorted(values, key=len, reverse=True))


def hide_in_bytes(body: bytes, values: tuple[str, ...], charset: str | None) -> bytes:
    """`body` with each of `values` replaced by `<secret>`: as sent, and as JSON escapes it."""
    for value in values:
        escaped = json.dumps(value)[1:-1]
        for form in dict.fromkeys((value, escaped, escaped.replace("/", "\\/"))):
            try:
                body = body.replace(form.encode(charset or "utf-8"), SECRET.encode(charset or "utf-8"))
            except (LookupError, UnicodeError):
                body = body.replace(form.encode(), SECRET.encode())
    return body


def hide_in_json(document: object, values: tuple[str, ...]) -> object:
    """`document` with each of `values` replaced by `<secret>` in every string (keys included)."""
    if not values:
        return document
    if isinstance(document, str):
        for value in values:
            document = document.replace(value, SECRET)
        return document
    if isinstance(document, list):
        return [hide_in_json(item, values) for item in document]
    if isinstance(document, dict):
        return {str(hide_in_json(key, values)): hide_in_json(item, values) for key, item in document.items()}
    return document


def _json(body: bytes) -> tuple[bool, object]:
    """(True, the value) when the whole answer is JSON; (False, None) when it is not, or was cut at the bound."""
    if not body or len(body) > JSON_BYTES:
        return False, None
    try:
        return True, json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        return False, None
