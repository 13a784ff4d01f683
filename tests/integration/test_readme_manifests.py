"""Every CanaryRelease the documentation shows is one the operator and the API server accept: each ```yaml block of
README.md and docs/*.md holding a CanaryRelease goes through `graygate lint` (the operator's own models) and through
`kubectl apply --dry-run=server` against the sandbox (the generated CRD's schema and CEL rules)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from graygate import cli
from graygate.api import API_VERSION, KIND
from graygate.sandbox import ControlPlane
from graygate.sandbox.toolchain import Toolchain, ToolchainMissingError

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))
_YAML_BLOCK = re.compile(r"```yaml\n(?P<body>.*?)```", re.DOTALL)


@dataclass(frozen=True)
class Shown:
    where: str
    text: str
    document: dict[str, Any]


def shown_releases() -> list[Shown]:
    found = []
    for path in DOCUMENTS:
        text = path.read_text()
        for match in _YAML_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start("body")) + 1
            for document in yaml.safe_load_all(match["body"]):
                if isinstance(document, dict) and document.get("kind") == KIND:
                    found.append(Shown(f"{path.relative_to(REPO)}:{line}", match["body"], document))
    return found


SHOWN = shown_releases()


def test_the_readme_shows_a_release() -> None:
    assert any(shown.where.startswith("README.md:") for shown in SHOWN), "the extraction lost the README's release"
    assert all(shown.document.get("apiVersion") == API_VERSION for shown in SHOWN)


@pytest.mark.parametrize("shown", SHOWN, ids=[shown.where for shown in SHOWN])
def test_graygate_lint_accepts_it(shown: Shown, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "release.yaml"
    manifest.write_text(shown.text)
    code = cli.main(["lint", str(manifest)])
    output = capsys.readouterr()
    assert code == 0, output.out + output.err
    # a block may hold the gate templates its release uses, which lint counts apart
    summary = re.search(
        r"^lint: 1 CanaryRelease\(s\), (?:\d+ gate template\(s\), )?0 problem\(s\), 0 warning\(s\)$",
        output.out,
        re.MULTILINE,
    )
    assert summary is not None, output.out


@pytest.mark.parametrize("shown", SHOWN, ids=[shown.where for shown in SHOWN])
def test_the_api_server_accepts_it(shown: Shown, sandbox: ControlPlane, namespace: str, tmp_path: Path) -> None:
    # Only the namespace is the test's own (the documented one does not exist in the sandbox); the rest is verbatim.
    document = {**shown.document, "metadata": {**shown.document["metadata"], "namespace": namespace}}
    manifest = tmp_path / "release.yaml"
    manifest.write_text(yaml.safe_dump(document))
    try:
        kubectl = Toolchain.locate().binary("kubectl")
    except ToolchainMissingError as error:
        pytest.fail(f"kubectl is missing: run `make toolchain` ({error})", pytrace=False)
    argv = [str(kubectl), f"--kubeconfig={sandbox.kubeconfig}", "apply", "--dry-run=server", "-f", str(manifest)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{shown.where}: {result.stderr}"
    assert "created (server dry run)" in result.stdout
