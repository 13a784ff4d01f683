"""values.schema.json refuses bad values with a message that names the key: each file in bad_values/ says on its
first line (`# expect: …`) what helm must print, and both `helm lint --strict` and `helm template` must fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helm_tools import CHART, Helm

BAD_VALUES = sorted((Path(__file__).parent / "bad_values").glob("*.yaml"))


def expected_message(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <what helm prints>'"
    return first.removeprefix("# expect: ")


def test_every_value_key_is_described_and_closed() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(node: dict[str, object], where: str) -> None:
        assert node.get("description"), f"{where} has no description"
        properties = node.get("properties")
        if isinstance(properties, dict):
            assert node.get("additionalProperties") is False, f"{where} accepts unknown keys"
            for key, child in properties.items():
                assert isinstance(child, dict)
                walk(child, f"{where}.{key}")

    walk(schema, "values")


@pytest.mark.parametrize("bad", BAD_VALUES, ids=[path.stem for path in BAD_VALUES])
def test_bad_values_are_refused_by_lint_and_template(helm: Helm, bad: Path) -> None:
    message = expected_message(bad)
    lint = helm.run("lint", "--strict", str(CHART), "--values", str(bad), check=False)
    assert lint.returncode != 0, f"helm lint accepted {bad.name}"
    assert message in lint.stdout + lint.stderr
    template = helm.run("template", "graygate", str(CHART), "--values", str(bad), check=False)
    assert template.returncode != 0, f"helm template accepted {bad.name}"
    assert message in template.stderr
    assert "values don't meet the specifications of the schema" in template.stderr
