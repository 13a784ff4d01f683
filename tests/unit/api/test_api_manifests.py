"""Sample manifests, good and bad, through the pydantic model: good ones parse, bad ones fail with messages that
name the field and say why. Each bad file lists its expected messages in `# expect:` comment lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from graygate.api import CanaryRelease, CanaryReleaseSpec, InvalidSpec, parse_spec

MANIFESTS = Path(__file__).parent / "manifests"
GOOD = sorted((MANIFESTS / "good").glob("*.yaml"))
BAD = sorted((MANIFESTS / "bad").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def expected_problems(path: Path) -> list[str]:
    prefix = "# expect: "
    return [line[len(prefix) :] for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(prefix)]


def test_there_are_samples() -> None:
    assert len(GOOD) >= 3
    assert len(BAD) >= 15


@pytest.mark.parametrize("path", GOOD, ids=lambda path: path.stem)
def test_good_manifest_is_accepted(path: Path) -> None:
    document = load(path)
    assert isinstance(parse_spec(document["spec"]), CanaryReleaseSpec)
    assert CanaryRelease.model_validate(document).spec.plan_steps()


@pytest.mark.parametrize("path", BAD, ids=lambda path: path.stem)
def test_bad_manifest_is_rejected_naming_the_field(path: Path) -> None:
    result = parse_spec(load(path)["spec"])
    assert isinstance(result, InvalidSpec)
    assert list(result.problems) == expected_problems(path)
    assert result.message == "; ".join(result.problems)


@pytest.mark.parametrize("path", BAD, ids=lambda path: path.stem)
def test_every_bad_manifest_says_what_it_expects(path: Path) -> None:
    assert expected_problems(path), f"{path.name} has no '# expect:' line"
    assert all(problem.startswith("spec") for problem in expected_problems(path))


@pytest.mark.parametrize(
    "raw",
    [None, [], "spec", 42],
    ids=["null", "list", "string", "number"],
)
def test_a_spec_that_is_not_an_object_is_invalid_not_a_crash(raw: object) -> None:
    result = parse_spec(raw)
    assert isinstance(result, InvalidSpec)
    assert result.problems[0].startswith("spec: ")


def test_the_whole_document_checks_kind_and_api_version() -> None:
    document = load(GOOD[0]) | {"kind": "Rollout"}
    with pytest.raises(ValueError, match="kind"):
        CanaryRelease.model_validate(document)
