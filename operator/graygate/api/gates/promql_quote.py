"""How a value is written into a PromQL query so that it stays one value, wherever its placeholder stands.

Why by place: a name becomes part of a query in three ways, and each needs its own rule, or a value chosen by a
release author (a host, a subset, a gate template's argument) could end a label matcher and add its own PromQL
(`"} or vector(1) #`), turn a literal match into a pattern (`.*` after `=~`), or end a comment with a newline.
The template is scanned the way PromQL's lexer reads it, and each placeholder is given its place:

* inside a `"` or `'` string: escaped as a PromQL string literal (a backslash, the string's own quote, and every
  character outside printable ASCII as `\\n`, `\\t`, `\\uXXXX` or `\\UXXXXXXXX`, so no raw control character,
  U+FFFD (which PromQL's lexer takes for invalid UTF-8) or direction override ever reaches Prometheus);
* inside a `` ` `` raw string: written as is; a value holding a backtick (or U+FFFD) is refused, since a raw
  string has no escapes;
* after `=~` or `!~`: first its regular-expression characters are escaped (as Go's `regexp.QuoteMeta` does), so
  the value matches itself only;
* outside any string: only a single token is accepted (letters, digits, `_`, `:`, `.`, a leading `-`: a number,
  a duration, a metric name); anything else is refused, and the message says to put the placeholder in quotes;
* in a `#` comment: anything but a line break or other control character.

A lone surrogate (not text at all) is refused everywhere. A refusal is `UnsafeValue`, naming the placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Place", "UnsafeValue", "fill", "places", "written"]

_TOKEN = re.compile(r"-?[A-Za-z0-9_:.]+")
_REGEX_OPERATOR = re.compile(r"[=!]~\s*$")
_REGEX_META = frozenset("\\.+*?()|[]{}^$")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


class UnsafeValue(ValueError):
    """A value that cannot be written where its placeholder stands without changing the query's meaning."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a placeholder stands: `quote` is `"`, `'` or `` ` `` inside a string, `#` in a comment, empty
    outside; `regex` when the string is the right side of `=~` or `!~`."""

    quote: str = ""
    regex: bool = False

    def describe(self) -> str:
        if self.quote == "#":
            return "in a comment"
        if not self.quote:
            return "outside quotes"
        kind = "a regular expression" if self.regex else "a string"
        return f"in {kind} ({self.quote}...{self.quote})"


def places(template: str, placeholder: re.Pattern[str]) -> list[tuple[re.Match[str], Place]]:
    """Every `placeholder` match in `template`, with its place, read as PromQL's lexer reads strings/comments."""
    found: list[tuple[re.Match[str], Place]] = []
    i, quote, regex = 0, "", False
    while i < len(template):
        match = placeholder.match(template, i)
        if match is not None:
            found.append((match, Place(quote, regex)))
            i = match.end()
            continue
        char = template[i]
        if quote in {'"', "'"}:
            if char == "\\":
                i += 1
            elif char == quote:
                quote, regex = "", False
        elif quote == "`":
            if char == "`":
                quote, regex = "", False
        elif quote == "#":
            if char == "\n":
                quote = ""
        elif char in "\"'`":
            quote, regex = char, _REGEX_OPERATOR.search(template, 0, i) is not None
        elif char == "#":
            quote = "#"
        i += 1
    return found


def written(value: str, place: Place) -> str:
    """`value` as it must appear at `place`; `UnsafeValue` says why it cannot appear there at all."""
    if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        raise UnsafeValue("it holds a lone surrogate, which is not text")
    if place.regex:
        value = "".join("\\" + char if char in _REGEX_META else char for char in value)
    if place.quote in {'"', "'"}:
        return "".join(_escaped(char, place.quote) for char in value)
    if place.quote == "`":
        if "`" in value or "\ufffd" in value:
            raise UnsafeValue("it holds a backtick or U+FFFD, which a raw (`) string cannot hold; use double quotes")
        return value
    if place.quote == "#":
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
            raise UnsafeValue("it holds a line break or control character, which would end the comment")
        return value
    if not _TOKEN.fullmatch(value):
        raise UnsafeValue(
            "outside quotes a value must be one token (letters, digits, _, :, .; a number, a duration or a "
            'metric name); put the placeholder inside double quotes ("{{ ... }}") to use it as a string'
        )
    return value


def _escaped(char: str, quote: str) -> str:
    if char == "\\" or char == quote:
        return "\\" + char
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return char
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def fill(template: str, placeholder: re.Pattern[str], value_of: Callable[[re.Match[str]], str]) -> str:
    """`template` with every `placeholder` replaced by `value_of(match)` as written at its place.

    Raises `UnsafeValue` naming the first placeholder whose value cannot be written where it stands."""
    out: list[str] = []
    last = 0
    for match, place in places(template, placeholder):
        value = value_of(match)
        try:
            text = written(value, place)
        except UnsafeValue as error:
            shown = repr(value) if len(value) <= 80 else repr(value[:80]) + f" (and {len(value) - 80} more characters)"
            raise UnsafeValue(
                f"{match.group(0).strip()} {place.describe()}: the value {shown} is refused: {error}"
            ) from None
        out.append(template[last : match.start()])
        out.append(text)
        last = match.end()
    out.append(template[last:])
    return "".join(out)
