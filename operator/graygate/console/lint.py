"""`graygate lint`: CanaryRelease manifests checked offline with the operator's own rules.

The CRD schema is generated from the same pydantic models and its CEL rules mirror their validators, so a manifest
that passes here passes the API server and the operator; each problem names the document and the field path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from graygate.api import API_VERSION, KIND
from graygate.api.validation import InvalidSpec, parse_spec

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class LintProblem:
    source: str
    document: int
    message: str

    def __str__(self) -> str:
        return f"{self.source} (document {self.document}): {self.message}"


def lint_text(text: str, source: str) -> tuple[list[LintProblem], int]:
    """Problems in every CanaryRelease of `text`, and how many CanaryReleases it holds."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        return [LintProblem(source, 1, f"not valid YAML: {error}")], 0
    problems: list[LintProblem] = []
    releases = 0
    for index, document in enumerate(documents, start=1):
        if not isinstance(document, dict) or document.get("kind") != KIND:
            continue
        releases += 1
        problems.extend(LintProblem(source, index, message) for message in _lint_release(document))
    return problems, releases


def _lint_release(document: dict[str, object]) -> list[str]:
    messages: list[str] = []
    if document.get("apiVersion") != API_VERSION:
        messages.append(f"apiVersion: must be {API_VERSION}, not {document.get('apiVersion')!r}")
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.fullmatch(name) or len(name) > 253:
        messages.append("metadata.name: required, a lowercase DNS name such as `checkout`")
    spec = parse_spec(document.get("spec") or {}, release=name if isinstance(name, str) else None)
    if isinstance(spec, InvalidSpec):
        messages.extend(spec.problems)
    unknown = sorted(set(document) - {"apiVersion", "kind", "metadata", "spec", "status"})
    if unknown:
        messages.append(f"unknown top-level fields: {', '.join(unknown)}")
    return messages
