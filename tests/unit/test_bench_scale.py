"""The pure parts of `make bench-scale` (e2e/scale_figures.py): the mix, percentiles, the audit log read and counted
by user agent, step delays and the goals. No sandbox, no clock."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from e2e import scale_figures as sf
from graygate.api.spec import CanaryReleaseSpec


def audit_line(verb: str, agent: str, resource: str, name: str, received: str, done: str, **extra: Any) -> str:
    ref: dict[str, Any] = {"resource": resource, "namespace": "bench"}
    if name:
        ref["name"] = name
    event = {
        "kind": "Event",
        "stage": extra.pop("stage", "ResponseComplete"),
        "verb": verb,
        "userAgent": agent,
        "objectRef": ref | extra,
        "requestReceivedTimestamp": received,
        "stageTimestamp": done,
        "responseStatus": {"code": 200},
    }
    return json.dumps(event, separators=(",", ":"))


@pytest.mark.parametrize("n", [10, 100, 1000, 3000, 1234])
def test_the_mix_is_ten_eighty_ten_and_adds_up(n: int) -> None:
    mix = sf.mix(n)
    assert mix.total == n
    assert mix.moving == mix.finished == n // 10
    assert abs(mix.waiting - mix.paused) <= 1
    names = sf.names(mix)
    assert len(names) == len(set(names)) == n
    assert names.count("bad-loaded") == 1
    kinds = [sf.kind_of(name) for name in names]
    assert kinds.count(sf.MOVING) == mix.moving
    assert kinds.count(sf.WAITING) == mix.waiting - 1
    assert kinds[:4] == [sf.MOVING, sf.BAD, sf.PAUSED, sf.FINISHED]  # interleaved


def test_too_few_releases_for_a_mix() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        sf.mix(9)


@pytest.mark.parametrize("name", ["mv-00007", "gw-00003", "pz-00000", "fin-00002", "bad-loaded", "bad-alone"])
def test_every_kind_of_release_is_a_valid_spec(name: str) -> None:
    body = sf.release_body(name, "http://127.0.0.1:9")
    CanaryReleaseSpec.model_validate(body["spec"])
    assert body["spec"]["canaryWorkload"] == {"name": f"{name}-canary"}


def test_moving_pauses_are_spread_between_15_and_30_s() -> None:
    pauses = {sf.pause_seconds(f"mv-{i:05d}") for i in range(100)}
    assert pauses == set(range(15, 31))
    assert sf.pause_seconds("gw-00001") == 0


def test_the_bad_canary_fails_on_its_first_failed_probe_every_second() -> None:
    analysis = sf.release_body("bad-loaded", "http://h")["spec"]["analysis"]
    assert analysis["failureLimit"] == 0
    assert analysis["interval"] == "1s"
    assert analysis["gates"][0]["httpProbe"]["url"] == "http://h/bad-loaded"
    assert (
        sf.release_body("gw-00001", "http://h")["spec"]["analysis"]["gates"][0]["httpProbe"]["url"] == "http://h/slow"
    )


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 99, None),
        ([3.0], 99, 3.0),
        (list(range(1, 101)), 99, 99),
        (list(range(1, 101)), 50, 50),
        ([5, 1, 3], 100, 5),
    ],
)
def test_nearest_rank_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert sf.percentile(values, q) == expected


T0, T1, T2, T3 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"
CLIENT = "OpenAPI-Generator/37.0.3/python"


def test_the_audit_log_keeps_the_operators_finished_requests_only() -> None:
    lines = [
        audit_line("get", "kopf/1.37", "canaryreleases", "pz-00001", T0, "2026-01-01T00:00:00.01Z"),
        audit_line("patch", CLIENT, "virtualservices", "mv-00001", T1, "2026-01-01T00:00:01.25Z"),
        audit_line("get", "graygate-bench", "virtualservices", "mv-00001", T1, "2026-01-01T00:00:01.1Z"),
        audit_line("update", "kube-controller-manager/v1.31.0", "deployments", "x", T1, T1),
        audit_line("watch", "kopf/1.37", "canaryreleases", "", T2, T2, stage="ResponseStarted"),
        audit_line("patch", "kopf/1.37", "canaryreleases", "mv-00001", T3, T3, subresource="status"),
        '{"kind":"Event","userAgent":"kopf/1.37", torn',
    ]  # fmt: skip
    requests = sf.read_audit(lines)
    assert [(r.verb, r.resource) for r in requests] == [
        ("get", "canaryreleases"),
        ("patch", "virtualservices"),
        ("patch", "canaryreleases/status"),
    ]
    assert requests[1].completed - requests[1].received == pytest.approx(0.25)
    assert sf.count_by_verb(requests) == {"get": 1, "patch": 2}


@pytest.mark.parametrize(
    ("resource", "name", "owner"),
    [
        ("virtualservices", "mv-00001", "mv-00001"),
        ("deployments", "pz-00002-canary", "pz-00002"),
        ("events", "fin-00003.18a2b3c4d5", "fin-00003"),
        ("canaryreleases/status", "gw-00004", "gw-00004"),
        ("canaryreleases", "", ""),
    ],
)
def test_a_request_is_charged_to_its_release_by_name(resource: str, name: str, owner: str) -> None:
    request = sf.Request("get", "kopf/1", resource, name, 0.0, 0.0, 200)
    assert sf.release_of(request) == owner


def request(verb: str, resource: str, name: str, at: float) -> sf.Request:
    return sf.Request(verb, "kopf/1", resource, name, at, at + 0.01, 200)


def test_api_load_at_rest_and_per_step() -> None:
    requests = [
        request("get", "virtualservices", "pz-00001", 10),  # at rest
        request("get", "deployments", "fin-00001-canary", 20),  # at rest
        request("list", "canaryreleases", "", 30),  # no one release: charged to the rest
        request("get", "virtualservices", "gw-00001", 40),  # waiting: neither
        request("patch", "virtualservices", "mv-00001", 50),  # a moving release's writes
        request("patch", "canaryreleases/status", "mv-00001", 50),
        request("create", "events", "mv-00001.abc", 50),
        request("get", "virtualservices", "mv-00001", 50),  # a read: not a write
        request("get", "virtualservices", "pz-00001", 130),  # after the window
    ]
    load = sf.api_load(requests, 0, 120, rest_releases=200, steps=1)
    assert load.at_rest == 3
    assert load.rest_per_min_per_100 == pytest.approx(3 / 2 / 2)
    assert load.writes_per_step == 3
    assert load.by_verb == {"create": 1, "get": 4, "list": 1, "patch": 2}
    assert sf.api_load([], 0, 60, rest_releases=0, steps=0).rest_per_min_per_100 == math.inf
    assert sf.api_load([], 0, 60, rest_releases=10, steps=0).writes_per_step is None


def test_a_timed_pause_falls_due_its_duration_after_the_history_entry() -> None:
    steps = [{"setWeight": 4}, {"pause": {"duration": "20s"}}, {"setWeight": 8}, {"pause": {}}]
    history = [
        {"step": 0, "at": "2026-01-01T00:00:00Z"},
        {"step": 1, "at": "2026-01-01T00:00:01.500000Z"},
        {"step": 3, "at": "2026-01-01T00:00:30Z"},  # an endless pause never falls due
        {"step": 9, "at": "2026-01-01T00:00:40Z"},  # not in the plan
    ]
    (due,) = sf.pauses_due("mv-00001", history, steps)
    assert (due.release, due.step) == ("mv-00001", 1)
    assert due.at == pytest.approx(sf.timestamp("2026-01-01T00:00:21.5Z"))


def test_step_delay_is_due_to_the_first_route_write_after_it_and_a_missing_write_is_late_until_the_end() -> None:
    writes = sf.route_writes(
        [
            request("patch", "virtualservices", "mv-1", 99.0),  # before due: an earlier step
            request("patch", "virtualservices", "mv-1", 100.3),
            request("patch", "virtualservices", "mv-1", 130.0),
            request("patch", "canaryreleases/status", "mv-1", 100.1),  # not the route
        ]
    )
    dues = [sf.Due("mv-1", 1, 100.0), sf.Due("mv-2", 1, 110.0), sf.Due("mv-1", 3, 500.0)]
    assert sf.step_delays(dues, writes, until=200.0) == pytest.approx([0.31, 90.0])


@pytest.mark.parametrize(("text", "seconds"), [("20s", 20), ("1h", 3600), ("500ms", 0.5), ("2m", 120)])
def test_durations(text: str, seconds: float) -> None:
    assert sf.duration_seconds(text) == seconds


def good_figures(n: int) -> sf.Figures:
    load = sf.ApiLoad(window_s=60, by_verb={}, at_rest=1, at_rest_releases=n, moving_writes=30, moving_steps=10)
    return sf.Figures(
        releases=n,
        unsettled=0,
        rss_max_mib=200,
        cpu_cores=0.2,
        step_p99_s=0.5,
        rollback_alone_s=2.0,
        rollback_loaded_s=2.9,
        api=load,
    )


def test_goals_are_met_within_the_limits() -> None:
    assert all(goal.met for goal in sf.goals(good_figures(1000)))
    assert sf.missed([good_figures(100), good_figures(1000)]) == []


def test_a_goal_missed_up_to_1000_fails_and_3000_is_only_reported() -> None:
    slow = good_figures(1000)
    slow.rollback_loaded_s = 3.1  # 1.55x
    big = good_figures(3000)
    big.cpu_cores = 2.0
    assert [(n, goal.name) for n, goal in sf.missed([slow, big])] == [(1000, "bad canary rollback, loaded / alone")]


def test_an_unmeasured_figure_misses_its_goal() -> None:
    figures = good_figures(100)
    figures.step_p99_s = None
    assert not next(g for g in sf.goals(figures) if g.name.startswith("step")).met


def test_releases_left_unsettled_miss_a_goal() -> None:
    figures = good_figures(1000)
    figures.unsettled = 12
    assert [goal.name for _, goal in sf.missed([figures])] == ["releases not settled before the window"]


def test_the_table_marks_each_cell() -> None:
    big = good_figures(3000)
    text = sf.table([good_figures(100), big])
    assert "0.20 cores ok" in text
    assert "info" in text
    assert "MISS" not in text
