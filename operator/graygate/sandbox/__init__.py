"""The sandbox: a real kube-apiserver backed by a real etcd on 127.0.0.1, for tests, demos and `make run`.

It exists because graygate's behaviour is only worth claiming against a real API server; nothing here is a mock.
"""

from graygate.sandbox.controlplane import ControlPlane, ControlPlaneSettings
from graygate.sandbox.kwok_stages import HOLD_NOT_READY_LABEL, READY_AFTER_ANNOTATION
from graygate.sandbox.toolchain import Toolchain, ToolchainMissingError

__all__ = [
    "HOLD_NOT_READY_LABEL",
    "READY_AFTER_ANNOTATION",
    "ControlPlane",
    "ControlPlaneSettings",
    "Toolchain",
    "ToolchainMissingError",
]
