"""Oversized bodies: each worker's memory before and after 24 concurrent 50 MB JSON bodies.

Run: .venv/bin/python bench/limits.py [--requests 24] [--body-mb 50]
Issue 13's target: every worker stays within 50 MB of its baseline.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serving import Server, rss_mb

PIECE = 64 * 1024


def explosive_body(size: int) -> bytes:
    """Return JSON of about `size` bytes that costs ~25x its size once parsed (many objects)."""
    head, tail = b'{"username": "admin", "password": "x", "pad": [', b"{}]}"
    count = max(0, (size - len(head) - len(tail)) // 3)
    return head + b"{}," * count + tail


def send_oversized(port: int, path: str, body: bytes, outcome: Counter[str]) -> None:
    """Send one body (stopping when the server stops reading); count how it was answered."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=300) as sock:
        try:
            sock.sendall(head)
            view = memoryview(body)
            for start in range(0, len(body), PIECE):
                sock.sendall(view[start : start + PIECE])
        except OSError:
            pass  # the server answered early and stopped reading
        try:
            status = sock.recv(64).split(b" ")[1].decode()
        except (OSError, IndexError) as error:
            status = type(error).__name__  # closed before the answer could be read
        outcome[status] += 1


def oversized_round(server: Server, requests: int, body: bytes) -> tuple[Counter[str], float]:
    """Send the bodies at once; return how they were answered and the seconds it took."""
    outcome: Counter[str] = Counter()
    threads = [
        threading.Thread(
            target=send_oversized, args=(server.port, "/api/v1/auth/token", body, outcome)
        )
        for _ in range(requests)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome, time.perf_counter() - started


def main() -> None:
    """Print each worker's RSS before and after the oversized round."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--body-mb", type=float, default=50)
    args = parser.parse_args()
    body = explosive_body(int(args.body_mb * 1024 * 1024))
    with Server() as server:
        pids = server.worker_pids()
        # Warm-up: every worker loads what a first request loads before the baseline is read.
        for _ in range(3):
            oversized_round(server, args.requests, explosive_body(100 * 1024))
            oversized_round(server, args.requests, b'{"username": "a"}')
        time.sleep(1)
        before = {pid: rss_mb(pid) for pid in pids}
        outcome, seconds = oversized_round(server, args.requests, body)
        time.sleep(1)
        after = {pid: rss_mb(pid) for pid in pids}
    print(f"{args.requests} x {len(body) / 2**20:.0f} MB to /api/v1/auth/token in {seconds:.1f} s")
    print(f"answers: {dict(outcome)}")
    print("worker   RSS before   RSS after   growth (MB)")
    for pid in pids:
        print(f"{pid:>6} {before[pid]:>12.0f} {after[pid]:>11.0f} {after[pid] - before[pid]:>9.0f}")
    worst = max(after[pid] - before[pid] for pid in pids)
    print(f"largest growth: {worst:.0f} MB (target: within 50 MB)")


if __name__ == "__main__":
    main()
