"""`analysis.gateRefs` expanded into gates: a pure function of the spec and the templates read, and the run's
snapshot of the result.

Why a snapshot: a run is judged by one set of gates from its first analysis to its end. The gates a run's refs
expand to are recorded in `status.expandedGates` on the tick that first expands them (the run's first tick, or the
first after it started over) and read from there for the rest of the run, so a template edited, broken or deleted
mid-run changes nothing of it; a template fix applies to the next run (a new generation, a new revision, a retry).

Naming: an expanded gate keeps the name the template gives it (as Argo Rollouts keeps an AnalysisTemplate's metric
names), so Events, status and metrics say `success-rate`, not a generated name; `status.expandedGates` says which
template each came from. A name used twice (by an inline gate, a stage hook, another ref, or the same template
referenced twice) is `Invalid`, naming both places: a hook shares the status's per-name records, and a `rollout`
hook runs as a gate of the analysis. The gates, the expanded gates and the `rollout` hooks together are at most
`MAX_GATES`.

Every problem is `Invalid` with its field path (`spec.analysis.gateRefs[0].args.threshold: required argument
missing`), before any traffic moves: unknown or missing arguments, wrong types, a missing or invalid template, and
an expanded gate that does not validate as a gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from graygate.api.analysis import Analysis
from graygate.api.gate_templates import (
    CLUSTER_TEMPLATE_KIND,
    ExpandedGates,
    ExpandedRef,
    GateRef,
    GateTemplateSpec,
)
from graygate.api.gates import MAX_GATES, Gate
from graygate.api.hooks import ROLLOUT
from graygate.api.spec import CanaryReleaseSpec
from graygate.api.status import CanaryReleaseStatus
from graygate.api.validation import InvalidSpec, describe_errors
from graygate.domain.release.template_args import arg_text, resolve_args, substitute

__all__ = [
    "SNAPSHOT_UNUSABLE",
    "Expanded",
    "TemplateKey",
    "TemplatesRead",
    "expand",
    "record",
    "refs_to_read",
    "templated",
]

TemplateKey = tuple[str, str]
"""(kind, name) of a template."""

TemplatesRead = Mapping[TemplateKey, Mapping[str, Any] | None]
"""The templates one tick read, by (kind, name): the object's raw `spec`, or None when it does not exist (a
`GateTemplate` is read from the release's namespace only)."""


@dataclass(frozen=True, slots=True)
class Expanded:
    """A spec whose `analysis.gates` include the gates of its refs."""

    spec: CanaryReleaseSpec
    fresh: ExpandedGates | None = None
    """Expanded this tick from the templates read: to record in the status. None: taken from the status."""


def refs_to_read(spec: CanaryReleaseSpec, status: CanaryReleaseStatus, generation: int) -> tuple[GateRef, ...]:
    """The refs whose templates this tick must read: all of them unless the run's snapshot is current and still
    validates (the same test `templated` applies, so a snapshot it cannot use is never left without templates)."""
    if not spec.analysis.gate_refs or _kept(spec, status, generation) is not None:
        return ()
    return spec.analysis.gate_refs


def templated(
    spec: CanaryReleaseSpec,
    status: CanaryReleaseStatus,
    generation: int,
    templates: TemplatesRead,
    namespace: str,
) -> Expanded | InvalidSpec:
    """The spec with its refs' gates: from the run's snapshot when it is current, else expanded from `templates`."""
    if not spec.analysis.gate_refs:
        return Expanded(spec)
    kept = _kept(spec, status, generation)
    if kept is not None:
        return Expanded(kept)
    expanded = expand(spec, generation, templates, namespace)
    if isinstance(expanded, InvalidSpec) and _current(status, generation) is not None:
        return InvalidSpec((*expanded.problems, SNAPSHOT_UNUSABLE))
    return expanded


SNAPSHOT_UNUSABLE = (
    "status.expandedGates: the run's snapshot of its expanded gates no longer validates (written by another version "
    "of graygate), so the gate templates were read and expanded again mid-run"
)
"""Said with the problems of a mid-run expansion that failed: why the run's templates were read again."""


def _kept(spec: CanaryReleaseSpec, status: CanaryReleaseStatus, generation: int) -> CanaryReleaseSpec | None:
    """The spec with the run's snapshot of its refs' gates; None when there is no current snapshot or it no longer
    validates (then the templates are read and expanded again)."""
    snapshot = _current(status, generation)
    if snapshot is None:
        return None
    gates = _snapshot_gates(snapshot)
    kept = _with_gates(spec, gates) if gates is not None else None
    return kept if isinstance(kept, CanaryReleaseSpec) else None


def record(status: CanaryReleaseStatus, fresh: ExpandedGates | None) -> CanaryReleaseStatus:
    """`status` with a fresh expansion (`Expanded.fresh`) recorded; unchanged without one."""
    if fresh is None or status.expanded_gates == fresh:
        return status
    return status.model_copy(update={"expanded_gates": fresh})


