"""The release workflow (.github/workflows/release.yml) cannot run here, so it is checked by actionlint, the pinned
one `make toolchain` builds from the Go module proxy: types of expressions, action inputs, job graph, runner labels.
actionlint also runs shellcheck and pyflakes on `run:` scripts when they are on PATH; the tests turn both off
(`-shellcheck= -pyflakes=`) so the verdict does not depend on what the machine has installed. Then what the issue
asks of a release, read from the file: multi-arch image, chart pushed as an OCI artifact, SBOM, signatures, PyPI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from helm_tools import REPO

from graygate.sandbox.toolchain import Toolchain, ToolchainMissingError

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
RELEASE = REPO / ".github" / "workflows" / "release.yml"
DETERMINISTIC = ("-shellcheck=", "-pyflakes=", "-no-color")


def _pinned_version() -> str:
    versions = (REPO / "e2e" / "toolchain" / "versions.env").read_text()
    match = re.search(r"^ACTIONLINT_VERSION=(\S+)$", versions, re.MULTILINE)
    assert match, "versions.env pins no ACTIONLINT_VERSION"
    return match[1]


@pytest.fixture(scope="module")
def actionlint() -> Path:
    try:
        return Toolchain.locate().binary("actionlint")
    except ToolchainMissingError as error:
        pytest.fail(f"actionlint is not built: run `make toolchain` ({error})", pytrace=False)


def _lint(actionlint: Path, *files: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    argv = [str(actionlint), *DETERMINISTIC, *(str(path) for path in files)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=cwd)


def test_actionlint_is_the_pinned_version(actionlint: Path) -> None:
    version = subprocess.run([str(actionlint), "-version"], capture_output=True, text=True, timeout=30, check=True)
    assert version.stdout.splitlines()[0] == _pinned_version()


def test_every_workflow_passes_actionlint(actionlint: Path) -> None:
    assert RELEASE in WORKFLOWS
    done = _lint(actionlint, *WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_workflow_is_reported(actionlint: Path, tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    needs: missing\n"
        "    steps:\n"
        "      - uses: actions/checkout@v6\n"
        "        with:\n"
        "          fetch-dept: 1\n"
        "      - run: echo ${{ steps.nothing.outputs.x }}\n"
    )
    done = _lint(actionlint, broken, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    for rule in ("[job-needs]", "[action]", "[expression]"):
        assert rule in done.stdout, f"{rule} not reported:\n{done.stdout}"
    assert 'input "fetch-dept" is not defined' in done.stdout


def _workflow() -> dict[str, object]:
    loaded = yaml.safe_load(RELEASE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _steps_text(job: str) -> str:
    jobs = _workflow()["jobs"]
    assert isinstance(jobs, dict)
    return yaml.safe_dump(jobs[job]["steps"], width=1000)


def test_it_runs_on_version_tags_and_tests_before_building() -> None:
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"push"}
    assert triggers["push"]["tags"] == ["v[0-9]+.[0-9]+.[0-9]+"]
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    assert "make test" in _steps_text("test")
    for job in ("dist", "cli", "image", "chart"):
        needs = jobs[job]["needs"]
        assert "test" in ([needs] if isinstance(needs, str) else needs), f"{job} does not wait for the tests"


def test_it_builds_signs_and_publishes_what_a_release_needs() -> None:
    image, chart, release = _steps_text("image"), _steps_text("chart"), _steps_text("release")
    assert "platforms: linux/amd64,linux/arm64" in image
    assert "cosign sign --yes" in image
    assert "anchore/sbom-action@" in image
    assert "cosign attest --yes --type spdxjson" in image
    assert 'helm push "chart/graygate-$VERSION.tgz" "oci://$CHARTS"' in chart
    # The chart requires image.repository: linted without it, the error is only an INFO line.
    assert 'helm lint --strict charts/graygate --set "image.repository=$IMAGE"' in chart
    assert "cosign sign --yes" in chart
    assert "deploy/krew/graygate.yaml.tmpl" in release
    assert "cosign sign-blob --yes" in release
    assert "python -m build" in _steps_text("dist")
    assert "pypa/gh-action-pypi-publish@" in _steps_text("pypi")


def test_every_action_is_pinned_by_version() -> None:
    uses = re.findall(r"uses: (\S+)", RELEASE.read_text())
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+\.\d+)?", action), f"{action} is not pinned by version"
