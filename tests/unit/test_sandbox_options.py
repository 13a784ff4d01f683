"""The sandbox's command lines: the audit log only when asked for (its policy written), kube-controller-manager's
API rate only when set."""

from __future__ import annotations

from pathlib import Path

import pytest

from graygate.sandbox import options
from graygate.sandbox.pki import SandboxPki


def _pki(tmp_path: Path) -> SandboxPki:
    names = ("ca_cert", "serving_cert", "serving_key", "service_account_key", "service_account_pub")
    return SandboxPki(**{name: tmp_path / name for name in names})  # type: ignore[arg-type]


def test_the_api_server_writes_an_audit_log_only_when_asked(tmp_path: Path) -> None:
    common = {"etcd_url": "http://127.0.0.1:1", "port": 2, "workdir": tmp_path, "pki": _pki(tmp_path)}
    quiet = options.apiserver(**common, tokens=tmp_path / "tokens.csv", audit=None)  # type: ignore[arg-type]
    assert not [flag for flag in quiet if flag.startswith("--audit")]
    audit = options.AuditLog(policy=tmp_path / "policy.yaml", log=tmp_path / "audit.log")
    logged = options.apiserver(**common, tokens=tmp_path / "tokens.csv", audit=audit)  # type: ignore[arg-type]
    assert f"--audit-log-path={tmp_path / 'audit.log'}" in logged
    assert f"--audit-policy-file={tmp_path / 'policy.yaml'}" in logged
    assert "level: Metadata" in (tmp_path / "policy.yaml").read_text()
    assert all("127.0.0.1" in flag for flag in logged if flag.startswith(("--bind-address", "--advertise-address")))


@pytest.mark.parametrize(("qps", "flags"), [(None, []), (0, []), (200, ["--kube-api-qps=200", "--kube-api-burst=400"])])
def test_the_controller_managers_api_rate_only_when_set(tmp_path: Path, qps: int | None, flags: list[str]) -> None:
    made = options.controller_manager(tmp_path / "kubeconfig", _pki(tmp_path), qps)
    assert [flag for flag in made if flag.startswith("--kube-api")] == flags
