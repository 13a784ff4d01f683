"""`graygate lint PATH…`: which files, the report, and the exit code.

A path is a file, a directory (every `*.yaml` and `*.yml` below it, recursively, in sorted order) or `-` for
standard input, so `kustomize build | graygate lint -` works. One problem per line, `file:line:col: path: why`
(`[document N]` in a file of several documents, `warning:` before a warning, `note:` before what errors kept
from being checked), then a summary line. Exit 0 when no errors were found (warnings allowed), 1 on errors or when
nothing lintable was found (no CanaryRelease, GateTemplate or ClusterGateTemplate), 2 with `--strict` when only
warnings were.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from graygate.console.lint import LintProblem, lint_files, load_documents
from graygate.console.templates import ClusterTemplates, FileTemplates, is_template
from graygate.errors import GraygateError

__all__ = ["STDIN", "exit_code", "read_sources", "run_lint", "summary"]

STDIN = "-"
_STDIN_NAME = "<stdin>"
_SUFFIXES = (".yaml", ".yml")


def read_sources(paths: Sequence[str], stdin: TextIO) -> list[tuple[str, str]]:
    """(text, name) for every file the paths name: a file, every YAML file under a directory, or stdin (once)."""
    sources: list[tuple[str, str]] = []
    read_stdin = False
    for given in paths:
        if given == STDIN:
            if not read_stdin:
                sources.append((stdin.read(), _STDIN_NAME))
                read_stdin = True
            continue
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            if not found:
                raise GraygateError(f"no *.yaml or *.yml file under {path}")
            sources.extend((file.read_text(), str(file)) for file in found)
        elif path.is_file():
            sources.append((path.read_text(), str(path)))
        else:
            raise GraygateError(f"no such file or directory: {path}")
    return sources


def exit_code(problems: Sequence[LintProblem], lintable: int, *, strict: bool) -> int:
    """0 clean (warnings allowed), 1 errors or nothing lintable at all (no release, no gate template), 2 only
    warnings under `--strict`."""
    if lintable == 0 or any(problem.error for problem in problems):
        return 1
    return 2 if strict and any(problem.severity == "warning" for problem in problems) else 0


def summary(problems: Sequence[LintProblem], releases: int, templates: int = 0) -> str:
    """The last line: how many releases (and gate templates, when there are any), errors and warnings."""
    errors = sum(problem.error for problem in problems)
    warnings = sum(problem.severity == "warning" for problem in problems)
    linted = f"{releases} CanaryRelease(s)" + (f", {templates} gate template(s)" if templates else "")
    return f"lint: {linted}, {errors} problem(s), {warnings} warning(s)"


def run_lint(
    paths: Sequence[str], *, strict: bool = False, cluster: ClusterTemplates | None = None, stdin: TextIO | None = None
) -> int:
    """Lint every file the paths name, print the report, and return the exit code."""
    sources = read_sources(paths, stdin if stdin is not None else sys.stdin)
    documents = [d for text, _ in sources if not isinstance(found := load_documents(text), str) for d in found]
    problems, releases = lint_files(sources, FileTemplates(documents, cluster))
    templates = sum(is_template(document) for document in documents)
    for problem in problems:
        print(problem)
    if releases + templates == 0:
        print(
            "lint: nothing lintable found in the given files (no CanaryRelease, GateTemplate or ClusterGateTemplate)",
            file=sys.stderr,
        )
    else:
        print(summary(problems, releases, templates))
    return exit_code(problems, releases + templates, strict=strict)
