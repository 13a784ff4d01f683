"""Istio DestinationRules as the destination check reads them: listed per namespace, reduced to host, subsets and
`exportTo`. The client is blocking, so every call runs in a worker thread, off the event loop. A namespace a
watch-fed cache covers is read from memory (graygate.kube.caches)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from kubernetes import client

from graygate.domain.release.destinations import DestinationRuleSeen, DestinationRulesReading, SubsetSeen
from graygate.errors import KubeError, NotFoundError
from graygate.kube.client import kube_errors

_ISTIO = {"group": "networking.istio.io", "version": "v1", "plural": "destinationrules"}

RECENT_S = 2.0
"""A namespace no cache covers (Istio's root namespace, for a namespaced operator) is listed at most this often:
every Pending release asks for it at each poll, and a thousand of them listed it a thousand times every 5 s."""


class KubeDestinationRules:
    """Implements `graygate.ports.destinations.DestinationRules` against the API server."""

    def __init__(
        self, api: client.ApiClient, cached: Callable[[str], list[dict[str, Any]] | None] | None = None
    ) -> None:
        """`cached(namespace)`: the namespace's rules from a watch-fed cache, or None when it cannot answer."""
        self._custom: Any = client.CustomObjectsApi(api)
        self._cached = cached
        self._clock = time.monotonic
        self._lock = threading.Lock()
        self._recent: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    async def read(self, namespace: str, namespaces: Sequence[str]) -> DestinationRulesReading:
        return await asyncio.to_thread(self._read, namespace, namespaces)

    def _read(self, namespace: str, namespaces: Sequence[str]) -> DestinationRulesReading:
        rules: list[DestinationRuleSeen] = []
        errors: list[str] = []
        for where in namespaces:
            if self._cached is not None and (held := self._cached(where)) is not None:
                rules.extend(_rule(item) for item in held)
                continue
            if (recent := self._recently_listed(where)) is not None:
                rules.extend(_rule(item) for item in recent)
                continue
            try:
                with kube_errors(f"DestinationRules in {where}"):
                    listed = self._custom.list_namespaced_custom_object(**_ISTIO, namespace=where)
                self._listed(where, listed.get("items") or [])
            except NotFoundError:
                # The namespace's list is empty, not missing; a 404 here means the DestinationRule CRD is not served.
                errors.append(f"{where}: the DestinationRule API (networking.istio.io/v1) is not served")
                continue
            except KubeError as error:
                errors.append(str(error))
                continue
            rules.extend(_rule(item) for item in listed.get("items") or ())
        return DestinationRulesReading(namespace=namespace, rules=tuple(rules), errors=tuple(errors))

    def _recently_listed(self, namespace: str) -> list[dict[str, Any]] | None:
        with self._lock:
            found = self._recent.get(namespace)
        if found is None or self._clock() - found[0] > RECENT_S:
            return None
        return found[1]

    def _listed(self, namespace: str, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self._recent[namespace] = (self._clock(), items)


def _rule(item: dict[str, Any]) -> DestinationRuleSeen:
    meta = item.get("metadata") or {}
    spec = item.get("spec") or {}
    subsets = tuple(
        SubsetSeen(name=str(subset.get("name") or ""), labels=_labels(subset.get("labels")))
        for subset in spec.get("subsets") or ()
        if isinstance(subset, dict)
    )
    return DestinationRuleSeen(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        host=str(spec.get("host") or ""),
        subsets=subsets,
        export_to=tuple(str(entry) for entry in spec.get("exportTo") or ()),
    )


def _labels(raw: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        return ()
    return tuple(sorted((str(key), str(value)) for key, value in raw.items()))
