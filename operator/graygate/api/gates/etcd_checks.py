"""The etcd configuration gates' models: `hotReload` (a change reaches the canary without a restart) and
`etcdConfig` (the canary runs the configuration etcd holds now)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from graygate.api.durations import DurationField
from graygate.api.etcd import EtcdConnection, EtcdKey
from graygate.api.fields import JsonPath, Timeout, Url
from graygate.api.gates.kind import CheckModel
from graygate.api.headers import MAX_HEADERS, Headers

__all__ = ["EtcdConfig", "HotReload"]


class HotReload(CheckModel):
    """Prove that the canary picks up a configuration change without a restart: write a fresh random value (a
    nonce) under `key` in etcd, then ask the canary's config endpoint until it reports that value. It fails when
    the canary has not reported it within `deadline`. The key is written with a lease of `ttl`, so it disappears
    by itself: point it at a key your application reads but ignores (e.g. `/myapp/config/graygate-probe`)."""

    kind: ClassVar[str] = "hotReload"
    bounded_wait: ClassVar[tuple[str, ...]] = ("deadline",)

    etcd: EtcdConnection
    """The etcd the canary reads its configuration from."""

    key: EtcdKey
    """The probe key to write, inside the prefix the canary watches."""

    ttl: Annotated[timedelta, DurationField(minimum="1s")] = timedelta(seconds=60)
    """How long the probe key lives (the lease's time to live, in whole seconds, rounded up)."""

    url: Url
    """The canary's config endpoint, answering JSON, e.g. `http://checkout-canary.shop:8080/config`."""

    json_path: JsonPath
    """Where the endpoint reports the value it read for `key`, e.g. `$.probe`."""

    deadline: Annotated[timedelta, DurationField(minimum="100ms")] = timedelta(seconds=10)
    """How long the canary has to report the new value. Must be shorter than the analysis interval."""

    poll_interval: Annotated[timedelta, DurationField(minimum="50ms")] = timedelta(milliseconds=500)
    """How often the config endpoint is asked until then."""

    headers: Headers = Field(default_factory=dict, json_schema_extra={"maxProperties": MAX_HEADERS})
    """Extra request headers for the config endpoint."""

    def urls(self) -> tuple[str, ...]:
        return (self.url,)


class EtcdConfig(CheckModel):
    """Check that the canary runs with the configuration etcd holds now: the canary reports which configuration
    it loaded (a content hash, or the etcd revision it read at), and the gate compares it with the current state
    of `prefix`. A canary that missed a change, or reads another cluster, fails with both values in the message."""

    kind: ClassVar[str] = "etcdConfig"
    bounded_wait: ClassVar[tuple[str, ...]] = ("timeout",)

    etcd: EtcdConnection
    """The etcd the canary reads its configuration from."""

    prefix: EtcdKey
    """The key prefix holding the configuration, e.g. `/myapp/config/`."""

    compare: Literal["hash", "revision"] = "hash"
    """`hash`: the canary reports `sha256:<hex>` over the sorted `<len>:<key>=<len>:<value>\\n` records of every
    key under the prefix (graygate's content hash; a changed, added or deleted key changes it). `revision`: the
    canary reports the etcd revision it read the prefix at; it passes when no key under the prefix changed after
    that revision (deletions are not seen this way: use `hash` to catch them)."""

    url: Url
    """The canary's config endpoint, answering JSON."""

    json_path: JsonPath
    """Where the endpoint reports the hash or revision, e.g. `$.configHash`."""

    headers: Headers = Field(default_factory=dict, json_schema_extra={"maxProperties": MAX_HEADERS})
    """Extra request headers for the config endpoint."""

    timeout: Timeout = timedelta(seconds=2)
    """How long the config endpoint may take to answer. Must be shorter than the analysis interval."""

    def urls(self) -> tuple[str, ...]:
        return (self.url,)
