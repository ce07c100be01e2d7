"""A local GCE metadata server: issues Google access tokens per function identity.

google-auth finds it through ``GCE_METADATA_HOST`` (token, e-mail, project id) and
``GCE_METADATA_IP`` (the ``/`` ping of ``google.auth.default()``); every request must carry
``Metadata-Flavor: Google``, as on Cloud Run. Each identity (investigate, remediate, …) gets its
own listener, so a process picks its identity by its environment (`env_for`), exactly as each
Cloud Run function has its own service account::

    with MetadataServer({"investigate": "alertloop-investigate@p.iam.gserviceaccount.com"}) as md:
        env = md.env_for("investigate")      # GCE_METADATA_HOST / GCE_METADATA_IP
        md.resolve(token)                    # -> TokenInfo(email, scopes, expires_at) | None
        md.revoke()                          # every issued token stops being valid
        md.token_lifetime_seconds = 1        # short-lived tokens: every request refreshes

Tokens are random and expire (``token_lifetime_seconds``; google-auth refreshes 3m45s before the
expiry it is told, so a lifetime under that makes it fetch a new token for every request). The
other fakes (Container API, Kubernetes API, Managed Prometheus proxy) check tokens with
`resolve` in-process, or over HTTP at ``tokeninfo_url`` (the shape of Google's
``oauth2.googleapis.com/tokeninfo``) via `remote_resolver`.

As a process: ``python -m sandbox.metadata_server --identity investigate=EMAIL …`` prints one
JSON line with the hosts and the tokeninfo URL, and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from sandbox.http_serve import Listener, Reply, Request

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
# Cloud Run's metadata server issues a token for the scopes asked in `?scopes=a,b`
# (https://cloud.google.com/run/docs/container-contract#metadata-server); without them,
# the default scope here is cloud-platform alone, so callers that need the e-mail must ask.
DEFAULT_SCOPES = (CLOUD_PLATFORM,)
PREFIX = "/computeMetadata/v1/"
FLAVOR = {"Metadata-Flavor": "Google"}


@dataclass(frozen=True)
class TokenInfo:
    identity: str  # the function name it was issued to
    email: str
    scopes: tuple[str, ...]
    expires_at: float
    unique_id: str = ""  # the service account's numeric unique id (Google's `sub`)

    def has_scope(self, *wanted: str) -> bool:
        """True when the token carries any of `wanted` (cloud-platform covers everything)."""
        return CLOUD_PLATFORM in self.scopes or any(s in self.scopes for s in wanted)

    @property
    def carries_email(self) -> bool:
        """True when the token was issued with the userinfo.email scope. cloud-platform does NOT
        cover it: Google reveals the e-mail (tokeninfo, GKE's authenticator) only with it."""
        return USERINFO_EMAIL in self.scopes


def unique_id_for(email: str) -> str:
    """A stable 21-digit numeric id for a service account e-mail, shaped like IAM's uniqueId."""
    digits = str(int(hashlib.sha256(email.encode()).hexdigest(), 16))
    return "1" + digits[:20]


TokenResolver = Callable[[str], TokenInfo | None]


@dataclass
class _Issued:
    token: str
    info: TokenInfo
    revoked: bool = False


class MetadataServer:
    def __init__(
        self,
        identities: Mapping[str, str],
        *,
        project_id: str = "alertloop-local",
        numeric_project_id: str = "123456789012",
        token_lifetime_seconds: float = 3600.0,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
    ) -> None:
        if not identities:
            raise ValueError("at least one identity (name -> service account e-mail)")
        self.identities = dict(identities)
        self.project_id = project_id
        self.numeric_project_id = numeric_project_id
        self.token_lifetime_seconds = token_lifetime_seconds
        self.scopes = scopes
        self.requests: list[tuple[str, str]] = []  # (identity, path) of every metadata request
        self._tokens: dict[str, _Issued] = {}
        self._lock = threading.Lock()
        self._listeners: dict[str, Listener] = {}
        self._oauth: Listener | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> MetadataServer:
        for name in self.identities:
            self._listeners[name] = Listener(self._metadata_handler(name), f"metadata-{name}")
        self._oauth = Listener(self._oauth_handler, "metadata-oauth")
        return self

    def stop(self) -> None:
        for listener in self._listeners.values():
            listener.stop()
        self._listeners.clear()
        if self._oauth is not None:
            self._oauth.stop()
            self._oauth = None

    def __enter__(self) -> MetadataServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- addresses ------------------------------------------------------------------------

    def host_for(self, identity: str) -> str:
        """host:port to put in GCE_METADATA_HOST (and GCE_METADATA_IP) for this identity."""
        return self._listeners[identity].address

    def env_for(self, identity: str) -> dict[str, str]:
        host = self.host_for(identity)
        return {"GCE_METADATA_HOST": host, "GCE_METADATA_IP": host}

    @property
    def tokeninfo_url(self) -> str:
        assert self._oauth is not None, "server not started"
        return f"{self._oauth.url}/tokeninfo"

    # ---- tokens ---------------------------------------------------------------------------

    def issue(self, identity: str, scopes: tuple[str, ...] | None = None) -> tuple[str, float]:
        """A new token for the identity: (token, lifetime seconds)."""
        lifetime = self.token_lifetime_seconds
        token = "ya29.local-" + secrets.token_urlsafe(32)
        email = self.identities[identity]
        info = TokenInfo(
            identity,
            email,
            scopes or self.scopes,
            time.time() + lifetime,
            unique_id_for(email),
        )
        with self._lock:
            self._tokens[token] = _Issued(token, info)
        return token, lifetime

    def resolve(self, token: str) -> TokenInfo | None:
        """Who a bearer token belongs to; None when unknown, revoked or expired."""
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None or issued.revoked or issued.info.expires_at <= time.time():
            return None
        return issued.info

    def revoke(self, identity: str | None = None) -> int:
        """Revoke every token (of one identity); returns how many."""
        with self._lock:
            hits = [
                t
                for t in self._tokens.values()
                if not t.revoked and (identity is None or t.info.identity == identity)
            ]
            for t in hits:
                t.revoked = True
        return len(hits)

    def issued(self, identity: str | None = None) -> list[str]:
        with self._lock:
            return [
                t.token
                for t in self._tokens.values()
                if identity is None or t.info.identity == identity
            ]

    # ---- the metadata protocol ------------------------------------------------------------

    def _metadata_handler(self, identity: str) -> Callable[[Request], Reply]:
        def handle(req: Request) -> Reply:
            with self._lock:
                self.requests.append((identity, req.raw_path))
            if req.header("Metadata-Flavor") != "Google":
                return Reply.text(403, 'Missing required header "Metadata-Flavor": "Google"\n')
            if req.header("X-Forwarded-For"):
                return Reply.text(403, "Request denied: X-Forwarded-For is not allowed\n", **FLAVOR)
            if req.path == "/":  # google-auth's ping (is_on_gce)
                return Reply.text(200, "computeMetadata/\n", **FLAVOR)
            if not req.path.startswith(PREFIX):
                return Reply.text(404, "Not Found\n", **FLAVOR)
            return self._metadata(identity, req.path[len(PREFIX) :], req)

        return handle

    def _metadata(self, identity: str, path: str, req: Request) -> Reply:
        email = self.identities[identity]
        simple = {
            "project/project-id": self.project_id,
            "project/numeric-project-id": self.numeric_project_id,
            "universe/universe-domain": "googleapis.com",
            "instance/id": "1234567890123456789",
            "instance/zone": f"projects/{self.numeric_project_id}/zones/local-a",
            "instance/service-accounts/": f"default/\n{email}/\n",
        }
        if path in simple:
            return Reply.text(200, simple[path], **FLAVOR)
        prefix = "instance/service-accounts/"
        if not path.startswith(prefix):
            return Reply.text(404, "Not Found\n", **FLAVOR)
        account, _, leaf = path[len(prefix) :].partition("/")
        if account not in ("default", email):
            return Reply.text(404, "Not Found\n", **FLAVOR)
        if leaf == "" and req.query.get("recursive") == "true":
            info = {"aliases": ["default"], "email": email, "scopes": list(self.scopes)}
            return Reply.json(200, info, **FLAVOR)
        if leaf == "email":
            return Reply.text(200, email, **FLAVOR)
        if leaf == "scopes":
            return Reply.text(200, "\n".join(self.scopes) + "\n", **FLAVOR)
        if leaf == "aliases":
            return Reply.text(200, "default\n", **FLAVOR)
        if leaf == "token":
            raw = req.query.get("scopes", "")
            scopes = tuple(s for s in raw.split(",") if s) or None
            token, lifetime = self.issue(identity, scopes)
            body = {"access_token": token, "expires_in": int(lifetime), "token_type": "Bearer"}
            return Reply.json(200, body, **FLAVOR)
        return Reply.text(404, "Not Found\n", **FLAVOR)

    # ---- tokeninfo (oauth2.googleapis.com/tokeninfo) --------------------------------------

    def _oauth_handler(self, req: Request) -> Reply:
        if req.path != "/tokeninfo":
            return Reply.json(404, {"error": "not_found"})
        token = req.query.get("access_token", "")
        if not token and req.body:
            from urllib.parse import parse_qs

            token = (parse_qs(req.body.decode()).get("access_token") or [""])[-1]
        info = self.resolve(token) if token else None
        if info is None:
            return Reply.json(400, {"error": "invalid_token", "error_description": "Invalid Value"})
        expires_in = max(0, int(info.expires_at - time.time()))
        return Reply.json(200, tokeninfo_body(info, expires_in))


def tokeninfo_body(info: TokenInfo, expires_in: int) -> dict[str, Any]:
    """Google's tokeninfo answer: `azp`/`aud`/`sub` are the account's numeric id, and `email`
    appears only when the token carries the userinfo.email scope
    (https://developers.google.com/identity/protocols/oauth2/scopes#oauth2,
    https://cloud.google.com/docs/authentication/token-types#access-contents)."""
    body: dict[str, Any] = {
        "azp": info.unique_id,
        "aud": info.unique_id,
        "sub": info.unique_id,
        "scope": " ".join(info.scopes),
        "exp": str(int(info.expires_at)),
        "expires_in": str(expires_in),
        "access_type": "online",
        # not part of Google's answer: which sandbox identity and account it was issued to, so
        # stand-ins in other processes can apply IAM (which knows the account either way)
        "alertloop_identity": info.identity,
        "alertloop_account": info.email,
    }
    if info.carries_email:
        body["email"] = info.email
        body["email_verified"] = "true"
    return body


def remote_resolver(tokeninfo_url: str, timeout: float = 5.0) -> TokenResolver:
    """A `TokenResolver` for servers in other processes: asks the tokeninfo endpoint."""

    def resolve(token: str) -> TokenInfo | None:
        resp = requests.get(tokeninfo_url, params={"access_token": token}, timeout=timeout)
        if resp.status_code != 200:
            return None
        data = resp.json()
        return TokenInfo(
            str(data.get("alertloop_identity", "")),
            str(data.get("alertloop_account") or data.get("email", "")),
            tuple(str(data.get("scope", "")).split()),
            float(data["exp"]),
            str(data.get("sub", "")),
        )

    return resolve


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a local GCE metadata server.")
    parser.add_argument(
        "--identity",
        action="append",
        required=True,
        metavar="NAME=EMAIL",
        help="a function identity and its service account e-mail (repeatable)",
    )
    parser.add_argument("--project", default="alertloop-local")
    parser.add_argument("--token-lifetime", type=float, default=3600.0)
    args = parser.parse_args(argv)
    identities = dict(item.split("=", 1) for item in args.identity)
    server = MetadataServer(
        identities, project_id=args.project, token_lifetime_seconds=args.token_lifetime
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    hosts = {name: server.host_for(name) for name in identities}
    print(json.dumps({"hosts": hosts, "tokeninfo_url": server.tokeninfo_url}), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
