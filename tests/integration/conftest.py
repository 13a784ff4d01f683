"""Fixtures the etcd store's integration test files share: one real etcd per module, and a store connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from graygate.store.etcd.store import EtcdStore
from tests.etcd_server import Etcd, settings


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Etcd]:
    server = Etcd(tmp_path_factory.mktemp("etcd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def store(etcd: Etcd) -> AsyncIterator[EtcdStore]:
    connected = EtcdStore(settings(etcd.endpoint))
    yield connected
    await connected.aclose()
