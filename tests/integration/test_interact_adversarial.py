"""interact under attack: whatever a forger, a confused proxy or an odd (even Slack-signed) body
sends, the answer is a clear 4xx and nothing is queued; a malformed permission document or a
Slack that cannot say who is in a group never lets a click through; and Slack's 3 s hold when
the usergroups API is slow. Real code throughout: functions-framework's test client, the
Pub/Sub and Firestore emulators, the local Slack server (or a local misbehaving one)."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from functions.interact import _Clients
from sandbox.slack_api import SlackApiServer
from shared.interaction.request import parse_message
from shared.interaction.worker import Worker
from shared.slack.signing import form_body
from tests import clicks
from tests.clicks import (
    INTRUDER,
    ONCALL,
    SECRET,
    queued,
)
from tests.conftest import reset_settings

pytestmark = pytest.mark.integration

# The clicking fixtures (the Slack app set up, interact's test client), found here by name.
slack = clicks.slack
client = clicks.client

FORM = "application/x-www-form-urlencoded"


def payload(
    action_id: str = "acknowledge", value: str = "i0123abcd", user: str = ONCALL
) -> dict[str, Any]:
    """A block_actions payload as Slack posts it for one of alertloop's buttons."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0ALERTLOOP"},
        "team": {"id": "T0ALERTLOOP"},
        "channel": {"id": "C0ALERTS"},
        "container": {"type": "message", "message_ts": "1700000000.000100"},
        "response_url": "https://hooks.slack.com/actions/T0ALERTLOOP/1/x",
        "trigger_id": f"{time.time():.0f}.1.{time.monotonic_ns()}",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "value": value,
                "block_id": "b",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def signed(body: bytes, *, secret: str = SECRET, timestamp: str | None = None) -> dict[str, str]:
    """Headers exactly as Slack computes them: HMAC-SHA256 of v0:{timestamp}:{body}."""
    import hashlib
    import hmac

    ts = timestamp if timestamp is not None else str(int(time.time()))
    mac = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={mac}",
        "Content-Type": FORM,
    }


def post(client: Any, body: bytes, headers: Any) -> Any:
    return client.post("/", data=body, headers=headers)


def assert_refused(resp: Any, status: int, topics: Any) -> None:
    assert resp.status_code == status, (resp.status_code, resp.data[:300])
    assert resp.get_json().get("error"), resp.data[:300]
    assert queued(topics) == []


def test_a_well_formed_signed_click_is_queued(client: Any, topics: Any) -> None:
    """The control: the same helpers, correctly signed, are accepted."""
    body = form_body(payload())
    resp = post(client, body, signed(body))
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "queued"
    (message,) = queued(topics)
    assert parse_message(bytes(message.message.data)).user_id == ONCALL


# ---------------------------------------------------------------- headers and timestamps


def _headers_cases() -> list[tuple[str, Any]]:
    body = form_body(payload())
    good = signed(body)
    now = int(time.time())
    sig, ts = good["X-Slack-Signature"], good["X-Slack-Request-Timestamp"]
    return [
        ("no signature", {"X-Slack-Request-Timestamp": ts, "Content-Type": FORM}),
        ("no timestamp", {"X-Slack-Signature": sig, "Content-Type": FORM}),
        ("neither", {"Content-Type": FORM}),
        ("empty signature", {**good, "X-Slack-Signature": ""}),
        ("signature without v0=", {**good, "X-Slack-Signature": sig.removeprefix("v0=")}),
        ("v1 signature", {**good, "X-Slack-Signature": "v1=" + sig.removeprefix("v0=")}),
        ("uppercase hex", {**good, "X-Slack-Signature": "v0=" + sig[3:].upper()}),
        ("signature for another timestamp", {**good, "X-Slack-Request-Timestamp": str(now - 1)}),
        ("non-numeric timestamp", {**good, "X-Slack-Request-Timestamp": "yesterday"}),
        ("float timestamp", {**good, "X-Slack-Request-Timestamp": f"{now}.0"}),
        ("huge timestamp", {**good, "X-Slack-Request-Timestamp": "9" * 5000}),
        (
            "duplicated signature",
            [*good.items(), ("X-Slack-Signature", "v0=" + "0" * 64)],
        ),
        (
            "duplicated timestamp",
            [*good.items(), ("X-Slack-Request-Timestamp", str(now - 1))],
        ),
    ]


