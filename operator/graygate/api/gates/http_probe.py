"""The `httpProbe` gate's model: one HTTP request per analysis, judged on status, latency and the JSON body."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from graygate.api.base import SpecModel
from graygate.api.durations import Duration, DurationField
from graygate.api.fields import JSON_PATH_PATTERN
from graygate.api.gates.kind import CheckModel
from graygate.api.headers import MAX_HEADERS, Headers

__all__ = ["HttpProbe", "JsonPathCheck"]

StatusCode = Annotated[int, Field(ge=100, le=599)]


def _unique_codes(codes: tuple[int, ...]) -> tuple[int, ...]:
    if len(set(codes)) != len(codes):
        raise ValueError("status codes must not repeat")
    return codes


class JsonPathCheck(SpecModel):
    """A check on the JSON body of the answer: the value at `path` must exist (and equal `equals` if given)."""

    path: str = Field(pattern=JSON_PATH_PATTERN, max_length=256)
    """Where to look in the body: `$` followed by `.key` and `[index]` parts, e.g. `$.checks[0].status`.
    Only this small subset of JSONPath is supported (no wildcards, filters or quoted keys)."""

    equals: str | None = Field(default=None, max_length=1024)
    """The expected value, compared as text: strings as they are, numbers and booleans as JSON writes them
    (`true`, `42`, `0.5`), null as `null`. When omitted, the value only has to exist and not be null."""


class HttpProbe(CheckModel):
    """Send one HTTP request per analysis and judge the answer: status code, latency and optionally the body."""

    kind: ClassVar[str] = "httpProbe"
    bounded_wait: ClassVar[tuple[str, ...]] = ("timeout",)

    url: str = Field(pattern=r"^https?://", max_length=2048)
    """The URL to request, usually the canary's Service directly (e.g. `http://checkout-canary.shop:8080/healthz`)."""

    method: Literal["GET", "HEAD"] = "GET"
    """The HTTP method: `GET` or `HEAD`."""

    headers: Headers = Field(default_factory=dict, json_schema_extra={"maxProperties": MAX_HEADERS})
    """Extra request headers, name to value."""

    expect_status: Annotated[tuple[StatusCode, ...], AfterValidator(_unique_codes)] = Field(
        default=(200,), min_length=1, max_length=32, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """The status codes that count as a pass."""

    timeout: Annotated[Duration, DurationField(minimum="1ms")] = timedelta(seconds=2)
    """How long to wait for the answer; a request that takes longer fails. Must be shorter than the analysis
    interval."""

    latency_budget: Duration | None = None
    """When set, an answer slower than this fails even if its status code is right."""

    json_path: JsonPathCheck | None = None
    """An optional check on the JSON body."""

    result_open_keys: ClassVar[bool] = True

    def result_sample(self) -> dict[str, object]:
        return {"statusCode": 200, "latencySeconds": 0.1, "body": {}, "bodyText": ""}

    def urls(self) -> tuple[str, ...]:
        return (self.url,)
