"""References to objects in the release's namespace (Secrets, ConfigMaps) that the operator reads by name."""

from __future__ import annotations

from pydantic import Field

from graygate.api.base import SpecModel

__all__ = ["DATA_KEY", "ConfigMapRef", "SecretKeyRef", "SecretRef"]

_OBJECT_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

DATA_KEY = r"^[-._a-zA-Z0-9]+$"
"""A key of a Secret's or a ConfigMap's data."""


class SecretRef(SpecModel):
    """A Secret in the release's namespace; the operator needs `get` on it."""

    name: str = Field(pattern=_OBJECT_NAME, max_length=253)
    """The Secret's name."""


class ConfigMapRef(SpecModel):
    """A ConfigMap in the release's namespace; the operator needs `get` on it."""

    name: str = Field(pattern=_OBJECT_NAME, max_length=253)
    """The ConfigMap's name."""


class SecretKeyRef(SpecModel):
    """One key of a Secret in the release's namespace, as a pod's `env[].valueFrom.secretKeyRef` names it; the
    operator needs `get` on the Secret."""

    name: str = Field(pattern=_OBJECT_NAME, max_length=253)
    """The Secret's name."""

    key: str = Field(pattern=DATA_KEY, max_length=253)
    """The key in the Secret's data."""
