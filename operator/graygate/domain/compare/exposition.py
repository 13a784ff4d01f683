"""Reads a Prometheus text exposition (format 0.0.4, and OpenMetrics 1.0 text) into its metric families.

Why: instrumentation parity compares what two builds *declare* (names, types, label names), so the parser keeps
exactly that and forgets the values, except the few that tell "no traffic yet" from "broken". It is written here
rather than borrowed from `prometheus_client.parser` for two reasons that matter to the check: that parser renames
counters (it drops `_total`, so the name lint could not see what a target really exposes), and it parses samples
into floats and dictionaries the check never reads.

Names are reported as PromQL sees them: a 0.0.4 family keeps its declared name (`# TYPE http_requests_total
counter`); in OpenMetrics, where the declared name of a counter is `http_requests` and its samples are
`http_requests_total`, the family is renamed to `http_requests_total` (and an info family `build` to `build_info`),
so the same instrumentation scraped in either format yields the same families.

Label names exclude the structural ones: `le` of histogram buckets, `quantile` of summaries, and the family's own
name in a stateset. A family's labels are the union over its samples.

Bounded: a page of more than `MAX_LINES` lines or `MAX_FAMILIES` families is an error, found before the rest is
read, so a target answering a million lines costs a count of its newlines, not seconds of parsing and hundreds of
MB of families (a real application exposes hundreds of families in a few thousand lines).

Out of scope: Prometheus 3's quoted UTF-8 metric names (`{"my.metric"}`) are a parse error, as is any line that is
neither a comment nor a well-formed sample.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, cast, get_args

__all__ = ["MAX_FAMILIES", "MAX_LINES", "ExpositionError", "MetricFamily", "MetricType", "parse_exposition"]

MAX_LINES = 100_000
"""The most lines a page may have (kube-state-metrics of a large cluster has more; an application far fewer)."""
MAX_FAMILIES = 10_000
"""The most metric families a page may declare."""

MetricType = Literal["counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "untyped"]

_TYPES: frozenset[str] = frozenset(get_args(MetricType))
_ALIASES: Mapping[str, MetricType] = MappingProxyType({"unknown": "untyped"})

# The sample-name suffixes each type's samples may carry after the family's declared name.
_SUFFIXES: Mapping[MetricType, frozenset[str]] = MappingProxyType(
    {
        "counter": frozenset({"", "_total", "_created"}),
        "gauge": frozenset({""}),
        "histogram": frozenset({"_bucket", "_count", "_sum", "_created"}),
        "gaugehistogram": frozenset({"_bucket", "_gcount", "_gsum"}),
        "summary": frozenset({"", "_count", "_sum", "_created"}),
        "info": frozenset({"", "_info"}),
        "stateset": frozenset({""}),
        "untyped": frozenset({""}),
    }
)
_SUFFIX_ORDER = ("_bucket", "_count", "_sum", "_created", "_total", "_gcount", "_gsum", "_info")
_COUNT_SUFFIX: Mapping[MetricType, str] = MappingProxyType(
    {"histogram": "_count", "summary": "_count", "gaugehistogram": "_gcount"}
)

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[Ii]nf|NaN|nan)")
_LABEL_VALUE_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class ExpositionError(ValueError):
    """The text is not a valid exposition; `line` is 1-based. Bad input from a target, not a bug in graygate."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricFamily:
    """One metric family as exposed: what it declares, and how much it has seen.

    `help` is None when there was no HELP line. `observation_count` is the sum of the `_count` samples of a
    histogram or summary (`_gcount` of a gauge histogram), None for other types or when no count was exposed.
    """

    name: str
    type: MetricType
    help: str | None = None
    label_names: frozenset[str] = frozenset()
    sample_count: int = 0
    observation_count: float | None = None

    @property
    def awaiting_traffic(self) -> bool:
        """Declared but nothing observed yet: no samples at all, or a histogram/summary whose count is zero.

        Such a family is present (the instrumentation is there); it is not "missing".
        """
        return self.sample_count == 0 or self.observation_count == 0


@dataclass(slots=True)
class _Draft:
    name: str
    type: MetricType
    declared: bool
    help: str | None = None
    labels: set[str] = field(default_factory=set)
    samples: int = 0
    count: float | None = None

    def freeze(self, openmetrics: bool) -> MetricFamily:
        name = self.name
        if openmetrics and self.type == "counter" and not name.endswith("_total"):
            name += "_total"
        elif openmetrics and self.type == "info" and not name.endswith("_info"):
            name += "_info"
        return MetricFamily(
            name=name,
            type=self.type,
            help=self.help,
            label_names=frozenset(self.labels),
            sample_count=self.samples,
            observation_count=self.count,
        )


def parse_exposition(
    text: str, *, openmetrics: bool | None = None, max_lines: int = MAX_LINES, max_families: int = MAX_FAMILIES
) -> Mapping[str, MetricFamily]:
    """The families of `text` by name, in order of first appearance.

    `openmetrics=None` detects the format from the `# EOF` line OpenMetrics ends with. More than `max_lines` lines
    or `max_families` families is an `ExpositionError` saying so.
    """
    if (count := text.count("\n") + (not text.endswith("\n"))) > max_lines:
        raise ExpositionError(max_lines + 1, f"the page has {count} lines; at most {max_lines} are read")
    lines = text.split("\n")
    if openmetrics is None:
        openmetrics = any(line.rstrip("\r") == "# EOF" for line in lines)
    drafts: dict[str, _Draft] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("#"):
            _read_comment(line, number, drafts)
        else:
            _read_sample(line, number, drafts)
        if len(drafts) > max_families:
            raise ExpositionError(number, f"more than {max_families} metric families; at most {max_families} are read")
    families = (draft.freeze(openmetrics) for draft in drafts.values())
    return MappingProxyType({family.name: family for family in families})


