"""`graygate get`: releases as a table, one release in detail, or a live view that redraws until the release is
done (or Ctrl-C). Not a TTY: plain text, a new frame only when something changed. `-o wide` clips nothing and adds
columns; `-o json|yaml` print the whole objects."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import yaml

from graygate.console.render import EventLine, render_release, render_table
from graygate.console.status import TIMED_OUT, Target, exit_code, target_of, workload_revision
from graygate.errors import KubeError
from graygate.kube.client import ApiClient
from graygate.kube.events import events_for
from graygate.kube.releases import KubeReleases


@dataclass(frozen=True)
class GetRequest:
    namespace: str | None
    name: str | None
    output: str  # "view", "wide", "json" or "yaml"
    watch: bool
    until_done: bool
    timeout_s: float | None = None
    """With `until_done`: give up after this long with exit code 3 (None: wait as long as it takes)."""
    interval_s: float = 1.0


def frame(
    api: ApiClient, releases: KubeReleases, request: GetRequest, color: bool, target: Target | None = None
) -> tuple[str, bool]:
    """The text to show now, and whether the release (or every listed one) has ended (or paused)."""
    text, code = view(api, releases, request, color, target)
    return text, code is not None


def view(
    api: ApiClient, releases: KubeReleases, request: GetRequest, color: bool, target: Target | None = None
) -> tuple[str, int | None]:
    """The text to show now, and the exit code of `graygate status` once the release (or every listed one: the
    worst) has ended or paused, else None. `target`: the run of the named release to wait for (default: the
    spec it has now)."""
    if request.name is not None:
        assert request.namespace is not None
        found = releases.get(request.namespace, request.name)
        items = [found]
    else:
        items = releases.list(request.namespace)
    codes = [exit_code(item, target or target_of(item, None)) for item in items]
    code = None if any(c is None for c in codes) else max((c for c in codes if c is not None), default=0)
    if request.output == "json":
        return json.dumps(found if request.name else {"items": items}, indent=2, default=str), code
    if request.output == "yaml":
        return yaml.safe_dump(found if request.name else {"items": items}, sort_keys=False), code
    wide = request.output == "wide"
    if request.name is None:
        return render_table(items, color=color, wide=wide), code
    events = [
        EventLine(at=e["eventTime"], type=e["type"], reason=e["reason"], note=e["note"])
        for e in events_for(api, request.namespace or "default", request.name)
    ]
    return render_release(found, events, color=color, wide=wide), code


def run_get(
    api: ApiClient,
    request: GetRequest,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """0, or with `--watch --until-done` the exit code of `graygate status` (0 succeeded, 1 failed, aborted or
    invalid, 2 waiting for a human, 3 `timeout_s` passed first) for the run that is current when it starts
    (`graygate.console.status`); an API error while waiting is retried until the timeout."""
    releases = KubeReleases(api)
    tty = out.isatty()
    previous = None
    until_done = request.watch and request.until_done
    deadline = clock() + request.timeout_s if until_done and request.timeout_s is not None else None
    target = _target(api, releases, request) if until_done else None
    while True:
        try:
            text, code = view(api, releases, request, tty, target)
        except KubeError as error:
            if not until_done or previous is None or (deadline is not None and clock() >= deadline):
                raise
            print(f"graygate: {error} (retrying)", file=sys.stderr, flush=True)
            sleep(request.interval_s)
            continue
        if tty and request.watch:
            out.write("\033[H\033[2J" + text + "\n")
        elif text != previous:
            out.write(text + ("\n\n" if request.watch else "\n"))
        out.flush()
        previous = text
        if not request.watch:
            return 0
        if request.until_done and code is not None:
            return code
        if deadline is not None and clock() >= deadline:
            out.write(f"still not done after {request.timeout_s:g} s: timed out\n")
            out.flush()
            return TIMED_OUT
        sleep(request.interval_s if deadline is None else min(request.interval_s, max(0.0, deadline - clock())))


def _target(api: ApiClient, releases: KubeReleases, request: GetRequest) -> Target | None:
    """The run `--until-done` waits for, fixed when it starts, as `graygate status` fixes it."""
    if request.name is None or request.namespace is None:
        return None
    release = releases.get(request.namespace, request.name)
    return target_of(release, workload_revision(api, request.namespace, release))
