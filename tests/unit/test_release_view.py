"""`release_view`: the spec a tick is given is judged with the release's own name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graygate.api import CanaryReleaseStatus, InvalidSpec
from graygate.domain.url_allowlist import UrlAllowlist
from graygate.gates.runner import GateRunner
from graygate.ports.release import ReleaseRef
from graygate.release_view import release_view

SPEC = {
    "trafficRouting": {"gatewayAPI": {"httpRoutes": [{"name": "public", "rules": ["web"]}]}},
    "stable": {"host": "checkout"},
    "canary": {"host": "checkout-v2"},
    "steps": [{"setHeaderRoute": {"match": [{"headers": {"x-canary": {"exact": "always"}}}]}}, {"pause": {}}],
}


@pytest.mark.parametrize(("length", "invalid"), [(233, False), (234, True)])
def test_a_name_too_long_for_the_header_rule_names_makes_the_spec_invalid(length: int, invalid: bool) -> None:
    name = "c" * length
    body = {"metadata": {"name": name, "generation": 1}, "spec": SPEC}
    view = release_view(
        ReleaseRef("shop", name, "uid"), body, CanaryReleaseStatus(), (), lambda _: (), datetime.now(UTC)
    )
    assert isinstance(view.spec, InvalidSpec) is invalid
    if isinstance(view.spec, InvalidSpec):
        assert "254 characters with this release's 234-character name" in view.spec.message


def test_the_release_s_labels_and_annotations_reach_the_view_without_kubectl_s_copy() -> None:
    meta = {
        "name": "checkout",
        "labels": {"team": "payments"},
        "annotations": {"owner": "ana", "kubectl.kubernetes.io/last-applied-configuration": '{"spec": {}}'},
    }
    body = {"metadata": meta, "spec": SPEC}
    view = release_view(
        ReleaseRef("shop", "checkout", "uid"), body, CanaryReleaseStatus(), (), lambda _: (), datetime.now(UTC)
    )
    assert (dict(view.labels), dict(view.annotations)) == ({"team": "payments"}, {"owner": "ana"})


def test_a_stage_hook_outside_the_url_allowlist_makes_the_spec_invalid() -> None:
    runner = GateRunner(url_allowlist=UrlAllowlist.parse("http://hooks.platform/"))
    hooks = [
        {"name": "ok", "stage": "rollback", "webhook": {"url": "http://hooks.platform/kill"}},
        {"name": "elsewhere", "stage": "preRollout", "webhook": {"url": "http://evil.example/smoke"}},
    ]
    body = {"metadata": {"name": "checkout"}, "spec": {**SPEC, "hooks": hooks}}
    view = release_view(
        ReleaseRef("shop", "checkout", "uid"), body, CanaryReleaseStatus(), (), runner.refusals, datetime.now(UTC)
    )
    assert isinstance(view.spec, InvalidSpec)
    assert "elsewhere" in view.spec.message
    assert "http://evil.example/smoke" in view.spec.message
    assert "hooks.platform/kill" not in view.spec.message
