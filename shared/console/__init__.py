"""The incident console: an HTTP function serving server-rendered pages and /metrics.

app        routing, auth, security headers          (handle)
auth       the local token / Cloud Run IAM modes
pages      incidents list, incident timeline, loop health (templates: Jinja2, autoescaped)
timeline   an incident's events from the ledger (pure)
charts     inline SVG charts (no JavaScript)
metrics    Prometheus exposition computed from the ledger
data       the ledger snapshot shared by /health and /metrics, cached briefly
"""

from shared.console.app import Console, handle
from shared.console.settings import ConsoleSettings, console_settings

__all__ = ["Console", "ConsoleSettings", "console_settings", "handle"]
