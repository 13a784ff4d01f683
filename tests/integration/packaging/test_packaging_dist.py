"""The Python package as a user gets it: `python -m build` makes an sdist and a wheel (the wheel built from the
sdist, as a release builds it), the wheel installs into a fresh virtual environment with its dependencies from the
configured index, and both entry points answer `--version`. A wheel built straight from the tree holds the same
files, so the sdist carries everything the wheel needs (py.typed, package data).

The build runs on a copy of what `pip install .` reads (pyproject.toml, README.md, operator/), so it writes no
build/ or egg-info into the working tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from helm_tools import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
VERSION = PYPROJECT["version"]
BUILD_TIMEOUT = 240  # an isolated build fetches setuptools; seconds
INSTALL_TIMEOUT = 420  # the wheel's dependencies from the index, into an empty environment


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheel: Path


def _run(argv: list[str], timeout: int, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
    assert done.returncode == 0, f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr}"
    return done


def _source_copy(where: Path) -> Path:
    source = where / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        REPO / "operator", source / "operator", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    )
    return source


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _source_copy(tmp_path_factory.mktemp("package"))


@pytest.fixture(scope="module")
def dist(source: Path) -> Dist:
    out = source.parent / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], BUILD_TIMEOUT)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dist(sdist, wheel)


def test_build_makes_an_sdist_and_a_wheel_of_the_pyproject_version(dist: Dist) -> None:
    assert dist.sdist.name == f"graygate-{VERSION}.tar.gz"
    assert dist.wheel.name == f"graygate-{VERSION}-py3-none-any.whl"


def _package_files(names: list[str], prefix: str) -> set[str]:
    return {name[len(prefix) :] for name in names if name.startswith(prefix) and not name.endswith("/")}


def test_the_wheel_holds_every_file_of_the_package_and_its_entry_points(dist: Dist) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "operator/graygate"], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    expected = {name.removeprefix("operator/") for name in tracked}
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = wheel.namelist()
        entry_points = wheel.read(f"graygate-{VERSION}.dist-info/entry_points.txt").decode()
    missing = expected - set(names)
    assert not missing, f"the wheel lacks {sorted(missing)}: list them in [tool.setuptools.package-data]"
    assert "graygate/py.typed" in names
    assert "graygate = graygate.cli:main" in entry_points
    assert "kubectl-graygate = graygate.cli:main" in entry_points


def test_the_sdist_builds_the_same_wheel_as_the_tree(dist: Dist, source: Path) -> None:
    direct = source.parent / "direct"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(direct), str(source)], BUILD_TIMEOUT)
    (tree_wheel,) = direct.glob("*.whl")
    with zipfile.ZipFile(dist.wheel) as from_sdist, zipfile.ZipFile(tree_wheel) as from_tree:
        assert sorted(from_sdist.namelist()) == sorted(from_tree.namelist())
        for name in from_tree.namelist():
            assert from_sdist.read(name) == from_tree.read(name), f"{name} differs between the two wheels"
    with tarfile.open(dist.sdist) as sdist:
        members = _package_files(sdist.getnames(), f"graygate-{VERSION}/operator/")
    assert "graygate/py.typed" in members


def test_the_wheel_installs_in_a_fresh_virtualenv_and_both_commands_print_the_version(
    dist: Dist, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], 120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, str(dist.wheel)], INSTALL_TIMEOUT)
    expected = f"graygate {VERSION} (API graygate.dev/v1alpha1)"
    for command in ("graygate", "kubectl-graygate"):
        done = _run([str(venv / "bin" / command), "--version"], 60, cwd=tmp_path)
        assert done.stdout.strip() == expected, (command, done.stdout, done.stderr)
    # Installed, not picked up from the tree: the package lives in the new environment.
    where = _run([str(venv / "bin" / "python"), "-c", "import graygate; print(graygate.__file__)"], 60, cwd=tmp_path)
    assert where.stdout.strip().startswith(str(venv)), where.stdout
