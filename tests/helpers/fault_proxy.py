"""An HTTP proxy that misbehaves like a mobile network: drops, duplicates, delays, cuts."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Self

# What to do with one request: forward, drop the response after the server answered,
# send it twice, delay it, or cut the request in half before the server saw it all.
ACTIONS = ("forward", "drop_response", "duplicate", "delay", "cut_request")

Policy = Callable[[bytes], str]


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    # One request per connection keeps the misbehaviour per request.
    head = b"\r\n".join(
        line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")
    )
    return head + b"\r\nConnection: close\r\n\r\n" + body


def _exchange(upstream: tuple[str, int], request: bytes) -> bytes:
    with socket.create_connection(upstream, timeout=30) as sock:
        sock.sendall(request)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    return response


class FaultProxy:
    """Listen on 127.0.0.1 and forward to a server, misbehaving as a policy says."""

    def __init__(self, upstream_port: int, policy: Policy, *, seed: int = 7) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.policy = policy
        self.random = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._closing = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        """Return the proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = _read_request(conn)
                if request is None:
                    return
                action = self.policy(request)
                with self._lock:
                    self.counts[action] += 1
                self._act(conn, request, action)
            except OSError:
                return  # the upstream died (the tests kill it on purpose)

    def _act(self, conn: socket.socket, request: bytes, action: str) -> None:
        if action == "cut_request":
            with socket.create_connection(self.upstream, timeout=30) as sock:
                sock.sendall(request[: len(request) // 2])
            return
        if action == "delay":
            time.sleep(self.random.uniform(0.01, 0.2))
        if action == "duplicate":
            twin = threading.Thread(target=_exchange, args=(self.upstream, request))
            twin.start()
            response = _exchange(self.upstream, request)
            twin.join()
        else:
            response = _exchange(self.upstream, request)
        if action == "drop_response":
            # The server committed and answered; the phone never hears of it.
            conn.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            return
        conn.sendall(response)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        self._server.close()


def always(action: str) -> Policy:
    """Return a policy that does the same to every request."""
    return lambda _request: action


def flaky(rates: dict[str, float], seed: int = 11) -> Policy:
    """Return a policy that misbehaves at random with the given rates, forwarding otherwise."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def choose(_request: bytes) -> str:
        with lock:
            roll = rng.random()
        for action, rate in rates.items():
            if roll < rate:
                return action
            roll -= rate
        return "forward"

    return choose
