"""The config store graygate's release checks read and change: etcd.

Importing this package does not load the etcd client: it offers the plain data and the errors, which the service
and the gates use. `graygate.store.etcd.EtcdStore` is the adapter (the only importer of etcd3); the composition
root builds it from `EtcdSettings`.

What it offers a release check:

- `get_prefix`: every key under a prefix, with mod_revisions and the store revision, in one consistent read; its
  `hash` is the content hash two configs are compared by.
- `put_with_lease`: a key that disappears by itself if graygate stops refreshing it (a claim, a heartbeat).
- `apply` / `restore`: change several keys in ONE transaction and undo exactly that change later.
  `apply` compares nothing (it is graygate's decision to write) and records each key's previous value and
  mod_revision, or that it was absent. `restore` is also ONE transaction, made of one guarded sub-transaction per
  key: if the key's mod_revision is still the one our write gave it, the previous value is put back (or the key
  deleted again); if not, someone changed it after us and it is left alone and reported as a conflict. So
  restore is all-or-nothing per key, not for the set: one operator's hotfix to one key does not stop graygate
  from undoing its own change to the others, and never gets clobbered. A key that already holds its previous
  value is reported `unchanged`, so running restore twice (a crash between restore and recording it) is
  harmless. Leases are not restored: the previous value is written without one.
  etcd caps a transaction at `--max-txn-ops` operations (128 by default), so apply and restore take at most
  that many keys; more is an `EtcdRejected`.
- `watch_key`: a callback on every change of one key (the freeze switch), seen within milliseconds;
  `graygate.store.watch` survives reconnections.
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
