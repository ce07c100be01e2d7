"""Which Slack workspaces alertloop serves: a click is acted on only when it comes from a
configured team (T…) or Enterprise Grid organisation (E…), ALERTLOOP_SLACK_TEAMS.

The signing secret proves a request came from our Slack app, not from our workspace: an app
installed (or shared through Slack Connect) elsewhere signs clicks from there too. Empty
configuration refuses every click and says how to fix it (fail closed).
"""

from __future__ import annotations

import re

from shared import envvars

_ID = re.compile(r"^[TE][A-Z0-9]{1,31}$")


def expected_teams(raw: str | None = None) -> frozenset[str]:
    text = envvars.read("ALERTLOOP_SLACK_TEAMS") if raw is None else raw
    return frozenset(p.strip() for p in text.split(",") if _ID.fullmatch(p.strip()))


def team_problem(team_id: str, enterprise_id: str, allowed: frozenset[str]) -> str | None:
    """Why a click from this team / enterprise is refused, or None when it is ours."""
    if not allowed:
        return (
            "alertloop accepts clicks from no Slack workspace yet: set ALERTLOOP_SLACK_TEAMS to "
            "your workspace's team id (T…) or Enterprise Grid id (E…)"
        )
    if (team_id and team_id in allowed) or (enterprise_id and enterprise_id in allowed):
        return None
    where = f"team {team_id or '?'}" + (f", enterprise {enterprise_id}" if enterprise_id else "")
    return (
        f"this click came from a Slack workspace alertloop does not serve ({where}); only "
        "ALERTLOOP_SLACK_TEAMS are accepted"
    )
