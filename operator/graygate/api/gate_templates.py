"""Gate templates: gates a platform team writes once (`GateTemplate`, `ClusterGateTemplate`), and the release's
`analysis.gateRefs` that use them.

Why a contract of its own: a template is a second kind of object with its own CRDs, read by the operator and by
`graygate lint`; the release only names it. A template's gates are the release's `Gate` with argument references
(`{{ args.name }}`) in their values, so they cannot be validated as gates until the arguments are known: the CRD
keeps them as objects with a `name`, and the operator validates each expanded gate exactly as it validates a gate
written in the release (`graygate.domain.release.gate_templates`).

The expanded gates of a run are recorded in `status.expandedGates` (`ExpandedGates`): what was checked, exactly.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from graygate.api.base import SpecModel, StatusModel
from graygate.api.cel import rules
from graygate.api.fields import DNS_SUBDOMAIN
from graygate.api.gates import MAX_GATES

__all__ = [
    "ARG_REFERENCE",
    "CLUSTER_TEMPLATE_KIND",
    "MAX_ARGS",
    "TEMPLATE_KIND",
    "TEMPLATE_KINDS",
    "ArgType",
    "ExpandedGates",
    "ExpandedRef",
    "GateRef",
    "GateTemplateSpec",
    "TemplateArg",
    "TemplateGate",
    "TemplateKind",
    "arg_references",
]

TEMPLATE_KIND = "GateTemplate"
CLUSTER_TEMPLATE_KIND = "ClusterGateTemplate"
TEMPLATE_KINDS = (TEMPLATE_KIND, CLUSTER_TEMPLATE_KIND)
TemplateKind = Literal["GateTemplate", "ClusterGateTemplate"]
ArgType = Literal["string", "number", "duration", "secret"]

MAX_ARGS = 32
"""The most arguments a template declares (and a ref gives)."""

ARG_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
ARG_REFERENCE = re.compile(r"\{\{\s*args\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
"""`{{ args.name }}`, as Argo Rollouts writes an AnalysisTemplate's arguments. Other `{{ ... }}` placeholders
(a Prometheus query's `{{ canaryWorkload }}`) are left for the gate to fill in."""

_GATE_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_PRESERVE: JsonDict = {"x-kubernetes-preserve-unknown-fields": True}


def arg_references(value: Any) -> set[str]:
    """The argument names referenced anywhere in `value` (strings inside dicts and lists)."""
    if isinstance(value, str):
        return set(ARG_REFERENCE.findall(value))
    if isinstance(value, dict):
        return set().union(*(arg_references(item) for item in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(arg_references(item) for item in value))
    return set()


class TemplateArg(SpecModel):
    """One argument a template declares. Without `default` it is required."""

    name: str = Field(pattern=ARG_NAME, max_length=63)
    """The argument's name, referenced in the gates as `{{ args.<name> }}`."""

    type: ArgType = "string"
    """`string`, `number`, `duration` (Go-style: `30s`, `1m`) or `secret` (a `{name, key}` reference to a Secret
    in the release's namespace, usable only where a gate takes a Secret key reference)."""

    default: Any = Field(default=None, json_schema_extra=_PRESERVE)
    """The value used when a release does not give one (not for `secret`). Without a default the argument is
    required."""

    description: str = Field(default="", max_length=1024)
    """What the argument means, for the people who use the template."""

    @property
    def required(self) -> bool:
        """Whether a release must give the argument."""
        return self.default is None


class TemplateGate(SpecModel):
    """A gate as a release's `analysis.gates[]` writes it, whose values may reference the template's arguments
    (`{{ args.<name> }}`): a whole value (`min: "{{ args.minSuccessRate }}"`, replaced by the typed value) or part
    of a text (a PromQL query). Validated as a gate once the arguments are filled in."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_PRESERVE)

    name: str = Field(pattern=_GATE_NAME, max_length=63)
    """The gate's name; the expanded gate keeps it, so it must not clash with another gate of the release."""


class GateTemplateSpec(SpecModel):
    """Gates written once, with the arguments each release fills in."""

    description: str = Field(default="", max_length=1024)
    """What the gates check, for the people who use the template."""

    args: tuple[TemplateArg, ...] = Field(
        default=(),
        max_length=MAX_ARGS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The arguments the gates reference."""

    gates: tuple[TemplateGate, ...] = Field(
        min_length=1,
        max_length=MAX_GATES,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The gates a reference expands to, in order."""

    @model_validator(mode="after")
    def _consistent(self) -> GateTemplateSpec:
        for field, names in (("args", [a.name for a in self.args]), ("gates", [g.name for g in self.gates])):
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValueError(f"{field} must have unique names; repeated: {', '.join(repeated)}")
        for arg in self.args:
            if arg.type == "secret" and arg.default is not None:
                raise ValueError(
                    f"argument {arg.name}: a secret argument has no default: each release names its Secret"
                )
        declared = {arg.name for arg in self.args}
        for gate in self.gates:
            unknown = sorted(arg_references(gate.model_dump(by_alias=True)) - declared)
            if unknown:
                raise ValueError(f"gate {gate.name} references undeclared arguments: {', '.join(unknown)}")
        return self


class GateRef(SpecModel):
    """Use the gates of a `GateTemplate` (in the release's namespace) or a `ClusterGateTemplate`."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            (
                "!has(self.namespace)",
                "a GateTemplate is read from the release's own namespace; share gates across namespaces with a "
                "ClusterGateTemplate",
            )
        )
    )

    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    """The template's name."""

    kind: TemplateKind = "GateTemplate"
    """`GateTemplate` (in the release's namespace) or `ClusterGateTemplate`."""

    args: dict[str, Any] = Field(default_factory=dict, max_length=MAX_ARGS, json_schema_extra=_PRESERVE)
    """The template's arguments, by name: a string, a number, a duration (`1m`) or, for a `secret` argument,
    `{name, key}` of a Secret in the release's namespace."""

    namespace: str | None = None
    """Refused: templates are never read from another namespace."""

    @model_validator(mode="after")
    def _same_namespace(self) -> GateRef:
        if self.namespace is not None:
            raise ValueError(
                f"namespace {self.namespace}: a GateTemplate is read from the release's own namespace; share gates "
                "across namespaces with a ClusterGateTemplate"
            )
        return self

    @property
    def label(self) -> str:
        """`ClusterGateTemplate/istio-success-rate`."""
        return f"{self.kind}/{self.name}"


class ExpandedRef(StatusModel):
    """The gates one `gateRefs[]` entry expanded to."""

    template: str
    """`<kind>/<name>` of the template."""

    args: dict[str, Annotated[str, Field(max_length=256)]] = Field(default_factory=dict, max_length=MAX_ARGS)
    """Every argument as used, defaults included, as text (a secret argument as `secret <name>/<key>`: its
    reference, never its value)."""

    gates: tuple[dict[str, Any], ...] = Field(
        default=(),
        max_length=MAX_GATES,
        json_schema_extra={
            "items": {"type": "object", "description": "One gate, as a release writes it.", **_PRESERVE}
        },
    )
    """The expanded gates, exactly as they are checked."""


class ExpandedGates(StatusModel):
    """The gates `analysis.gateRefs` expanded to for the current run: expanded when the run starts and used until
    it ends, so a template changed mid-run changes nothing of it; the next run expands again."""

    generation: int
    """The `metadata.generation` of the spec they were expanded from."""

    refs: tuple[ExpandedRef, ...] = Field(default=(), max_length=MAX_GATES)
    """One entry per `gateRefs[]` entry, in order."""