@pytest.mark.parametrize("case", _headers_cases(), ids=lambda c: c[0])
def test_headers_that_do_not_prove_slack_are_401(
    client: Any, topics: Any, case: tuple[str, Any]
) -> None:
    body = form_body(payload())
    assert_refused(post(client, body, case[1]), 401, topics)


@pytest.mark.parametrize(
    "timestamp",
    [
        lambda now: str(now + 301),  # the future, beyond the window
        lambda now: str(now - 301),
        lambda now: "-1",
        lambda now: "0",
        lambda now: str(now - 86400 * 365),
        lambda now: str(10**18),
    ],
    ids=["future", "stale", "negative", "zero", "last-year", "huge"],
)
def test_timestamps_outside_the_window_are_401_even_when_correctly_signed(
    client: Any, topics: Any, timestamp: Any
) -> None:
    body = form_body(payload())
    headers = signed(body, timestamp=timestamp(int(time.time())))
    assert_refused(post(client, body, headers), 401, topics)


def test_a_replayed_click_beyond_the_window_is_401(client: Any, topics: Any) -> None:
    body = form_body(payload())
    captured = signed(body, timestamp=str(int(time.time()) - 360))
    assert_refused(post(client, body, captured), 401, topics)


def test_lowercase_header_names_are_accepted(client: Any, topics: Any) -> None:
    body = form_body(payload())
    headers = {k.lower(): v for k, v in signed(body).items()}
    assert post(client, body, headers).get_json()["outcome"] == "queued"
    assert len(queued(topics)) == 1


# ---------------------------------------------------------------- the body under the signature


