"""The kind scenarios in e2e/kind/ cannot run here (no container runtime), so they are checked as far as that
allows, as e2e/README.md promises: every file is valid YAML, and its CanaryReleases pass `graygate lint`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from graygate.console.lint import lint_text

KIND = Path(__file__).resolve().parents[3] / "e2e" / "kind"
MANIFESTS = sorted(KIND.glob("*.yaml"))


def test_the_scenarios_are_there() -> None:
    names = {path.name for path in MANIFESTS}
    assert {"checkout.yaml", "checkout-v2.yaml", "checkout-v3.yaml", "load.yaml", "kind-cluster.yaml"} <= names


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_every_file_is_valid_yaml(path: Path) -> None:
    documents = [document for document in yaml.safe_load_all(path.read_text()) if document is not None]
    assert documents, f"{path.name} holds no document"
    assert all(isinstance(document, dict) and "kind" in document for document in documents)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_every_release_passes_lint(path: Path) -> None:
    problems, _ = lint_text(path.read_text(), path.name)
    assert problems == []


def test_lint_sees_both_releases() -> None:
    counted = {path.name: lint_text(path.read_text(), path.name)[1] for path in MANIFESTS}
    assert {name: releases for name, releases in counted.items() if releases} == {
        "checkout-v2.yaml": 1,
        "checkout-v3.yaml": 1,
    }
