"""A resolver for webhook host names that never sends a DNS query (tests make none)."""

from __future__ import annotations

from collections.abc import Mapping

# What the example names resolve to in tests: a public address, so that registering them is
# allowed. No test delivers to one (tests/operations/conftest.py refuses such connections).
PUBLIC = "93.184.215.14"


class StubResolver:
    """Resolve names from a table; any other name does not resolve, as if unknown to DNS."""

    def __init__(self, table: Mapping[str, list[str]] | None = None) -> None:
        self.table = dict(table or {})
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:  # noqa: ARG002 -- the signature
        self.asked.append(host)
        if host in self.table:
            return list(self.table[host])
        if host == "example.com" or host.endswith((".example.com", ".example.org")):
            return [PUBLIC]
        raise OSError(f"stub resolver: {host} is not in the table")
