"""Deep YAML: `graygate lint` and `graygate check` of a file nested past what graygate reads say so, with the line,
instead of ending in a RecursionError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from graygate import cli
from graygate.console.check_run import load_release
from graygate.console.lint_source import MAX_DEPTH, read_documents, too_deep
from graygate.errors import GraygateError

HEAD = "apiVersion: graygate.dev/v1alpha1\nkind: CanaryRelease\nmetadata: {name: deep}\nspec:\n"


def flow(depth: int) -> str:
    return HEAD + "  steps: " + "[" * depth + "]" * depth + "\n"


def block(depth: int) -> str:
    return HEAD + "".join("  " * (level + 1) + f"k{level}:\n" for level in range(depth)) + "  " * (depth + 1) + "x: 1\n"


# A block-nested file grows with the square of its depth (its indentation): 600 levels is already 360 KB.
@pytest.mark.parametrize(
    ("shape", "depth"),
    [(shape, depth) for shape in (flow, block) for depth in (MAX_DEPTH - 2, MAX_DEPTH + 1, 600)] + [(flow, 50_000)],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_nesting_is_counted_without_recursion(shape: Callable[[int], str], depth: int) -> None:
    text = shape(depth)
    deep = too_deep(text)
    if depth + 2 <= MAX_DEPTH:
        assert deep is None
        assert not isinstance(read_documents(text), str)
    else:
        assert deep is not None
        assert deep.endswith(f"nested more than {MAX_DEPTH} levels deep; graygate reads at most {MAX_DEPTH}")
        assert read_documents(text) == deep


def test_bug_graygate_lint_of_a_deeply_nested_file_ended_in_recursion_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(flow(50_000))
    code = cli.main(["lint", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "RecursionError" not in out + err
    assert f"{path}:5:" in out + err
    assert f"nested more than {MAX_DEPTH} levels deep" in out + err


def test_graygate_check_of_a_deeply_nested_file_is_refused_by_name() -> None:
    with pytest.raises(GraygateError, match=f"deep.yaml:5:.*nested more than {MAX_DEPTH} levels deep"):
        load_release(flow(50_000), "deep.yaml")
