"""A real etcd member for tests: the config store's integration tests, the guarded apply's, and the e2e lab's
application etcd all start it the same way (the toolchain's binary, free ports on 127.0.0.1, no fsync)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graygate.sandbox.pki import SandboxPki
from graygate.sandbox.processes import ManagedProcess, free_port
from graygate.sandbox.toolchain import Toolchain
from graygate.store import EtcdError, EtcdSettings
from graygate.store.etcd.store import EtcdStore

__all__ = ["Etcd", "settings"]


class Etcd:
    """One etcd member on free ports with its own data folder; restartable on the same ports and data. With `pki`
    it serves clients over TLS with the sandbox's serving certificate for 127.0.0.1."""

    def __init__(self, workdir: Path, pki: SandboxPki | None = None) -> None:
        self.workdir = workdir
        self.pki = pki
        self.client_port, self.peer_port = free_port(), free_port()
        self.endpoint = f"127.0.0.1:{self.client_port}"
        self.process: ManagedProcess | None = None

    def settings(self, **extra: Any) -> EtcdSettings:
        tls = {"ca_file": self.pki.ca_cert} if self.pki else {}
        return EtcdSettings(endpoints=(self.endpoint,), dial_timeout_s=0.5, request_timeout_s=2.0, **tls, **extra)

    def start(self) -> None:
        scheme = "https" if self.pki else "http"
        client, peer = f"{scheme}://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{self.peer_port}"
        tls = [f"--cert-file={self.pki.serving_cert}", f"--key-file={self.pki.serving_key}"] if self.pki else []
        argv = [
            str(Toolchain.locate().binary("etcd")),
            "--name=store-test",
            f"--data-dir={self.workdir / 'data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=store-test={peer}",
            "--unsafe-no-fsync",
            "--log-level=warn",
            *tls,
        ]
        self.process = ManagedProcess("etcd", argv, self.workdir / "etcd.log")
        self.process.start()
        probe = EtcdStore(self.settings())
        try:
            self.process.wait_until(lambda: _answers(probe), 20, "serving")
        except BaseException:
            # A fixture whose setup raises never reaches its teardown: an etcd that did not come up is stopped here.
            self.stop(grace_s=1.0)
            raise

    def stop(self, grace_s: float = 5.0) -> None:
        if self.process is not None:
            self.process.stop(grace_s=grace_s)
            self.process = None


def _answers(store: EtcdStore) -> bool:
    try:
        client, _ = store.dial()
    except EtcdError:
        return False
    client.close()
    return True


def settings(*endpoints: str) -> EtcdSettings:
    return EtcdSettings(endpoints=endpoints, dial_timeout_s=0.5, request_timeout_s=2.0)
