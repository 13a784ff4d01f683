"""The README matches the code: its generated blocks (phase diagram, CanaryRelease reference) are current, and its
Layout block names every module of graygate, names nothing that does not exist, and lists the domain's rooms as they
are."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from graygate import docs

README = Path(__file__).resolve().parents[2] / "README.md"
REPO = README.parent
_ENTRY = re.compile(r"^(?P<indent>(?:  ){0,6})(?P<name>[\w.-]+(?:/[\w.-]+)*/|[\w-]+\.py)(?:\s{2,}(?P<says>.*))?$")
"""A path of the Layout block: two spaces a level, then a folder (`name/`) or a module, then its description."""


def test_readme_generated_blocks_are_current() -> None:
    current = README.read_text(encoding="utf-8")
    assert docs.render(current) == current, f"README.md is out of date: run `{docs.REGENERATE}`"


def test_the_phase_diagram_comes_from_the_table() -> None:
    assert "Progressing --> Failed: rollback" in docs.phases()


def test_the_reference_lists_every_spec_field() -> None:
    table = docs.reference()
    for field in ("spec.steps[].setWeight", "spec.analysis.gates[].httpProbe.url", "spec.canaryWorkload.name"):
        assert f"`{field}`" in table


def test_the_layout_names_every_module_and_package_of_graygate() -> None:
    text = README.read_text(encoding="utf-8")
    layout = text[text.index("## Layout") :]
    package = Path(docs.__file__).resolve().parent
    names = {
        f"{path.name}/" if path.is_dir() else path.name
        for path in package.iterdir()
        if not path.name.startswith(("_", ".")) and (path.suffix == ".py" or (path / "__init__.py").exists())
    }
    missing = sorted(name for name in names if f"    {name} " not in layout)
    assert not missing, f"README.md's Layout does not mention {missing}"


@dataclass(frozen=True)
class LayoutEntry:
    """One path the README's Layout block names: its folder (relative to the repository) and what it says."""

    path: str
    depth: int
    says: str


def layout_entries() -> list[LayoutEntry]:
    """The paths of the Layout block, each joined to the folders above it; a description's continuation lines, set
    deeper than any path, belong to the entry above them."""
    text = README.read_text(encoding="utf-8")
    block = text[text.index("## Layout") :].split("```")[1]
    entries: list[LayoutEntry] = []
    parents: list[str] = []
    for line in block.splitlines():
        entry = _ENTRY.match(line)
        if entry is None:
            if entries and line.strip():
                last = entries[-1]
                entries[-1] = LayoutEntry(last.path, last.depth, f"{last.says} {line.strip()}")
            continue
        depth = len(entry["indent"]) // 2
        parents = parents[:depth]
        path = "".join(parents) + entry["name"]
        if entry["name"].endswith("/"):
            parents.append(entry["name"])
        entries.append(LayoutEntry(path, depth, entry["says"] or ""))
    return entries


def test_every_path_the_layout_names_exists() -> None:
    entries = layout_entries()
    assert any(entry.path == "operator/graygate/service.py" for entry in entries), "the Layout block was not parsed"
    missing = [entry.path for entry in entries if not (REPO / entry.path).exists()]
    assert not missing, f"README.md's Layout names paths that do not exist: {missing}"


def test_a_package_whose_rooms_the_layout_lists_holds_nothing_else() -> None:
    """Where the Layout lists a package's contents (the domain's rooms), that is all it holds: each sub-package
    listed, and beside them only the modules the description names."""
    entries = layout_entries()
    package = Path(docs.__file__).resolve().parent
    checked = []
    for parent in entries:
        folder = REPO / parent.path
        if not (folder / "__init__.py").is_file() or folder.resolve() == package:
            continue  # a source root or the graygate package itself, whose modules the test above checks
        children = [
            child for child in entries if child.depth == parent.depth + 1 and child.path.startswith(parent.path)
        ]
        if not children:
            continue
        span = " ".join([parent.says, *(child.says for child in children)])
        named = {child.path.removeprefix(parent.path) for child in children}
        present = {
            f"{path.name}/" if path.is_dir() else path.name
            for path in folder.iterdir()
            if not path.name.startswith(("_", ".")) and (path.suffix == ".py" or (path / "__init__.py").exists())
        }
        rooms, listed = {name for name in present if name.endswith("/")}, {name for name in named if name.endswith("/")}
        assert rooms == listed, f"{parent.path} holds the rooms {sorted(rooms)}; the Layout lists {sorted(listed)}"
        unnamed = sorted(
            name for name in present - rooms if name not in named and name not in re.findall(r"\w+\.py", span)
        )
        assert not unnamed, f"{parent.path} holds {unnamed}, which the Layout does not name"
        checked.append(parent.path)
    assert "operator/graygate/domain/" in checked, "the domain's rooms are listed in the Layout"
