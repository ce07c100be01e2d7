import json
from datetime import UTC, datetime

from shared.envelope import Alert, Finding
from shared.slack_render import (
    RunView,
    blocks_as_text,
    escape,
    parent_text,
    render_finding,
    render_parent,
    safe_url,
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
