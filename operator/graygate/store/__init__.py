"""The config store graygate's release checks read and change: etcd.

Importing this package does not load the etcd client: it offers the plain data and the errors, which the service
and the gates use. `graygate.store.etcd.store.EtcdStore` is the adapter (its package is the only importer of etcd3); the
composition root builds it from `EtcdSettings`.

What it offers a release check:

- `get_prefix`: every key under a prefix, with mod_revisions and the store revision, in one consistent read; its
  `hash` is the content hash two configs are compared by.
- `read_keys`: named keys, each with its value and mod_revision (or None: absent), in one consistent read (one
  transaction); its `mod_revisions` are the `expected` of a later `apply_if_unchanged`.
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
- `apply_if_unchanged`: compare-and-swap over several keys, all-or-nothing for the set: ONE transaction that puts
  (or deletes, for None) every key only if each key's mod_revision is still the expected one (0: still absent),
  and otherwise writes nothing. `GuardedApply` says whether it applied, and the store revision (when applied,
  every put key's new mod_revision). Read with `read_keys`, decide, then apply-if-unchanged: a change someone
  made in between is never clobbered, and a replay of the same call after it applied fails its guards (each
  put, and each delete of a present key, moved that key's mod_revision), so a crash-and-retry is detected
  instead of applied twice.
- `watch_key`: a callback on every change of one key (the freeze switch), seen within milliseconds;
  `graygate.store.watch` survives reconnections.

etcd caps a transaction at `--max-txn-ops` operations (128 by default), so `read_keys`, `apply`, `restore` and
`apply_if_unchanged` take at most that many keys; more is an `EtcdRejected`.
"""

from graygate.store.errors import EtcdAuthError, EtcdClientUnusable, EtcdError, EtcdRejected, EtcdUnavailable
from graygate.store.model import (
    Applied,
    EtcdSettings,
    GuardedApply,
    KeysSnapshot,
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
    "GuardedApply",
    "KeyState",
    "KeysSnapshot",
    "PrefixSnapshot",
    "PriorValue",
    "RestoreConflict",
    "RestoreResult",
    "Versioned",
    "WatchEvent",
    "WatchInterrupted",
    "content_hash",
]
