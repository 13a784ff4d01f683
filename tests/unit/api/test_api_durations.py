"""Go-style durations: parse, format, round trip, and the floor a field may set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel, ValidationError

from graygate.api import Interval, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", timedelta(0)),
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("2m", timedelta(minutes=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("2h45m30s", timedelta(hours=2, minutes=45, seconds=30)),
        ("1m30s500ms", timedelta(seconds=90, milliseconds=500)),
        ("0.25s", timedelta(milliseconds=250)),
        ("90s", timedelta(seconds=90)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "s", "1d", "-5s", "1 m", "5us", "1.s", "PT30S", "30S"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(seconds=30), "30s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=1, seconds=1), "1h1s"),
        (timedelta(seconds=1, milliseconds=500), "1.5s"),
        (timedelta(microseconds=1500), "0.0015s"),
    ],
)
def test_format(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected
    assert parse_duration(format_duration(value)) == value


def test_format_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(timedelta(seconds=-1))


@pytest.mark.parametrize("text", ["2562048h", "99999999999999999999h", "153722868m", "9223372036855s"])
def test_parse_refuses_what_go_cannot_hold_rather_than_overflowing(text: str) -> None:
    """Regression, a bad duration of the generated specs: `pause: {duration: 99999999999999999999h}` passes the CRD's
    pattern and length, and parsing it raised OverflowError out of pydantic, so the operator failed on the release
    instead of marking it Invalid."""
    with pytest.raises(ValueError, match="longer than 2562047h"):
        parse_duration(text)


def test_parse_accepts_go_s_longest_duration() -> None:
    assert parse_duration("2562047h47m16.854775s") == timedelta(hours=2562047, minutes=47, seconds=16.854775)


class Timed(BaseModel):
    every: Interval


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("999ms", "must be at least 1s"),
        ("soon", "not a duration"),
        (30, "not a duration string"),
        ("99999999999999999999h", "longer than 2562047h"),
    ],
)
def test_field_rejects(raw: object, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Timed(every=raw)


@pytest.mark.parametrize("raw", ["1s", timedelta(seconds=1), "1h"])
def test_field_accepts_text_and_timedelta(raw: object) -> None:
    assert Timed(every=raw).every >= timedelta(seconds=1)
