"""What the stand-in backend shows the release checks: its metric families (optionally with a label dropped), its
OpenAPI document (optionally with a response field dropped) and the configuration it runs with, read from etcd.

Why a module of its own: these are the knobs of graygate's release checks (`metricParity`, `apiCompat`,
`hotReload`, `etcdConfig`), apart from the traffic knobs of `backend.py`. Like it, this module imports nothing from
the rest of the lab; graygate's etcd store (the app's config client here) is imported only once an etcd is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

__all__ = ["ConfigFollower", "WithoutLabel", "openapi_document"]


class WithoutLabel:
    """A registry's families with one label removed from every series (an instrumentation regression)."""

    def __init__(self, registry: CollectorRegistry, label: str) -> None:
        self._registry, self._label = registry, label

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            copy = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                labels = {name: value for name, value in sample.labels.items() if name != self._label}
                copy.add_sample(sample.name, labels, sample.value, sample.timestamp, sample.exemplar)
            yield copy


def openapi_document(drop_field: str = "") -> dict[str, Any]:
    """The app's API: `GET /orders/{id}` answers an Order; `drop_field` removes one of its fields."""
    fields = {"id": {"type": "string"}, "total": {"type": "number"}, "currency": {"type": "string"}}
    order = {
        "type": "object",
        "required": [name for name in fields if name != drop_field],
        "properties": {name: schema for name, schema in fields.items() if name != drop_field},
    }
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}
    path = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    get = {"parameters": [path], "responses": {"200": {"description": "the order", "content": body}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "app", "version": "1.0.0"},
        "paths": {"/orders/{id}": {"get": get}},
        "components": {"schemas": {"Order": order}},
    }


class ConfigFollower:
    """Reads the app's config prefix from etcd every 100 ms, as `settings()` says: (`host:port` or empty for no
    config, the prefix, whether reloading is broken: then it reads once and never again). `config` is what
    `/config` answers: the store revision and content hash of the last read, and the values by key (the prefix
    removed), plus `error` while etcd cannot be read."""

    def __init__(self, settings: Callable[[], tuple[str, str, bool]]) -> None:
        self._settings = settings
        self.config: dict[str, Any] = {}

    async def run(self) -> None:
        store: Any = None
        endpoint = ""
        try:
            while True:
                wanted, prefix, broken = self._settings()
                if wanted != endpoint:
                    if store is not None:
                        await store.aclose()
                    endpoint, store, self.config = wanted, _etcd(wanted), {}
                if store is not None and not (broken and "revision" in self.config):
                    await self._read(store, prefix)
                await asyncio.sleep(0.1)
        finally:
            if store is not None:
                await store.aclose()

    async def _read(self, store: Any, prefix: str) -> None:
        try:
            snapshot = await store.get_prefix(prefix)
        except Exception as e:  # etcd down: keep the last config, say why
            self.config = {**self.config, "error": str(e)}
            return
        values = {key.removeprefix(prefix): entry.value for key, entry in snapshot.entries.items()}
        self.config = {"revision": snapshot.revision, "hash": snapshot.hash, "values": values}


def _etcd(endpoint: str) -> Any:
    """graygate's etcd store on `endpoint` (None for none), standing in for the app's config client."""
    if not endpoint:
        return None
    from graygate.store import EtcdSettings
    from graygate.store.etcd.store import EtcdStore

    return EtcdStore(EtcdSettings(endpoints=(endpoint,), dial_timeout_s=0.5, request_timeout_s=1.0))
