"""The etcd config store: the only package that imports etcd3 (and talks gRPC to etcd).

Why one room: etcd3 0.12 blocks, raises its own and gRPC's exceptions, and needs a protobuf workaround to import at
all. Here every call runs in `asyncio.to_thread`, every exception becomes a `graygate.store.errors` word (raised
from the original), and `protobuf_compat.prepare()` runs before `import etcd3`.

What it offers, and the exact apply/restore and guarded-apply semantics, are described in `graygate.store`'s
docstring. The package is three modules:

- `store`, `EtcdStore`: connections, and each thing the store does, as one etcd request;
- `rpc`: loading etcd3 the safe way, the error table (`translate`) and the plumbing of a unary call;
- `watch_connection`: the client each `Watch` owns, and the patch that lets its watcher thread stop.

Endpoints are tried in order and the first that answers (a linearizable read within `dial_timeout_s`) is used
until a call finds it unavailable; the next call dials again from the top of the list.
"""
