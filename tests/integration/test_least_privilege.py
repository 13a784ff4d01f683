"""Least privilege, asked of the real API server: the chart installed in its cluster-wide and its namespaced mode,
its ServiceAccount may do exactly what `graygate.kube` and Kopf need (`tests.kube_access`) and is refused
everything else.

For each mode the RBAC objects the install created must grant exactly the table derived from the code's needs;
then every row of a generated table (each verb on each kind the operator touches and on kinds it never touches,
in the namespaces it works in and those it must not reach, at cluster scope, names outside a by-name grant,
impersonation) is put to the API server's authorizer (a SubjectAccessReview) and made as a real request with the
ServiceAccount's token (writes as `dryRun=All`). Both answers must be the table's. Finally the real operator,
logged in with that token (namespaced mode) and with every filesystem write recorded, completes a release.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kubernetes import client

from graygate.sandbox import ControlPlane
from graygate.sandbox.kubeconfig import write_kubeconfig
from tests.cluster_support import (
    ISTIO,
    RELEASES,
    canary_release,
    create_destination_rule,
    eventually,
    release,
    virtual_service,
    weights,
)
from tests.integration.access_checks import (
    ABSENT,
    UNLISTED,
    Caller,
    Row,
    access_table,
    chart_grants,
    judge,
    uncatalogued,
)
from tests.integration.chart_install import SCANNED_CONFIG_MAPS, SCANNED_SECRETS, Installed
from tests.integration.traced_operator import TracedOperator
from tests.kube_access import (
    CLUSTER_OPERATOR,
    COPIES,
    KOPF_CRDS,
    KOPF_EVERYWHERE,
    KOPF_NAMESPACES,
    Grant,
    Need,
    operator_grants,
)


def _any_name(needs: set[Need]) -> set[Grant]:
    return {(*need, "") for need in needs}


def cluster_wide_needs() -> dict[str, set[Grant]]:
    values = {"secretNames": ["gate-credentials"], "configMapNames": ["prometheus-ca"]}
    given = {"secretNames", "configMapNames", COPIES}
    return {"*": operator_grants(values, given) | _any_name(KOPF_EVERYWHERE | KOPF_CRDS)}


def namespaced_needs(watched: tuple[str, ...]) -> dict[str, set[Grant]]:
    values = {"secretNames": list(SCANNED_SECRETS), "configMapNames": list(SCANNED_CONFIG_MAPS)}
    in_each = operator_grants(values, {"secretNames", "configMapNames"}, cluster=False) | _any_name(KOPF_EVERYWHERE)
    return {"*": _any_name(KOPF_CRDS | KOPF_NAMESPACES | CLUSTER_OPERATOR)} | {name: in_each for name in watched}


def _caller(sandbox: ControlPlane, installed: Installed) -> Caller:
    return Caller(sandbox.server, sandbox.workdir / "pki" / "ca.crt", installed.token)


def _check(api: client.ApiClient, caller: Caller, installed: Installed, rows: list[Row]) -> list[str]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = pool.map(lambda row: judge(api, caller, installed.user, installed.groups, row), rows)
        return [verdict for verdict in verdicts if verdict is not None]


def table_text(mode: str, rows: list[Row], places: dict[str | None, str]) -> str:
    """One line per place and resource: the verbs allowed (with the names a grant is limited to) and refused."""
    cells: dict[tuple[str, str], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for row in rows:
        name, _, sub = row.resource.partition("/")
        resource = (f"{name}.{row.group}" if row.group else name) + (f"/{sub}" if sub else "")
        place = "cluster" if row.verb == "impersonate" else places[row.namespace]
        allowed, refused = cells[(place, resource)]
        named = row.name and row.name not in (ABSENT, UNLISTED) and row.verb != "impersonate"
        word = f"{row.verb}({row.name})" if named else row.verb
        (allowed if row.allowed else refused).append(word)
    lines = [f"| {mode} | where | resource | allowed | refused |", "|---|---|---|---|---|"]
    for (place, resource), (allowed, refused) in sorted(cells.items()):
        lines.append(f"| | {place} | {resource} | {' '.join(allowed) or '—'} | {' '.join(refused)} |")
    counts = f"{sum(r.allowed for r in rows)} allowed and {sum(not r.allowed for r in rows)} refused rows"
    return "\n".join(lines) + f"\n\n{mode}: {counts}, each by SubjectAccessReview and by a real request"


def _show(request: pytest.FixtureRequest, text: str) -> None:
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{text}")


def test_cluster_wide_allows_exactly_what_graygate_needs(
    request: pytest.FixtureRequest, sandbox: ControlPlane, api: client.ApiClient, cluster_wide: Installed,
    namespace: str,
) -> None:  # fmt: skip
    needs = cluster_wide_needs()
    assert chart_grants(api, cluster_wide.user) == needs, "the installed RBAC is the table derived from the code"
    assert not uncatalogued(needs), "every kind the operator touches is in the generated table"
    rows = access_table(needs, [namespace, cluster_wide.namespace])
    assert sum(row.allowed for row in rows) > 30
    assert sum(not row.allowed for row in rows) > 200
    assert _check(api, _caller(sandbox, cluster_wide), cluster_wide, rows) == []
    places = {namespace: "a namespace", cluster_wide.namespace: "its own namespace", None: "cluster"}
    _show(request, table_text("cluster-wide", rows, places))


def test_namespaced_allows_exactly_what_graygate_needs_where_it_watches(
    request: pytest.FixtureRequest, sandbox: ControlPlane, api: client.ApiClient, namespaced: Installed
) -> None:
    needs = namespaced_needs(namespaced.watched)
    assert chart_grants(api, namespaced.user) == needs, "the installed RBAC is the table derived from the code"
    assert not uncatalogued(needs)
    watched, (home, other) = namespaced.watched[0], namespaced.elsewhere
    rows = access_table(needs, [watched, home, other])
    assert not [row for row in rows if row.allowed and row.namespace in (home, other)], "nothing outside watched"
    assert _check(api, _caller(sandbox, namespaced), namespaced, rows) == []
    places = {watched: "a watched namespace", home: "its own namespace", other: "an unwatched namespace"}
    places[None] = "cluster"
    _show(request, table_text("namespaced", rows, places))


def test_the_operator_completes_a_release_under_the_charts_rbac_on_a_read_only_root(
    request: pytest.FixtureRequest, sandbox: ControlPlane, api: client.ApiClient, namespaced: Installed,
    tmp_path: Path,
) -> None:  # fmt: skip
    """The real operator, logged in with the chart's ServiceAccount token (namespaced mode, not the admin token),
    drives a release in a namespace it watches to the end, and writes nothing outside its scratch directory."""
    watched = namespaced.watched[0]
    kubeconfig = tmp_path / "operator.kubeconfig"
    write_kubeconfig(kubeconfig, sandbox.server, sandbox.workdir / "pki" / "ca.crt", namespaced.token, "graygate")
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(**ISTIO, namespace=watched, body=virtual_service("checkout"))
    create_destination_rule(api, watched)
    body = canary_release("checkout", [{"setWeight": 25}, {"pause": {"duration": "1s"}}], analysis=None)
    custom.create_namespaced_custom_object(**RELEASES, namespace=watched, body=body)
    operator = TracedOperator(
        kubeconfig, watched, tmp_path / "operator.log", scratch=tmp_path / "scratch", trace_path=tmp_path / "trace"
    )
    operator.start()
    try:
        done = eventually(
            lambda: (r := release(api, watched, "checkout")).get("status", {}).get("phase") == "Succeeded" and r,
            45,
            "the release to succeed under the chart's RBAC",
        )
        # The status (the intent) is written before the routes: the operator runs until the last weights too.
        eventually(lambda: weights(api, watched, "checkout") == (0, 100), 10, "the final weights")
    except AssertionError as error:
        raise AssertionError(f"{error}\noperator log:\n{operator.log()[-4000:]}") from None
    finally:
        operator.stop()
    assert [e["reason"] for e in done["status"]["history"]][-1] == "Succeeded"
    assert "Forbidden" not in operator.log(), "the chart's RBAC must grant every verb the operator uses"
    assert len(operator.trace_path.read_text().splitlines()) > 100, "strace recorded the operator's file calls"
    assert operator.writes_outside() == [], "a read-only root filesystem would refuse these"
    _show(request, f"the operator's filesystem writes: {len(operator.writes())}, all in its scratch directory")
