"""`graygate lint`: CanaryRelease manifests checked offline with the operator's own rules, every problem at once.

The CRD schema is generated from the same pydantic models and its CEL rules mirror their validators, so a manifest
that passes here passes the API server and the operator. A release's `analysis.gateRefs` are expanded as the
operator expands them, with the templates found in the files given (each template is linted too) or, with
`--cluster`, in the cluster.

Every layer that can run does, so one run reports all of a file's problems: the fields (pydantic reports them all),
each unknown field with the nearest valid name, a Flagger or Argo Rollouts spec pasted in, and every CEL rule of the
CRD the raw spec breaks (`lint_cel`: the rules across fields, which the models check only once the fields below
are valid, and one at a time). What CEL cannot express, the name-dependent rules, the gate templates and the
warnings need a spec that parses: unknown fields are left out for them (reported already), and where other errors
stop them that is said once. Each problem is printed with the
line and column of its field (`lint_source`), warnings (`lint_warnings`) after the errors at the same place.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ValidationError

from graygate.api import API_VERSION, KIND, CanaryReleaseStatus
from graygate.api.gate_templates import GateTemplateSpec, arg_references
from graygate.api.gates import Gate
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.validation import InvalidSpec, describe_errors, field_path, release_problems
from graygate.console.lint_cel import rule_problems
from graygate.console.lint_hints import foreign_field, foreign_spec, model_schema, nearest_field, number_hint
from graygate.console.lint_source import Document, FieldPath, read_documents, split_message
from graygate.console.lint_warnings import Warning, warnings_of
from graygate.console.templates import FileTemplates, is_template
from graygate.domain.release.gate_templates import templated

__all__ = ["STOPPED", "LintProblem", "Severity", "lint_files", "lint_text", "load_documents"]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_AT = re.compile(r"^(\d+):(\d+): (.*)$", re.DOTALL)
_TOP_LEVEL = ("apiVersion", "kind", "metadata", "spec", "status")
STOPPED = (
    "the checks CEL cannot express (a gate's condition against its kind, the names a query uses, the rules that "
    "need the release's name), the gate templates and the warnings run once the errors in this spec are fixed"
)


Severity = Literal["error", "warning", "note"]
"""A warning: valid but likely a mistake; a note: what the errors kept from being checked."""


@dataclass(frozen=True)
class LintProblem:
    """One problem: `message` is `path: why` (the operator's words); `line` and `column` are the path's in the
    file; `documents` is how many the file holds (the document is named only when there are several)."""

    source: str
    document: int
    message: str
    line: int = 1
    column: int = 1
    severity: Severity = "error"
    documents: int = 1

    @property
    def error(self) -> bool:
        """An error (not a warning, nor the note saying what was not checked)."""
        return self.severity == "error"

    def __str__(self) -> str:
        where = f"[document {self.document}] " if self.documents > 1 else ""
        kind = "" if self.error else f"{self.severity}: "
        return f"{self.source}:{self.line}:{self.column}: {where}{kind}{self.message}"


def load_documents(text: str) -> list[object] | str:
    """The YAML documents of `text`, or why it is not YAML."""
    documents = read_documents(text)
    return documents if isinstance(documents, str) else [document.value for document in documents]


def lint_text(text: str, source: str, templates: FileTemplates | None = None) -> tuple[list[LintProblem], int]:
    """Problems in every CanaryRelease and gate template of `text`, in file order, and how many CanaryReleases it
    holds. A release's gateRefs are expanded with `templates` (default: the templates in `text`)."""
    documents = read_documents(text)
    if isinstance(documents, str):
        line, column, why = match.groups() if (match := _AT.match(documents)) else ("1", "1", documents)
        return [LintProblem(source, 1, why, int(line), int(column))], 0
    known = templates if templates is not None else FileTemplates(document.value for document in documents)
    problems: list[LintProblem] = []
    releases = 0
    for document in documents:
        found: list[tuple[str, Severity]] = []
        value = document.value
        if is_template(value):
            assert isinstance(value, dict)
            found.extend((message, "error") for message in _template_messages(value.get("spec") or {}))
        if isinstance(value, dict) and value.get("kind") == KIND:
            releases += 1
            found.extend(_lint_release(value, known))
        problems.extend(_located(source, document, len(documents), message, severity) for message, severity in found)
    return sorted(problems, key=_order), releases


def _order(problem: LintProblem) -> tuple[int, bool, int, int, bool]:
    """File order, warnings after errors at the same place, and the note of what was not checked last."""
    return (problem.document, problem.severity == "note", problem.line, problem.column, not problem.error)


def lint_files(
    texts: Sequence[tuple[str, str]], templates: FileTemplates | None = None
) -> tuple[list[LintProblem], int]:
    """`lint_text` over (text, source) pairs, each release's refs expanded with the templates of every file."""
    if templates is None:
        documents = [load_documents(text) for text, _ in texts]
        templates = FileTemplates(d for found in documents if not isinstance(found, str) for d in found)
    problems: list[LintProblem] = []
    releases = 0
    for text, source in texts:
        found, count = lint_text(text, source, templates)
        problems.extend(found)
        releases += count
    return problems, releases


def _located(source: str, document: Document, documents: int, message: str, severity: Severity) -> LintProblem:
    path, _, _ = split_message(message)
    line, column = document.locate(path)
    return LintProblem(source, document.index, message, line, column, severity, documents)


def _model_messages(
    model: type[BaseModel],
    raw: object,
    root: str = "spec",
    skip: Callable[[FieldPath], bool] = lambda _: False,
) -> tuple[list[str], set[FieldPath]]:
    """Every field problem of `raw` under `root` as `model` sees it, with hints, and the unknown fields' paths
    (under `root`). An error at a location `skip` accepts is left out (an unknown field never is)."""
    try:
        model.model_validate(raw)
    except ValidationError as error:
        messages = list(describe_errors(error, root=root))
        unknown: set[FieldPath] = set()
        skipped: set[str] = set()
        for detail in error.errors(include_url=False):
            location = tuple(detail["loc"])
            prefix = f"{field_path(root, location)}: "
            if detail["type"] == "extra_forbidden":
                unknown.add(location)
                section = foreign_field(location) if model is CanaryReleaseSpec else None
                nearest = nearest_field(model, location) if section is None else None
                hint = f"; see {section}" if section else f"; did you mean {nearest}?" if nearest else ""
                messages = [
                    f"{prefix}unknown field{hint}" if m == f"{prefix}is not a known field" else m for m in messages
                ]
            elif skip(location):
                skipped.add(prefix)
            elif (unit := number_hint(location, detail.get("input"))) is not None:
                messages = [f"{m}; {unit}" if m.startswith(prefix) else m for m in messages]
        return [m for m in messages if not any(m.startswith(prefix) for prefix in skipped)], unknown
    return [], set()


def _template_messages(raw: object) -> list[str]:
    """Every problem of one GateTemplate or ClusterGateTemplate's spec on its own, whether or not a release uses
    it: the template's fields, then each gate as a release's gate, except where a value references an argument
    (`{{ args.x }}`: checked once a release fills it in) and never hiding an unknown field."""
    messages, _ = _model_messages(GateTemplateSpec, raw)
    gates = raw.get("gates") if isinstance(raw, dict) else None
    for index, gate in enumerate(gates if isinstance(gates, list) else []):
        if not isinstance(gate, dict):
            continue

        def templated_value(location: FieldPath, gate: dict[str, object] = gate) -> bool:
            return bool(arg_references(_value_at(gate, location)))

        found, _ = _model_messages(Gate, gate, f"spec.gates[{index}]", templated_value)
        messages.extend(message for message in found if message not in messages)
    return messages


def _value_at(raw: object, location: FieldPath) -> object:
    """The value at `location` in `raw` (None where it has none)."""
    for part in location:
        if isinstance(raw, dict) and part in raw:
            raw = raw[part]
            continue
        if not (isinstance(raw, list) and isinstance(part, int) and 0 <= part < len(raw)):
            return None
        raw = raw[part]
    return raw


def _without(raw: object, paths: set[FieldPath]) -> object:
    """A copy of `raw` without the fields at `paths`."""
    if isinstance(raw, dict):
        return {
            key: _without(value, {p[1:] for p in paths if p and p[0] == key})
            for key, value in raw.items()
            if (key,) not in paths
        }
    if isinstance(raw, list):
        return [_without(item, {p[1:] for p in paths if p and p[0] == index}) for index, item in enumerate(raw)]
    return raw


def _reported(message: str, known: Sequence[str]) -> bool:
    return any(old == message or old.startswith(f"{message}; ") for old in known)


def _warning_text(warning: Warning, spec: CanaryReleaseSpec, written: int) -> str:
    """`path: message`; a warning about a gate a template added (past the `written` ones) is put on the refs, with
    the gate's name, since the file has no such path."""
    path, _, _ = split_message(f"{warning.path}: -")
    index = path[3] if path[:3] == ("spec", "analysis", "gates") and len(path) > 3 else None
    if isinstance(index, int) and index >= written:
        below = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path[4:])
        gate = spec.analysis.gates[index].name
        return f"spec.analysis.gateRefs: gate {gate} of a template, {below.lstrip('.')}: {warning.message}"
    return f"{warning.path}: {warning.message}"


