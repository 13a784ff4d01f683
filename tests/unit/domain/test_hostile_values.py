"""Odd and oversized values in pure code: a 256 KiB command annotation, a million-line exposition, a charset no
codec knows. Each bug found is named by its test."""

from __future__ import annotations

import pytest
from release_builders import at, manifest, observe, spec, status

from graygate.api import Phase
from graygate.api.commands import MAX_COMMAND, recorded
from graygate.api.validation import MAX_DEPTH, InvalidSpec, nesting_problem, parse_spec
from graygate.domain.analysis.webhook import snippet
from graygate.domain.compare.exposition import MAX_FAMILIES, MAX_LINES, ExpositionError, parse_exposition
from graygate.domain.release.commands import pending_command
from graygate.domain.release.decide import decide

ANNOTATION_LIMIT = 256 * 1024
"""The API server's limit on all of an object's annotations together."""


@pytest.mark.parametrize(
    "command",
    ["x" * (ANNOTATION_LIMIT - 100), "promote/" + "a" * (ANNOTATION_LIMIT - 100), "abort/a b" + "\u202e" * 60_000],
    ids=["unknown action", "long id", "bad id with unicode"],
)
def test_bug_a_256_kib_command_annotation_was_copied_twice_into_the_status(command: str) -> None:
    before = status(Phase.PROGRESSING, canary_weight=10, current_step_index=0)
    decision = decide(spec(), before, observe(10, command=command), at(5))
    written = decision.status.model_dump_json(by_alias=True)
    assert len(written) < 4096, "the status stays small"
    assert len(decision.message) < 1024
    record = decision.status.last_command
    assert record is not None
    assert record.result == "Ignored"
    assert f"longer than {MAX_COMMAND} characters" in record.message
    assert record.value == recorded(command)
    assert pending_command(decision.status, command) is None, "handled once, not at every tick"
    assert pending_command(decision.status, command + "y") == command + "y", "another value is new"


def test_a_short_command_is_recorded_as_written() -> None:
    assert recorded("promote/42") == "promote/42"
    assert recorded("a" * MAX_COMMAND) == "a" * MAX_COMMAND
    long = recorded("a" * (MAX_COMMAND + 1))
    assert long.startswith("a" * 32 + "… (257 characters, sha256 ")


def test_bug_a_million_line_exposition_was_parsed_whole() -> None:
    with pytest.raises(ExpositionError, match=f"line {MAX_LINES + 1}: the page has 1000000 lines"):
        parse_exposition("a 1\n" * 1_000_000)
    assert len(parse_exposition("a 1\n" * MAX_LINES)) == 1


def test_an_exposition_of_too_many_families_is_refused_where_it_passes_the_bound() -> None:
    text = "".join(f"m{i} 1\n" for i in range(MAX_FAMILIES + 5))
    with pytest.raises(ExpositionError, match=f"line {MAX_FAMILIES + 1}: more than {MAX_FAMILIES} metric families"):
        parse_exposition(text)


def test_bug_an_unknown_charset_raised_lookup_error_in_the_webhook_snippet() -> None:
    assert snippet(b"caf\xe9 ok", "x-nobody-knows") == "caf\ufffd ok"
    assert snippet(b"caf\xe9 ok", "latin-1") == "café ok"


def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(("depth", "refused"), [(50, False), (70, True), (10_000, True)])
def test_a_spec_nested_past_the_bound_is_invalid_with_the_path(depth: int, refused: bool) -> None:
    body = manifest(analysis={"interval": "10s", "gateRefs": [{"name": "t", "args": {"x": _nested(depth)}}]})
    problem = nesting_problem(body)
    if not refused:
        assert problem is None
        assert not isinstance(parse_spec(body), InvalidSpec)
        return
    assert problem is not None
    assert problem.startswith("spec.analysis.gateRefs[0].args.x[0]")
    assert problem.endswith(f"nested more than {MAX_DEPTH} levels deep; graygate reads at most {MAX_DEPTH}")
    invalid = parse_spec(body)
    assert isinstance(invalid, InvalidSpec)
    assert invalid.problems == (problem,)
