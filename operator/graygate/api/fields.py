"""Field types the models share: an http(s) URL, a JSON path, a request timeout, a list of unique names, a
Kubernetes object name.

Why a module of its own: the probe, the release checks and the etcd checks all point at an endpoint and a value in
its JSON answer, and the spec and its traffic routing both name objects; one definition keeps the CRD patterns and
the error words the same everywhere.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

from graygate.api.durations import DurationField

__all__ = ["DNS_SUBDOMAIN", "JSON_PATH_PATTERN", "JsonPath", "Timeout", "Url", "distinct"]

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
"""A Kubernetes object name (RFC 1123 subdomain); pair it with `max_length=253`."""

JSON_PATH_PATTERN = r"^\$(\.[A-Za-z0-9_-]+|\[[0-9]+\])*$"

Url = Annotated[str, Field(pattern=r"^https?://", max_length=2048)]
"""An http(s) URL."""

JsonPath = Annotated[str, Field(pattern=JSON_PATH_PATTERN, max_length=256)]
"""`$` followed by `.key` and `[index]` parts, e.g. `$.checks[0].status` (no wildcards, filters or quoted keys)."""

Timeout = Annotated[timedelta, DurationField(minimum="1ms")]
"""How long one request may take."""


def _check_distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"values must be unique; repeated: {', '.join(repeated)}")
    return values


distinct = AfterValidator(_check_distinct)
"""Refuses a list with a repeated value, naming it."""
