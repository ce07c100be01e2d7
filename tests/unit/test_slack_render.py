import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.model import Alert, Finding
from shared.slack.blocks import blocks_as_text, safe_url
from shared.slack.incident import (
    RunView,
    escape,
    finding_text,
    parent_text,
    render_digest,
    render_finding,
    render_parent,
    render_reopened,
    render_resolved,
)


def view(annotations: dict[str, str], state: str = "firing", **kw) -> RunView:
    alert = Alert(
        name="HighErrorRate",
        severity="critical",
        labels={"namespace": "shop", "deployment": "checkout"},
        annotations=annotations,
        starts_at=datetime(2026, 11, 27, 6, 0, tzinfo=UTC),
        fingerprint="f",
        generator_url=kw.pop("generator_url", "http://prometheus:9090/graph"),
    )
    run = {"state": state, **kw}
    v = RunView(
        run_id="run1",
        alert=alert if state != "resolved" else alert.model_copy(update={"status": "resolved"}),
        alert_type="HighErrorRate",
        state=state,
        plan=["investigate", "remediate"],
        findings=[Finding.model_validate(f) for f in (run.get("findings") or {}).values()],
        mttr_seconds=run.get("mttr_seconds"),
        link_hosts=kw.get("link_hosts", ("runbooks.example.com", "prometheus")),
    )
    return v


def all_text(blocks) -> str:
    return json.dumps(blocks)


def test_injected_mentions_and_links_are_inert() -> None:
    hostile = "<!channel> wake up <https://evil.example|click me> & <@U123>"
    blocks = render_parent(view({"summary": hostile, "description": "<!here>"}))
    text = all_text(blocks)
    assert "<!channel>" not in text and "<!here>" not in text
    assert "<https://evil.example|click me>" not in text
    assert "<@U123>" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text
    assert "<!channel>" not in parent_text(view({"summary": hostile}))


def test_escape_strips_control_characters() -> None:
    assert escape("a\x00b\x1bc\nd") == "abc\nd"


def test_runbook_becomes_a_button_only_for_http_urls() -> None:
    good = render_parent(view({"runbook_url": "https://runbooks.example.com/HighErrorRate"}))
    buttons = [e for b in good if b["type"] == "actions" for e in b["elements"]]
    assert any(b["text"]["text"] == "Runbook" for b in buttons)
    bad = render_parent(view({"runbook_url": "javascript:alert(1)"}, generator_url=""))
    assert not [b for b in bad if b["type"] == "actions"]
    assert safe_url("https://x.example/a b") == ""
    assert safe_url("slack://open") == ""


def test_long_text_is_truncated_to_slack_limits() -> None:
    blocks = render_parent(view({"summary": "x" * 10_000, "description": "y" * 10_000}))
    for b in blocks:
        if b["type"] == "section" and "text" in b:
            assert len(b["text"]["text"]) <= 3000
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= 150


def test_parent_shows_progress_and_resolution_time() -> None:
    v = view({"summary": "boom"}, state="resolved", mttr_seconds=720.0)
    v.findings = [Finding(stage="investigate", status="ok", summary="found it")]
    text = blocks_as_text(render_parent(v))
    assert text.startswith("RESOLVED after 12 min: HighErrorRate")
    assert ":white_check_mark: Investigation" in text
    assert ":hourglass_flowing_sand: Remediation" in text
    assert "deployment/checkout" in text


def test_finding_reply_escapes_quoted_logs() -> None:
    f = Finding(stage="investigate", status="error", summary="log: <!channel> <http://x|y>")
    text = render_finding(f)[0]["text"]["text"]
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "*Investigation* — error" in text


# --------------------------------------------------------------------------- outside text

HOSTILE = "*x* <!channel> :white_check_mark: https://evil.example password=hunter2\u202e\u200b"
RAW = ("*x*", "<!channel>", ":white_check_mark:", "https://", "hunter2", "\u202e", "\u200b")


def _mrkdwn_and_plain(blocks: list[dict]) -> list[dict]:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"])
        out.extend(b.get("fields", []))
        for e in b.get("elements", []):
            out.append(e if "type" in e and e["type"] in ("mrkdwn", "plain_text") else e["text"])
    return out


