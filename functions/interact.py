"""interact (HTTP): the Slack app's one interactivity Request URL (shared.interaction.endpoint):
verify, parse, check permission, queue the click for the `act` worker, answer within 3 s."""

from __future__ import annotations

import flask
import functions_framework

from shared.interaction.endpoint import Clients
from shared.interaction.endpoint import interact as handle

# This instance's clients (the bus, the Slack group cache), built on first use.
_Clients = Clients()


@functions_framework.http
def interact(request: flask.Request) -> flask.Response:
    return handle(request, _Clients)
