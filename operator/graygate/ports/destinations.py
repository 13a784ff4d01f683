"""The DestinationRules a release's subsets need: read before any traffic moves (`domain.release.destinations`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from graygate.domain.release.destinations import DestinationRulesReading

__all__ = ["DestinationRules"]


class DestinationRules(Protocol):
    """Reads Istio DestinationRules; ``graygate.kube.destinationrules`` implements it, tests use a fake."""

    async def read(self, namespace: str, namespaces: Sequence[str]) -> DestinationRulesReading:
        """Every DestinationRule of `namespaces`, for a release in `namespace`. A namespace that cannot be read is
        one entry of `errors`, never an exception: the check says what it could not see."""
        ...
