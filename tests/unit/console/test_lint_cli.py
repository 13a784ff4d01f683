"""`graygate lint` as a pipeline runs it: paths, directories and stdin, the report's lines, and the exit codes."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from graygate import cli
from graygate.console.lint import STOPPED
from graygate.console.lint_cli import read_sources

GOOD = """\
apiVersion: graygate.dev/v1alpha1
kind: CanaryRelease
metadata: {name: checkout}
spec:
  trafficRouting: {istio: {virtualServices: [{name: checkout}]}}
  stable: {host: checkout, subset: stable}
  canary: {host: checkout, subset: canary}
  steps: [{setWeight: 20}, {pause: {}}]
"""
WARNED = GOOD.replace("[{setWeight: 20}, {pause: {}}]", "[{pause: {}}]")
BROKEN = GOOD.replace("setWeight: 20", "setWeight: 120")
SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: checkout}\n"


def lint(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str = "") -> tuple[int, list[str], str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(stdin))
        code = cli.main(["lint", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


@pytest.mark.parametrize(
    ("text", "strict", "expected"),
    [
        (GOOD, False, 0),
        (GOOD, True, 0),
        (WARNED, False, 0),
        (WARNED, True, 2),
        (BROKEN, False, 1),
        (BROKEN, True, 1),
        (BROKEN + "---\n" + WARNED, True, 1),
        (SERVICE, False, 1),
    ],
)
def test_exit_codes(text: str, strict: bool, expected: int, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = lint(["-", *(["--strict"] if strict else [])], capsys, stdin=text)
    assert code == expected


def test_standard_input_is_read_as_kustomize_build_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = lint(["-"], capsys, stdin=SERVICE + "---\n" + BROKEN)
    assert code == 1
    assert out == [
        "<stdin>:12:12: [document 2] spec.steps[0].setWeight: input should be less than or equal to 100 (got 120)",
        f"<stdin>:8:1: [document 2] note: spec: {STOPPED}",
        "lint: 1 CanaryRelease(s), 1 problem(s), 0 warning(s)",
    ]


def test_a_clean_release_prints_only_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "release.yaml").write_text(GOOD)
    assert lint([str(tmp_path / "release.yaml")], capsys) == (
        0,
        ["lint: 1 CanaryRelease(s), 0 problem(s), 0 warning(s)"],
        "",
    )


def test_directories_are_read_recursively_in_order_with_files_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.yml").write_text("z")
    (tmp_path / "b" / "a.yaml").write_text("a")
    (tmp_path / "c.yaml").write_text("c")
    (tmp_path / "notes.txt").write_text("not read")
    (tmp_path / "kustomization.json").write_text("not read")
    single = tmp_path / "single.txt"
    single.write_text("s")
    found = read_sources([str(tmp_path / "b"), str(tmp_path / "c.yaml"), str(single), "-", "-"], io.StringIO("in"))
    assert found == [
        ("a", str(tmp_path / "b" / "a.yaml")),
        ("z", str(tmp_path / "b" / "z.yml")),
        ("c", str(tmp_path / "c.yaml")),
        ("s", str(single)),
        ("in", "<stdin>"),
    ]
    whole = read_sources([str(tmp_path)], io.StringIO(""))
    assert [name for _, name in whole] == [
        str(tmp_path / "b" / "a.yaml"),
        str(tmp_path / "b" / "z.yml"),
        str(tmp_path / "c.yaml"),
    ]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: str(tmp / "missing.yaml"), "no such file or directory"),
        (lambda tmp: str(tmp), "no *.yaml or *.yml file under"),
    ],
)
def test_a_path_that_holds_nothing_is_an_error(
    make: Callable[[Path], str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = lint([make(tmp_path)], capsys)
    assert code == 1
    assert expected in err


def test_the_help_names_stdin_directories_and_strict(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["lint", "--help"])
    out = capsys.readouterr().out
    assert "- (stdin)" in out
    assert "--strict" in out
