"""Running the real `helm` binary on the chart: the one `make toolchain` builds, never a stand-in.

Why a real binary: the chart's behaviour (schema checks, `.Capabilities`, `--include-crds`, lint rules) is Helm's,
so only Helm can say what the chart renders. The tests fail, never skip, when it is missing, naming the command
that builds it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from graygate.sandbox.toolchain import Toolchain, ToolchainMissingError

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "graygate"
CI_VALUES = tuple(sorted((CHART / "ci").glob("*-values.yaml")))
RELEASE_NAMESPACE = "graygate-system"
KUBE_VERSION = "1.35.4"  # the sandbox's kube-apiserver
# image.repository is required; renderings pass this file first (a later --values or --set wins).
IMAGE_VALUES = Path(__file__).with_name("image-values.yaml")
TEST_REPOSITORY = "registry.example.com/platform/graygate"

Manifest = dict[str, Any]


class HelmMissingError(RuntimeError):
    """The helm binary is not built yet."""


def helm_binary() -> Path:
    try:
        return Toolchain.locate().binary("helm")
    except ToolchainMissingError as error:
        raise HelmMissingError(f"helm is not built: run `make toolchain` ({error})") from error


def values_flags(values_file: Path | None) -> list[str]:
    """The flags for one ci/ values file; a file asking for templated CRDs renders with --skip-crds, as documented."""
    if values_file is None:
        return []
    flags = ["--values", str(values_file)]
    values = yaml.safe_load(values_file.read_text()) or {}
    if (values.get("crds") or {}).get("templated"):
        flags.append("--skip-crds")
    return flags


@dataclass(frozen=True)
class Helm:
    binary: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.binary), *args], capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def template_text(self, *flags: str, release: str = "graygate", crds: bool = True) -> str:
        args = ["template", release, str(CHART), "--namespace", RELEASE_NAMESPACE, "--kube-version", KUBE_VERSION]
        args += ["--values", str(IMAGE_VALUES)]
        if crds and "--skip-crds" not in flags:
            args.append("--include-crds")
        return self.run(*args, *flags).stdout

    def template(self, *flags: str, release: str = "graygate", crds: bool = True) -> list[Manifest]:
        text = self.template_text(*flags, release=release, crds=crds)
        return [document for document in yaml.safe_load_all(text) if document]


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def one(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]