def _read_comment(line: str, number: int, drafts: dict[str, _Draft]) -> None:
    parts = line[1:].strip().split(None, 2)
    if not parts or parts[0] not in ("HELP", "TYPE"):
        return  # a plain comment, or OpenMetrics' EOF / UNIT: nothing the parity check reads
    if len(parts) < 2 or not _METRIC_NAME.fullmatch(parts[1]):
        raise ExpositionError(number, f"{parts[0]} without a valid metric name")
    keyword, name = parts[0], parts[1]
    rest = parts[2] if len(parts) == 3 else ""
    draft = drafts.get(name)
    if keyword == "HELP":
        if draft is None:
            draft = drafts[name] = _Draft(name=name, type="untyped", declared=False)
        if draft.help is not None:
            raise ExpositionError(number, f"second HELP for {name}")
        draft.help = _unescape_help(rest)
        return
    kind = _ALIASES.get(rest.strip(), rest.strip())
    if kind not in _TYPES:
        raise ExpositionError(number, f"unknown metric type {rest.strip()!r} for {name}")
    if draft is not None and draft.declared:
        raise ExpositionError(number, f"second TYPE for {name}")
    if draft is not None and draft.samples:
        raise ExpositionError(number, f"TYPE for {name} after its samples")
    if draft is None:
        draft = drafts[name] = _Draft(name=name, type="untyped", declared=False)
    draft.type = cast(MetricType, kind)
    draft.declared = True


def _unescape_help(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _read_sample(line: str, number: int, drafts: dict[str, _Draft]) -> None:
    match = _METRIC_NAME.match(line)
    if match is None:
        raise ExpositionError(number, f"expected a metric name at the start of {line[:40]!r}")
    sample_name = match.group(0)
    position = match.end()
    labels: dict[str, str] = {}
    if position < len(line) and line[position] == "{":
        labels, position = _read_labels(line, position + 1, number)
    tokens = line[position:].split("#", 1)[0].split()
    if not tokens or (position == match.end() and line[position : position + 1] not in (" ", "\t")):
        raise ExpositionError(number, f"sample {sample_name} has no value")
    if len(tokens) > 2:
        raise ExpositionError(number, f"sample {sample_name} has more than a value and a timestamp")
    value = _number(tokens[0], number, "value")
    if len(tokens) == 2:
        _number(tokens[1], number, "timestamp")
    draft, suffix = _family_of(sample_name, number, drafts)
    draft.samples += 1
    structural = {"histogram": "le", "gaugehistogram": "le", "summary": "quantile", "stateset": draft.name}
    drop = structural.get(draft.type)
    draft.labels.update(name for name in labels if name != drop)
    if suffix == _COUNT_SUFFIX.get(draft.type) and not math.isnan(value):
        draft.count = (draft.count or 0.0) + value


def _skip_blanks(line: str, position: int) -> int:
    while position < len(line) and line[position] in " \t":
        position += 1
    return position


def _read_labels(line: str, position: int, number: int) -> tuple[dict[str, str], int]:
    labels: dict[str, str] = {}
    while True:
        position = _skip_blanks(line, position)
        if line[position : position + 1] == "}":
            return labels, position + 1
        match = _LABEL_NAME.match(line, position)
        if match is None:
            raise ExpositionError(number, f"expected a label name at column {position + 1}")
        name = match.group(0)
        position = _skip_blanks(line, match.end())
        equals = line[position : position + 1] == "="
        position = _skip_blanks(line, position + 1)
        if not equals or line[position : position + 1] != '"':
            raise ExpositionError(number, f'expected ="value" after label {name}')
        value, position = _read_label_value(line, position + 1, number)
        if name in labels:
            raise ExpositionError(number, f"label {name} given twice")
        labels[name] = value
        position = _skip_blanks(line, position)
        following = line[position : position + 1]
        if following == ",":
            position += 1
        elif following != "}":
            raise ExpositionError(number, f"expected , or }} after label {name}")


def _read_label_value(line: str, position: int, number: int) -> tuple[str, int]:
    chars: list[str] = []
    while position < len(line):
        char = line[position]
        if char == '"':
            return "".join(chars), position + 1
        if char == "\\":
            escaped = line[position + 1 : position + 2]
            if escaped not in _LABEL_VALUE_ESCAPES:
                raise ExpositionError(number, f"invalid escape \\{escaped} in a label value")
            chars.append(_LABEL_VALUE_ESCAPES[escaped])
            position += 2
            continue
        chars.append(char)
        position += 1
    raise ExpositionError(number, "unterminated label value")


def _number(token: str, number: int, what: str) -> float:
    if not _NUMBER.fullmatch(token):
        raise ExpositionError(number, f"{what} {token!r} is not a number")
    return float(token)


def _family_of(sample_name: str, number: int, drafts: dict[str, _Draft]) -> tuple[_Draft, str]:
    exact = drafts.get(sample_name)
    if exact is not None and "" in _SUFFIXES[exact.type]:
        return exact, ""
    for suffix in _SUFFIX_ORDER:
        if sample_name.endswith(suffix):
            base = drafts.get(sample_name[: -len(suffix)])
            if base is not None and suffix in _SUFFIXES[base.type]:
                return base, suffix
    if exact is not None:
        raise ExpositionError(number, f"sample {sample_name} does not fit its {exact.type} family")
    draft = drafts[sample_name] = _Draft(name=sample_name, type="untyped", declared=False)
    return draft, ""
