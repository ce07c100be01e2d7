"""Deploy-bundle entry points: Cloud Functions loads this file and calls the named function."""

from functions.act import act
from functions.budget import budget
from functions.console import console
from functions.deadletter import deadletter
from functions.dispatch import dispatch
from functions.ingest import ingest
from functions.interact import interact
from functions.investigate import investigate
from functions.notify import notify
from functions.remediate import remediate
from functions.rollback import rollback
from functions.sweeper import sweeper

__all__ = [
    "act",
    "budget",
    "console",
    "deadletter",
    "dispatch",
    "ingest",
    "interact",
    "investigate",
    "notify",
    "remediate",
    "rollback",
    "sweeper",
]
