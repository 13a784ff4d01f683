"""Graygate's own exceptions, so callers catch our words instead of every library's.

Each edge (the Kubernetes client, a traffic router, a gate) translates what it meets into one of these, once, with
``raise ... from e`` so the original cause stays attached. The handler layer then maps the tree to Kopf's retry
semantics in one table: a conflict or an unavailable API is worth retrying soon, a forbidden or invalid route needs a
human.

    GraygateError
    ├── KubeError                 the Kubernetes API said no, or could not be reached
    │   ├── ConflictError         409: the resourceVersion we wrote against is stale; re-read and retry
    │   ├── NotFoundError         404: the object does not exist
    │   ├── ForbiddenError        401/403: RBAC does not let the operator do this
    │   └── ApiUnavailableError   5xx, timeouts, connection errors: the API server is not answering
    ├── RouterError               a traffic router cannot do what was asked, safely
    │   ├── RouteNotFoundError    the VirtualService or the named route is not there
    │   ├── InvalidRouteError     the route is there but graygate cannot manage it as it stands
    │   └── UnknownRouterError    no router is registered under that kind
    ├── GateError                 a gate could not take its observation at all
    └── ProviderError             a metric provider cannot be set up as asked (a failed query is a result, not this)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ApiUnavailableError",
    "ConflictError",
    "ForbiddenError",
    "GateError",
    "GraygateError",
    "InvalidRouteError",
    "KubeError",
    "NotFoundError",
    "ProviderError",
    "RouteNotFoundError",
    "RouterError",
    "UnknownRouterError",
]


class GraygateError(Exception):
    """The base of every error graygate raises on purpose."""


class KubeError(GraygateError):
    """The Kubernetes API refused a request or could not be reached."""


class ConflictError(KubeError):
    """The object changed since we read it (HTTP 409); re-read it and try again."""


class NotFoundError(KubeError):
    """The object does not exist (HTTP 404)."""


class ForbiddenError(KubeError):
    """The operator's service account may not do this (HTTP 401/403)."""


class ApiUnavailableError(KubeError):
    """The API server did not answer usefully: 5xx, timeout, connection refused."""


class RouterError(GraygateError):
    """A traffic router cannot apply the change safely.

    ``reason`` is a short machine-readable word so a caller can record the problem without parsing the message:
    a ``graygate.ports.RoutingProblemReason`` value for the route errors, "UnknownRouterKind" for the registry.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class RouteNotFoundError(RouterError):
    """The VirtualService, or a route named in the release, does not exist."""


class InvalidRouteError(RouterError):
    """The route exists but its shape does not let graygate shift weight without side effects."""


class UnknownRouterError(RouterError):
    """No router is registered under the requested kind; we never fall back silently to another."""

    def __init__(self, kind: str, known: Sequence[str]) -> None:
        super().__init__(
            f"unknown traffic router kind {kind!r}; graygate knows: {', '.join(known) or 'none'}",
            reason="UnknownRouterKind",
        )
        self.kind = kind
        self.known = tuple(known)


class GateError(GraygateError):
    """A gate could not even attempt its observation (a failed observation is a result, not this)."""


class ProviderError(GraygateError):
    """A metric provider cannot be created or configured as asked."""
