"""A loopback HTTP server that stalls: it sends its headers at once, then the body one byte every `interval` s."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _serve_one(connection: socket.socket, interval: float, stopped: threading.Event) -> None:
    with connection:
        connection.settimeout(5)
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                request += chunk
            # A large declared body that never comes: every read gets a byte in time, the whole never ends.
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            )
            connection.sendall(b"[")
            while not stopped.wait(interval):
                connection.sendall(b" ")
        except OSError:
            return  # the client gave up and closed the connection: what the tests expect


@contextmanager
def dripping_server(interval: float = 2.0) -> Iterator[str]:
    """Serve on a free 127.0.0.1 port until the block ends; yields the base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopped = threading.Event()
    workers: list[threading.Thread] = []

    def accept() -> None:
        while not stopped.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=_serve_one, args=(connection, interval, stopped), daemon=True)
            worker.start()
            workers.append(worker)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopped.set()
        acceptor.join(timeout=2)
        listener.close()
        for worker in workers:
            worker.join(timeout=2)
