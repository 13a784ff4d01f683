"""The `routingCheck` gate: proof that the mesh applied the routes graygate wrote.

Why: a VirtualService saying "coloured requests to the canary, 10 % of the rest" is only a wish until the proxies
follow it. This gate sends real requests through the entry point and reads which version answered each one, so a
mesh that never picked up the route (a wrong gateway, a sidecar not injected, a stale config) fails the release
instead of passing it on a promise. The counts are bounded so one analysis stays cheap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar

from pydantic import Field

from graygate.api.durations import Duration, DurationField
from graygate.api.gates.kind import CheckModel
from graygate.api.headers import MAX_HEADERS, Headers

__all__ = ["RoutingCheck"]


class RoutingCheck(CheckModel):
    """Send `coloredRequests` requests carrying `coloredHeaders` and `uncoloredRequests` without them through `url`;
    pass when every coloured one was answered by the canary and the uncoloured ones follow the weight: none reach the
    canary at 0 %, all at 100 %, and in between the canary's share is within `tolerance` standard deviations of the
    binomial expectation."""

    kind: ClassVar[str] = "routingCheck"
    bounded_wait: ClassVar[tuple[str, ...]] = ("timeout",)

    url: str = Field(pattern=r"^https?://", max_length=2048)
    """The entry point the mesh routes, e.g. the ingress gateway or the Service the VirtualService applies to."""

    colored_headers: Headers = Field(
        default_factory=lambda: {"x-canary": "always"}, json_schema_extra={"maxProperties": MAX_HEADERS}
    )
    """The headers that colour a request (those of the `setHeaderRoute` step), name to value."""

    colored_requests: int = Field(default=10, ge=0, le=200)
    """How many coloured requests to send; every one must reach the canary."""

    uncolored_requests: int = Field(default=20, ge=0, le=1000)
    """How many requests to send without the colouring headers; their split is compared with the weight."""

    version_header: str = Field(default="x-served-by", pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", max_length=256)
    """The response header naming the version that answered."""

    canary_value: str = Field(default="canary", min_length=1, max_length=256)
    """The `versionHeader` value the canary answers with; any other value counts as not the canary."""

    tolerance: float = Field(default=3.0, gt=0, le=10)
    """How many binomial standard deviations the uncoloured canary share may stray from the weight."""

    timeout: Annotated[Duration, DurationField(minimum="1ms")] = timedelta(seconds=2)
    """How long all the requests of one check may take together; must be shorter than the analysis interval."""

    def urls(self) -> tuple[str, ...]:
        return (self.url,)
