"""The lab's Istio objects when the API server is gone or hangs: every call fails as a LabError, in bounded time, so the
lab's exit (which removes them best effort) neither hangs nor loses the error that ended the test."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from e2e.lab import IstioMesh, LabError
from e2e.lab._process import free_port
from e2e.lab.mesh import MeshObjects, workload_entry

pytestmark = pytest.mark.timeout(30)


def _kubeconfig(folder: Path, port: int) -> Path:
    path = folder / "kubeconfig"
    cluster = {"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}
    context = {"name": "gone", "context": {"cluster": "gone", "user": "nobody"}}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "contexts": [context],
        "users": [{"name": "nobody", "user": {}}],
        "current-context": "gone",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers, as a stopped API server would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


async def test_writes_and_deletes_fail_as_lab_errors_when_the_api_server_is_gone(tmp_path: Path) -> None:
    objects = MeshObjects(IstioMesh("127.0.0.1:1", _kubeconfig(tmp_path, free_port())), "ns")
    with pytest.raises(LabError, match="cannot write WorkloadEntry ns/lab-a"):
        await objects.put(workload_entry("lab-a", {"app": "a"}, 8080))
    with pytest.raises(LabError, match="cannot delete WorkloadEntry ns/lab-a"):
        await objects.delete("WorkloadEntry", "lab-a")
    assert objects.names("WorkloadEntry") == set()


async def test_a_call_to_an_api_server_that_never_answers_ends_within_its_timeout(
    tmp_path: Path, silent_port: int
) -> None:
    objects = MeshObjects(IstioMesh("127.0.0.1:1", _kubeconfig(tmp_path, silent_port)), "ns", request_timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(LabError, match="cannot write WorkloadEntry ns/lab-a"):
        await objects.put(workload_entry("lab-a", {"app": "a"}, 8080))
    assert time.monotonic() - started < 5  # a write is not retried; without a timeout it would wait forever
    await objects.remove_all()  # nothing was made: nothing to delete, and the client closes
