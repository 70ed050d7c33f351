"""One webhook POST to a checked address: no second resolution, no proxy, no redirect.

The connection goes to `Target.address` (the address that passed the check) while the Host
header and, for https, the certificate check and SNI use the URL's host name. Errors are
logged in a few plain words: the delivery log shows whether an endpoint answered, never the
socket-level detail that would turn it into a port scanner.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from fieldobs.operations.webhook_targets import Target

RESPONSE_READ_BYTES = 4096


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status, or an error, and how long it took."""

    status_code: int | None
    error: str | None
    duration_ms: int


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address
        self.tls = ssl.create_default_context()

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """POST a body to a checked target; a 2xx answer is success, anything else an error."""
    started = time.monotonic()
    connection: http.client.HTTPConnection = (
        _PinnedHTTPS(target, timeout) if target.scheme == "https" else _PinnedHTTP(target, timeout)
    )
    code: int | None = None
    error: str | None = None
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        code = response.status
        response.read(RESPONSE_READ_BYTES)
    except TimeoutError:
        error = "timed out"
    except ssl.SSLError:
        error = "TLS failed (certificate or protocol)"
    except http.client.HTTPException:
        error = "not a valid HTTP answer"
    except OSError:
        error = "could not connect"
    finally:
        connection.close()
    if code is not None and not 200 <= code < 300:
        error = f"HTTP {code}"
    return Outcome(code, error, int((time.monotonic() - started) * 1000))
