"""Block Kit building blocks, one copy each: text objects, Slack dates, durations, Slack's
length limits, and a plain rendering of blocks for logs. Pure functions: no clients, no I/O.

Text objects are made safe by construction: mrkdwn is `verbatim` (Slack adds no links or
mentions of its own) and plain_text has emoji off, a second line of defence should outside text
ever slip past shared.untrusted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from shared import limits
from shared.untrusted import clean, limit

HEADER_MAX = limits.SLACK_HEADER_TEXT
SECTION_MAX = limits.SLACK_SECTION_TEXT
FIELD_MAX = limits.SLACK_SECTION_FIELD_TEXT
BUTTON_URL_MAX = limits.SLACK_BUTTON_URL


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object; verbatim: Slack adds no links or mentions of its own."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str) -> dict[str, Any]:
    """A plain_text object with emoji shortcodes left as text."""
    return {"type": "plain_text", "text": text, "emoji": False}


def truncate(text: str, max_len: int) -> str:
    """Our own text, limited (outside text is limited by the untrusted renderer)."""
    return limit(text, max_len)


def duration(seconds: float) -> str:
    """`45 s`, `12 min`, `2 h 5 min`: how long an incident took, for people."""
    if seconds < 90:
        return f"{int(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def slack_date(ts: datetime) -> str:
    """A date token Slack shows in the reader's time zone, with a UTC fallback."""
    fallback = ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(ts.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def safe_url(url: str) -> str:
    """Only http(s) URLs become buttons (no javascript:, no slack:// deep links), and none with
    invisible or control characters (a bidi override can disguise where a link goes)."""
    url = str(url).strip()
    if re.match(r"^https?://[^\s<>|]+$", url) and len(url) <= BUTTON_URL_MAX and clean(url) == url:
        return url
    return ""


_SLACK_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")


def blocks_as_text(blocks: list[dict[str, Any]]) -> str:
    """A readable plain rendering of blocks, for logs and the local demo."""
    lines: list[str] = []
    for b in blocks:
        if b["type"] in ("header", "section") and "text" in b:
            lines.append(b["text"]["text"])
        for f in b.get("fields", []):
            lines.append("  " + f["text"].replace("\n", ": ", 1))
        for e in b.get("elements", []):
            if e.get("type") == "button":
                lines.append(f"  [{e['text']['text']}] {e.get('url', '')}".rstrip())
            elif "text" in e:
                lines.append(e["text"] if isinstance(e["text"], str) else e["text"]["text"])
    return _SLACK_DATE.sub(r"\1", "\n".join(lines))
