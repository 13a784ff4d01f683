"""The README's generated blocks (phase diagram, CanaryRelease reference) match the code."""

from __future__ import annotations

from pathlib import Path

from graygate import docs

README = Path(__file__).resolve().parents[2] / "README.md"


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
