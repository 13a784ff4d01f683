"""`graygate get --watch` draws frames as its output allows: on a terminal it clears the screen before each one, in a
pipe it writes a frame only when it changed, and with `--until-done` it stops at the frame that shows the end,
with `graygate status`'s exit code."""

from __future__ import annotations

import io
from typing import Any

import pytest

from graygate.console import get
from graygate.console.get import GetRequest, run_get

FRAMES: list[tuple[str, int | None]] = [
    ("Progressing 10%", None),
    ("Progressing 10%", None),
    ("Progressing 30%", None),
    ("Failed", 1),
]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    shown = iter(FRAMES)
    drawn: list[tuple[str, bool]] = []

    def view(*args: Any) -> tuple[str, int | None]:
        text, code = next(shown)
        drawn.append((text, args[3]))
        return text, code

    monkeypatch.setattr(get, "view", view)
    monkeypatch.setattr(get, "_target", lambda *_: None)
    monkeypatch.setattr(get, "KubeReleases", lambda api: None)
    return drawn


def _request(*, watch: bool = True, until_done: bool = True) -> GetRequest:
    return GetRequest(namespace="shop", name="checkout", output="view", watch=watch, until_done=until_done)


def _sleeps() -> tuple[list[float], Any]:
    slept: list[float] = []
    return slept, slept.append


def test_a_pipe_gets_each_changed_frame_once_in_plain_text(frames: list[tuple[str, bool]]) -> None:
    out = io.StringIO()
    slept, sleep = _sleeps()
    assert run_get(None, _request(), out=out, sleep=sleep) == 1  # the exit code of `graygate status`: Failed
    assert out.getvalue() == "Progressing 10%\n\nProgressing 30%\n\nFailed\n\n"
    assert [color for _, color in frames] == [False] * 4
    assert slept == [1.0] * 3


def test_a_terminal_is_cleared_and_redrawn_in_colour_every_interval(frames: list[tuple[str, bool]]) -> None:
    out = Terminal()
    assert run_get(None, _request(), out=out, sleep=lambda _: None) == 1
    clear = "\033[H\033[2J"
    assert out.getvalue() == "".join(f"{clear}{text}\n" for text, _ in FRAMES)
    assert all(color for _, color in frames)


def test_without_watch_one_frame_is_written(frames: list[tuple[str, bool]]) -> None:
    out = Terminal()
    assert run_get(None, _request(watch=False, until_done=False), out=out, sleep=lambda _: None) == 0
    assert out.getvalue() == "Progressing 10%\n"


def test_watch_without_until_done_keeps_going_after_the_end(frames: list[tuple[str, bool]]) -> None:
    out = io.StringIO()
    with pytest.raises(StopIteration):  # the fixture has no fifth frame: the loop did not stop at Failed
        run_get(None, _request(until_done=False), out=out, sleep=lambda _: None)
    assert out.getvalue().endswith("Failed\n\n")


def _clocked(monkeypatch: pytest.MonkeyPatch, views: list[Any]) -> tuple[Any, Any]:
    """`view` returns (or raises) each of `views` in turn, the last forever; the clock moves only by the sleeps."""

    def view(*args: Any) -> tuple[str, int | None]:
        shown = views.pop(0) if len(views) > 1 else views[0]
        if isinstance(shown, Exception):
            raise shown
        result: tuple[str, int | None] = shown
        return result

    monkeypatch.setattr(get, "view", view)
    monkeypatch.setattr(get, "_target", lambda *_: None)
    monkeypatch.setattr(get, "KubeReleases", lambda api: None)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return sleep, lambda: now[0]


def test_until_done_with_a_timeout_exits_3_when_it_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    sleep, clock = _clocked(monkeypatch, [("Progressing 10%", None)])
    out = io.StringIO()
    request = GetRequest("shop", "checkout", "view", watch=True, until_done=True, timeout_s=5)
    assert run_get(None, request, out=out, sleep=sleep, clock=clock) == 3
    assert out.getvalue().splitlines()[-1] == "still not done after 5 s: timed out"
    assert clock() == 5


def test_until_done_retries_an_api_error_instead_of_ending(monkeypatch: pytest.MonkeyPatch) -> None:
    from graygate.errors import ApiUnavailableError

    views = [("Progressing 10%", None), ApiUnavailableError("API server unreachable"), ("Succeeded", 0)]
    sleep, clock = _clocked(monkeypatch, views)
    request = GetRequest("shop", "checkout", "view", watch=True, until_done=True, timeout_s=60)
    assert run_get(None, request, out=io.StringIO(), sleep=sleep, clock=clock) == 0