def _assert_clean(text: str, plain: bool = False) -> None:
    for raw in RAW:
        if plain and raw == "*x*":
            continue  # Slack does not parse markup in plain_text
        assert raw not in text, (raw, text)


@pytest.mark.parametrize(
    "where",
    ["name", "severity", "namespace", "deployment", "summary", "description", "alert_type",
     "automatic_action", "follow_up"],
)  # fmt: skip
def test_every_outside_value_of_the_parent_is_rendered_inert(where: str) -> None:
    labels = {"namespace": "shop", "deployment": "checkout"}
    annotations = {"summary": "boom"}
    kw: dict = {}
    if where in labels:
        labels[where] = HOSTILE
    elif where in ("summary", "description"):
        annotations[where] = HOSTILE
    elif where in ("name", "severity"):
        kw[where] = HOSTILE
    alert = Alert(
        name=kw.get("name", "HighErrorRate"),
        severity=kw.get("severity", "critical"),
        labels=labels,
        annotations=annotations,
        starts_at=datetime(2026, 11, 27, 6, 0, tzinfo=UTC),
        fingerprint="f",
    )
    v = RunView(
        run_id="run1",
        alert=alert,
        alert_type=HOSTILE if where == "alert_type" else "HighErrorRate",
        state="firing",
        plan=["investigate"],
    )
    if where in ("automatic_action", "follow_up"):
        setattr(v, where, HOSTILE)
    blocks = render_parent(v)
    _assert_clean(parent_text(v))
    for obj in _mrkdwn_and_plain(blocks):
        text = obj["text"].replace(":red_circle:", "").replace(":hourglass_flowing_sand:", "")
        if obj["type"] == "mrkdwn":
            assert obj["verbatim"] is True
            _assert_clean(text)
        else:
            assert obj["emoji"] is False
            _assert_clean(text, plain=True)


def test_findings_resolved_reopened_and_digest_render_outside_text_inert() -> None:
    f = Finding(stage="investigate", status="ok", summary=f"log: {HOSTILE}")
    blocks = render_finding(f)
    text = blocks[0]["text"]["text"]
    assert text.startswith(":white_check_mark: *Investigation* — ok")  # our own marks stay
    _assert_clean(text.split("\n", 1)[1])
    _assert_clean(finding_text(f))
    unknown_stage = Finding(stage=HOSTILE, status="error", summary="x")
    _assert_clean(render_finding(unknown_stage)[0]["text"]["text"].replace(":x:", "", 1))
    v = view({"summary": "boom"}, state="resolved", mttr_seconds=60.0)
    v.alert = v.alert.model_copy(update={"name": HOSTILE})
    text, blocks = render_resolved(v)
    _assert_clean(text.replace(":large_green_circle:", ""))
    text, blocks = render_reopened(v, previous_run=HOSTILE)
    _assert_clean(json.dumps(blocks).replace(":repeat:", ""))
    group = {
        "total": 3,
        "firing": "2",
        "resolved": None,
        "by_name": {HOSTILE: 2, "B": 1},
        "by_workload": {f"shop/{HOSTILE}": 3},
        "group_key": HOSTILE,
    }
    text, blocks = render_digest(group)
    assert text == "ALERT STORM: 3 alerts in one group (2 firing)"
    _assert_clean(json.dumps(blocks))
    assert "x2, B x1" in blocks[1]["text"]["text"]


def test_digest_lists_at_most_twenty_names() -> None:
    _, blocks = render_digest(
        {"total": 30, "firing": 30, "by_name": {f"A{i}": 1 for i in range(30)}}
    )
    assert "A19 x1, and 10 more" in blocks[1]["text"]["text"]


def test_safe_url_refuses_invisible_characters() -> None:
    assert safe_url("https://runbooks.example.com/x") == "https://runbooks.example.com/x"
    assert safe_url("https://runbooks.example.com/\u202eexe.x") == ""
    assert safe_url("https://runbooks.example.com/\u200bx") == ""