def _said(rule: str, known: Sequence[str]) -> bool:
    """Whether a CEL rule's problem is one the models reported already, in their words: the same sentence, or one
    ending the same way (the models name the gate and the values: `gate x: prometheus source timeout 30s must be
    shorter than the analysis interval 30s` for the rule's `every prometheus source timeout must be shorter than
    the analysis interval`)."""
    _, _, why = split_message(rule)
    return any(why in old or why[-25:] in old for old in known)


def _lint_release(document: dict[str, object], templates: FileTemplates) -> list[tuple[str, Severity]]:
    """(message, severity) for each problem of one CanaryRelease document."""
    messages: list[str] = []
    if document.get("apiVersion") != API_VERSION:
        messages.append(f"apiVersion: must be {API_VERSION}, not {document.get('apiVersion')!r}")
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.fullmatch(name) or len(name) > 253:
        messages.append("metadata.name: required, a lowercase DNS name such as `checkout`")
    for key in document:
        if key not in _TOP_LEVEL:
            nearest = difflib.get_close_matches(str(key), _TOP_LEVEL, n=1, cutoff=0.6)
            messages.append(f"{key}: unknown top-level field" + (f"; did you mean {nearest[0]}?" if nearest else ""))
    raw = document.get("spec") or {}
    messages.extend(f"spec: {why}" for why in foreign_spec(raw))
    found, unknown = _model_messages(CanaryReleaseSpec, raw)
    messages.extend(found)
    pruned = _without(raw, unknown)
    try:
        spec = CanaryReleaseSpec.model_validate(pruned)
    except ValidationError as error:
        if unknown:  # the rules the unknown fields hid (the spec-wide ones) are reported now
            known = tuple(messages)
            messages.extend(m for m in describe_errors(error, root="spec") if not _reported(m, known))
        known = tuple(messages)  # every rule across fields, even where a field error stops the models' validators
        messages.extend(m for m in rule_problems(model_schema(CanaryReleaseSpec), pruned) if not _said(m, known))
        return [*((message, "error") for message in messages), (f"spec: {STOPPED}", "note")]
    if isinstance(name, str):
        messages.extend(release_problems(spec, name))
    whole = spec
    if spec.analysis.gate_refs:
        where = namespace if isinstance(namespace, str) else None
        read = templates.read(where, spec.analysis.gate_refs)
        expanded = templated(spec, CanaryReleaseStatus(), 1, read, where or "<the release's namespace>")
        if isinstance(expanded, InvalidSpec):
            messages.extend(expanded.problems)
        else:
            whole = expanded.spec
    warnings = [_warning_text(warning, whole, len(spec.analysis.gates)) for warning in warnings_of(whole)]
    return [*((message, "error") for message in messages), *((message, "warning") for message in warnings)]
