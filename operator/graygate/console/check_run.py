"""`graygate check`, the I/O half: read a manifest, take one measurement per gate outside any cluster, judge it.

Why a composition of its own instead of `graygate.wiring`: the operator's wiring needs an API server (Secrets,
workloads, VirtualServices); `check` must work from a laptop or a CI job with none. So it builds the same
`GateRunner` with the same metric provider, and stands an `OfflineSecrets` behind the Secret port that
refuses every read with a sentence saying what to pass instead. The judges are the domain's own (`judge`), so a
verdict here is the operator's sample verdict for the same observation. The canary workload's availability is not
checked: it lives in the cluster.

Stage hooks are called as the operator calls them: the `preRollout` hooks once, as `webhook` gates with
`stage: preRollout` in the payload, then the analysis' gates with the `rollout` hooks among them
(`hook_records.analysis_of`, `stage: rollout`). The other stages act on a live release and are only listed
(`check.NOT_CALLED`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import yaml

from graygate.api import KIND, InvalidSpec, parse_spec
from graygate.api.hooks import PRE_ROLLOUT, ROLLOUT
from graygate.console.check import NOT_CALLED, CheckReport, NotCalled, UrlOverride, apply_overrides, report_of
from graygate.console.lint_source import too_deep
from graygate.console.reachability import judged_from_here
from graygate.console.templates import ClusterTemplates, FileTemplates
from graygate.domain.analysis.judge import judge
from graygate.domain.analysis.promql import QueryScope
from graygate.domain.outbound import AddressRules
from graygate.domain.release.gate_templates import expand
from graygate.domain.release.hook_records import analysis_of, hooks_of
from graygate.errors import GateError, GraygateError
from graygate.gates.runner import GateRunner
from graygate.gates.tools import GateTools
from graygate.providers.prometheus import PrometheusProvider

__all__ = ["CheckRequest", "OfflineSecrets", "load_release", "run_check"]


@dataclass(frozen=True)
class CheckRequest:
    manifest_text: str
    source: str
    """Where the manifest came from, for messages."""
    urls: Sequence[UrlOverride] = ()
    prometheus: str | None = None
    namespace: str | None = None
    etcd: tuple[str, ...] = ()
    """etcd endpoints (`host:port`) for every gate that talks to etcd, instead of its own."""
    templates: tuple[str, ...] = ()
    """The text of files holding gate templates the release's `gateRefs` name (the manifest's own are read too)."""
    cluster: ClusterTemplates | None = None
    """Where to read the templates no file defines."""


class OfflineSecrets:
    """The Secret port of a process with no API server: every read is refused, saying what to do instead."""

    WHY = (
        "graygate check runs outside the cluster, with no API server to read it from; "
        "point the gate at a source that needs no credentials with --prometheus URL or --url GATE=URL"
    )

    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        raise GateError(self.WHY)

    async def config_map_value(self, namespace: str, name: str, key: str) -> str:
        raise GateError(self.WHY)


def load_release(text: str, source: str) -> dict[str, Any]:
    """The one CanaryRelease in `text`; raises GraygateError when there is none, several, or bad YAML."""
    if (deep := too_deep(text)) is not None:
        raise GraygateError(f"{source}:{deep}")
    try:
        documents = [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and d.get("kind") == KIND]
    except yaml.YAMLError as error:
        raise GraygateError(f"{source} is not valid YAML: {error}") from error
    if len(documents) != 1:
        raise GraygateError(f"{source} holds {len(documents)} CanaryReleases; graygate check takes exactly one")
    return documents[0]


def run_check(request: CheckRequest, now: datetime | None = None) -> CheckReport:
    """Measure every gate of the manifest's release once, now, and judge each measurement; call its `preRollout`
    and `rollout` hooks the same way, at their stages."""
    document = load_release(request.manifest_text, request.source)
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    name = str(metadata.get("name") or "release")
    namespace = request.namespace or str(metadata.get("namespace") or "default")
    raw = _expanded(request, document.get("spec") or {}, namespace)
    raw = apply_overrides(raw, request.urls, request.prometheus, request.etcd)
    spec = parse_spec(raw)
    if isinstance(spec, InvalidSpec):
        raise GraygateError(f"{request.source} is not a valid CanaryRelease: " + "; ".join(spec.problems))
    scope = QueryScope(
        namespace=namespace,
        release=name,
        spec=spec,
        labels=_strings(metadata.get("labels")),
        annotations=_strings(metadata.get("annotations")),
    )
    when = now or datetime.now(UTC)

    before = tuple(hook.gate() for hook in hooks_of(spec, PRE_ROLLOUT))
    analysis = analysis_of(spec).gates
    stages = {hook.name: hook.stage for hook in spec.hooks if hook.stage in (PRE_ROLLOUT, ROLLOUT)}
    skipped = tuple(
        NotCalled(hook.name, hook.stage, NOT_CALLED[hook.stage]) for hook in spec.hooks if hook.stage in NOT_CALLED
    )

    async def measure() -> CheckReport:
        trusted = AddressRules.naming([urlsplit(request.prometheus).hostname or ""] if request.prometheus else [])
        provider = PrometheusProvider(trusted)
        tools = GateTools(metrics=provider, secrets=OfflineSecrets(), default_prometheus=request.prometheus)
        runner = GateRunner(tools)
        try:
            measurements = await runner.measure(before, when, replace(scope, stage=PRE_ROLLOUT)) if before else []
            measurements = [*measurements, *await runner.measure(analysis, when, scope)]
        finally:
            await runner.close()
        by_name = {gate.name: gate for gate in (*before, *analysis)}
        judged = (judged_from_here(judge(by_name[m.gate], m), by_name[m.gate].check) for m in measurements)
        verdicts = (replace(v, dry_run=by_name[v.gate].dry_run) for v in judged)
        return report_of(f"{namespace}/{name}", verdicts, stages, skipped)

    return asyncio.run(measure())


def _strings(value: object) -> dict[str, str]:
    """A manifest's labels or annotations as strings (a webhook's payload carries them); nothing when malformed."""
    return {str(key): str(item) for key, item in value.items()} if isinstance(value, dict) else {}


def _expanded(request: CheckRequest, raw: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The raw spec with its `gateRefs` expanded into `gates`, as the operator expands them, so the overrides
    apply to the templates' gates too."""
    spec = parse_spec(raw)
    if isinstance(spec, InvalidSpec) or not spec.analysis.gate_refs:
        return raw
    for text in request.templates:
        if (deep := too_deep(text)) is not None:
            raise GraygateError(f"a gate template file: {deep}")
    documents = [d for text in (request.manifest_text, *request.templates) for d in yaml.safe_load_all(text)]
    read = FileTemplates(documents, request.cluster).read(namespace, spec.analysis.gate_refs)
    expanded = expand(spec, 1, read, namespace)
    if isinstance(expanded, InvalidSpec):
        raise GraygateError(f"{request.source} is not a valid CanaryRelease: " + "; ".join(expanded.problems))
    assert expanded.fresh is not None
    analysis = {key: value for key, value in dict(raw.get("analysis") or {}).items() if key != "gateRefs"}
    gates = [*analysis.get("gates", []), *(gate for ref in expanded.fresh.refs for gate in ref.gates)]
    return {**raw, "analysis": {**analysis, "gates": gates}}
