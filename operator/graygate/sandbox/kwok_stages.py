"""The pod lifecycle kwok plays on the sandbox's fake node, as kwok Stage configuration (kwok.x-k8s.io/v1alpha1).

Why our own stages: kwok's built-in pod stages make every pod Ready at once, so a Deployment never shows a rollout
in progress. Given any pod stage, kwok uses only the given ones, so these repeat its defaults (ready, complete for a
Job's pods, delete) and add one: a pod labelled `sandbox.graygate.dev/hold-not-ready: "true"` is scheduled and
Running but never Ready, and one annotated `sandbox.graygate.dev/ready-after: "3s"` becomes Ready that long after
it is scheduled. A Deployment whose pod template carries the label stays mid-rollout, with its older
ReplicaSet's pods still serving, for as long as a test needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HOLD_NOT_READY_LABEL = "sandbox.graygate.dev/hold-not-ready"
READY_AFTER_ANNOTATION = "sandbox.graygate.dev/ready-after"
"""A pod annotated with a Go duration (`"3s"`) becomes Running and Ready that long after it is scheduled, as a real
container that takes time to start; without it, at once."""

_API_VERSION = "kwok.x-k8s.io/v1alpha1"
_POD = {"apiGroup": "v1", "kind": "Pod"}
_NOT_DELETING = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
_NOT_STARTED = {"key": ".status.podIP", "operator": "DoesNotExist"}
_HELD = f'.metadata.labels["{HOLD_NOT_READY_LABEL}"]'

# kwok renders these as Go templates over the pod; `ready` is substituted before (the two stages differ only there).
_RUNNING = """
{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "READY"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "READY"
  type: ContainersReady
{{ range .spec.readinessGates }}
- lastTransitionTime: {{ $now | Quote }}
  status: "READY"
  type: {{ .conditionType | Quote }}
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: ready_bool
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  {{ if eq .restartPolicy "Always" }}
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
  {{ else }}
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
  {{ end }}
{{ end }}
hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" )
  ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
phase: Running
startTime: {{ $now | Quote }}
"""

_COMPLETED = """
{{ $now := Now }}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $now | Quote }}
{{ end }}
phase: Succeeded
"""


def _running(ready: bool) -> str:
    return _RUNNING.replace('"READY"', '"True"' if ready else '"False"').replace(
        "ready_bool", "true" if ready else "false"
    )


def _stage(
    name: str, expressions: list[dict[str, Any]], next_: dict[str, Any], delay: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"resourceRef": _POD, "selector": {"matchExpressions": expressions}, "next": next_}
    if delay is not None:
        spec["delay"] = delay
    return {"apiVersion": _API_VERSION, "kind": "Stage", "metadata": {"name": name}, "spec": spec}


def pod_stages() -> list[dict[str, Any]]:
    """kwok's default pod stages, the ready one limited to pods not held, and the held one."""
    held = {"key": _HELD, "operator": "In", "values": ["true"]}
    not_held = {"key": _HELD, "operator": "NotIn", "values": ["true"]}
    return [
        _stage(
            "pod-ready",
            [_NOT_DELETING, _NOT_STARTED, not_held],
            {"statusTemplate": _running(ready=True)},
            delay={
                "durationMilliseconds": 0,
                "durationFrom": {"expressionFrom": f'.metadata.annotations["{READY_AFTER_ANNOTATION}"]'},
            },
        ),
        _stage("pod-held-not-ready", [_NOT_DELETING, _NOT_STARTED, held], {"statusTemplate": _running(ready=False)}),
        _stage(
            "pod-complete",
            [
                _NOT_DELETING,
                {"key": ".status.phase", "operator": "In", "values": ["Running"]},
                {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]},
            ],
            {"statusTemplate": _COMPLETED},
        ),
        _stage(
            "pod-delete",
            [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}],
            {"finalizers": {"empty": True}, "delete": True},
        ),
    ]


def write_kwok_config(path: Path) -> Path:
    """Writes the stages as kwok's `--config` file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(pod_stages(), sort_keys=False), encoding="utf-8")
    return path
