"""The CRD's CEL rules fit the API server's cost budgets, as the API server itself measures them: a fresh install of
the CRD draws no warning, and the largest releases the schema allows (every list at its maxItems, every string a
rule reads at its maxLength) are admitted, where a release over the runtime budget would be refused."""

from __future__ import annotations

from kubernetes import client

from tests.spec_fuzz.cel_cost import admit_largest, install_warnings


def test_a_fresh_install_of_the_crd_draws_no_warning(api: client.ApiClient) -> None:
    assert install_warnings(api) == []


def test_the_largest_releases_the_schema_allows_are_admitted(api: client.ApiClient, namespace: str) -> None:
    admissions = admit_largest(api, namespace)
    assert [seen.routing for seen in admissions] == ["Istio", "Gateway API"]
    refused = [(seen.routing, seen.answer) for seen in admissions if not seen.admitted]
    assert not refused, refused
