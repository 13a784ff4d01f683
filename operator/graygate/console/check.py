"""`graygate check`, the pure half: the manifest with the command line's overrides applied, and the report.

Why pure and apart from the command: what `check` prints is a contract (people read it, CI parses the JSON, the
exit code gates pipelines), so it is built from plain verdicts and tested with tables, no server. The other half,
`graygate.console.check_run`, takes the measurements.

The report holds one line per gate with its sample verdict (one sample: a gate's `successThreshold` and
`failureThreshold` count consecutive analyses in the operator and are not applied here), its value, its threshold
and its reason. The release's verdict is the worst of them (a `dryRun` gate's is shown, marked, but left out),
and decides the exit code:

    0  Pass                               every gate passed
    1  Fail                               a gate failed: the canary is not fit for traffic
    2  Waiting, Inconclusive or Error     the gates could not judge (no data yet, unreachable, no credentials)

Stage hooks (`spec.hooks`) that judge the canary are called as the operator calls them, as `webhook` gates with
their stage in the payload, each line marked with its stage, and count like gates: the `preRollout` hooks (a
failure stops a release at 0 %) and the `rollout` hooks (gates of every analysis). The others act on a live release
(an approval it waits for, a kill switch, a notice of its end): they are listed as not called, with the reason, and
count toward nothing (JSON: `notCalled`).

Overrides rewrite the manifest before it is validated, so an override is held to the same rules as the manifest:
`--url GATE=URL` points gate GATE somewhere else (a probe's `url`, a Prometheus gate's `source.address`, or the
field named by `--url GATE.FIELD=URL` for a gate kind with several addresses; a webhook's headers read from Secrets
are dropped with its URL, as a stand-in receiver needs no token), and `--prometheus URL` sends every
Prometheus gate to URL: it is the default address (as the operator's `--prometheus-address`) and replaces the
address of every `source`, whose credentials are dropped (they live in Secrets, which `check` cannot read).
`--etcd ENDPOINTS` does the same for the gates that talk to etcd: their `etcd.endpoints` are replaced, and their
`tls` and `auth` (Secrets too) dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graygate.api import Outcome
from graygate.domain.analysis.verdicts import Verdict, worst
from graygate.errors import GraygateError

__all__ = [
    "NOT_CALLED",
    "CheckReport",
    "GateLine",
    "NotCalled",
    "UrlOverride",
    "apply_overrides",
    "exit_code",
    "parse_url_override",
    "render_human",
    "render_json",
    "report_of",
]

_EXIT = {Outcome.PASS: 0, Outcome.FAIL: 1}
_COMMON_KEYS = frozenset({"name", "critical", "successThreshold", "failureThreshold"})
_CREDENTIAL_KEYS = ("bearerToken", "basicAuth", "ca")
_ETCD_SECRET_KEYS = ("tls", "auth")
_OVERRIDE = re.compile(r"^(?P<gate>[a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.(?P<field>[A-Za-z][A-Za-z0-9]*))?=(?P<url>.+)$")
_COLORS = {Outcome.PASS: "32", Outcome.WAITING: "36", Outcome.INCONCLUSIVE: "33", Outcome.ERROR: "33"}

NOT_CALLED: Mapping[str, str] = {
    "confirmRollout": "an approval a live release waits for before it starts; calling it here could approve one",
    "confirmPromotion": "an approval a live release waits for after its last step; calling it here could approve one",
    "rollback": "a 2xx rolls a live release back; its answer means nothing without one",
    "postRollout": "told a live release's final phase once it has ended; there is none here",
}
"""Why `check` does not call a hook of each stage it leaves alone."""


def exit_code(outcome: Outcome) -> int:
    """0 for Pass, 1 for Fail, 2 for anything that could not be judged."""
    return _EXIT.get(outcome, 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class GateLine:
    """One gate's sample verdict, as reported."""

    name: str
    kind: str
    outcome: Outcome
    reason: str
    value: str | None = None
    threshold: str | None = None
    query: str | None = None
    dry_run: bool = False
    stage: str | None = None
    """A stage hook's stage (it was called as a `webhook` gate at that stage); None for a gate."""

    def as_json(self) -> dict[str, str | bool | None]:
        out: dict[str, str | bool | None] = {
            "name": self.name,
            "kind": self.kind,
            "verdict": self.outcome.value,
            "value": self.value,
            "threshold": self.threshold,
            "reason": self.reason,
        }
        if self.query is not None:
            out["query"] = self.query
        if self.dry_run:
            out["dryRun"] = True
        if self.stage is not None:
            out["stage"] = self.stage
        return out


