"""Traffic colouring: the `setHeaderRoute` step, a route that sends matching requests to the canary whatever the
weights say.

Why a bounded subset of Istio's `HTTPMatchRequest`: graygate writes this route into a VirtualService it does not own,
so it accepts only what it can merge safely with the managed route's own matches (headers, matched `exact`, by
`prefix` or by `regex`) and refuses the rest at `kubectl apply`. Header names are lower case because Envoy compares
them lower-cased; a capital would silently never match.
"""

from __future__ import annotations

import re

from pydantic import ConfigDict, Field, model_validator

from graygate.api.base import SpecModel
from graygate.api.cel import exactly_one, rules

__all__ = [
    "HEADER_ROUTE_MARK",
    "HEADER_ROUTE_PREFIX",
    "HeaderMatch",
    "HeaderRouteMatch",
    "SetHeaderRoute",
    "StringMatch",
    "header_route_name",
]

MAX_MATCHES = 8
MAX_HEADERS_PER_MATCH = 8

HEADER_ROUTE_PREFIX = "graygate-"
HEADER_ROUTE_MARK = "-header"


def header_route_name(release: str, route: str | None) -> str:
    """The name of ``release``'s header route (or rule) beside the managed route ``route`` (None: the object's only
    one). Spelled here, below the routers that write it, because the spec's validation bounds its length."""
    base = f"{HEADER_ROUTE_PREFIX}{release}{HEADER_ROUTE_MARK}"
    return base if route is None else f"{base}-{route}"


_HEADER_NAME = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]{1,256}$")


class StringMatch(SpecModel):
    """How a header's value must look: exactly one of `exact`, `prefix` or `regex` (RE2, as Envoy runs it)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            (exactly_one("exact", "prefix", "regex"), "a header match needs exactly one of exact, prefix or regex")
        )
    )

    exact: str | None = Field(default=None, max_length=1024)
    """The whole value, e.g. `always`."""

    prefix: str | None = Field(default=None, min_length=1, max_length=1024)
    """The value's beginning."""

    regex: str | None = Field(default=None, min_length=1, max_length=1024)
    """An RE2 regular expression the whole value must match."""

    @model_validator(mode="after")
    def _exactly_one(self) -> StringMatch:
        if sum(value is not None for value in (self.exact, self.prefix, self.regex)) != 1:
            raise ValueError("a header match needs exactly one of exact, prefix or regex")
        return self

    def as_istio(self) -> dict[str, str]:
        """The Istio `StringMatch` this stands for."""
        return {key: value for key, value in self.model_dump(exclude_none=True).items()}


HeaderMatch = dict[str, StringMatch]


class HeaderRouteMatch(SpecModel):
    """One way to be coloured: every listed header must match (several `match` entries: any one of them)."""

    headers: HeaderMatch = Field(min_length=1, json_schema_extra={"maxProperties": MAX_HEADERS_PER_MATCH})
    """Header name (lower case) to how its value must look, e.g. `x-canary: {exact: always}`."""

    @model_validator(mode="after")
    def _bounded(self) -> HeaderRouteMatch:
        if len(self.headers) > MAX_HEADERS_PER_MATCH:
            raise ValueError(f"at most {MAX_HEADERS_PER_MATCH} headers per match")
        bad = sorted(name for name in self.headers if not _HEADER_NAME.fullmatch(name))
        if bad:
            raise ValueError(f"header names must be lower-case HTTP tokens (Envoy lower-cases them): {', '.join(bad)}")
        return self


class SetHeaderRoute(SpecModel):
    """From this step until the release ends, requests matching `match` go to the canary, whatever the weight.

    graygate inserts an http route named `graygate-<release>-header` directly above each managed route (combined
    with that route's own matches, so it colours only the traffic the managed route would have taken) and removes
    it when the release succeeds, fails, is aborted or deleted. A later `setHeaderRoute` step replaces the match.
    """

    match: tuple[HeaderRouteMatch, ...] = Field(min_length=1, max_length=MAX_MATCHES)
    """Istio `HTTPMatchRequest`s reduced to `headers`; a request matching any one of them is coloured."""
