"""References to objects in the release's namespace (Secrets, ConfigMaps) that the operator reads by name."""

from __future__ import annotations

from pydantic import Field

from graygate.api.base import SpecModel

__all__ = ["ConfigMapRef", "SecretRef"]

_OBJECT_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class SecretRef(SpecModel):
    """A Secret in the release's namespace; the operator needs `get` on it."""

    name: str = Field(pattern=_OBJECT_NAME, max_length=253)
    """The Secret's name."""


class ConfigMapRef(SpecModel):
    """A ConfigMap in the release's namespace; the operator needs `get` on it."""

    name: str = Field(pattern=_OBJECT_NAME, max_length=253)
    """The ConfigMap's name."""
