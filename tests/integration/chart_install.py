"""The Helm chart installed into the sandbox: the real helm and kubectl binaries, and an install's ServiceAccount
with a real token, shared by the chart tests, the least-privilege tables, the secret scan and the Pod Security
check.

Every install's own namespace is labelled `pod-security.kubernetes.io/enforce=restricted`: the API server's
PodSecurity admission judges each pod the chart's Deployment creates, so an install that becomes ready is one whose
pod `restricted` admits.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "graygate"
# image.repository is required (no public image): every rendering and install names one (kwok runs no image).
IMAGE_VALUES = REPO / "tests" / "integration" / "packaging" / "image-values.yaml"
HOME = "graygate-system"
WATCHED = ("team-a", "team-b")  # the namespaces the namespaced ci/ files name
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}

# The Secrets the secret scan plants its token in, which the namespaced install may read by name.
SCANNED_SECRETS = (
    "hook-token",
    "prometheus-bearer",
    "prometheus-basic",
    "etcd-credentials",
    "notification-url",
    "notification-broken",
)
SCANNED_CONFIG_MAPS = ("prometheus-ca",)


@dataclass(frozen=True)
class Tools:
    helm_binary: Path
    kubectl_binary: Path
    kubeconfig: Path

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(self.helm_binary, args, check)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(self.kubectl_binary, args, check)

    def _run(self, binary: Path, args: tuple[str, ...], check: bool) -> subprocess.CompletedProcess[str]:
        argv = [str(binary), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{binary.name} {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result


def install(tools: Tools, release: str, namespace: str, *flags: str) -> None:
    tools.helm(
        "install", release, str(CHART), "--namespace", namespace, "--wait", "--timeout", "120s",
        "--values", str(IMAGE_VALUES), *flags,
    )  # fmt: skip


def uninstall(tools: Tools, release: str, namespace: str) -> None:
    tools.helm("uninstall", release, "--namespace", namespace, "--wait", "--timeout", "120s")


def release_name() -> str:
    return f"gg-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Installed:
    """One install of the chart and who its ServiceAccount is to the API server."""

    release: str
    namespace: str
    service_account: str
    token: str
    user: str
    groups: list[str]
    flags: tuple[str, ...] = ()
    watched: tuple[str, ...] = ()
    """The namespaces of the namespaced mode (empty: cluster-wide)."""
    elsewhere: tuple[str, ...] = field(default=())
    """Namespaces it must not reach (the namespaced mode's own namespace and one it does not watch)."""


def installed(tools: Tools, api: client.ApiClient, namespace: str, *flags: str, **where: tuple[str, ...]) -> Installed:
    release = release_name()
    install(tools, release, namespace, *flags)
    service_account = f"{release}-graygate"
    core = client.CoreV1Api(api)
    token = core.create_namespaced_service_account_token(
        service_account, namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    review = client.AuthenticationV1Api(api).create_token_review({"spec": {"token": token}})
    assert review.status.authenticated
    assert review.status.user.username == f"system:serviceaccount:{namespace}:{service_account}"
    user = review.status.user
    return Installed(release, namespace, service_account, token, user.username, user.groups, flags, **where)


def create_namespaces(api: client.ApiClient, *names: str, labels: dict[str, str] | None = None) -> None:
    core = client.CoreV1Api(api)
    for name in names:
        core.create_namespace({"metadata": {"name": name, "labels": labels or {}}})


def cluster_wide_install(tools: Tools, api: client.ApiClient) -> Iterator[Installed]:
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    create_namespaces(api, namespace, labels=RESTRICTED)
    found = installed(
        tools, api, namespace,
        "--set", "secretNames={gate-credentials}", "--set", "configMapNames={prometheus-ca}",
        "--set", "trackConfig.enabled=true",
    )  # fmt: skip
    yield found
    uninstall(tools, found.release, namespace)
    client.CoreV1Api(api).delete_namespace(namespace)


def namespaced_install(tools: Tools, api: client.ApiClient) -> Iterator[Installed]:
    """Watching two namespaces: one for the least-privilege checks and a release, one for the secret scan."""
    suffix = uuid.uuid4().hex[:8]
    home, watched, scanned, other = (f"t-{role}-{suffix}" for role in ("home", "watched", "scanned", "other"))
    create_namespaces(api, home, labels=RESTRICTED)
    create_namespaces(api, watched, scanned, other)
    found = installed(
        tools, api, home,
        "--set", "scope.clusterWide=false", "--set", f"scope.namespaces={{{watched},{scanned}}}",
        "--set", f"secretNames={{{','.join(SCANNED_SECRETS)}}}",
        "--set", f"configMapNames={{{','.join(SCANNED_CONFIG_MAPS)}}}",
        watched=(watched, scanned), elsewhere=(home, other),
    )  # fmt: skip
    yield found
    uninstall(tools, found.release, home)
    for name in (home, watched, scanned, other):
        client.CoreV1Api(api).delete_namespace(name)
