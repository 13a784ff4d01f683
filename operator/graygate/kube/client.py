"""Building API clients and translating the client's exceptions into graygate's error tree, once, here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from graygate.errors import ApiUnavailableError, ConflictError, ForbiddenError, KubeError, NotFoundError

ApiClient = client.ApiClient


def api_client(kubeconfig: Path | None = None) -> client.ApiClient:
    """A client from a kubeconfig file, else the in-cluster ServiceAccount, else the default kubeconfig."""
    # The client's config loaders are untyped; the objects they return are ApiClients.
    loaders = cast(Any, config)
    if kubeconfig is not None:
        return cast(client.ApiClient, loaders.new_client_from_config(config_file=str(kubeconfig)))
    try:
        loaders.load_incluster_config()
        return client.ApiClient()
    except config.ConfigException:
        return cast(client.ApiClient, loaders.new_client_from_config())


def translate(error: ApiException, what: str) -> KubeError:
    status = error.status or 0
    reason = _reason(error)
    if status == 404:
        return NotFoundError(f"{what}: not found")
    if status == 409:
        return ConflictError(f"{what}: {reason}")
    if status in (401, 403):
        return ForbiddenError(f"{what}: forbidden: {reason}")
    if status == 0 or status >= 500 or status == 429:
        return ApiUnavailableError(f"{what}: API server unavailable ({status}): {reason}")
    return KubeError(f"{what}: rejected ({status}): {reason}")


@contextmanager
def kube_errors(what: str) -> Iterator[None]:
    """Re-raises the client's exceptions as graygate's own, with the original chained."""
    try:
        yield
    except ApiException as error:
        raise translate(error, what) from error
    except HTTPError as error:
        raise ApiUnavailableError(f"{what}: API server unreachable: {error}") from error


def _reason(error: ApiException) -> str:
    import json

    try:
        body = json.loads(error.body or "{}")
        return str(body.get("message") or error.reason)
    except ValueError:
        return str(error.reason)


def close_client(api: client.ApiClient) -> None:
    cast(Any, api).close()


def current_namespace(kubeconfig: Path | None = None) -> str:
    """The namespace of the kubeconfig's current context (in a pod: the pod's own), else `default`."""
    in_pod = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    if kubeconfig is None and in_pod.is_file():
        return in_pod.read_text().strip()
    try:
        _, active = cast(Any, config).list_kube_config_contexts(config_file=str(kubeconfig) if kubeconfig else None)
    except (config.ConfigException, OSError):
        return "default"
    namespace: str = (active or {}).get("context", {}).get("namespace") or "default"
    return namespace