def test_parent_names_the_cluster_it_was_routed_to() -> None:
    v = view({"summary": "boom"})
    v.cluster = "prod-eu"
    fields = next(b["fields"] for b in render_parent(v) if b.get("fields"))
    titles = [f["text"].split("\n")[0] for f in fields]
    assert titles[:5] == ["*Severity*", "*Cluster*", "*Namespace*", "*Workload*", "*Started*"]
    assert fields[1]["text"] == "*Cluster*\nprod-eu"
    # The default single-cluster setup shows no cluster field at all.
    plain = next(b["fields"] for b in render_parent(view({})) if b.get("fields"))
    assert "*Cluster*" not in json.dumps(plain)


def test_a_hostile_cluster_name_is_rendered_inert() -> None:
    v = view({})
    v.cluster = "<!channel> *prod*"
    text = all_text(render_parent(v))
    assert "<!channel>" not in text


def test_outside_urls_lose_credentials_and_only_allowed_hosts_become_buttons() -> None:
    """runbook_url with userinfo and a private_token: neither reaches Slack; a host the policy
    does not allow is inert text, not a button (issue 21, item 3)."""
    leaky = (
        "https://deploy:glpat-Abcdefghijklmnop1234@gitlab.example.com/ops/runbooks/-/wikis/"
        "checkout?private_token=glpat-Zyxwvutsrqponmlk9876&page=2"
    )
    blocks = render_parent(
        view({"runbook_url": leaky}, generator_url="https://prom.evil.example/graph?token=s3cr3t")
    )
    text = all_text(blocks)
    assert "glpat-" not in text and "s3cr3t" not in text and "deploy:" not in text
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert not [b for b in buttons if b["text"]["text"] in ("Runbook", "Alert source")]
    assert "gitlab[.]example[.]com" in text and "page=2" in text  # shown, defanged
    allowed = render_parent(
        view({"runbook_url": leaky}, link_hosts=("*.example.com",), generator_url="")
    )
    (button,) = [e for b in allowed if b["type"] == "actions" for e in b["elements"]]
    assert button["url"] == "https://gitlab.example.com/ops/runbooks/-/wikis/checkout?page=2"


def _remediate(status: str, **details: Any) -> dict[str, Any]:
    now = "2026-11-27T06:01:00Z"
    return {
        "remediate": {
            "stage": "remediate",
            "status": status,
            "summary": "…",
            "details": details,
            "started": now,
            "finished": now,
        }
    }


@pytest.mark.parametrize(
    ("finding", "title"),
    [
        (_remediate("skipped", action="restart", refused={"guard": "database_class/x"}), "REFUSED"),
        (_remediate("ok", action="restart", refused={"guard": "dry_run"}), "DRY-RUN"),
        (_remediate("skipped", action="none"), "NO ACTION"),
        (_remediate("ok", action="none"), "NO ACTION"),
        (_remediate("ok", action="propose_rollback", approval_id="a1"), "PROPOSED"),
        (_remediate("error", action="restart", outcome="unknown"), "OUTCOME UNKNOWN"),
        (_remediate("error", action="restart", outcome="not_applied"), "REMEDIATION FAILED"),
        (_remediate("ok", action="restart", outcome="applied"), "REMEDIATED"),
    ],
)
def test_the_run_state_is_named_for_what_happened(finding: dict[str, Any], title: str) -> None:
    """A refused, proposed or empty remediation is not REMEDIATED (issue 21, item 9)."""
    v = view({}, state="remediated", findings=finding)
    assert render_parent(v)[0]["text"]["text"].startswith(f"{title}: "), title
    assert parent_text(v).startswith(f"[{title}]")


def test_times_keep_their_colons_and_emoji_codes_stay_inert() -> None:
    """Copying 10:21:03 from Slack gives 10:21:03 (no U+2236); :white_check_mark: is still
    not an emoji (issue 21, item 9)."""
    text = escape("restarted at 2026-11-27T10:21:03Z, port 8080:80 :white_check_mark: :100:")
    assert "10:21:03" in text and "8080:80" in text
    assert ":white_check_mark:" not in text and ":100:" not in text
