"""The baseline: a functions-framework HTTP function that does nothing."""

import flask
import functions_framework


@functions_framework.http
def bare(request: flask.Request) -> str:
    request.get_data()
    return "ok"
