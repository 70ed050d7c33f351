"""Password guessing: 16 threads guess for 20 s; sign-in attempts/s and GET /checklists latency.

Run: .venv/bin/python bench/login.py [--threads 16] [--seconds 20]
Prints the attempts per second by answer (401 checked, 429 throttled, 503 busy) and the median
latency of GET /api/v1/checklists from another client, alone first and then under the guessing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serving import Server


def guess(port: int, stop: threading.Event, outcome: Counter[str], lock: threading.Lock) -> None:
    """Guess the admin's password until told to stop, counting the answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    attempt = 0
    while not stop.is_set():
        attempt += 1
        body = json.dumps({"username": "admin", "password": f"guess-{attempt}"})
        try:
            conn.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            status = str(response.status)
        except OSError as error:
            status = type(error).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        with lock:
            outcome[status] += 1


def probe(port: int, token: str, seconds: float) -> list[float]:
    """Return the latencies (ms) of GET /api/v1/checklists sent one after another."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        conn.request("GET", "/api/v1/checklists", headers={"Authorization": f"Bearer {token}"})
        conn.getresponse().read()
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.05)
    return latencies


def main() -> None:
    """Print guessing throughput and the latency another client sees meanwhile."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with Server() as server:
        token = server.token("shopper")
        alone = probe(server.port, token, 3)
        stop, lock, outcome = threading.Event(), threading.Lock(), Counter[str]()
        guessers = [
            threading.Thread(target=guess, args=(server.port, stop, outcome, lock))
            for _ in range(args.threads)
        ]
        for thread in guessers:
            thread.start()
        attacked = probe(server.port, token, args.seconds)
        stop.set()
        for thread in guessers:
            thread.join()
    total = sum(outcome.values())
    print(f"{args.threads} threads guessing for {args.seconds:.0f} s: {total} attempts,")
    print(f"  {total / args.seconds:.1f} attempts/s; by answer: {dict(sorted(outcome.items()))}")
    print(f"  password checks (401): {outcome['401'] / args.seconds:.1f}/s")
    median_alone, median_attacked = statistics.median(alone), statistics.median(attacked)
    print(
        f"GET /checklists median: alone {median_alone:.1f} ms, while guessing "
        f"{median_attacked:.1f} ms (x{median_attacked / median_alone:.1f}); "
        f"p90 while guessing {statistics.quantiles(attacked, n=10)[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
