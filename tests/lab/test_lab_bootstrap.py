"""The lab Envoy's bootstrap, as data: what each mode tells Envoy, with no Envoy running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from e2e.lab.bootstrap import (
    ENTRY_LISTENER,
    AdsSource,
    Upstream,
    ads_bootstrap,
    clusters_file,
    file_bootstrap,
)
from e2e.lab.callers import AccessRecord, parse_access_line
from graygate.sandbox.istiod import ACCESS_LOG_FIELDS, IstiodPorts, mesh_config


def _hcm(bootstrap: dict[str, Any]) -> dict[str, Any]:
    (listener,) = bootstrap["static_resources"]["listeners"]
    assert listener["name"] == ENTRY_LISTENER
    assert listener["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 0}
    hcm: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm


def test_the_shims_envoy_logs_the_fields_istiods_mesh_config_asks_for() -> None:
    bootstrap = file_bootstrap(Path("/w/rds/r.json"), Path("/w/cds/c.json"), Path("/w/access.log"), ACCESS_LOG_FIELDS)
    (logger,) = _hcm(bootstrap)["access_log"]
    logged = logger["typed_config"]["log_format"]["json_format"]
    mesh = json.loads(mesh_config(IstiodPorts(xds=1, http=2, webhook=3, monitoring=4)))
    assert logged == json.loads(mesh["accessLogFormat"])
    assert logger["typed_config"]["path"] == "/w/access.log"
    # every field the callers read is among them: a line of exactly these fields fills the whole record
    line = {key: f"<{key}>" for key in logged} | {"response_code": "503", "duration_ms": "3"}
    assert parse_access_line(json.dumps(line)) == AccessRecord(
        503, "<response_flags>", "<upstream_cluster>", "<upstream_host>", 3.0
    )


def test_the_shims_envoy_watches_the_directories_of_its_route_and_cluster_files() -> None:
    bootstrap = file_bootstrap(Path("/w/rds/r.json"), Path("/w/cds/c.json"), Path("/w/access.log"), {})
    rds = _hcm(bootstrap)["rds"]["config_source"]["path_config_source"]
    cds = bootstrap["dynamic_resources"]["cds_config"]["path_config_source"]
    assert (rds, cds) == (
        {"path": "/w/rds/r.json", "watched_directory": {"path": "/w/rds"}},
        {"path": "/w/cds/c.json", "watched_directory": {"path": "/w/cds"}},
    )


def test_a_sidecar_takes_listeners_and_clusters_from_istiod_and_its_entry_calls_the_outbound_listener() -> None:
    ads = AdsSource(Upstream("127.0.0.1", 15010), {"id": "sidecar~10.255.0.2~c-0.ns~ns.svc.cluster.local"}, 4321, "app")
    bootstrap = ads_bootstrap(ads)
    assert bootstrap["node"] == {"id": "sidecar~10.255.0.2~c-0.ns~ns.svc.cluster.local"}
    dynamic = bootstrap["dynamic_resources"]
    assert dynamic["cds_config"] == dynamic["lds_config"] == {"ads": {}, "resource_api_version": "V3"}
    xds, outbound = bootstrap["static_resources"]["clusters"]
    assert dynamic["ads_config"]["grpc_services"] == [{"envoy_grpc": {"cluster_name": xds["name"]}}]
    assert _only_address(xds) == ("127.0.0.1", 15010)
    assert _only_address(outbound) == ("127.0.0.1", 4321)
    (route,) = _hcm(bootstrap)["route_config"]["virtual_hosts"][0]["routes"]
    assert route["route"]["cluster"] == outbound["name"]
    assert route["route"]["host_rewrite_literal"] == "app"
    assert "access_log" not in _hcm(bootstrap)  # the access log of the sidecar is istiod's


def test_a_cluster_without_endpoints_has_an_empty_load_assignment() -> None:
    endpoints = {"stable": (Upstream("127.0.0.1", 1), Upstream("127.0.0.1", 1)), "canary": ()}
    canary, stable = clusters_file("7", endpoints)["resources"]
    assert (canary["name"], canary["load_assignment"]["endpoints"]) == ("canary", [])
    assert len(stable["load_assignment"]["endpoints"][0]["lb_endpoints"]) == 2  # a repeated address: two shares


def _only_address(cluster: dict[str, Any]) -> tuple[str, int]:
    (locality,) = cluster["load_assignment"]["endpoints"]
    (endpoint,) = locality["lb_endpoints"]
    socket = endpoint["endpoint"]["address"]["socket_address"]
    return socket["address"], socket["port_value"]
