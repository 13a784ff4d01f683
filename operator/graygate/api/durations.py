"""Go-style durations (`500ms`, `30s`, `2m`, `1h30m`) as a pydantic type.

Why: Kubernetes users write durations the way Go controllers (Argo Rollouts, Flagger, kubelet flags) taught them,
so the manifest takes those strings while the Python side works with `timedelta` only. The same type carries the
CRD's pattern and, when a field needs a floor, the CEL rule that enforces it at admission time, so the API server
and pydantic reject the same values with the same words.

Supported units are `ms`, `s`, `m` and `h`; numbers may be decimal (`1.5h`). Sub-millisecond units are
left out on purpose: nothing in a canary release is that precise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

__all__ = [
    "DURATION_PATTERN",
    "Duration",
    "DurationField",
    "DurationTooLongError",
    "Interval",
    "format_duration",
    "parse_duration",
]

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_WHOLE = re.compile(DURATION_PATTERN)
_TOKEN = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_MICROS = {"ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
_MAX_LENGTH = 32
_HOW = "write a number and a unit (ms, s, m, h), e.g. 500ms, 30s, 1h30m"
_LONGEST_MICROS = (2**63 - 1) // 1_000
"""Go's longest `time.Duration` (2562047h47m16.854775807s), the most CEL's `duration()` and every Go controller
accept; anything longer could not be added to a date either (Python's `datetime` ends in the year 9999)."""
_TOO_LONG = "longer than 2562047h, the longest duration Kubernetes accepts"


def parse_duration(text: str) -> timedelta:
    """Parse `1h30m`-style text; raise `ValueError` naming the accepted form."""
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration: {_HOW}")
    micros = sum(Decimal(number) * _MICROS[unit] for number, unit in _TOKEN.findall(text))
    if micros > _LONGEST_MICROS:
        raise DurationTooLongError(f"{text!r} is {_TOO_LONG}")
    return timedelta(microseconds=int(micros))


class DurationTooLongError(ValueError):
    """A well-formed duration past Go's longest (`parse_duration`)."""


def format_duration(value: timedelta) -> str:
    """The shortest Go-style text for `value`; `parse_duration(format_duration(d)) == d` to the microsecond."""
    micros = value // timedelta(microseconds=1)
    if micros < 0:
        raise ValueError(f"a duration cannot be negative: {value}")
    if micros == 0:
        return "0s"
    if micros < 1_000_000 and micros % 1_000 == 0:
        return f"{micros // 1_000}ms"
    hours, rest = divmod(micros, _MICROS["h"])
    minutes, rest = divmod(rest, _MICROS["m"])
    seconds, fraction = divmod(rest, _MICROS["s"])
    text = f"{hours}h" if hours else ""
    text += f"{minutes}m" if minutes else ""
    if fraction:
        text += f"{seconds}.{fraction:06d}".rstrip("0") + "s"
    elif seconds:
        text += f"{seconds}s"
    return text


@dataclass(frozen=True)
class DurationField:
    """Annotation that turns a `timedelta` field into a Go-style duration string on the wire.

    `minimum` (Go-style text) adds a floor that both pydantic and the API server (through CEL) enforce.
    """

    minimum: str | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(format_duration, when_used="json"),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema: JsonSchemaValue = {"type": "string", "pattern": DURATION_PATTERN, "maxLength": _MAX_LENGTH}
        if self.minimum is not None:
            json_schema["x-kubernetes-validations"] = [
                {"rule": f"duration(self) >= duration('{self.minimum}')", "message": f"must be at least {self.minimum}"}
            ]
        return json_schema

    def _validate(self, value: object) -> timedelta:
        if isinstance(value, timedelta):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = parse_duration(value)
            except DurationTooLongError as error:
                raise PydanticCustomError("duration_too_long", _TOO_LONG) from error
            except ValueError as error:
                raise PydanticCustomError("duration", f"not a duration: {_HOW}") from error
        else:
            raise PydanticCustomError("duration", f"not a duration string: {_HOW}")
        if self.minimum is not None and parsed < parse_duration(self.minimum):
            raise PydanticCustomError("duration_too_short", "must be at least {minimum}", {"minimum": self.minimum})
        return parsed


Duration = Annotated[timedelta, DurationField()]
"""Any non-negative Go-style duration."""

Interval = Annotated[timedelta, DurationField(minimum="1s")]
"""A Go-style duration of at least one second: anything shorter would hammer the API server or the target."""
