"""Graygate's own exceptions, so callers catch our words instead of every library's.

Each edge (the Kubernetes client, a traffic router, a gate) translates what it meets into one of these, once, with
``raise ... from e`` so the original cause stays attached. The handler layer then maps the tree to Kopf's retry
semantics in one table: a conflict or an unavailable API is worth retrying soon, a forbidden or invalid route needs a
human. The tree below is drawn by `graygate.docs.error_tree()` from the classes, wherever they are defined; a unit
test keeps it current.

    GraygateError
    ├── EtcdError                      the config store refused a request or could not be reached
    │                                  (graygate.store.errors)
    │   ├── EtcdAuthError              wrong credentials, or the user lacks permission on the keys
    │   ├── EtcdClientUnusable         the etcd3 library cannot be imported here (its generated protobuf code needs the
    │   │                              pure-Python runtime)
    │   ├── EtcdRejected               etcd understood the request and refused it; the same request will be refused
    │   │                              again
    │   └── EtcdUnavailable            no endpoint answered in time, or the connection broke: worth retrying
    ├── GateError                      a gate could not even attempt its observation (a failed observation is a result,
    │                                  not this)
    │   └── HttpFailure                no answer came: a protocol error, an invalid URL, a reset (graygate.http.client)
    │       ├── HttpConnectionFailure  the connection could not be made (refused, no route, a name that does not
    │       │                          resolve, TLS)
    │       │   └── HttpRefused        the operator's address rules refused the host or an address it resolves to;
    │       │                          nothing was sent
    │       └── HttpTimeout            no answer within the request's timeout
    ├── IllegalCommandError            the command makes no sense in the release's current phase
    │                                  (graygate.console.controls)
    ├── KubeError                      the Kubernetes API refused a request or could not be reached
    │   ├── ApiUnavailableError        the API server did not answer usefully: 5xx, timeout, connection refused
    │   ├── ConflictError              the object changed since we read it (HTTP 409); re-read it and try again
    │   ├── ForbiddenError             the operator's service account may not do this (HTTP 401/403)
    │   ├── NotFoundError              the object does not exist (HTTP 404)
    │   └── RejectedError              the API server refused the object itself (HTTP 400/422): its schema or an
    │                                  admission webhook or policy said no; the same write is refused again
    ├── ProcessFailedError             a sandbox process exited or never became ready (graygate.sandbox.processes)
    ├── ProviderError                  a metric provider cannot be created or configured as asked
    ├── RouterError                    a traffic router cannot apply the change safely
    │   ├── InvalidRouteError          the route exists but its shape does not let graygate shift weight without side
    │   │                              effects
    │   ├── RouteNotFoundError         the VirtualService, or a route named in the release, does not exist
    │   └── UnknownRouterError         no router is registered under the requested kind; we never fall back silently to
    │                                  another
    ├── SandboxRunningError            a sandbox that answers already runs from the work folder
    │                                  (graygate.sandbox.controlplane)
    ├── StateFileError                 the work folder's state file cannot be read as a sandbox's record
    │                                  (graygate.sandbox.state)
    └── ToolchainMissingError          a control-plane binary is not built yet (graygate.sandbox.toolchain)
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
    "RejectedError",
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


class RejectedError(KubeError):
    """The API server refused the object itself (HTTP 400/422): its schema or an admission webhook or policy said
    no; the same write is refused again.

    ``message`` is the API server's own words (e.g. Istio's ``admission webhook "validation.istio.io" denied the
    request: ...``), for the report to carry as they are.
    """

    def __init__(self, text: str, *, message: str) -> None:
        super().__init__(text)
        self.message = message


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
