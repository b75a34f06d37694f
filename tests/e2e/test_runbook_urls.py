"""runbook_url: every alert document links the runbook of its kind (a page of docs/runbooks/),
under RUNBOOK_BASE_URL, in the SNS JSON body, the Amazon Q and Slack renderings and the API."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from chalicelib.core import documents
from chalicelib.core.alert_formats import render_chatbot, render_slack
from chalicelib.core.errors import ConfigError
from chalicelib.settings import parse_runbook_base_url
from tests import events as ev
from tests.conftest import ROOT

REPO = "team/api"
D1 = ev.digest(1)
BASE = "https://wiki.example.com/sre/ecr-runbooks"


def missing() -> dict[str, Any]:
    return documents.alert_document(
        kind="REPLICA_MISSING",
        incident_id="replica-missing-0123",
        repository=REPO,
        tag="v1",
        digest=D1,
        source={"account": "111111111111", "region": "us-west-2"},
        destination={"account": "222222222222", "region": "eu-west-1"},
        pushed_at="2026-11-27T10:00:00Z",
        due_at="2026-11-27T10:30:00Z",
        detected_at="2026-11-27T10:31:00Z",
    )


@pytest.mark.parametrize("kind", sorted(documents.SEVERITY))
def test_each_kind_links_its_own_runbook_page(kind: str) -> None:
    url = documents.runbook_url(kind)
    slug = url.rsplit("/", 1)[1]
    assert url == f"{documents.DEFAULT_RUNBOOK_BASE_URL}/{slug}"
    assert (ROOT / "docs" / "runbooks" / f"{slug}.md").is_file(), f"{url} names no page"
    # the published site serves the page at <site_url>runbooks/<slug>
    site_url = next(
        line.split(": ", 1)[1]
        for line in (ROOT / "mkdocs.yml").read_text().splitlines()
        if line.startswith("site_url:")
    )
    assert site_url.rstrip("/") + "/runbooks" == documents.DEFAULT_RUNBOOK_BASE_URL


def test_a_recovery_links_the_recovered_runbook_not_the_closed_kind_s() -> None:
    recovery = documents.recovery_alert(missing(), ev.at(40), 2460)
    assert missing()["runbook_url"].endswith("/runbooks/replica-missing")
    assert recovery["runbook_url"].endswith("/runbooks/recovered")
    assert recovery["resolves"] == "REPLICA_MISSING"


def test_runbook_base_url_is_an_http_url_or_the_default() -> None:
    assert parse_runbook_base_url("") == documents.DEFAULT_RUNBOOK_BASE_URL
    assert parse_runbook_base_url(f" {BASE}/ ") == BASE
    for bad in ("wiki.example.com/runbooks", "ftp://x/y", "https://x/a b", "https://x/<y>"):
        with pytest.raises(ConfigError, match="RUNBOOK_BASE_URL"):
            parse_runbook_base_url(bad)
    rebased = documents.with_runbook_base(missing(), BASE)
    assert rebased["runbook_url"] == f"{BASE}/replica-missing"
    assert list(rebased) == list(documents.ALERT_KEYS), "the same keys, in the same order"


def test_slack_and_amazon_q_show_the_runbook() -> None:
    alert = documents.with_runbook_base(missing(), BASE)
    context = render_slack(alert)["blocks"][-1]["elements"][0]["text"]
    assert f"<{BASE}/replica-missing|runbook>" in context
    chatbot = render_chatbot(alert)
    assert chatbot["content"]["nextSteps"][-1] == f"Runbook: {BASE}/replica-missing"
    assert chatbot["metadata"]["additionalContext"]["runbook_url"] == f"{BASE}/replica-missing"


def test_published_alerts_and_the_api_carry_the_configured_base(
    configure: Any, replay: Any, alerts: Any, client: Any
) -> None:
    configure(RUNBOOK_BASE_URL=BASE)
    replay(ev.push(ev.DEV, REPO, "v1", D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, "v1", D1, ev.at(2), ok=False))

    (published,) = alerts.drain()
    assert published["body"]["runbook_url"] == f"{BASE}/replication-failed"
    status = json.loads(client.http.get("/status").body)
    assert [i["runbook_url"] for i in status["incidents"]] == [f"{BASE}/replication-failed"]
    listed = json.loads(client.http.get("/incidents?state=all").body)["incidents"]
    assert {i["runbook_url"] for i in listed} == {f"{BASE}/replication-failed"}


def test_the_amazon_q_body_on_sns_carries_it_too(
    configure: Any, replay: Any, alerts: Any, session: Any
) -> None:
    configure(ALERT_FORMAT="chatbot", RUNBOOK_BASE_URL=BASE + "/")
    tag = f"v-{uuid.uuid4().hex[:6]}"
    replay(ev.push(ev.DEV, REPO, tag, D1, ev.at(0)))
    replay(ev.replication(ev.PROD, ev.DEV, REPO, tag, D1, ev.at(2), ok=False))

    (published,) = alerts.drain()
    body = published["body"]
    assert body["version"] == "1.0"
    assert body["content"]["nextSteps"][-1] == f"Runbook: {BASE}/replication-failed"
