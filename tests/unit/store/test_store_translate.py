"""Every etcd3 and gRPC exception becomes one of graygate's store errors, by a table."""

from __future__ import annotations

import grpc
import pytest

from graygate.store import EtcdAuthError, EtcdError, EtcdRejected, EtcdUnavailable
from graygate.store.etcd.rpc import etcd3, translate


class FakeRpcError(grpc.RpcError):
    """What gRPC raises for a failed call: a code and details."""

    def __init__(self, code: grpc.StatusCode, details: str = "") -> None:
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


S = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(FakeRpcError(S.UNAVAILABLE, "connection refused"), EtcdUnavailable, id="unavailable"),
        pytest.param(FakeRpcError(S.DEADLINE_EXCEEDED), EtcdUnavailable, id="deadline"),
        pytest.param(FakeRpcError(S.CANCELLED), EtcdUnavailable, id="cancelled-by-a-closing-channel"),
        pytest.param(FakeRpcError(S.PERMISSION_DENIED), EtcdAuthError, id="permission-denied"),
        pytest.param(FakeRpcError(S.UNAUTHENTICATED, "invalid auth token"), EtcdAuthError, id="bad-token"),
        pytest.param(
            FakeRpcError(S.INVALID_ARGUMENT, "etcdserver: authentication failed, invalid user ID or password"),
            EtcdAuthError,
            id="wrong-password-is-invalid-argument-in-etcd",
        ),
        pytest.param(FakeRpcError(S.INVALID_ARGUMENT, "etcdserver: user name is empty"), EtcdAuthError, id="no-user"),
        pytest.param(
            FakeRpcError(S.INVALID_ARGUMENT, "etcdserver: too many operations in txn request"),
            EtcdRejected,
            id="too-many-operations",
        ),
        pytest.param(FakeRpcError(S.NOT_FOUND, "etcdserver: requested lease not found"), EtcdRejected, id="no-lease"),
        pytest.param(FakeRpcError(S.RESOURCE_EXHAUSTED, "request too large"), EtcdRejected, id="too-large"),
        pytest.param(FakeRpcError(S.INTERNAL), EtcdError, id="anything-else"),
        pytest.param(etcd3.exceptions.ConnectionFailedError(), EtcdUnavailable, id="etcd3-connection-failed"),
        pytest.param(etcd3.exceptions.ConnectionTimeoutError(), EtcdUnavailable, id="etcd3-timeout"),
        pytest.param(etcd3.exceptions.WatchTimedOut(), EtcdUnavailable, id="etcd3-watch-timed-out"),
        pytest.param(etcd3.exceptions.PreconditionFailedError(), EtcdRejected, id="etcd3-precondition"),
        pytest.param(etcd3.exceptions.RevisionCompactedError(7), EtcdError, id="etcd3-compacted"),
    ],
)
def test_translate(error: Exception, expected: type[EtcdError]) -> None:
    translated = translate(error, "reading /config/")
    assert type(translated) is expected
    assert str(translated).startswith("reading /config/: ")