def expand(
    spec: CanaryReleaseSpec, generation: int, templates: TemplatesRead, namespace: str
) -> Expanded | InvalidSpec:
    """Expand every ref of `spec` with the templates read; the problems, each with its field path, otherwise."""
    problems: list[str] = []
    owners = {hook.name: f"spec.hooks[{i}]" for i, hook in enumerate(spec.hooks)}
    owners.update({gate.name: f"spec.analysis.gates[{i}]" for i, gate in enumerate(spec.analysis.gates)})
    gates: list[Gate] = []
    refs: list[ExpandedRef] = []
    for index, ref in enumerate(spec.analysis.gate_refs):
        where = f"spec.analysis.gateRefs[{index}]"
        found = _expand_ref(ref, where, templates.get((ref.kind, ref.name)), namespace, problems)
        if found is None:
            continue
        expanded_ref, ref_gates = found
        refs.append(expanded_ref)
        for gate in ref_gates:
            if gate.name in owners:
                problems.append(
                    f"{where}: {ref.label} has a gate {gate.name}, a name {owners[gate.name]} already uses; gate "
                    "and hook names must be unique in a release"
                )
            owners.setdefault(gate.name, f"{where} ({ref.label})")
            gates.append(gate)
    rollout = sum(hook.stage == ROLLOUT for hook in spec.hooks)
    if not problems and (total := len(spec.analysis.gates) + len(gates) + rollout) > MAX_GATES:
        hooks = f" and {rollout} rollout hook(s), which run as gates," if rollout else ""
        problems.append(
            f"spec.analysis.gateRefs: with its templates' {len(gates)} gate(s){hooks} the release has {total}; at "
            f"most {MAX_GATES} are allowed"
        )
    if problems:
        return InvalidSpec(tuple(problems))
    extended = _with_gates(spec, gates)
    if isinstance(extended, InvalidSpec):
        return extended
    return Expanded(extended, fresh=ExpandedGates(generation=generation, refs=tuple(refs)))


def _expand_ref(
    ref: GateRef, where: str, raw: Mapping[str, Any] | None, namespace: str, problems: list[str]
) -> tuple[ExpandedRef, list[Gate]] | None:
    if raw is None:
        if ref.kind == CLUSTER_TEMPLATE_KIND:
            problems.append(f"{where}: ClusterGateTemplate {ref.name} not found")
        else:
            problems.append(
                f"{where}: GateTemplate {ref.name} not found in namespace {namespace} (a GateTemplate is read from "
                "the release's own namespace; share gates across namespaces with a ClusterGateTemplate)"
            )
        return None
    try:
        template = GateTemplateSpec.model_validate(raw)
    except ValidationError as error:
        said = "; ".join(describe_errors(error, root="spec"))
        problems.append(f"{where}: {ref.label} is not a valid template: {said}")
        return None
    values, wrong = resolve_args(template.args, ref.args, where, ref.label)
    if wrong:
        problems.extend(wrong)
        return None
    gates: list[Gate] = []
    definitions: list[dict[str, Any]] = []
    for template_gate in template.gates:
        filled, misplaced = substitute(template_gate.model_dump(by_alias=True), values)
        at = f"{where} ({ref.label}, gate {template_gate.name})"
        problems.extend(f"{at}: {problem}" for problem in misplaced)
        if misplaced:
            continue
        try:
            gate = Gate.model_validate(filled)
        except ValidationError as error:
            problems.extend(f"{at}: {line.lstrip('.')}" for line in describe_errors(error, root=""))
            continue
        gates.append(gate)
        definitions.append(gate.model_dump(mode="json", by_alias=True, exclude_none=True))
    if len(gates) != len(template.gates):
        return None
    args = {arg.name: arg_text(values[arg.name]) for arg in template.args}
    return ExpandedRef(template=ref.label, args=args, gates=tuple(definitions)), gates


def _with_gates(spec: CanaryReleaseSpec, gates: Sequence[Gate]) -> CanaryReleaseSpec | InvalidSpec:
    """`spec` with `gates` after its own, validated as a whole (unique names, bounded waits, the names a
    Prometheus gate needs)."""
    fields = {name: getattr(spec.analysis, name) for name in spec.analysis.model_fields_set}
    try:
        analysis = Analysis.model_validate({**fields, "gates": (*spec.analysis.gates, *gates)})
    except ValidationError as error:
        return InvalidSpec(_from_refs(describe_errors(error, root="spec.analysis")))
    try:
        whole = {name: getattr(spec, name) for name in spec.model_fields_set}
        return CanaryReleaseSpec.model_validate({**whole, "analysis": analysis})
    except ValidationError as error:
        return InvalidSpec(_from_refs(describe_errors(error, root="spec")))


def _from_refs(problems: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{problem} (with the gates of spec.analysis.gateRefs)" for problem in problems)


def _current(status: CanaryReleaseStatus, generation: int) -> ExpandedGates | None:
    snapshot = status.expanded_gates
    return snapshot if snapshot is not None and snapshot.generation == generation else None


def _snapshot_gates(snapshot: ExpandedGates) -> list[Gate] | None:
    try:
        return [Gate.model_validate(definition) for ref in snapshot.refs for definition in ref.gates]
    except ValidationError:
        return None  # written by another version of graygate: expanded again
