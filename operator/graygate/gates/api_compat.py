"""The `apiCompat` gate's observation side: fetch both OpenAPI documents (and the canary's version answer) at once
and parse them.

Why it only observes: which change breaks a caller is `graygate.domain.compare.openapi_diff`'s call, and whether the
version is acceptable is the judge's. This module reports each document parsed, or why it could not be read.

Documents may be JSON or YAML whatever their content type says (many services serve `openapi.yaml` as
`text/plain`): JSON is tried first, YAML (safe loading: no Python objects, no custom tags) second. A document must
be an object at its top.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime

import yaml

from graygate.api.gates import ApiCompat, GateCheck
from graygate.domain.analysis.api_compat import ApiCompatMeasurement
from graygate.domain.analysis.measurements import DocumentReading
from graygate.domain.analysis.promql import QueryScope
from graygate.gates.fetch import Download, HttpFetcher, json_document
from graygate.gates.tools import GateTools, expect

__all__ = ["ACCEPT", "ApiCompatObserver", "openapi_document"]

ACCEPT = "application/json, application/yaml;q=0.9, application/x-yaml;q=0.9, text/yaml;q=0.9, */*;q=0.1"


class ApiCompatObserver:
    """Observes `apiCompat` gates through a shared fetcher (which its owner closes)."""

    @classmethod
    def of(cls, tools: GateTools) -> ApiCompatObserver:
        return cls(tools.fetcher)

    def __init__(self, fetcher: HttpFetcher) -> None:
        self._fetcher = fetcher

    async def observe(
        self, gate: str, check: GateCheck, now: datetime, scope: QueryScope | None = None
    ) -> ApiCompatMeasurement:
        return await self._observe(gate, expect(check, ApiCompat), now)

    async def close(self) -> None:
        """Nothing of its own to close: the fetcher and the etcd connections belong to the tools."""

    async def _observe(self, gate: str, check: ApiCompat, now: datetime) -> ApiCompatMeasurement:
        """Stable's and canary's documents and the version answer, fetched concurrently."""
        timeout = check.timeout.total_seconds()

        async def get(url: str, accept: str = ACCEPT) -> Download:
            return await self._fetcher.get(url, headers=check.headers, timeout_s=timeout, accept=accept)

        stable, canary, version = await asyncio.gather(
            get(check.stable_url),
            get(check.canary_url),
            get(check.version.url, "application/json") if check.version else _nothing(),
        )
        return ApiCompatMeasurement(
            gate=gate,
            observed_at=now,
            stable=openapi_document(stable),
            canary=openapi_document(canary),
            version=json_document(version) if version is not None else None,
        )


async def _nothing() -> None:
    return None


def openapi_document(download: Download) -> DocumentReading[Mapping[str, object]]:
    """The body parsed as a JSON or YAML object, or why it cannot be."""
    if download.error is not None:
        return DocumentReading(url=download.url, error=download.error)
    try:
        document: object = json.loads(download.body)
    except ValueError:
        try:
            document = yaml.safe_load(download.body)
        except yaml.YAMLError as error:
            return DocumentReading(url=download.url, error=f"neither JSON nor YAML: {_first_line(str(error))}")
    if not isinstance(document, dict):
        return DocumentReading(
            url=download.url, error=f"not an OpenAPI document: the top is a {type(document).__name__}"
        )
    if not any(key in document for key in ("openapi", "swagger", "paths")):
        return DocumentReading(url=download.url, error="not an OpenAPI document: no openapi, swagger or paths key")
    normalized = _string_keys(document, {})
    assert isinstance(normalized, dict)
    return DocumentReading(url=download.url, content=normalized)


def _string_keys(node: object, done: dict[int, object]) -> object:
    """`node` with every mapping key as text, as JSON has them (YAML reads `200:` as a number). Shared nodes
    (YAML aliases) are converted once and stay shared, so an alias bomb costs no more than its text."""
    if not isinstance(node, dict | list):
        return node
    if id(node) in done:
        return done[id(node)]
    if isinstance(node, list):
        items: list[object] = []
        done[id(node)] = items
        items.extend(_string_keys(item, done) for item in node)
        return items
    mapping: dict[str, object] = {}
    done[id(node)] = mapping
    for key, value in node.items():
        mapping[str(key).lower() if isinstance(key, bool) else str(key)] = _string_keys(value, done)
    return mapping


def _first_line(text: str) -> str:
    return " ".join(text.split())[:200]
