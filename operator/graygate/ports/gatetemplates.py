"""Gate templates, read by name for the refs of one release."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from graygate.api.gate_templates import GateRef
from graygate.domain.release.gate_templates import TemplatesRead


class GateTemplateReader(Protocol):
    """Reads the templates some refs name. ``graygate.kube.gatetemplates`` implements it; tests use a fake.

    A `GateTemplate` is read from ``namespace`` (the release's) only, a `ClusterGateTemplate` from the cluster.
    A template that does not exist is None in the answer; any other failure raises graygate's ``KubeError``
    (``ForbiddenError``, ``ApiUnavailableError``), so the tick is retried rather than the release judged.
    """

    async def read(self, namespace: str, refs: Sequence[GateRef]) -> TemplatesRead:
        """The raw `spec` of each template the refs name, by (kind, name)."""
        ...
