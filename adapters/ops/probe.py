"""A container health probe: `python -m adapters.ops.probe [/healthz]` exits 0 when Paperboy answers.

Images have no curl; this needs only the standard library, and reads the port from PAPERBOY_PORT like the server.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_PATH = "/healthz"
TIMEOUT_SECONDS = 4.0


def probe(path: str = DEFAULT_PATH, port: int | None = None, host: str = "127.0.0.1") -> bool:
    """True when GET http://host:port/path answers 200 within a few seconds."""
    port = port if port is not None else int(os.environ.get("PAPERBOY_PORT") or 3000)
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=TIMEOUT_SECONDS) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 when healthy, 1 otherwise."""
    args = sys.argv[1:] if argv is None else argv
    return 0 if probe(args[0] if args else DEFAULT_PATH) else 1


if __name__ == "__main__":
    sys.exit(main())
