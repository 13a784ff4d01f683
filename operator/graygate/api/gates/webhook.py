"""The `webhook` gate's model: POST the release's data to a URL once per analysis; a 2xx answer passes.

Why a kind of its own and not an `httpProbe` with a body: a webhook is how a platform team plugs its own check
(a smoke test, a change ticket, a load test) into a release, the way Flagger and Argo Rollouts users already do. It
needs what a probe does not: the release's data in the request, header values read from Secrets (a token for the
receiver), and retries on a receiver's hiccup. The same model is reused by the stage hooks (`spec.hooks[].webhook`).

What the receiver gets is the release's data (name, namespace, phase, step, weights, revisions, the release's own
labels and annotations, and `metadata` below) and never a Secret's value unless the user put it in a header. The URL
goes through the operator's URL allowlist like every probe's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar

from pydantic import ConfigDict, Field, model_validator

from graygate.api.base import SpecModel
from graygate.api.cel import rules
from graygate.api.fields import Timeout, Url
from graygate.api.gates.http_probe import JsonPathCheck
from graygate.api.gates.kind import CheckModel
from graygate.api.headers import MAX_HEADERS
from graygate.api.refs import SecretKeyRef

__all__ = ["MAX_RETRIES", "RESERVED_HEADERS", "HeaderSource", "Webhook", "WebhookHeader"]

MAX_RETRIES = 5
MAX_METADATA = 32

RESERVED_HEADERS = ("content-type", "content-length", "host", "transfer-encoding", "connection")
"""Headers the operator sets itself (the body is JSON), which a user may not override."""

_HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
_RESERVED_RULE = "!(self.name.lowerAscii() in [" + ", ".join(f"'{name}'" for name in RESERVED_HEADERS) + "])"
_RESERVED_MESSAGE = f"a webhook may not set these headers, the operator does: {', '.join(RESERVED_HEADERS)}"

MetadataValue = Annotated[str, Field(max_length=1024)]


class HeaderSource(SpecModel):
    """Where a header's value comes from."""

    secret_key_ref: SecretKeyRef
    """A key of a Secret in the release's namespace, read at every call (a rotated token is picked up without a
    restart); the operator needs `get` on the Secret."""


class WebhookHeader(SpecModel):
    """One request header: its value given inline (`value`) or read from a Secret (`valueFrom.secretKeyRef`)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            ("has(self.value) != has(self.valueFrom)", "give exactly one of value or valueFrom"),
            (_RESERVED_RULE, _RESERVED_MESSAGE),
        )
    )

    name: str = Field(pattern=_HEADER_NAME, max_length=256)
    """The header's name, e.g. `Authorization`."""

    value: str | None = Field(default=None, max_length=4096)
    """The header's value, as written in the release (visible to anyone who can read the release)."""

    value_from: HeaderSource | None = None
    """Read the value from a Secret instead: this is how a token reaches the receiver."""

    @model_validator(mode="after")
    def _one_value(self) -> WebhookHeader:
        if (self.value is None) == (self.value_from is None):
            raise ValueError(f"header {self.name}: give exactly one of value or valueFrom")
        if self.name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {self.name}: {_RESERVED_MESSAGE}")
        return self


class Webhook(CheckModel):
    """POST the release's data as JSON to a URL once per analysis: a 2xx answer passes (and every `expect` check on
    its JSON answer holds); anything else fails, with the status and the first bytes of the answer as the value.
    Redirects are not followed."""

    kind: ClassVar[str] = "webhook"
    bounded_wait: ClassVar[tuple[str, ...]] = ("timeout",)

    url: Url
    """Where to POST, e.g. `http://smoke-tests.qa:8080/run`. The URL must be in the operator's URL allowlist."""

    timeout: Timeout = timedelta(seconds=10)
    """How long the call may take in total, every retry included: each of the `1 + retries` attempts may take an
    equal share of it. Must be shorter than the analysis interval."""

    retries: int = Field(default=0, ge=0, le=MAX_RETRIES)
    """How many more attempts after a connection error, a timeout or a 5xx answer (never after a 4xx), within
    `timeout`."""

    headers: tuple[WebhookHeader, ...] = Field(
        default=(),
        max_length=MAX_HEADERS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Extra request headers, each with a `value` or a `valueFrom.secretKeyRef`. `Content-Type` is always
    `application/json`."""

    metadata: dict[str, MetadataValue] = Field(default_factory=dict, json_schema_extra={"maxProperties": MAX_METADATA})
    """Free-form strings passed through in the payload's `metadata`, e.g. `{"suite": "checkout-smoke"}`."""

    expect: tuple[JsonPathCheck, ...] = Field(default=(), max_length=16)
    """Checks on the JSON answer, as an `httpProbe`'s `jsonPath`: each value must exist (and equal `equals` if
    given). Checked only on a 2xx answer."""

    @model_validator(mode="after")
    def _distinct_headers(self) -> Webhook:
        names = [header.name.lower() for header in self.headers]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"headers must not repeat (names compare case-insensitively): {', '.join(repeated)}")
        return self

    def result_sample(self) -> dict[str, object]:
        return {"statusCode": 200, "latencySeconds": 0.1, "attempts": 1, "body": {}, "bodyText": ""}

    def urls(self) -> tuple[str, ...]:
        return (self.url,)

    def secret_refs(self) -> tuple[SecretKeyRef, ...]:
        """The Secret keys the headers read."""
        return tuple(header.value_from.secret_key_ref for header in self.headers if header.value_from is not None)
