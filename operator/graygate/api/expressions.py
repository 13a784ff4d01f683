"""CEL expressions over a gate's measured result (`successCondition`, `failureCondition`): checked when the spec is
validated, evaluated when the gate is judged.

Why one module, in `api/`: the same expression is checked by the spec's validation (so a bad one makes the release
`Invalid`, and `graygate lint` says so, before any traffic moves) and evaluated by the domain's judge; `api/` is the
layer both reach. It is the only importer of the CEL library (`common-expression-language`, Rust's `cel` crate), so
replacing the library is one edit.

How an expression is checked: the library parses but has no type checker, so an expression is (1) compiled, (2)
read for the fields it names directly under `result` (`result.<field>`, string literals left out), each of which
must be one the gate's kind declares, and (3) evaluated against a representative, typed `result` of that kind
(`CheckModel.result_sample`): a type error (CEL never converts between int and double), an unknown name, a result
that is not a bool, or (for a kind whose result is a closed set of fields) an unknown field is reported with the
library's words. Where a kind's result holds maps whose keys only the run knows (a series' labels, a JSON body), a
missing key or index in the sample is not held against the expression: it is an `Error` at run time if it is
missing then too. Branches the sample does not reach (`a || b` with `a` true) are only parsed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

import cel

__all__ = ["ConditionError", "check_condition", "evaluate_condition", "evaluate_rule"]

MAX_EXPRESSION = 1024
"""Characters of one condition: a condition is a test of a few values, not a program."""

_STRING = re.compile(r"""'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""", re.DOTALL)
_FIELD = re.compile(r"\bresult\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_MAX_WORDS = 240


class ConditionError(ValueError):
    """An expression that does not compile, or whose evaluation failed, with the library's message."""


@lru_cache(maxsize=256)
def _compiled(expression: str) -> cel.Program:
    try:
        return cel.compile(expression)
    except Exception as error:  # the library raises ValueError for a parse error; any failure is the same to us
        raise ConditionError(f"does not parse: {_words(error)}") from error


def evaluate_condition(expression: str, result: Mapping[str, object]) -> bool:
    """`expression` evaluated with `result` bound; `ConditionError` when it fails or is not a bool."""
    program = _compiled(expression)
    try:
        value = program.execute({"result": dict(result)})
    except Exception as error:
        raise ConditionError(_explain(error)) from error
    if not isinstance(value, bool):
        raise ConditionError(f"must evaluate to a bool, not {type(value).__name__} ({value!r})")
    return value


def evaluate_rule(rule: str, value: object) -> bool | None:
    """A CRD validation rule (`x-kubernetes-validations`) evaluated with `self` bound to `value`, as the API server
    would; None when it cannot be evaluated here (a value of another type, a function the library lacks)."""
    try:
        result = _compiled(rule).execute({"self": value})
    except Exception:  # any failure means "not judged here": the models check the same rule
        return None
    return result if isinstance(result, bool) else None


def check_condition(expression: str, sample: Mapping[str, object], *, open_keys: bool, kind: str = "") -> str | None:
    """Why `expression` cannot be a condition over a result shaped like `sample`, or None when it can.
    `open_keys`: the result holds maps whose keys only the run knows, so a missing key is not an error here."""
    try:
        _compiled(expression)
    except ConditionError as error:
        return str(error)
    known = sorted(sample)
    what = f"the {kind} gate's result" if kind else "the result"
    for name in _FIELD.findall(_STRING.sub("''", expression)):
        if name not in sample:
            return f"result has no field {name!r}; {_fields(what, known)}"
    try:
        evaluate_condition(expression, sample)
    except ConditionError as error:
        cause = error.__cause__
        if isinstance(cause, KeyError | IndexError) and open_keys:
            return None
        if isinstance(cause, KeyError):
            return f"result has no field {cause.args[0]!r} there; {_fields(what, known)}"
        return str(error)
    return None


def _fields(what: str, known: list[str]) -> str:
    return f"{what} has: {', '.join(known)}" if known else f"{what} has no fields"


def _explain(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"no such key: {error.args[0] if error.args else ''}"
    if isinstance(error, IndexError):
        return f"index out of range: {_words(error)}"
    return _words(error)


def _words(error: Exception) -> str:
    """The library's message, its first sentences (its advice included), on one line."""
    text = " ".join(str(error).split())
    return text if len(text) <= _MAX_WORDS else text[: _MAX_WORDS - 1] + "…"