def test_a_signature_over_another_body_is_401(client: Any, topics: Any) -> None:
    original = payload()
    body = form_body(original)
    headers = signed(body)
    text = json.dumps(original)
    variants = [
        # The same JSON, re-encoded (quote instead of quote_plus, spaces as %20).
        b"payload=" + urllib.parse.quote(text, safe="").encode(),
        body + b"&extra=1",
        b"extra=1&" + body,
        body + b"&" + form_body(payload(action_id="take_over", user=INTRUDER)),
        form_body(payload(action_id="take_over", user=INTRUDER)) + b"&" + body,
        body + b"\n",
        body.replace(b"acknowledge", b"take_over"),
    ]
    for variant in variants:
        assert variant != body
        resp = post(client, variant, headers)
        assert resp.status_code == 401, (variant[:80], resp.data[:200])
    assert queued(topics) == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded-evil",
        None,
    ],
)
def test_content_types_other_than_a_form_are_415_even_when_signed(
    client: Any, topics: Any, content_type: str | None
) -> None:
    body = form_body(payload())
    headers = {k: v for k, v in signed(body).items() if k != "Content-Type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    assert_refused(post(client, body, headers), 415, topics)


def test_a_json_body_signed_by_slack_is_415(client: Any, topics: Any) -> None:
    body = json.dumps(payload()).encode()
    headers = {**signed(body), "Content-Type": "application/json"}
    assert_refused(post(client, body, headers), 415, topics)


def test_form_content_type_with_odd_case_and_charset_is_still_a_form(
    client: Any, topics: Any
) -> None:
    body = form_body(payload())
    headers = {**signed(body), "Content-Type": "Application/X-WWW-Form-URLEncoded; charset=UTF-8"}
    assert post(client, body, headers).get_json()["outcome"] == "queued"
    assert len(queued(topics)) == 1


def test_a_body_over_the_limit_is_413_before_anything_else(
    client: Any, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTLOOP_MAX_BODY_BYTES", "4096")
    reset_settings()
    big = payload()
    big["padding"] = "x" * 5000
    body = form_body(big)
    assert_refused(post(client, body, signed(body)), 413, topics)


@pytest.mark.parametrize("secret", ["", "   ", "\t\n"])
def test_an_empty_signing_secret_refuses_everything(
    client: Any, topics: Any, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", secret)
    reset_settings()
    body = form_body(payload())
    for key in ("", secret, secret.strip(), SECRET):
        resp = post(client, body, signed(body, secret=key))
        assert resp.status_code == 401, (key, resp.data[:200])
        assert "SLACK_SIGNING_SECRET is not set" in resp.get_json()["error"]
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    reset_settings()
    assert post(client, body, signed(body, secret="")).status_code == 401
    assert queued(topics) == []


# ---------------------------------------------------------------- odd payloads, even if signed


def _odd(mutate: Any) -> dict[str, Any]:
    p = payload()
    mutate(p)
    return p


ODD_PAYLOADS: list[tuple[str, Any]] = [
    ("type view_submission", _odd(lambda p: p.update(type="view_submission"))),
    ("no type", _odd(lambda p: p.pop("type"))),
    ("actions not a list", _odd(lambda p: p.update(actions=p["actions"][0]))),
    ("actions empty", _odd(lambda p: p.update(actions=[]))),
    ("actions of strings", _odd(lambda p: p.update(actions=["acknowledge"]))),
    ("action id not ours", _odd(lambda p: p["actions"][0].update(action_id="delete_all"))),
    ("action id of another type", _odd(lambda p: p["actions"][0].update(action_id=["ack"]))),
    ("value missing", _odd(lambda p: p["actions"][0].pop("value"))),
    ("value an int", _odd(lambda p: p["actions"][0].update(value=12345))),
    ("value true", _odd(lambda p: p["actions"][0].update(value=True))),
    ("value a list", _odd(lambda p: p["actions"][0].update(value=["i1"]))),
    ("value a path", _odd(lambda p: p["actions"][0].update(value="../incidents/x"))),
    ("value with a newline", _odd(lambda p: p["actions"][0].update(value="i0123abcd\n"))),
    ("value too long", _odd(lambda p: p["actions"][0].update(value="i" * 65))),
    ("user missing", _odd(lambda p: p.pop("user"))),
    ("user a string", _odd(lambda p: p.update(user=ONCALL))),
    ("user id an int", _odd(lambda p: p["user"].update(id=12345))),
    ("user id a list", _odd(lambda p: p["user"].update(id=[ONCALL]))),
    ("user id lowercase", _odd(lambda p: p["user"].update(id=ONCALL.lower()))),
    ("user id with a newline", _odd(lambda p: p["user"].update(id=ONCALL + "\n"))),
    ("user id a group", _odd(lambda p: p["user"].update(id="S0ONCALL"))),
    ("user name a lone surrogate", _odd(lambda p: p["user"].update(username="\ud800"))),
    ("trigger id a lone surrogate", _odd(lambda p: p.update(trigger_id="\udfff"))),
    ("channel a lone surrogate", _odd(lambda p: p.update(channel={"id": "C\ud800"}))),
]


@pytest.mark.parametrize("case", ODD_PAYLOADS, ids=lambda c: c[0])
def test_odd_payloads_signed_by_slack_are_400_and_queue_nothing(
    client: Any, topics: Any, case: tuple[str, Any]
) -> None:
    body = form_body(case[1])
    assert_refused(post(client, body, signed(body)), 400, topics)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"payload=",
        b"payload=%7B",
        b"payload=[]",
        b"payload=null",
        b"payload=%FF%FE",
        b"\xff\xfe",
        b"other=1",
        b"payload=" + b"%5B" * 100_000,
        # Python refuses ints past 4300 digits with a ValueError that is no JSONDecodeError.
        b"payload="
        + urllib.parse.quote('{"type": "block_actions", "n": 1' + "0" * 5000 + "}").encode(),
        b"payload=" + urllib.parse.quote('{"type": "block_actions", "n": NaN}').encode(),
    ],
    ids=[
        "empty",
        "blank",
        "truncated",
        "list",
        "null",
        "latin1",
        "binary",
        "no-payload",
        "deep",
        "huge-int",
        "nan",
    ],
)
def test_bodies_that_are_not_block_actions_are_400_even_when_signed(
    client: Any, topics: Any, body: bytes
) -> None:
    assert_refused(post(client, body, signed(body)), 400, topics)


def test_a_link_button_is_acknowledged_and_queues_nothing(client: Any, topics: Any) -> None:
    body = form_body(_odd(lambda p: p["actions"][0].update(action_id="link_runbook")))
    resp = post(client, body, signed(body))
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "ignored"
    assert queued(topics) == []


# ---------------------------------------------------------------- permissions fail closed


MALFORMED_PERMISSIONS = [
    "[not, a, mapping]",
    '"*"',
    "approve: [U1, \n",  # YAML syntax error
    '{"approve": null}',
    '{"approve": {"UONCALL": true}}',
    '{"approve": [null]}',
    '{"approve": [12345]}',
    '{"acknowledge": ["*", "everyone"]}',
    '{"takeover": ["*"]}',  # not a kind alertloop knows
    '{"acknowledge": ["uoncall"]}',
    "yes: ['*']",  # YAML 1.1 turns the key into a boolean
    '{"acknowledge": [["UONCALL"]]}',
]


@pytest.mark.parametrize("doc", MALFORMED_PERMISSIONS)
def test_a_malformed_permission_document_refuses_every_click(
    client: Any, topics: Any, monkeypatch: pytest.MonkeyPatch, doc: str
) -> None:
    monkeypatch.setenv("ALERTLOOP_SLACK_PERMISSIONS", doc)
    reset_settings()
    for action in ("acknowledge", "verdict_noise", "take_over", "approve_rollback"):
        body = form_body(payload(action_id=action, user=ONCALL))
        answer = post(client, body, signed(body)).get_json()
        assert answer["outcome"] == "refused", (action, answer)
        assert "ALERTLOOP_SLACK_PERMISSIONS is invalid" in answer["text"]
    # Queued, marked, only so the worker audits the refusal (documented design); never allowed.
    clicks = [parse_message(bytes(m.message.data)) for m in queued(topics)]
    assert len(clicks) == 4 and {c.permission for c in clicks} == {"not_permitted"}


def test_a_permission_document_with_a_duplicated_kind_refuses_every_click(
    client: Any, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`take_over` named twice: which list was meant cannot be known, so none is used."""
    for doc in (
        '{"take_over": ["S0ONCALL"], "take_over": ["*"]}',
        "take_over: [S0ONCALL]\ntake_over: ['*']\n",
    ):
        monkeypatch.setenv("ALERTLOOP_SLACK_PERMISSIONS", doc)
        reset_settings()
        body = form_body(payload(action_id="take_over", user=INTRUDER))
        answer = post(client, body, signed(body)).get_json()
        assert answer["outcome"] == "refused", (doc, answer)
        assert "ALERTLOOP_SLACK_PERMISSIONS is invalid" in answer["text"]
    clicks = [parse_message(bytes(m.message.data)) for m in queued(topics)]
    assert {c.permission for c in clicks} == {"not_permitted"}


class _OddSlack(http.server.ThreadingHTTPServer):
    """A Slack Web API that answers usergroups.users.list badly (or slowly)."""

    def __init__(self, status: int, body: bytes, delay: float = 0.0) -> None:
        self.answer = (status, body)
        self.delay = delay
        self.calls = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server: _OddSlack = self.server  # type: ignore[assignment]
                server.calls += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(server.delay)
                status, body = server.answer
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"


@pytest.fixture
def odd_slack(slack: SlackApiServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    servers: list[_OddSlack] = []

    def start(status: int, body: bytes, delay: float = 0.0) -> _OddSlack:
        server = _OddSlack(status, body, delay)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("SLACK_API_URL", server.url)
        reset_settings()
        _Clients.groups = None
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "status,body",
    [
        (200, b'{"ok": false, "error": "missing_scope"}'),
        (200, b'{"ok": false, "error": "ratelimited"}'),
        (429, b'{"ok": false, "error": "ratelimited"}'),
        (500, b"upstream error"),
        (200, b"<html>not json</html>"),
    ],
)
def test_a_group_that_slack_cannot_resolve_never_lets_a_click_through(
    client: Any, topics: Any, odd_slack: Any, status: int, body: bytes
) -> None:
    odd_slack(status, body)
    req = form_body(payload(action_id="take_over", user=ONCALL))
    answer = post(client, req, signed(req)).get_json()
    assert answer["outcome"] in ("queued", "refused"), answer
    (click,) = [
        parse_message(bytes(m.message.data))
        for m in queued(
            topics,
        )
    ]
    assert click.permission in ("unchecked", "not_permitted")
    # The worker, asking the same Slack, refuses it.
    outcome = Worker().handle(click)
    assert outcome is not None and outcome.result == "refused"


@pytest.mark.parametrize(
    "users",
    [[], ["UOTHER"], "UONCALL", None, [["UONCALL"]], {"UONCALL": True}],
    ids=["empty", "others", "a-string", "null", "nested", "object"],
)
def test_a_group_that_slack_says_does_not_hold_the_user_refuses(
    client: Any, topics: Any, odd_slack: Any, users: Any
) -> None:
    odd_slack(200, json.dumps({"ok": True, "users": users}).encode())
    req = form_body(payload(action_id="take_over", user=ONCALL))
    answer = post(client, req, signed(req)).get_json()
    # Refused, or (an answer that is no list of users) undecided: never let through.
    assert answer["outcome"] in ("refused", "queued"), answer
    (click,) = [parse_message(bytes(m.message.data)) for m in queued(topics)]
    assert click.permission in ("unchecked", "not_permitted")
    outcome = Worker().handle(click)
    assert outcome is not None and outcome.result == "refused"


def test_slow_group_lookups_still_answer_inside_slacks_three_seconds(
    client: Any, topics: Any, odd_slack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three groups, a Slack that takes 1.5 s per lookup: interact must not add them up."""
    monkeypatch.setenv(
        "ALERTLOOP_SLACK_PERMISSIONS",
        '{"take_over": ["S0ONE", "S0TWO", "S0THREE"], "acknowledge": ["*"]}',
    )
    reset_settings()
    odd_slack(200, b'{"ok": true, "users": []}', delay=1.5)
    req = form_body(payload(action_id="take_over", user=ONCALL))
    started = time.monotonic()
    resp = post(client, req, signed(req))
    took = time.monotonic() - started
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "queued"
    assert took < 2.5, f"interact answered in {took:.1f} s"
    (click,) = [parse_message(bytes(m.message.data)) for m in queued(topics)]
    assert click.permission == "unchecked"


def test_an_unsigned_body_that_is_not_utf8_is_a_4xx_not_a_crash(client: Any, topics: Any) -> None:
    """slack_sdk's verifier decodes the body before comparing: anyone could make it raise."""
    forged = {**signed(b"payload=x"), "X-Slack-Signature": "v0=" + "0" * 64}
    for body in (b"\xff", b"payload=\xc3\x28", b"\x80" * 1000):
        resp = post(client, body, forged)
        assert resp.status_code in (400, 401), resp.data[:200]
    assert queued(topics) == []


# ---------------------------------------------------------------- workspaces (issue 21, item 8)


@pytest.mark.parametrize(
    ("action_id", "team", "enterprise"),
    [
        ("acknowledge", "T0OTHERCO", None),
        ("verdict_useful", "T0OTHERCO", None),
        ("silence_1h", "T0OTHERCO", {"id": "E0OTHERORG"}),
        ("acknowledge", "", None),
    ],
)
def test_a_signed_click_from_another_workspace_is_403_and_queues_nothing(
    client: Any, topics: Any, action_id: str, team: str, enterprise: Any
) -> None:
    """Our app, installed (or reachable through Slack Connect) in another workspace, signs its
    clicks too: the team decides. Acknowledge and verdict are no exception."""
    p = payload(action_id)
    p["team"] = {"id": team}
    p["user"]["team_id"] = team
    p["enterprise"] = enterprise
    body = form_body(p)
    resp = post(client, body, signed(body))
    assert_refused(resp, 403, topics)
    assert "does not serve" in resp.get_json()["error"]


def test_an_enterprise_grid_id_admits_its_workspaces(
    client: Any, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTLOOP_SLACK_TEAMS", "E0OURORG")
    reset_settings()
    p = payload()
    p["team"] = {"id": "T0SISTER", "enterprise_id": "E0OURORG"}
    p["enterprise"] = {"id": "E0OURORG"}
    body = form_body(p)
    resp = post(client, body, signed(body))
    assert resp.status_code == 200 and resp.get_json()["outcome"] == "queued"
    (message,) = queued(topics)
    assert parse_message(bytes(message.message.data)).enterprise_id == "E0OURORG"


def test_no_configured_workspace_refuses_every_click_and_says_how_to_fix_it(
    client: Any, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALERTLOOP_SLACK_TEAMS")
    reset_settings()
    body = form_body(payload())
    resp = post(client, body, signed(body))
    assert_refused(resp, 403, topics)
    assert "set ALERTLOOP_SLACK_TEAMS" in resp.get_json()["error"]


def test_the_worker_refuses_a_queued_click_from_a_workspace_it_does_not_serve(
    client: Any, topics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: act checks the team again (a message queued under another
    configuration, or published by anything but interact)."""
    body = form_body(payload())
    assert post(client, body, signed(body)).get_json()["outcome"] == "queued"
    monkeypatch.setenv("ALERTLOOP_SLACK_TEAMS", "T0SOMEONEELSE")
    reset_settings()
    (message,) = queued(topics)
    outcome = Worker().handle(parse_message(bytes(message.message.data)))
    assert outcome is not None and outcome.result == "refused"
    assert "does not serve" in outcome.message
