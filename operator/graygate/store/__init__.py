"""The config store graygate's release checks read and change: etcd.

Importing this package does not load the etcd client: it offers the plain data and the errors, which the service
and the gates use. `graygate.store.etcd.EtcdStore` is the adapter (the only importer of etcd3); the composition
root builds it from `EtcdSettings`.
"""

from graygate.store.errors import EtcdAuthError, EtcdClientUnusable, EtcdError, EtcdRejected, EtcdUnavailable
from graygate.store.model import (
    Applied,
    EtcdSettings,
    KeyState,
    PrefixSnapshot,
    PriorValue,
    RestoreConflict,
    RestoreResult,
    Versioned,
    WatchEvent,
    WatchInterrupted,
    content_hash,
)

__all__ = [
    "Applied",
    "EtcdAuthError",
    "EtcdClientUnusable",
    "EtcdError",
    "EtcdRejected",
    "EtcdSettings",
    "EtcdUnavailable",
    "KeyState",
    "PrefixSnapshot",
    "PriorValue",
    "RestoreConflict",
    "RestoreResult",
    "Versioned",
    "WatchEvent",
    "WatchInterrupted",
    "content_hash",
]
