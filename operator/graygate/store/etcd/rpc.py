"""etcd3 and gRPC, loaded the one way that works, and their exceptions said in graygate's words.

Why a module of its own: everything else in `graygate.store.etcd` needs the same three things before it can talk to
etcd, and each has one right way that must not be repeated:

- loading: etcd3 0.12's generated protobuf code only imports under the pure-Python runtime, so
  `protobuf_compat.prepare()` runs before `import etcd3` (and the runtime's deprecation warnings about that old
  code are silenced here, once);
- errors: every etcd3 or gRPC exception becomes a `graygate.store.errors` word by one table (`translate`), which
  the caller raises `from` the original; `TRANSLATED` is what callers catch to do so;
- calls: every unary call carries the request timeout and the client's credentials (`unary`), and best-effort
  cleanup swallows only etcd's own failures (`quietly`).

`etcdrpc` (the raw request and response messages) is re-exported for the store's transactions.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from graygate.store import protobuf_compat

protobuf_compat.prepare()  # before etcd3 loads its generated protobuf code

with warnings.catch_warnings():  # the pure-Python runtime deprecates how etcd3's old generated code builds itself
    warnings.simplefilter("ignore", DeprecationWarning)
    import etcd3
    import etcd3.events
    import etcd3.exceptions
import grpc  # type: ignore[import-untyped]  # noqa: E402
from etcd3 import etcdrpc  # noqa: E402

from graygate.store.errors import EtcdAuthError, EtcdError, EtcdRejected, EtcdUnavailable  # noqa: E402

__all__ = ["AUTH", "TRANSLATED", "Client", "etcd3", "etcdrpc", "grpc", "quietly", "translate", "unary"]

log = logging.getLogger(__name__)
T = TypeVar("T")
Client = Any  # etcd3.Etcd3Client: untyped, and kept inside graygate.store.etcd

_UNAVAILABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
AUTH = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
_AUTH_DETAILS = ("authentication failed", "user name is empty", "invalid auth token", "permission denied")
_REJECTED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.NOT_FOUND,
}


def translate(error: Exception, doing: str) -> EtcdError:
    """Our word for an etcd3 or gRPC exception met while `doing` something; the caller raises it `from error`."""
    if isinstance(error, grpc.RpcError) and hasattr(error, "code"):
        code, details = error.code(), error.details() if hasattr(error, "details") else ""
        text = f"{doing}: {code.name}: {details}"
        if code in _UNAVAILABLE:
            return EtcdUnavailable(text)
        if code in AUTH or any(words in str(details).lower() for words in _AUTH_DETAILS):
            return EtcdAuthError(text)
        if code in _REJECTED:
            return EtcdRejected(text)
        return EtcdError(text)
    if isinstance(error, etcd3.exceptions.ConnectionFailedError | etcd3.exceptions.ConnectionTimeoutError):
        return EtcdUnavailable(f"{doing}: {error}")
    if isinstance(error, etcd3.exceptions.WatchTimedOut):
        return EtcdUnavailable(f"{doing}: no answer in time")
    if isinstance(error, etcd3.exceptions.PreconditionFailedError):
        return EtcdRejected(f"{doing}: {error or 'precondition failed'}")
    return EtcdError(f"{doing}: {type(error).__name__}: {error}")


TRANSLATED = (grpc.RpcError, etcd3.exceptions.Etcd3Exception)
"""The exceptions `translate` knows: catch these, raise `translate(error, ...) from error`."""


def unary(client: Client, method: Callable[..., T], request: object, timeout_s: float) -> T:
    """Call one of the client's gRPC stub methods with `client`'s credentials, within `timeout_s`."""
    return method(request, timeout_s, credentials=client.call_credentials, metadata=client.metadata)


def quietly(action: Callable[[], object]) -> None:
    """Run a best-effort cleanup; an etcd failure in it is logged at debug level and otherwise ignored."""
    try:
        action()
    except TRANSLATED as error:
        log.debug("ignored while cleaning up: %s", error)
