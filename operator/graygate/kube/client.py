"""Building API clients and translating the client's exceptions into graygate's error tree, once, here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client, config
from kubernetes.client import rest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from graygate.errors import (
    ApiUnavailableError,
    ConflictError,
    ForbiddenError,
    KubeError,
    NotFoundError,
    RejectedError,
)

ApiClient = client.ApiClient


NO_CLUSTER_HINT = (
    "set KUBECONFIG (or pass --kubeconfig) to your cluster's kubeconfig, or start a local one with "
    '`graygate sandbox up --detach` and `eval "$(graygate sandbox env)"`'
)


def api_client(kubeconfig: Path | None = None, context: str | None = None) -> client.ApiClient:
    """A client from a kubeconfig file, else the in-cluster ServiceAccount, else the default kubeconfig; `context`
    names the kubeconfig's context to use (never the in-cluster account), instead of its current-context.

    Raises KubeError, saying what to do, when there is no usable kubeconfig or no such context.
    """
    # The client's config loaders are untyped; the objects they return are ApiClients.
    loaders = cast(Any, config)
    if kubeconfig is not None and not kubeconfig.is_file():
        raise KubeError(f"no kubeconfig at {kubeconfig}: {NO_CLUSTER_HINT}")
    try:
        if kubeconfig is not None or context is not None:
            where = str(kubeconfig) if kubeconfig is not None else None
            return cast(client.ApiClient, loaders.new_client_from_config(config_file=where, context=context))
        try:
            loaders.load_incluster_config()
            return client.ApiClient()
        except config.ConfigException:
            return cast(client.ApiClient, loaders.new_client_from_config())
    except (config.ConfigException, yaml.YAMLError, OSError) as error:
        raise _kubeconfig_error(kubeconfig, error) from error


def widen_pool(api: client.ApiClient, size: int) -> client.ApiClient:
    """`api` with room for `size` connections at once: the client's pool (cores x 5 by default) would otherwise
    drop and reopen connections when more threads than that call the API server together."""
    api.configuration.connection_pool_maxsize = size
    api.rest_client = rest.RESTClientObject(api.configuration)
    return api


def _kubeconfig_error(kubeconfig: Path | None, error: Exception) -> KubeError:
    # The loader reads $KUBECONFIG once, when it is imported; name the file it really looked at.
    where = str(kubeconfig) if kubeconfig else str(getattr(config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", ""))
    detail = " ".join(str(error).split())
    if isinstance(error, config.ConfigException) and "No configuration found" in detail:
        return KubeError(f"no kubeconfig found ({where or '~/.kube/config'} is missing or empty): {NO_CLUSTER_HINT}")
    return KubeError(f"the kubeconfig {where} cannot be used ({detail}): fix it, or {NO_CLUSTER_HINT}")


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
    if status in (400, 422):
        return RejectedError(f"{what}: rejected ({status}): {reason}", message=reason)
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


def current_namespace(kubeconfig: Path | None = None, context: str | None = None) -> str:
    """The namespace of the kubeconfig's current context, or of `context` (in a pod: the pod's own), else
    `default`."""
    in_pod = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    if kubeconfig is None and context is None and in_pod.is_file():
        return in_pod.read_text().strip()
    try:
        contexts, active = cast(Any, config).list_kube_config_contexts(
            config_file=str(kubeconfig) if kubeconfig else None
        )
    except (config.ConfigException, OSError):
        return "default"
    if context is not None:
        active = next((item for item in contexts or () if item.get("name") == context), None)
    namespace: str = (active or {}).get("context", {}).get("namespace") or "default"
    return namespace
