"""The console function, loaded the way the buildpack loads it, served on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from functions_framework import create_app
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve_console() -> Iterator[str]:
    """Yields the console's base URL (http://127.0.0.1:PORT); stops it afterwards."""
    app = create_app("console", str(ROOT / "main.py"), "http")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
