"""Which metric provider serves which type: the one place that knows the list.

Why a registry that refuses: a typo in a provider type that quietly fell back to a default would judge a release
with the wrong backend's numbers (or none). An unknown type raises `UnknownProviderError` naming the types that
exist. Adding a backend is one module plus one line in `PROVIDERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from graygate.errors import UnknownProviderError
from graygate.ports import MetricProvider
from graygate.providers.prometheus import PrometheusProvider

__all__ = ["PROVIDERS", "ProviderFactory", "ProviderRegistry"]

ProviderFactory = Callable[[], MetricProvider]


class ProviderRegistry:
    def __init__(self, factories: Mapping[str, ProviderFactory]) -> None:
        self._factories = dict(factories)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))

    def create(self, kind: str) -> MetricProvider:
        """A new provider of type `kind` (matched exactly); raises `UnknownProviderError` for any other name."""
        factory = self._factories.get(kind)
        if factory is None:
            raise UnknownProviderError(kind, self.kinds)
        return factory()


PROVIDERS = ProviderRegistry({"prometheus": PrometheusProvider})