@dataclass(frozen=True, slots=True)
class NotCalled:
    """A stage hook `check` does not call, and why."""

    name: str
    stage: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "stage": self.stage, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    """What `graygate check` found for one release."""

    release: str
    """`namespace/name`."""
    gates: tuple[GateLine, ...]
    """The gates and the stage hooks called, each with its verdict."""
    not_called: tuple[NotCalled, ...] = ()
    """The stage hooks that act on a live release: listed, not called."""

    @property
    def outcome(self) -> Outcome:
        return worst(gate.outcome for gate in self.gates if not gate.dry_run)

    @property
    def exit_code(self) -> int:
        return exit_code(self.outcome)

    @property
    def deciding(self) -> tuple[GateLine, ...]:
        """The gates whose verdict is the release's (none when everything passed)."""
        outcome = self.outcome
        return () if outcome is Outcome.PASS else tuple(g for g in self.gates if g.outcome is outcome and not g.dry_run)


def report_of(
    release: str,
    verdicts: Iterable[Verdict],
    stages: Mapping[str, str] | None = None,
    not_called: Iterable[NotCalled] = (),
) -> CheckReport:
    """The report of `verdicts`; `stages` gives the stage of each verdict that is a stage hook's, by name."""
    staged = stages or {}
    lines = tuple(
        GateLine(
            name=v.gate,
            kind=v.kind,
            outcome=v.outcome,
            reason=v.reason,
            value=v.value,
            threshold=v.threshold,
            query=v.query,
            dry_run=v.dry_run,
            stage=staged.get(v.gate),
        )
        for v in verdicts
    )
    return CheckReport(release=release, gates=lines, not_called=tuple(not_called))


def render_json(report: CheckReport) -> str:
    document: dict[str, Any] = {
        "release": report.release,
        "verdict": report.outcome.value,
        "gates": [gate.as_json() for gate in report.gates],
    }
    if report.not_called:
        document["notCalled"] = [hook.as_json() for hook in report.not_called]
    return json.dumps(document, indent=2)


def render_human(report: CheckReport, *, color: bool) -> str:
    """A table, one line per gate or hook called (the reason last, unclipped; a STAGE column when hooks were
    called), the hooks not called and why, then the verdict and what it means."""
    if not report.gates and not report.not_called:
        return f"{report.release}: no gates to check; verdict {Outcome.PASS.value}"
    staged = any(gate.stage is not None for gate in report.gates)
    stage: tuple[str, ...] = ("STAGE",) if staged else ()
    rows = [("GATE", "KIND", *stage, "VERDICT", "VALUE", "THRESHOLD", "REASON")]
    rows += [
        (
            g.name,
            g.kind,
            *((g.stage or "-",) if staged else ()),
            _verdict(g),
            g.value or "-",
            g.threshold or "-",
            g.reason,
        )
        for g in report.gates
    ]
    verdict = rows[0].index("VERDICT")
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = []
    for index, row in enumerate(rows if report.gates else ()):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        if index > 0:
            cells[verdict] = _paint(cells[verdict], report.gates[index - 1].outcome, color)
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    if report.not_called:
        lines += [""] if lines else []
        lines.append("not called by check (they act on a live release):")
        name_width = max(len(hook.name) for hook in report.not_called)
        stage_width = max(len(hook.stage) for hook in report.not_called)
        lines += [
            f"  {hook.name.ljust(name_width)}  {hook.stage.ljust(stage_width)}  {hook.reason}"
            for hook in report.not_called
        ]
    lines.append("")
    lines.append(f"{report.release}: {_paint(report.outcome.value, report.outcome, color)} " + _meaning(report))
    return "\n".join(lines)


def _verdict(gate: GateLine) -> str:
    return gate.outcome.value + (" (dry run)" if gate.dry_run else "")


def _meaning(report: CheckReport) -> str:
    names = ", ".join(gate.name for gate in report.deciding)
    if not report.gates:
        return "(no gate or hook to call here)"
    if report.outcome is Outcome.PASS:
        hooks = " and hook(s)" if any(gate.stage is not None for gate in report.gates) else ""
        return f"(all {len(report.gates)} gate(s){hooks} passed)"
    if report.outcome is Outcome.FAIL:
        return f"(failed: {names})"
    return f"(could not judge: {names})"


