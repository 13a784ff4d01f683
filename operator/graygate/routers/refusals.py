"""A write the API server refuses, as the routing problem both routers report: the same words for either kind of
object, so a release stalls with the API server's message whichever router it uses."""

from __future__ import annotations

from graygate.errors import RejectedError
from graygate.ports.routing import RouteObjectKind, RoutingProblem, RoutingProblemReason

__all__ = ["REFUSAL_LIMIT", "refused"]

REFUSAL_LIMIT = 400
"""The most of the API server's message a report carries: Istio lists every invalid field, and a status message
and an Event must stay readable."""


def refused(kind: RouteObjectKind, namespace: str, name: str, error: RejectedError) -> RoutingProblem:
    said = " ".join(error.message.split())
    if len(said) > REFUSAL_LIMIT:
        said = said[: REFUSAL_LIMIT - 1] + "…"
    message = f"the API server refused the write of {kind} {namespace}/{name}, which stays as it was: {said}"
    return RoutingProblem(name, RoutingProblemReason.WRITE_REFUSED, message)
