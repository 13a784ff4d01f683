"""The error tree drawn in `graygate.errors`' docstring is the tree of classes there is, so it cannot drift."""

from __future__ import annotations

import textwrap

from graygate import docs, errors
from graygate.errors import GraygateError


def test_the_drawn_error_tree_is_the_generated_one() -> None:
    doc = errors.__doc__ or ""
    drawn = textwrap.dedent(doc[doc.index("    GraygateError\n") :]).strip()
    wanted = docs.error_tree()
    assert drawn == wanted, f"graygate.errors' drawn tree is out of date; it is now:\n{wanted}"


def test_the_tree_names_every_error_class_once() -> None:
    tree = docs.error_tree()

    def every(kind: type[BaseException]) -> set[str]:
        return {kind.__name__}.union(*(every(child) for child in kind.__subclasses__()))

    names = [line.lstrip("│├└─ ").split()[0] for line in tree.splitlines() if line.lstrip("│├└─ ")[:1].isupper()]
    assert sorted(names) == sorted(every(GraygateError))
    assert {"EtcdUnavailable", "SandboxRunningError", "IllegalCommandError"} <= set(names)
