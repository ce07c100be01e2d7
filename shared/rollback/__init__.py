"""Execution of approved rollbacks (the rollback function) and their canary check."""

from shared.rollback.core import rollback

__all__ = ["rollback"]
