"""Each third-party client is imported by exactly one place in graygate, so swapping or fencing it is one edit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "graygate"

OWNERS: dict[str, str | tuple[str, ...]] = {
    "kubernetes": "graygate.kube",
    "kopf": "graygate.handlers",
    "etcd3": "graygate.store.etcd",
    "prometheus_api_client": "graygate.providers.prometheus",
    "aiohttp": "graygate.http.client",
    "cel": "graygate.api.expressions",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _owned_by(module: str, owner: str | tuple[str, ...]) -> bool:
    owners = (owner,) if isinstance(owner, str) else owner
    return any(module == one or module.startswith(one + ".") for one in owners)


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_only_the_owner_imports_the_library(library: str) -> None:
    owner = OWNERS[library]
    trespassers = [
        _module_name(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if library in _imported_roots(path) and not _owned_by(_module_name(path), owner)
    ]
    assert not trespassers, f"{library} may only be imported under {owner}; also imported by {trespassers}"


def test_the_walker_sees_imports() -> None:
    assert "kubernetes" in _imported_roots(PACKAGE / "kube" / "client.py")
