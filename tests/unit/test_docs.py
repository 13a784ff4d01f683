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
