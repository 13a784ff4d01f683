"""`graygate lint` on realistic mistaken manifests, compared with what it printed when a person last read it.

Each `*.yaml` file and each folder in `lint_cases/` is linted alone, from inside `lint_cases/` (so the paths
printed are short and stable), and everything printed plus the exit code must equal its `<name>.out` exactly.
After an intended change of the output, regenerate the expectations and read the diff before committing:

    GRAYGATE_UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/unit/console/test_lint_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graygate import cli

CASES = Path(__file__).parent / "lint_cases"
UPDATE = os.environ.get("GRAYGATE_UPDATE_GOLDEN") == "1"


def _cases() -> list[Path]:
    return sorted(path for path in CASES.iterdir() if path.is_dir() or path.suffix in (".yaml", ".yml"))


def _render(case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(CASES)
    code = cli.main(["lint", case.name])
    captured = capsys.readouterr()
    return f"{captured.out}{captured.err}exit {code}\n"


@pytest.mark.parametrize("case", _cases(), ids=lambda case: case.name)
def test_lint_prints_what_the_golden_file_says(
    case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_file = CASES / f"{case.stem if case.is_file() else case.name}.out"
    rendered = _render(case, capsys, monkeypatch)
    if UPDATE:
        expected_file.write_text(rendered)
    assert expected_file.is_file(), f"no {expected_file.name}: run with GRAYGATE_UPDATE_GOLDEN=1 and read it"
    assert rendered == expected_file.read_text()


def test_every_golden_file_has_its_case() -> None:
    names = {case.stem if case.is_file() else case.name for case in _cases()}
    assert {out.stem for out in CASES.glob("*.out")} == names
