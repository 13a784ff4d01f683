"""The manual controls behind `graygate promote|pause|resume|abort|retry`: the same annotation the operator
consumes (`graygate.dev/command`), written only when the action makes sense in the release's phase, with a fresh
id so that giving the same command twice really gives it twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from graygate.api import COMMAND_ANNOTATION, Action, CanaryReleaseStatus, CommandRecord
from graygate.domain.release.commands import refusal
from graygate.errors import GraygateError
from graygate.kube.releases import KubeReleases


class IllegalCommandError(GraygateError):
    """The command makes no sense in the release's current phase."""


def command_value(action: Action, now: datetime) -> str:
    return f"{action.value}/{now.strftime('%Y%m%dT%H%M%S.%f')}"


def send_command(releases: KubeReleases, namespace: str, name: str, action: Action, now: datetime) -> str:
    """Writes the command annotation and returns its value; refuses an action the phase does not allow."""
    status = CanaryReleaseStatus.model_validate(releases.get(namespace, name).get("status") or {})
    why = refusal(action, status.phase)
    if why is not None:
        raise IllegalCommandError(f"{action.value} refused for {namespace}/{name}: {why}")
    value = command_value(action, now)
    releases.annotate(namespace, name, {COMMAND_ANNOTATION: value})
    return value


def wait_handled(
    releases: KubeReleases,
    namespace: str,
    name: str,
    value: str,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> CommandRecord | None:
    """The operator's record of handling `value`, or None when it has not handled it within `timeout_s`."""
    waited = 0.0
    while waited <= timeout_s:
        status = CanaryReleaseStatus.model_validate(releases.get(namespace, name).get("status") or {})
        if status.last_command is not None and status.last_command.value == value:
            return status.last_command
        sleep(0.2)
        waited += 0.2
    return None
