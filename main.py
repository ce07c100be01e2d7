"""Deploy-bundle entry points: Cloud Functions loads this file and calls the named function."""

from functions.approve import approve
from functions.budget import budget
from functions.console import console
from functions.deadletter import deadletter
from functions.dispatch import dispatch
from functions.ingest import ingest
from functions.investigate import investigate
from functions.notify import notify
from functions.remediate import remediate
from functions.rollback import rollback

__all__ = [
    "approve",
    "budget",
    "console",
    "deadletter",
    "dispatch",
    "ingest",
    "investigate",
    "notify",
    "remediate",
    "rollback",
]
