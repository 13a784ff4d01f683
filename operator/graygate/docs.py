"""Generated parts of the README: the phase diagram (from the transition table) and the CanaryRelease reference
(from the CRD schema, itself generated from the pydantic models), so neither can drift from the code; and the error
tree drawn in `graygate.errors`' docstring (from the classes themselves, a unit test compares).

`python -m graygate.docs` rewrites the marked blocks of README.md; `--check` only compares (a unit test runs it).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from graygate.api.crd import build_crd
from graygate.domain.release.phases import mermaid

README = Path("README.md")
REGENERATE = "python -m graygate.docs"


def _rows(schema: dict[str, Any], path: str) -> Iterator[tuple[str, str, str]]:
    for name, node in schema.get("properties", {}).items():
        here = f"{path}.{name}" if path else name
        kind = node.get("type", "object")
        if kind == "array":
            kind = f"[]{node.get('items', {}).get('type', 'object')}"
        if "enum" in node:
            kind += " (" + " \\| ".join(str(value) for value in node["enum"]) + ")"
        description = " ".join(str(node.get("description", "")).split()).replace("|", "\\|")
        yield here, kind, description
        if node.get("type") == "object":
            yield from _rows(node, here)
        elif node.get("type") == "array" and node.get("items", {}).get("type") == "object":
            yield from _rows(node["items"], here + "[]")


def reference() -> str:
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    lines = ["| field | type | meaning |", "|---|---|---|"]
    lines += [f"| `{path}` | {kind} | {text} |" for path, kind, text in _rows(schema["properties"]["spec"], "spec")]
    return "\n".join(lines)


def phases() -> str:
    return "```mermaid\n" + mermaid().rstrip() + "\n```"


BLOCKS = {"phases": phases, "reference": reference}

TREE_WIDTH = 116
"""The error tree's lines fit the docstring's 120 columns, indented by 4."""


def error_tree() -> str:
    """Every subclass of `GraygateError` in graygate, as a tree, each with the first sentence of its docstring and,
    when it is defined elsewhere than its parent, its module.

    Every module of the package is imported first, so an error class defined anywhere is in it (the sandbox's need
    the `sandbox` extra installed)."""
    import graygate
    from graygate.errors import GraygateError

    for module in pkgutil.walk_packages(graygate.__path__, "graygate."):
        importlib.import_module(module.name)
    rows: list[tuple[str, str, str]] = []  # (branch + name, the prefix of its continuation lines, description)

    def walk(parent: type[BaseException], prefix: str) -> None:
        children = sorted(parent.__subclasses__(), key=lambda kind: kind.__name__)
        for index, child in enumerate(children):
            last = index == len(children) - 1
            below = prefix + ("    " if last else "│   ")
            summary = _summary(child)
            if child.__module__ != parent.__module__:
                summary += f" ({child.__module__})"
            rows.append((prefix + ("└── " if last else "├── ") + child.__name__, below, summary))
            walk(child, below)

    walk(GraygateError, "")
    column = max(len(branch) for branch, _, _ in rows) + 2
    lines = [GraygateError.__name__]
    for branch, below, description in rows:
        wrapped = textwrap.wrap(description, TREE_WIDTH - column, break_on_hyphens=False) or [""]
        lines.append(branch.ljust(column) + wrapped[0])
        lines.extend(below.ljust(column) + more for more in wrapped[1:])
    return "\n".join(line.rstrip() for line in lines)


def _summary(kind: type[BaseException]) -> str:
    first = " ".join((kind.__doc__ or "").strip().split("\n\n")[0].split())
    first = first.split(". ")[0].rstrip(".")
    return first[:1].lower() + first[1:]


def render(readme: str) -> str:
    for name, make in BLOCKS.items():
        begin, end = f"<!-- BEGIN generated:{name} -->\n", f"<!-- END generated:{name} -->"
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
        found = pattern.search(readme)
        if found is None:
            raise ValueError(f"README has no generated:{name} block")
        start, stop = found.span()
        readme = readme[:start] + begin + make() + "\n" + end + readme[stop:]
    return readme


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description="Regenerate the README's generated blocks.")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the README is out of date")
    arguments = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if arguments.check:
        if wanted != current:
            print(f"{README} is out of date; regenerate it with `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