def _paint(text: str, outcome: Outcome, enabled: bool) -> str:
    code = _COLORS.get(outcome, "31")
    return f"\033[{code}m{text}\033[0m" if enabled else text


# ---- overrides -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UrlOverride:
    """`--url GATE[.FIELD]=URL`."""

    gate: str
    url: str
    field: str | None = None


def parse_url_override(text: str) -> UrlOverride:
    """`health=http://…` or `parity.canaryUrl=http://…`; raises GraygateError for anything else."""
    match = _OVERRIDE.match(text)
    if match is None or not match["url"].startswith(("http://", "https://")):
        raise GraygateError(f"--url {text!r}: expected GATE=URL or GATE.FIELD=URL with an http(s) URL")
    return UrlOverride(gate=match["gate"], url=match["url"], field=match["field"])


def apply_overrides(
    spec: Mapping[str, Any],
    urls: Sequence[UrlOverride] = (),
    prometheus: str | None = None,
    etcd: Sequence[str] = (),
) -> dict[str, Any]:
    """A copy of the manifest's raw `spec` with the overrides applied (validated afterwards, like any spec)."""
    copied: dict[str, Any] = json.loads(json.dumps(spec))
    gates: list[dict[str, Any]] = [gate for gate in _gates(copied) if isinstance(gate, dict)]
    if etcd:
        for check in (gate[key] for gate in gates for key in gate if key not in _COMMON_KEYS):
            if isinstance(check, dict) and isinstance(check.get("etcd"), dict):
                check["etcd"] = {**_without(check["etcd"], _ETCD_SECRET_KEYS), "endpoints": list(etcd)}
    if prometheus is not None:
        for gate in gates:
            check = gate.get("prometheus")
            if isinstance(check, dict) and isinstance(check.get("source"), dict):
                check["source"] = {**_without(check["source"], _CREDENTIAL_KEYS), "address": prometheus}
    hooks = [hook for hook in copied.get("hooks") or () if isinstance(hook, dict)]
    by_name = {gate.get("name"): gate for gate in gates}
    for override in urls:
        target = by_name.get(override.gate) or next((h for h in hooks if h.get("name") == override.gate), None)
        if target is None:
            known = ", ".join(str(name) for name in by_name) or "none"
            named = ", ".join(str(hook.get("name")) for hook in hooks)
            also = f"; hooks: {named}" if named else ""
            said = f"the release has no gate {override.gate} (gates: {known}{also})"
            raise GraygateError(f"--url {override.gate}=…: {said}")
        _point(target, override)
    return copied


def _gates(spec: dict[str, Any]) -> list[Any]:
    analysis = spec.get("analysis")
    gates = analysis.get("gates") if isinstance(analysis, dict) else None
    return list(gates) if isinstance(gates, list) else []


def _without(body: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    dropped = set(keys)
    return {key: value for key, value in body.items() if key not in dropped}


def _point(gate: dict[str, Any], override: UrlOverride) -> None:
    kinds = [key for key in gate if key not in _COMMON_KEYS and isinstance(gate[key], dict)]
    if len(kinds) != 1:
        raise GraygateError(f"--url {override.gate}=…: gate {override.gate} has no single kind to point elsewhere")
    kind, check = kinds[0], gate[kinds[0]]
    if override.field is not None:
        if override.field not in check:
            raise GraygateError(f"--url {override.gate}.{override.field}=…: a {kind} gate here has no {override.field}")
        check[override.field] = override.url
    elif kind == "prometheus":
        check["source"] = {**(check.get("source") or {}), "address": override.url}
    elif "url" in check:
        check["url"] = override.url
        if kind == "webhook" and isinstance(check.get("headers"), list):
            check["headers"] = [h for h in check["headers"] if not (isinstance(h, dict) and "valueFrom" in h)]
    else:
        fields = ", ".join(key for key, value in check.items() if isinstance(value, str) and "://" in value)
        hint = f"; name one: --url {override.gate}.FIELD=URL ({fields})" if fields else ""
        raise GraygateError(f"--url {override.gate}=…: a {kind} gate has no single URL to override{hint}")
