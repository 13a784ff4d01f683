"""Fixtures of the packaging tests: the real helm binary, and the rendered default chart."""

from __future__ import annotations

import pytest
from helm_tools import Helm, HelmMissingError, Manifest, helm_binary


@pytest.fixture(scope="session")
def helm() -> Helm:
    try:
        return Helm(helm_binary())
    except HelmMissingError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def default_manifests(helm: Helm) -> list[Manifest]:
    return helm.template()
