"""The command lines of the sandbox's Kubernetes processes (kube-apiserver with its optional audit log,
kube-controller-manager, kube-scheduler, kwok): which flags each gets and why, apart from starting and stopping them
(`controlplane.py`). Everything listens on 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graygate.kube import sandbox_setup
from graygate.sandbox.pki import SandboxPki

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: None
    resources:
      - group: ""
        resources: ["pods", "pods/status", "nodes", "nodes/status"]
      - group: "coordination.k8s.io"
        resources: ["leases"]
      - group: "apps"
        resources: ["replicasets", "replicasets/status"]
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
  - level: Metadata
"""
"""One event per finished request at `Metadata` level (with its user agent); the fake workloads' noise left out."""


@dataclass(frozen=True)
class AuditLog:
    policy: Path
    """Where the policy file is written."""
    log: Path
    """Where the API server writes the log (JSON lines)."""


def audit_arguments(audit: AuditLog) -> list[str]:
    """kube-apiserver's flags for `audit`; writes its policy file."""
    audit.policy.write_text(AUDIT_POLICY)
    return [
        f"--audit-policy-file={audit.policy}",
        f"--audit-log-path={audit.log}",
        "--audit-log-format=json",
        # blocking: every request is in the log once it is answered, so a bench reads all of them after a stop
        "--audit-log-mode=blocking",
        "--audit-log-maxsize=0",
    ]


def apiserver(
    *, etcd_url: str, port: int, workdir: Path, pki: SandboxPki, tokens: Path, audit: AuditLog | None
) -> list[str]:  # fmt: skip
    return [
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={workdir / 'certs'}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        f"--token-auth-file={tokens}",
        "--authorization-mode=RBAC",
        # On by default; named so that a namespace's pod-security.kubernetes.io labels are enforced here whatever a
        # later release's defaults are.
        "--enable-admission-plugins=PodSecurity",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.service_account_pub}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        "--profiling=false",
        "--enable-priority-and-fairness=false",
        *(audit_arguments(audit) if audit is not None else []),
    ]


def controller_manager(
    kubeconfig: Path, pki: SandboxPki, qps: int | None, *, endpoint_slices: bool = True
) -> list[str]:
    """`qps`: its `--kube-api-qps` (burst twice that), for benches creating thousands of Deployments;
    `endpoint_slices`: see `ControlPlaneSettings.endpoint_slices`."""
    off = ["nodeipam", "cloud-node-lifecycle", "service-lb-controller", "route"]
    if not endpoint_slices:
        off += ["endpoints-controller", "endpointslice-controller", "endpointslice-mirroring-controller"]
    return [
        f"--kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        "--secure-port=0",
        "--leader-elect=false",
        f"--service-account-private-key-file={pki.service_account_key}",
        f"--root-ca-file={pki.ca_cert}",
        f"--controllers={','.join(['*', *(f'-{name}' for name in off)])}",
        *([f"--kube-api-qps={qps}", f"--kube-api-burst={2 * qps}"] if qps else []),
    ]


def scheduler(kubeconfig: Path, port: int) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        "--leader-elect=false",
    ]


def kwok(kubeconfig: Path, config: Path, port: int) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        f"--config={config}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={sandbox_setup.KWOK_NODE_ANNOTATION}=fake",
        "--node-ip=127.0.0.1",
        # A Lease heartbeat well inside kube-controller-manager's 50 s grace; without it kwok refreshes the node only
        # about every 55 s, the node flaps NotReady and every Deployment loses Available.
        "--node-lease-duration-seconds=40",
        f"--server-address=127.0.0.1:{port}",
    ]
