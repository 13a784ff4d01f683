"""The CanaryRelease resource as a whole: its names on the API server and the top-level document model.

Why: the group, version, plural and short name are used by the CRD generator, the Kopf handlers, the kube client
and the CLI; they are spelled once, here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus

__all__ = [
    "API_VERSION",
    "CATEGORIES",
    "GROUP",
    "KIND",
    "PLURAL",
    "SHORT_NAMES",
    "SINGULAR",
    "VERSION",
    "CanaryRelease",
    "ObjectMeta",
]

GROUP = "graygate.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "CanaryRelease"
PLURAL = "canaryreleases"
SINGULAR = "canaryrelease"
SHORT_NAMES = ("crel",)
CATEGORIES = ("graygate",)


class ObjectMeta(BaseModel):
    """The few metadata fields graygate reads; everything else passes through untouched."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = ""
    namespace: str = ""
    generation: int = 0
    annotations: dict[str, str] = Field(default_factory=dict)


class CanaryRelease(BaseModel):
    """A whole CanaryRelease document, as `kubectl get -o yaml` shows it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: str = Field(default=API_VERSION, alias="apiVersion", pattern=f"^{API_VERSION}$")
    kind: str = Field(default=KIND, pattern=f"^{KIND}$")
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CanaryReleaseSpec
    status: CanaryReleaseStatus | None = None
