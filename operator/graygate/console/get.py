"""`graygate get`: releases as a table, one release in detail, or a live view that redraws until the release is
done (or Ctrl-C). Not a TTY: plain text, a new frame only when something changed."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import yaml

from graygate.api import Phase
from graygate.console.render import EventLine, render_release, render_table
from graygate.domain.release.phases import TERMINAL
from graygate.kube.client import ApiClient
from graygate.kube.events import events_for
from graygate.kube.releases import KubeReleases


@dataclass(frozen=True)
class GetRequest:
    namespace: str | None
    name: str | None
    output: str  # "view", "json" or "yaml"
    watch: bool
    until_done: bool
    interval_s: float = 1.0


def frame(api: ApiClient, releases: KubeReleases, request: GetRequest, color: bool) -> tuple[str, bool]:
    """The text to show now, and whether the release (or every listed one) has finished."""
    if request.name is not None:
        assert request.namespace is not None
        found = releases.get(request.namespace, request.name)
        items = [found]
    else:
        items = releases.list(request.namespace)
    done = all(_done(item) for item in items)
    if request.output == "json":
        return json.dumps(found if request.name else {"items": items}, indent=2, default=str), done
    if request.output == "yaml":
        return yaml.safe_dump(found if request.name else {"items": items}, sort_keys=False), done
    if request.name is None:
        return render_table(items, color=color), done
    events = [
        EventLine(at=e["eventTime"], type=e["type"], reason=e["reason"], note=e["note"])
        for e in events_for(api, request.namespace or "default", request.name)
    ]
    return render_release(found, events, color=color), done


def _done(release: dict[str, Any]) -> bool:
    phase = (release.get("status") or {}).get("phase")
    return phase in {p.value for p in TERMINAL} or phase == Phase.INVALID.value


def run_get(
    api: ApiClient,
    request: GetRequest,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    releases = KubeReleases(api)
    tty = out.isatty()
    previous = None
    while True:
        text, done = frame(api, releases, request, color=tty)
        if tty and request.watch:
            out.write("\033[H\033[2J" + text + "\n")
        elif text != previous:
            out.write(text + ("\n\n" if request.watch else "\n"))
        out.flush()
        previous = text
        if not request.watch or (request.until_done and done):
            return 0
        sleep(request.interval_s)
