"""Finds the control-plane binaries that `make toolchain` builds from the Go module proxy.

They cannot be downloaded here, so they live in a cache folder; the sandbox refuses to start with a clear message
(naming the command that builds them) rather than fall back to anything that is not the real thing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from graygate.errors import GraygateError

TOOLS_ENV = "GRAYGATE_TOOLS"
CACHE_RELATIVE = Path(".cache/toolchain")


class ToolchainMissingError(GraygateError):
    """A control-plane binary is not built yet."""


def _default_cache() -> Path | None:
    for folder in [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]:
        candidate = folder / CACHE_RELATIVE
        if (candidate / "bin").is_dir():
            return candidate
    return None


@dataclass(frozen=True)
class Toolchain:
    """Where the sandbox's binaries and the Istio and Gateway API CRD bundles are."""

    bin_dir: Path
    istio_crds: Path
    gateway_api_crds: Path

    @classmethod
    def locate(cls) -> Toolchain:
        explicit = os.environ.get(TOOLS_ENV)
        if explicit:
            bin_dir = Path(explicit)
            cache = bin_dir.parent
        else:
            found = _default_cache()
            if found is None:
                raise ToolchainMissingError(
                    "the sandbox binaries are not built: run `make toolchain` in the graygate checkout "
                    f"(or point {TOOLS_ENV} at a folder holding kube-apiserver and etcd)"
                )
            cache, bin_dir = found, found / "bin"
        return cls(
            bin_dir=bin_dir,
            istio_crds=cache / "istio" / "customresourcedefinitions.gen.yaml",
            gateway_api_crds=cache / "gateway-api" / "standard.yaml",
        )

    def binary(self, name: str) -> Path:
        path = self.bin_dir / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
        on_path = shutil.which(name)
        if on_path and name == "kubectl":
            return Path(on_path)
        raise ToolchainMissingError(f"{name} is not in {self.bin_dir}: run `make toolchain` to build it")

    def istiod_version(self) -> str:
        """The istio.io/istio version `make toolchain` built pilot-discovery from (its build stamp), or "?"."""
        stamp = self.bin_dir / ".pilot-discovery.stamp"
        try:
            return stamp.read_text().split()[0]
        except (OSError, IndexError):
            return "?"
