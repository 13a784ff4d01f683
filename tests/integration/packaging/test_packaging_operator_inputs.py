"""What the chart renders into the pod, fed to the operator's own parser: the rendered args and environment go
through `graygate run`'s argument parser and settings, so a value the chart accepts is one the operator accepts,
and every environment variable the chart sets is one the operator reads (and the reverse)."""

from __future__ import annotations

import argparse
import inspect
import os
import re
from pathlib import Path
from typing import Any

import pytest
from helm_tools import CHART, Helm, Manifest
from test_packaging_chart import container

from graygate import cli
from graygate.domain.url_allowlist import UrlAllowlist
from graygate.store import EtcdSettings

MOUNTS = {
    "GRAYGATE_ETCD_TLS_DIR": "/etc/graygate/etcd",
    "GRAYGATE_PROMETHEUS_CREDENTIALS_DIR": "/etc/graygate/prometheus",
}


def rendered_env(manifests: list[Manifest]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container(manifests)["env"] if "value" in item}


def parse_as_the_pod_would(
    manifests: list[Manifest], monkeypatch: pytest.MonkeyPatch, mounts: dict[str, Path] | None = None
) -> argparse.Namespace:
    """`graygate run` with the container's args and environment; a mounted Secret's path is replaced by a local
    folder standing in for it (the chart's mount path is checked first)."""
    for name in [name for name in os.environ if name.startswith("GRAYGATE_")]:
        monkeypatch.delenv(name)
    for name, value in rendered_env(manifests).items():
        if mounts and name in mounts:
            assert value == MOUNTS[name], f"{name} must point at the chart's mount"
            value = str(mounts[name])
        monkeypatch.setenv(name, value)
    args: list[str] = container(manifests)["args"]
    return cli._parser().parse_args(args)


def test_the_etcd_urls_the_chart_renders_are_endpoints_the_operator_accepts(
    helm: Helm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifests = helm.template("--values", str(CHART / "ci" / "integrations-values.yaml"))
    for name in ("ca.crt", "tls.crt", "tls.key"):
        (tmp_path / name).write_text("pem")
    args = parse_as_the_pod_would(manifests, monkeypatch, {"GRAYGATE_ETCD_TLS_DIR": tmp_path})
    settings = cli._etcd_settings(args.etcd_endpoints, args.etcd_tls_dir)
    assert isinstance(settings, EtcdSettings)
    assert [EtcdSettings.split(e) for e in settings.endpoints] == [
        ("etcd-0.etcd.graygate-system.svc", 2379),
        ("etcd-1.etcd.graygate-system.svc", 2379),
    ]
    assert settings.ca_file == tmp_path / "ca.crt"
    assert settings.cert_file == tmp_path / "tls.crt"


def test_plain_http_etcd_urls_reach_the_operator_without_tls(helm: Helm, monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = helm.template("--set", "etcd.endpoints={http://etcd-0:2379,http://etcd-1:2379}")
    args = parse_as_the_pod_would(manifests, monkeypatch)
    settings = cli._etcd_settings(args.etcd_endpoints, args.etcd_tls_dir)
    assert settings.endpoints == ("http://etcd-0:2379", "http://etcd-1:2379")
    assert settings.ca_file is None


def test_the_allowlist_and_the_credentials_folder_reach_the_operator(
    helm: Helm, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = helm.template("--values", str(CHART / "ci" / "integrations-values.yaml"))
    args = parse_as_the_pod_would(manifests, monkeypatch)
    allowlist = UrlAllowlist.parse(args.probe_url_allowlist)
    assert [entry.text for entry in allowlist.entries] == [
        "http://checkout-canary.shop.svc:8080/",
        "https://payments-canary.pay.svc/",
    ]
    assert allowlist.allows("http://checkout-canary.shop.svc:8080/healthz")
    assert not allowlist.allows("http://checkout-stable.shop.svc:8080/healthz")
    assert args.prometheus_credentials_dir == Path("/etc/graygate/prometheus")
    assert args.prometheus_address == "http://prometheus-operated.monitoring.svc:9090"


def _read_by_run() -> set[str]:
    """The GRAYGATE_* variables the `run` options take their defaults from."""
    return set(re.findall(r"os\.environ\.get\(\"(GRAYGATE_\w+)\"\)", inspect.getsource(cli._parser)))


def test_the_env_names_the_chart_renders_are_exactly_the_ones_the_operator_reads(helm: Helm) -> None:
    rendered: set[str] = set()
    for values in ("integrations-values.yaml", "ha-values.yaml"):
        manifests = helm.template("--values", str(CHART / "ci" / values))
        rendered |= {item["name"] for item in container(manifests)["env"] if item["name"].startswith("GRAYGATE_")}
    # GRAYGATE_PRIORITY is expanded by Kubernetes into --priority=$(GRAYGATE_PRIORITY), never read by graygate.
    assert "GRAYGATE_PRIORITY" in rendered
    read = _read_by_run()
    assert read, "the scan no longer finds the run options' environment defaults"
    assert rendered - {"GRAYGATE_PRIORITY"} == read, (
        f"rendered but ignored: {sorted(rendered - read - {'GRAYGATE_PRIORITY'})}; "
        f"read but never rendered: {sorted(read - rendered)}"
    )


@pytest.mark.parametrize("name", sorted(_read_by_run()))
def test_each_variable_the_operator_reads_changes_a_run_option(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(name, raising=False)
    without: dict[str, Any] = vars(cli._parser().parse_args(["run"]))
    monkeypatch.setenv(name, "http://sentinel.example:1/")
    with_it: dict[str, Any] = vars(cli._parser().parse_args(["run"]))
    assert without != with_it, f"{name} is set but no run option took it"
