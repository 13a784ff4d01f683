"""From a gate's `etcd` spec to a connected config store: Secrets read, PEM files written, connections reused.

Why a module of its own: both etcd gates (`hotReload`, `etcdConfig`) need it, and it holds the only state the
gates keep between analyses. The etcd client reads its CA, certificate and key from files, so the PEM texts read
from Secrets are written to a private temporary folder (mode 0700, files 0600) that lives exactly as long as the
connection using it. Secrets are read at every analysis, like the Prometheus gate's, and a connection is keyed by
everything it was built from (endpoints, timeout, the certificates' and credentials' digests): an unchanged spec
reuses its connection, a rotated certificate gets a new one. At most `max_open` connections are kept; the least
recently used is closed first.

`graygate.ports.ConfigStore` is what the gates (and `config_keys`, a release's config keys) need from etcd,
methods of `graygate.store.etcd.store.EtcdStore`; the factory that builds one is injected so tests give a fake.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from graygate.api.etcd import EtcdConnection
from graygate.errors import GateError, GraygateError
from graygate.ports.config import ConfigStore
from graygate.ports.secrets import SecretReader
from graygate.store import EtcdSettings
from graygate.store.etcd.store import EtcdStore

__all__ = ["EtcdConnector", "EtcdFactory", "etcd_store"]


EtcdFactory = Callable[[EtcdSettings], ConfigStore]
"""Builds a store from settings; it dials lazily, on the first call."""


def etcd_store(settings: EtcdSettings) -> ConfigStore:
    """The default factory: the real etcd adapter."""
    return EtcdStore(settings)


@dataclass
class _Open:
    store: ConfigStore
    folder: Path | None


class EtcdConnector:
    """Hands out config stores for `etcd` specs; `close()` closes them all and removes their files."""

    def __init__(self, factory: EtcdFactory = etcd_store, secrets: SecretReader | None = None, max_open: int = 16):
        self._factory = factory
        self._secrets = secrets
        self._max_open = max_open
        self._open: OrderedDict[str, _Open] = OrderedDict()
        self._lock = asyncio.Lock()

    async def store(self, spec: EtcdConnection, namespace: str | None) -> ConfigStore:
        """A store for `spec`, whose Secrets live in `namespace`; raises `GateError` saying what is missing."""
        files, username, password = await self._credentials(spec, namespace)
        parts = [*spec.endpoints, str(spec.dial_timeout), *files.values(), username or "", password or ""]
        fingerprint = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        async with self._lock:
            if (known := self._open.get(fingerprint)) is not None:
                self._open.move_to_end(fingerprint)
                return known.store
            folder = _write_private(files) if files else None
            try:
                settings = EtcdSettings(
                    endpoints=spec.endpoints,
                    dial_timeout_s=spec.dial_timeout.total_seconds(),
                    ca_file=folder / "ca.crt" if folder and "ca.crt" in files else None,
                    cert_file=folder / "tls.crt" if folder and "tls.crt" in files else None,
                    key_file=folder / "tls.key" if folder and "tls.key" in files else None,
                    username=username,
                    password=password,
                )
                store = self._factory(settings)
            except ValueError as error:
                _remove(folder)
                raise GateError(f"cannot connect to etcd as asked: {error}") from error
            self._open[fingerprint] = _Open(store, folder)
            while len(self._open) > self._max_open:
                _, oldest = self._open.popitem(last=False)
                await _close(oldest)
            return store

    async def close(self) -> None:
        async with self._lock:
            while self._open:
                _, oldest = self._open.popitem(last=False)
                await _close(oldest)

    async def _credentials(
        self, spec: EtcdConnection, namespace: str | None
    ) -> tuple[dict[str, str], str | None, str | None]:
        files: dict[str, str] = {}
        username = password = None
        if spec.tls is not None:
            tls = spec.tls
            files["ca.crt"] = await self._secret(namespace, tls.secret_ref.name, tls.ca_key)
            if tls.cert_key is not None and tls.key_key is not None:
                files["tls.crt"] = await self._secret(namespace, tls.secret_ref.name, tls.cert_key)
                files["tls.key"] = await self._secret(namespace, tls.secret_ref.name, tls.key_key)
        if spec.auth is not None:
            auth = spec.auth
            username = _line(await self._secret(namespace, auth.secret_ref.name, auth.username_key))
            password = _line(await self._secret(namespace, auth.secret_ref.name, auth.password_key))
        return files, username, password

    async def _secret(self, namespace: str | None, name: str, key: str) -> str:
        if self._secrets is None:
            raise GateError("the etcd connection needs a Secret, but no Secret reader is configured")
        if namespace is None:
            raise GateError(f"the operator gave no release namespace to read Secret {name} from")
        try:
            return await self._secrets.secret_value(namespace, name, key)
        except GraygateError as error:
            raise GateError(f"cannot read key {key} of Secret {namespace}/{name}: {error}") from error


def _write_private(files: dict[str, str]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="graygate-etcd-"))  # mode 0700
    for name, text in files.items():
        descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    return folder


async def _close(entry: _Open) -> None:
    try:
        await entry.store.aclose()
    finally:
        _remove(entry.folder)


def _remove(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _line(value: str) -> str:
    """A credential as kubectl's `--from-file` stores it, without the file's final newline."""
    return value.rstrip("\r\n")
