"""A loopback fake of Hugging Face's `/api/daily_papers`, for tests, the ingest benchmark and offline trials.

    .venv/bin/python -m tests.fakes.hf --port 8765        # serves the shipped demo items
    HF_API_URL=http://127.0.0.1:8765 paperboy ingest hf --date 2025-09-01

It filters by `date`, `week` or `month` on `paper.submittedOnDailyAt` and pages with `p` and `limit`, like the
real API. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

DEFAULT_LIMIT = 50


class FakeDailyPapers:
    """The items a fake serves, and how a query selects and pages them."""

    def __init__(self, items: Sequence[dict[str, Any]]) -> None:
        self.items = list(items)
        self.requests: list[dict[str, str]] = []

    @staticmethod
    def _featured(item: dict[str, Any]) -> date | None:
        try:
            return date.fromisoformat(str(item["paper"]["submittedOnDailyAt"])[:10])
        except (KeyError, TypeError, ValueError):
            return None

    def select(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """The items a query's date, week or month selects, in the served order."""

        def wanted(day: date | None) -> bool:
            if day is None:
                return False
            if "date" in params:
                return day.isoformat() == params["date"]
            if "week" in params:
                year, week, _ = day.isocalendar()
                return f"{year}-W{week:02d}" == params["week"]
            if "month" in params:
                return day.isoformat()[:7] == params["month"]
            return True

        return [item for item in self.items if wanted(self._featured(item))]

    def page(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """One page of the selection (`p` from 0, `limit` items)."""
        self.requests.append(params)
        limit = int(params.get("limit", DEFAULT_LIMIT))
        page = int(params.get("p", 0))
        selected = self.select(params)
        return selected[page * limit : (page + 1) * limit]


def _handler_for(fake: FakeDailyPapers) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/api/daily_papers":
                self._send(404, b'{"error":"Not Found"}')
                return
            params = {key: values[-1] for key, values in parse_qs(url.query).items()}
            try:
                body = json.dumps(fake.page(params)).encode()
            except ValueError:
                self._send(400, b'{"error":"bad p or limit"}')
                return
            self._send(200, body)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: tests and the benchmark print their own output.
            return

    return Handler


@contextmanager
def serve(items: Sequence[dict[str, Any]], port: int = 0) -> Iterator[tuple[str, FakeDailyPapers]]:
    """Serve items on 127.0.0.1 in a background thread; yield (base URL, the fake) and stop on exit."""
    fake = FakeDailyPapers(items)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-hf", daemon=True)
    thread.start()
    try:
        host, bound_port = server.server_address[:2]
        yield f"http://{host!s}:{bound_port}", fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def demo_items() -> list[dict[str, Any]]:
    """The Daily Papers items shipped with the package (the demo day), freshly read."""
    from adapters.sources.demo import read_demo_payload

    payload = read_demo_payload()
    if not isinstance(payload, list):
        raise TypeError("the shipped demo payload is not a JSON list of items")
    return cast(list[dict[str, Any]], payload)


def main(argv: list[str] | None = None) -> None:
    """Serve the demo items (or a JSON list of items from a file) until interrupted."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--items", type=Path, help="a JSON list of Daily Papers items (default: the demo set)"
    )
    args = parser.parse_args(argv)
    items: list[dict[str, Any]] = (
        json.loads(args.items.read_text(encoding="utf-8")) if args.items else demo_items()
    )
    with serve(items, args.port) as (url, _fake):
        print(f"fake Hugging Face Daily Papers at {url} ({len(items)} items); Ctrl-C stops it", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
