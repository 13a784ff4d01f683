"""Turn a raw spec into either a `CanaryReleaseSpec` or a list of human problems, each naming its field.

Why: the handler must never crash-loop on a bad object. Parsing returns a value (the spec, or `InvalidSpec`)
that the domain turns into the `Invalid` phase and a condition whose message a user can act on, e.g.
`spec.steps[2]: a step needs exactly one of setWeight or pause`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from graygate.api.field_errors import AT_FIELD
from graygate.api.gateway_limits import MAX_RULE_NAME
from graygate.api.header_routes import header_route_name
from graygate.api.spec import CanaryReleaseSpec

__all__ = ["InvalidSpec", "describe_errors", "field_path", "parse_spec", "release_problems"]

_PLAIN_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
}


@dataclass(frozen=True, slots=True)
class InvalidSpec:
    """A spec that failed validation, with one problem per line."""

    problems: tuple[str, ...]

    @property
    def message(self) -> str:
        """All problems in one sentence, for a status message or an Event."""
        return "; ".join(self.problems)


MAX_DEPTH = 64
"""The deepest nesting of objects and lists a spec may have (a CanaryRelease is about 10 levels deep)."""


def nesting_problem(raw: object, root: str = "spec", limit: int = MAX_DEPTH) -> str | None:
    """The first path nested more than `limit` levels below `root`, as a problem, else None; counted without
    recursion. The API server accepts JSON 10,000 levels deep in the fields it keeps as free JSON (a gate template
    argument): such a value is refused here, before any recursive walk (pydantic's serializer stops at a few
    hundred levels, graygate's own walks at Python's recursion limit) meets it."""
    stack: list[tuple[object, str, int]] = [(raw, root, 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > limit:
            return f"{path}: nested more than {limit} levels deep; graygate reads at most {limit}"
        if isinstance(value, dict):
            stack.extend((item, f"{path}.{key}", depth + 1) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
    return None


def parse_spec(raw: object, *, release: str | None = None) -> CanaryReleaseSpec | InvalidSpec:
    """Validate `raw` (the manifest's `spec`, camelCase) without raising; given the release's name
    (`metadata.name`), also what the spec allows only with that name (`release_problems`)."""
    if (deep := nesting_problem(raw)) is not None:
        return InvalidSpec((deep,))
    try:
        spec = CanaryReleaseSpec.model_validate(raw)
    except ValidationError as error:
        return InvalidSpec(describe_errors(error, root="spec"))
    if release is not None and (problems := release_problems(spec, release)):
        return InvalidSpec(problems)
    return spec


def release_problems(spec: CanaryReleaseSpec, release: str) -> tuple[str, ...]:
    """What `spec` cannot do under the name `release`: with gatewayAPI and a `setHeaderRoute` step, each header
    rule is named `graygate-<release>-header-<rule>`, which Gateway API bounds like any rule name. The name is not
    in the spec, so no CEL rule of the spec can see it."""
    gateway = spec.traffic_routing.gateway_api
    if gateway is None or not any(step.set_header_route is not None for step in spec.plan_steps()):
        return ()
    problems: list[str] = []
    for i, ref in enumerate(gateway.http_routes):
        where = f"spec.trafficRouting.gatewayAPI.httpRoutes[{i}]"
        named = [(f"{where}.rules[{j}]", rule) for j, rule in enumerate(ref.rules)] if ref.rules else [(where, None)]
        for path, rule in named:
            length = len(header_route_name(release, rule))
            if length > MAX_RULE_NAME:
                pattern, fix = ("-<rule>", " or the rule's name") if rule is not None else ("", "")
                beside = f"rule {rule}" if rule is not None else "the HTTPRoute rule"
                problems.append(
                    f"{path}: the header rule beside {beside} would be named "
                    f"graygate-<metadata.name>-header{pattern}, {length} characters with this release's "
                    f"{len(release)}-character name; Gateway API allows at most {MAX_RULE_NAME} in an HTTPRoute's "
                    f"rules[].name: shorten metadata.name{fix}"
                )
    return tuple(problems)


def field_path(root: str, location: Sequence[int | str]) -> str:
    """`("steps", 2, "setWeight")` under `spec` is `spec.steps[2].setWeight`."""
    path = root
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def describe_errors(error: ValidationError, *, root: str) -> tuple[str, ...]:
    """One `path: why` line per validation error.

    pydantic also reports a tuple as "too short" when some of its items failed (it counts only the valid ones);
    that line is noise next to the items' own errors, so it is dropped.
    """
    details = error.errors(include_url=False)
    nested = {detail["loc"][:depth] for detail in details for depth in range(len(detail["loc"]))}
    return tuple(
        _describe(detail, root) for detail in details if not (detail["type"] == "too_short" and detail["loc"] in nested)
    )


def _describe(detail: ErrorDetails, root: str) -> str:
    kind = detail["type"]
    if kind == AT_FIELD and (ctx := detail.get("ctx")):
        at = str(ctx["at"])
        return f"{field_path(root, detail['loc'])}{'' if at.startswith('[') else '.'}{at}: {ctx['why']}"
    if kind in _PLAIN_MESSAGES:
        why = _PLAIN_MESSAGES[kind]
    elif kind in ("value_error", "assertion_error"):
        why = str(detail["msg"]).split(", ", 1)[-1]
    else:
        why = f"{detail['msg'][:1].lower()}{detail['msg'][1:]} (got {detail['input']!r})"
    return f"{field_path(root, detail['loc'])}: {why}"
