"""The config store's own errors, importable without loading the etcd client.

`graygate.store.etcd` translates every etcd3 and gRPC exception into one of these, once, with ``raise ... from e``;
callers (gates, the service) catch these words and never etcd3's.

    GraygateError
    └── EtcdError                 the config store refused a request or could not be reached
        ├── EtcdUnavailable       no endpoint answered, a connection broke, or a deadline passed: retry later
        ├── EtcdAuthError         authentication failed, or the user may not touch these keys: needs a human
        ├── EtcdRejected          etcd refused the request as asked (too many operations in one transaction, a
        │                         key or value too large, an expired lease): retrying the same request will not help
        └── EtcdClientUnusable    the etcd3 client library cannot be loaded in this process (see
                                  `graygate.store.protobuf_compat`)
"""

from __future__ import annotations

from graygate.errors import GraygateError

__all__ = ["EtcdAuthError", "EtcdClientUnusable", "EtcdError", "EtcdRejected", "EtcdUnavailable"]


class EtcdError(GraygateError):
    """The config store refused a request or could not be reached."""


class EtcdUnavailable(EtcdError):
    """No endpoint answered in time, or the connection broke: worth retrying."""


class EtcdAuthError(EtcdError):
    """Wrong credentials, or the user lacks permission on the keys."""


class EtcdRejected(EtcdError):
    """etcd understood the request and refused it; the same request will be refused again."""


class EtcdClientUnusable(EtcdError):
    """The etcd3 library cannot be imported here (its generated protobuf code needs the pure-Python runtime)."""
