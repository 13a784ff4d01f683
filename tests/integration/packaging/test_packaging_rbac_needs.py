"""The chart's RBAC against what the operator's code calls: used but not granted fails, granted but unused fails.

`KUBE_CALLS` is the one declared table: every Kubernetes API call in `graygate.kube`, by the function that makes it,
with the permission it needs and who runs it. It is checked against the code in both directions (a scan of
`operator/graygate/kube/*.py` for calls of the kubernetes client's API methods), so a new call without a row, or a
row whose call is gone, fails here first. Kopf's own calls are in `KOPF`, each with where Kopf 1.45 makes it.
The operator's needs are then the `operator` rows plus Kopf's, and must equal what the chart grants in each mode.
The tables live in `tests.kube_access`, shared with the least-privilege tests against the API server.
"""

from __future__ import annotations

import ast
import inspect
from typing import get_type_hints

import kubernetes.client
import pytest
import yaml
from helm_tools import CHART, REPO, Helm
from test_packaging_rbac import permissions, render

from graygate.ports.release import StatusWriter
from graygate.service import Deps
from tests.kube_access import (
    CLUSTER_OPERATOR,
    COPIES,
    KOPF_CRDS,
    KOPF_EVERYWHERE,
    KOPF_NAMESPACES,
    KUBE_CALLS,
    Need,
    kopf_peering,
    operator_grants,
    operator_needs,
)

KUBE = REPO / "operator" / "graygate" / "kube"


def _api_methods() -> set[str]:
    """The request-making methods of the client's API classes (not helpers such as ApiClient.close)."""
    classes = [getattr(kubernetes.client, name) for name in dir(kubernetes.client) if name.endswith("Api")]
    verbs = ("create_", "read_", "list_", "patch_", "replace_", "delete_", "get_", "connect_")
    return {name for cls in classes if inspect.isclass(cls) for name in vars(cls) if name.startswith(verbs)}


def scanned_calls() -> set[tuple[str, str, str, str]]:
    """Every call of a kubernetes client API method in graygate.kube: (module, function, method, `**target`)."""
    api_methods = _api_methods()
    found: set[tuple[str, str, str, str]] = set()

    def visit(node: ast.AST, module: str, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, module, f"{where}.{child.name}" if where else child.name)
                continue
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr in api_methods:
                targets = [k.value.id for k in child.keywords if k.arg is None and isinstance(k.value, ast.Name)]
                found.add((module, where, child.func.attr, targets[0] if targets else ""))
            visit(child, module, where)

    for path in sorted(KUBE.glob("*.py")):
        visit(ast.parse(path.read_text()), path.stem, "")
    return found


def granted(manifests: list[dict[str, object]], scope: str) -> set[Need]:
    return {(group, resource, verb) for where, group, resource, verb, _ in permissions(manifests) if where == scope}


def test_the_table_lists_every_kube_call_and_nothing_else() -> None:
    scanned, declared = scanned_calls(), set(KUBE_CALLS)
    assert scanned, "the scan found no call: it no longer recognises the client's methods"
    assert not scanned - declared, f"calls in graygate.kube with no row in KUBE_CALLS: {sorted(scanned - declared)}"
    assert not declared - scanned, f"rows in KUBE_CALLS whose call is gone: {sorted(declared - scanned)}"


def test_the_operator_reaches_the_releases_only_through_the_status_writer() -> None:
    """Why KubeReleases' get, list and annotate are `cli` rows: the operator holds KubeReleases as
    Deps.statuses, a StatusWriter, whose one method is patch_status (mypy --strict keeps it so)."""
    assert get_type_hints(Deps)["statuses"] is StatusWriter
    members = {name for name in vars(StatusWriter) if not name.startswith("_")}
    assert members == {"patch_status"}


@pytest.mark.parametrize(
    ("values", "scope", "expected"),
    [
        pytest.param(None, "*", operator_needs(given=set()) | KOPF_EVERYWHERE | KOPF_CRDS, id="defaults"),
        pytest.param(
            "integrations-values.yaml",
            "*",
            operator_needs(given={"secretNames", "configMapNames", COPIES}) | KOPF_EVERYWHERE | KOPF_CRDS,
            id="integrations",
        ),
        pytest.param(
            "ha-values.yaml",
            "*",
            operator_needs(given=set()) | KOPF_EVERYWHERE | KOPF_CRDS | kopf_peering("clusterkopfpeerings"),
            id="ha",
        ),
        pytest.param(
            "namespaced-values.yaml",
            "team-a",
            operator_needs(given={"secretNames", "configMapNames"}, cluster=False) | KOPF_EVERYWHERE,
            id="namespaced-watched",
        ),
        pytest.param(
            "namespaced-values.yaml", "*", KOPF_CRDS | KOPF_NAMESPACES | CLUSTER_OPERATOR, id="namespaced-cluster"
        ),
        pytest.param(
            "ha-namespaced-values.yaml",
            "team-b",
            operator_needs(given=set(), cluster=False) | KOPF_EVERYWHERE | kopf_peering("kopfpeerings"),
            id="ha-namespaced-watched",
        ),
    ],
)
def test_the_chart_grants_exactly_what_the_code_calls(
    helm: Helm, values: str | None, scope: str, expected: set[Need]
) -> None:
    given = granted(render(helm, values), scope)
    assert not expected - given, f"used but not granted: {sorted(expected - given)}"
    assert not given - expected, f"granted but unused: {sorted(given - expected)}"


def test_by_name_grants_are_limited_to_the_values_names(helm: Helm) -> None:
    """Per resource and verb, the names granted are exactly the rows' names (a row without names: every object)."""
    values = yaml.safe_load((CHART / "ci" / "integrations-values.yaml").read_text())
    expected: dict[tuple[str, str], set[str]] = {}
    for _, resource, verb, name in operator_grants(values, {"secretNames", "configMapNames", COPIES}):
        expected.setdefault((resource, verb), set()).add(name)
    rendered: dict[tuple[str, str], set[str]] = {}
    for _, _, resource, verb, name in permissions(render(helm, "integrations-values.yaml")):
        rendered.setdefault((resource, verb), set()).add(name)
    for (resource, verb), names in expected.items():
        assert rendered.get((resource, verb)) == names, f"{verb} {resource}"
    copies = {"gate-credentials-primary", "probe-token-primary"}
    assert expected[("secrets", "get")] == {"gate-credentials", "probe-token", *copies}, "the rows read both"
    assert expected[("secrets", "update")] == copies
