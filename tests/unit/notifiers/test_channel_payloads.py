"""Each channel kind's payload, from one notification: what Slack, Teams, Discord and a generic receiver get."""

from __future__ import annotations

import json
from typing import Any

import pytest

from graygate.api.notifications import CHANNEL_KINDS
from graygate.api.status import Phase
from graygate.domain.analysis.webhook_payload import webhook_payload
from graygate.domain.release.notifications import FailedGate, Kind, Notification, told
from graygate.notifiers.kinds import FORMATS
from tests.unit.domain.release_builders import T0

ROLLED_BACK = Notification(
    namespace="shop",
    release="checkout",
    kind=Kind.ROLLED_BACK,
    reason="RolledBack",
    message="shop/checkout rolled back from 20% at step 2/4: gate errors failed: value 0.12, threshold <= 0.05",
    phase=Phase.FAILED,
    step="2/4",
    step_number=2,
    canary_weight=0,
    at=T0,
    failed_gates=(FailedGate("errors", "0.12", "<= 0.05", "error rate above budget"),),
    canary_revision="5d8f7c9b4e1a2f",
)
LINE = ROLLED_BACK.message


def test_every_kind_has_its_format() -> None:
    assert set(FORMATS) == set(CHANNEL_KINDS)


@pytest.mark.parametrize("kind", CHANNEL_KINDS)
def test_every_payload_is_json_and_carries_the_line(kind: str) -> None:
    payload = FORMATS[kind](ROLLED_BACK, 0)  # type: ignore[index]
    text = json.dumps(payload)
    for part in ("errors", "0.12", "= 0.05"):
        assert part in text
    assert "http" not in text.replace("http://adaptivecards.io/schemas/adaptive-card.json", ""), "no link"


def test_slack() -> None:
    payload = FORMATS["slack"](ROLLED_BACK, 0)
    assert payload["text"] == LINE.replace("<", "&lt;")
    assert payload["blocks"][0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"*shop/checkout: rolled back*\n{LINE.replace('<', '&lt;')}"},
    }
    context = payload["blocks"][1]["elements"][0]["text"]
    assert context == (
        "Phase: Failed · Step: 2/4 · Weights: canary 0% / stable 100% · Reason: RolledBack · Revision: 5d8f7c9b4e1a"
    )


def test_teams_is_an_adaptive_card() -> None:
    payload: dict[str, Any] = FORMATS["teams"](ROLLED_BACK, 0)
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    title, line, facts = attachment["content"]["body"]
    assert (title["text"], title["color"], line["text"]) == ("shop/checkout: rolled back", "attention", LINE)
    assert {"title": "Step", "value": "2/4"} in facts["facts"]


def test_discord_never_mentions() -> None:
    payload = FORMATS["discord"](ROLLED_BACK, 0)
    assert (payload["content"], payload["allowed_mentions"]) == (LINE, {"parse": []})
    (embed,) = payload["embeds"]
    assert (embed["title"], embed["color"]) == ("shop/checkout: rolled back", 0xCF222E)
    assert embed["timestamp"] == T0.isoformat()


def test_generic_webhook_document_shares_the_hooks_payload_fields() -> None:
    """A receiver written for the hooks reads a notification with the same parser: the shared fields are the same
    names with the same types (`step` an integer), the notification's own added."""
    hooks = webhook_payload(name="checkout", namespace="shop", status=None, stage="rollout")
    document = FORMATS["webhook"](ROLLED_BACK, 0)
    assert set(hooks) <= set(document)
    for key, value in hooks.items():
        if value is not None and document[key] is not None:
            assert type(document[key]) is type(value), key
    assert document["stage"] == "notification"


def test_generic_webhook_document() -> None:
    assert FORMATS["webhook"](ROLLED_BACK, 2) == {
        "name": "checkout",
        "namespace": "shop",
        "stage": "notification",
        "transition": "rolledBack",
        "reason": "RolledBack",
        "phase": "Failed",
        "step": 2,
        "stepDisplay": "2/4",
        "canaryWeight": 0,
        "stableWeight": 100,
        "canaryRevision": "5d8f7c9b4e1a2f",
        "stableRevision": None,
        "labels": {},
        "annotations": {},
        "metadata": {},
        "message": LINE,
        "failedGates": [
            {"gate": "errors", "value": "0.12", "threshold": "<= 0.05", "reason": "error rate above budget"}
        ],
        "at": T0.isoformat(),
        "suppressed": 2,
        "title": "shop/checkout: rolled back",
        "body": f"{LINE} (2 earlier notifications suppressed by the rate limit)",
        "type": "failure",
    }


@pytest.mark.parametrize(
    ("suppressed", "said"), [(0, ""), (1, " (1 earlier notification suppressed by the rate limit)")]
)
def test_suppressed_messages_are_said_once(suppressed: int, said: str) -> None:
    assert FORMATS["discord"](ROLLED_BACK, suppressed)["content"] == LINE + said


def test_generic_webhook_document_carries_the_release_labels_and_annotations() -> None:
    labelled = told(
        (ROLLED_BACK,), labels={"app": "checkout"}, annotations={"example.com/ticket": "CHG-42"}, said=" (retrying)"
    )
    payload = FORMATS["webhook"](labelled[0], 0)
    assert (payload["labels"], payload["annotations"]) == ({"app": "checkout"}, {"example.com/ticket": "CHG-42"})
    assert payload["message"] == LINE + " (retrying)"
    assert json.loads(json.dumps(payload))["labels"] == {"app": "checkout"}
    for kind in ("slack", "teams", "discord"):  # a chat line is for people: no labels
        assert "CHG-42" not in json.dumps(FORMATS[kind](labelled[0], 0))  # type: ignore[index]
