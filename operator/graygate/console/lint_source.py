"""Where a field is in a YAML file: `spec.analysis.gates[2].successCondition` → line 31, column 9.

Why a module of its own: every problem `graygate lint` reports names a field path (the operator's own words), and a
person fixing a file wants the line too. PyYAML's composer keeps each node's position, so the documents are composed
once and every path of every document is indexed; a path the file does not hold (a missing field) points at its
nearest ancestor that it does.

Nesting is bounded (`MAX_DEPTH`) before anything is composed: PyYAML's parser and composer, like every walk over
the documents after them, recurse once per level, and a file nested a few hundred levels deep would end them with
a `RecursionError` instead of a message. The scanner that counts the levels does not recurse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

__all__ = ["MAX_DEPTH", "Document", "FieldPath", "parse_path", "read_documents", "split_message", "too_deep"]

MAX_DEPTH = 64
"""The deepest nesting of mappings and sequences read (a CanaryRelease is about 10 levels deep)."""

_OPEN = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)

FieldPath = tuple[str | int, ...]
"""`("spec", "steps", 0, "setWeight")` for `spec.steps[0].setWeight`."""

_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")
_LEADING_PATH = re.compile(r"^((?:apiVersion|kind|metadata|spec)(?:\.[A-Za-z0-9_-]+|\[\d+\])*): (.*)$", re.DOTALL)


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: its value and where each of its paths starts (1-based line and column)."""

    index: int
    value: object
    marks: dict[FieldPath, tuple[int, int]]

    def locate(self, path: FieldPath) -> tuple[int, int]:
        """The line and column of `path`, else of its nearest ancestor the document holds."""
        for depth in range(len(path), -1, -1):
            if (found := self.marks.get(path[:depth])) is not None:
                return found
        return (1, 1)


def too_deep(text: str, limit: int = MAX_DEPTH) -> str | None:
    """Why `text` is nested too deeply to be read (naming the line where it passes `limit`), else None. Text that
    does not scan is left for the parser to name."""
    depth = 0
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, _OPEN):
                depth += 1
                if depth > limit:
                    where = f"{token.start_mark.line + 1}:{token.start_mark.column + 1}"
                    return f"{where}: nested more than {limit} levels deep; graygate reads at most {limit}"
            elif isinstance(token, _CLOSE):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


def read_documents(text: str) -> list[Document] | str:
    """The documents of `text` with their positions, or why it is not YAML (or is nested too deeply)."""
    if (deep := too_deep(text)) is not None:
        return deep
    try:
        values = list(yaml.safe_load_all(text))
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}: " if mark is not None else ""
        return f"{where}not valid YAML: {' '.join(filter(None, (error.context, error.problem)))}"
    except yaml.YAMLError as error:
        return f"not valid YAML: {error}"
    documents = []
    for index, (value, node) in enumerate(zip(values, nodes, strict=True), start=1):
        marks: dict[FieldPath, tuple[int, int]] = {}
        if node is not None:
            marks[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
            for path, (line, column) in _walk(node, ()):
                marks.setdefault(path, (line + 1, column + 1))
        documents.append(Document(index, value, marks))
    return documents


def _walk(node: yaml.Node, path: FieldPath) -> Iterator[tuple[FieldPath, tuple[int, int]]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                below = (*path, str(key.value))
                yield below, (key.start_mark.line, key.start_mark.column)
                yield from _walk(value, below)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            below = (*path, index)
            yield below, (item.start_mark.line, item.start_mark.column)
            yield from _walk(item, below)


def parse_path(text: str) -> FieldPath:
    """`spec.steps[0].setWeight` → `("spec", "steps", 0, "setWeight")`."""
    return tuple(int(index) if index else name for name, index in _PART.findall(text))


def split_message(message: str) -> tuple[FieldPath, str, str]:
    """A problem line `path: why` as (path, path text, why); a line without a leading path has the empty path."""
    if (match := _LEADING_PATH.match(message)) is None:
        return (), "", message
    return parse_path(match.group(1)), match.group(1), match.group(2)
