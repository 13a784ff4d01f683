"""The repository stands alone: no tracked file points at a folder beside it, which a clone would not have."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = "../" + "shared"  # spelt in two parts so that this file does not match itself


def _tracked() -> list[Path]:
    # the tests run from a clone (CI's fresh one included): without git there is nothing to prove this with
    assert shutil.which("git") is not None, "git is needed to list the tracked files"
    assert (REPO / ".git").exists(), f"{REPO} is not a git checkout"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / name for name in listed.decode().split("\0") if name]


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for path in _tracked()
        if path.is_file() and not path.is_symlink() and OUTSIDE.encode() in path.read_bytes()
    ]
    assert not offenders, f"these files refer to {OUTSIDE}, outside the repository: {offenders}"


def test_the_contributor_guide_is_linked_from_the_readme() -> None:
    assert (REPO / "CONTRIBUTING.md").is_file()
    assert "(CONTRIBUTING.md)" in (REPO / "README.md").read_text(encoding="utf-8")
