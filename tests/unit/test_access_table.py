"""The generated least-privilege table (tests/integration/access_checks.py), without a server: which rows a set of
grants makes allowed and which refused, so the integration test checks what it claims to."""

from __future__ import annotations

from tests.integration.access_checks import ABSENT, CATALOG, UNLISTED, VERBS, Row, access_table, uncatalogued


def _rows(rows: list[Row], resource: str, namespace: str | None = "team-a") -> dict[tuple[str, str], bool]:
    return {(row.verb, row.name): row.allowed for row in rows if (row.resource, row.namespace) == (resource, namespace)}


def test_a_grant_for_every_name_allows_the_verb_on_any_object_and_nothing_else() -> None:
    rows = access_table({"*": {("networking.istio.io", "virtualservices", "get", "")}}, ["team-a"])
    table = _rows(rows, "virtualservices")
    assert table[("get", ABSENT)] is True
    assert [key for key, allowed in table.items() if allowed] == [("get", ABSENT)]
    assert len(table) == len(VERBS), "each verb once"


def test_a_grant_by_name_allows_that_name_and_refuses_another_and_every_listing() -> None:
    rows = access_table({"team-a": {("", "secrets", "get", "hook-token")}}, ["team-a", "team-b"])
    assert _rows(rows, "secrets")[("get", "hook-token")] is True
    assert _rows(rows, "secrets")[("get", UNLISTED)] is False
    assert _rows(rows, "secrets")[("list", "")] is False
    assert _rows(rows, "secrets")[("watch", "")] is False
    assert not any(_rows(rows, "secrets", "team-b").values()), "a namespace's Role reaches no other namespace"


def test_cluster_scoped_kinds_are_checked_once_at_cluster_scope_and_subresources_with_their_verbs() -> None:
    rows = access_table({"*": {("apps", "deployments/scale", "patch", "")}}, ["team-a"])
    assert {row.namespace for row in rows if row.resource == "namespaces"} == {None}
    scale = _rows(rows, "deployments/scale")
    assert scale == {("get", UNLISTED): False, ("update", UNLISTED): False, ("patch", ABSENT): True}
    assert {row.verb for row in rows if row.kind is None} == {"impersonate"}
    assert not any(row.allowed for row in rows if row.kind is None)


def test_a_granted_kind_missing_from_the_catalog_is_named() -> None:
    assert uncatalogued({"*": {("batch", "jobs", "create", "")}}) == {("batch", "jobs")}
    assert uncatalogued({"*": {("apps", "deployments/scale", "patch", "")}}) == set()
    assert len({(kind.group, kind.resource) for kind in CATALOG}) == len(CATALOG)
