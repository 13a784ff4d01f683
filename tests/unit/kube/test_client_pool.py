"""The API client's connection pool is as wide as the operator's I/O threads."""

from __future__ import annotations

from kubernetes import client

from graygate.kube.client import widen_pool


def test_the_pool_holds_as_many_connections_as_threads() -> None:
    api = client.ApiClient(client.Configuration())
    assert api.rest_client.pool_manager.connection_pool_kw["maxsize"] != 40
    widened = widen_pool(api, 40)
    assert widened is api
    assert api.rest_client.pool_manager.connection_pool_kw["maxsize"] == 40
