"""The webhook gate's model: defaults, headers from a value or a Secret, and what it refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from graygate.api import CanaryReleaseSpec, Gate
from graygate.api.gates import Webhook
from graygate.api.refs import SecretKeyRef

URL = "http://hooks.qa:8080/smoke"
FROM_SECRET = {"name": "X-Token", "valueFrom": {"secretKeyRef": {"name": "hook-token", "key": "token"}}}


def test_defaults_and_the_url_for_the_allowlist() -> None:
    gate = Gate.model_validate({"name": "smoke", "webhook": {"url": URL}})
    hook = gate.check
    assert isinstance(hook, Webhook)
    assert (hook.timeout, hook.retries, hook.headers, hook.metadata, hook.expect) == (
        timedelta(seconds=10),
        0,
        (),
        {},
        (),
    )
    assert hook.urls() == (URL,)


def test_headers_from_a_value_or_a_secret() -> None:
    hook = Webhook.model_validate({"url": URL, "headers": [{"name": "X-Team", "value": "payments"}, FROM_SECRET]})
    assert hook.secret_refs() == (SecretKeyRef(name="hook-token", key="token"),)
    assert hook.model_dump(by_alias=True, exclude_defaults=True)["headers"][1] == FROM_SECRET


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"retries": 6}, "less than or equal to 5"),
        ({"retries": -1}, "greater than or equal to 0"),
        ({"url": "ftp://x"}, "should match pattern"),
        ({"headers": [{"name": "X-A"}]}, "give exactly one of value or valueFrom"),
        ({"headers": [{**FROM_SECRET, "value": "also"}]}, "give exactly one of value or valueFrom"),
        ({"headers": [{"name": "content-type", "value": "text/plain"}]}, "may not set these headers"),
        ({"headers": [{"name": "Host", "value": "evil"}]}, "may not set these headers"),
        ({"headers": [{"name": "bad name", "value": "x"}]}, "should match pattern"),
        ({"headers": [{"name": "X-A", "value": "1"}, {"name": "x-a", "value": "2"}]}, "must not repeat"),
        ({"expect": [{"path": "result"}]}, "should match pattern"),
        ({"metadata": {"k": "v" * 1025}}, "at most 1024 characters"),
        ({"timeout": "0s"}, "at least 1ms"),
    ],
)
def test_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Webhook.model_validate({"url": URL, **fields})


def test_its_timeout_must_be_shorter_than_the_interval() -> None:
    base: dict[str, Any] = {
        "trafficRouting": {"istio": {"virtualServices": [{"name": "checkout"}]}},
        "stable": {"host": "checkout", "subset": "stable"},
        "canary": {"host": "checkout", "subset": "canary"},
    }
    gates = [{"name": "smoke", "webhook": {"url": URL, "timeout": "30s"}}]
    with pytest.raises(
        ValidationError, match="gate smoke: webhook timeout 30s must be shorter than the analysis interval 30s"
    ):
        CanaryReleaseSpec.model_validate(base | {"analysis": {"interval": "30s", "gates": gates}})
