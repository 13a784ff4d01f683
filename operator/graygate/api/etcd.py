"""Release checks against the configuration a canary reads from etcd: `hotReload` and `etcdConfig`.

Why: many services read their configuration from etcd and pick up changes without a restart. A canary that broke
its watch, or that runs with another configuration than the one in etcd, passes every health check and then
ignores the next incident's config change. These gates ask the canary itself (its config endpoint) and compare
with what etcd holds, so they need no traffic and make good pre-checks.

The connection (`etcd`) is given per gate, so two releases may check two etcd clusters. Certificates and
credentials come from Secrets in the release's namespace, read at every analysis (a rotated certificate is used at
once). The operator needs `get` on those Secrets, and etcd's permission to read the compared prefix and to write
the probe key.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from graygate.api.base import SpecModel
from graygate.api.cel import rules
from graygate.api.fields import Timeout, distinct
from graygate.api.refs import SecretRef

__all__ = ["EtcdAuth", "EtcdConnection", "EtcdKey", "EtcdTls"]

_DATA_KEY = r"^[-._a-zA-Z0-9]+$"

DataKey = Annotated[str, Field(pattern=_DATA_KEY, max_length=253)]
EtcdKey = Annotated[str, Field(min_length=1, max_length=1024)]
_ENDPOINT = r"^(\[[0-9A-Fa-f:.]+\]|[^:\[\]/\s]+):[0-9]{1,5}$"


def _host_port(endpoint: str) -> str:
    if not re.fullmatch(_ENDPOINT, endpoint):
        raise ValueError(f"{endpoint!r} is not host:port (no URL scheme: TLS is set by `tls`)")
    return endpoint


Endpoint = Annotated[str, Field(max_length=261, json_schema_extra={"pattern": _ENDPOINT}), AfterValidator(_host_port)]


class EtcdTls(SpecModel):
    """TLS to etcd: the CA to verify it with and, optionally, a client certificate, all from one Secret (a
    cert-manager Secret has `ca.crt`, `tls.crt` and `tls.key`)."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            ("has(self.certKey) == has(self.keyKey)", "give both certKey and keyKey for a client certificate")
        )
    )

    secret_ref: SecretRef
    """The Secret holding the PEM files."""

    ca_key: DataKey = "ca.crt"
    """The key of the CA bundle in the Secret's data."""

    cert_key: DataKey | None = None
    """The key of the client certificate, for etcd's `--client-cert-auth` (e.g. `tls.crt`)."""

    key_key: DataKey | None = None
    """The key of the client certificate's private key (e.g. `tls.key`)."""

    @model_validator(mode="after")
    def _pair(self) -> EtcdTls:
        if (self.cert_key is None) != (self.key_key is None):
            raise ValueError("give both certKey and keyKey for a client certificate")
        return self


class EtcdAuth(SpecModel):
    """etcd's own user authentication, the user name and password read from one Secret."""

    secret_ref: SecretRef
    """The Secret holding both values."""

    username_key: DataKey = "username"
    """The key of the user name in the Secret's data."""

    password_key: DataKey = "password"
    """The key of the password in the Secret's data."""


class EtcdConnection(SpecModel):
    """How to reach the etcd cluster holding the application's configuration (not Kubernetes' own etcd)."""

    endpoints: Annotated[tuple[Endpoint, ...], distinct] = Field(
        min_length=1, max_length=16, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Members as `host:port` (`[::1]:2379` for IPv6), tried in order; no URL scheme: TLS is set by `tls`."""

    dial_timeout: Timeout = timedelta(seconds=2)
    """How long a member may take to answer before the next is tried."""

    tls: EtcdTls | None = None
    """Connect with TLS; without it, plain gRPC."""

    auth: EtcdAuth | None = None
    """Authenticate as an etcd user."""
