"""`graygate lint`: CanaryRelease manifests checked offline with the operator's own rules.

The CRD schema is generated from the same pydantic models and its CEL rules mirror their validators, so a manifest
that passes here passes the API server and the operator; each problem names the document and the field path. A
release's `analysis.gateRefs` are expanded as the operator expands them, with the templates found in the files
given (each template is linted too) or, with `--cluster`, in the cluster.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import yaml
from pydantic import ValidationError

from graygate.api import API_VERSION, KIND, CanaryReleaseStatus
from graygate.api.gate_templates import GateTemplateSpec
from graygate.api.validation import InvalidSpec, describe_errors, parse_spec
from graygate.console.templates import FileTemplates, is_template
from graygate.domain.release.gate_templates import templated

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class LintProblem:
    source: str
    document: int
    message: str

    def __str__(self) -> str:
        return f"{self.source} (document {self.document}): {self.message}"


def load_documents(text: str) -> list[object] | str:
    """The YAML documents of `text`, or why it is not YAML."""
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        return f"not valid YAML: {error}"


def lint_text(text: str, source: str, templates: FileTemplates | None = None) -> tuple[list[LintProblem], int]:
    """Problems in every CanaryRelease and gate template of `text`, and how many CanaryReleases it holds. A
    release's gateRefs are expanded with `templates` (default: the templates in `text`)."""
    documents = load_documents(text)
    if isinstance(documents, str):
        return [LintProblem(source, 1, documents)], 0
    known = templates if templates is not None else FileTemplates(documents)
    problems: list[LintProblem] = []
    releases = 0
    for index, document in enumerate(documents, start=1):
        if is_template(document):
            assert isinstance(document, dict)
            problems.extend(LintProblem(source, index, message) for message in _lint_template(document))
        if not isinstance(document, dict) or document.get("kind") != KIND:
            continue
        releases += 1
        problems.extend(LintProblem(source, index, message) for message in _lint_release(document, known))
    return problems, releases


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


def _lint_template(document: dict[str, object]) -> list[str]:
    try:
        GateTemplateSpec.model_validate(document.get("spec") or {})
    except ValidationError as error:
        return [f"{document.get('kind')}: {line}" for line in describe_errors(error, root="spec")]
    return []


def _lint_release(document: dict[str, object], templates: FileTemplates) -> list[str]:
    messages: list[str] = []
    if document.get("apiVersion") != API_VERSION:
        messages.append(f"apiVersion: must be {API_VERSION}, not {document.get('apiVersion')!r}")
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.fullmatch(name) or len(name) > 253:
        messages.append("metadata.name: required, a lowercase DNS name such as `checkout`")
    spec = parse_spec(document.get("spec") or {}, release=name if isinstance(name, str) else None)
    if isinstance(spec, InvalidSpec):
        messages.extend(spec.problems)
    elif spec.analysis.gate_refs:
        where = namespace if isinstance(namespace, str) else None
        read = templates.read(where, spec.analysis.gate_refs)
        expanded = templated(spec, CanaryReleaseStatus(), 1, read, where or "<the release's namespace>")
        if isinstance(expanded, InvalidSpec):
            messages.extend(expanded.problems)
    unknown = sorted(set(document) - {"apiVersion", "kind", "metadata", "spec", "status"})
    if unknown:
        messages.append(f"unknown top-level fields: {', '.join(unknown)}")
    return messages
