"""Visit ingest: PUT vs batch through a real server, against raw sqlite3 executemany.

Run: .venv/bin/python bench/ingest.py [--put-visits N] [--batch-visits N]
     .venv/bin/python bench/ingest.py --manifest 10000 50000  (validation time of big manifests)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "bench-password"


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str, env: dict[str, str]) -> None:
    """Run a fieldobs CLI command."""
    subprocess.run(
        [str(BIN / "fieldobs"), *args], env=env, cwd=REPO, check=True, capture_output=True
    )


class Client:
    """A keep-alive JSON client."""

    def __init__(self, port: int, token: str = "") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request (a JSON value, or bytes already encoded) and return status and JSON."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")


def answers_for(checklist: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer every value item of a checklist."""
    values = {"yes_no": True, "text": "fine", "duration": 20, "number": 1}
    answers = []
    for section in checklist["sections"]:
        for item in section["items"]:
            if item["type"] == "photo":
                continue
            value = values.get(item["type"])
            if item["type"] == "scale":
                value = item["max"]
            if item["type"] == "choice":
                value = item["options"][0]["id"]
            answers.append({"item": item["id"], "value": value})
    return answers


def make_visits(checklist: dict[str, Any], location_id: int, count: int) -> list[dict[str, Any]]:
    """Return `count` distinct valid visits."""
    answers = answers_for(checklist)
    return [
        {
            "id": str(uuid.uuid4()),
            "revision": 1,
            "checklist": {"slug": checklist["slug"], "version": checklist["version"]},
            "location_id": location_id,
            "started_at": "2026-11-20T10:00:00Z",
            "finished_at": "2026-11-20T10:20:00Z",
            "answers": answers,
            "photos": [],
        }
        for _ in range(count)
    ]


def parallel(jobs: list[Any], worker: Any, threads: int) -> float:
    """Run jobs over threads; return elapsed seconds."""
    chunks = [jobs[i::threads] for i in range(threads)]
    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start


def raw_limit(data_dir: Path, location_id: int) -> float:
    """Re-insert the very rows the server stored, with raw sqlite3 executemany; return visits/s."""
    target = data_dir / "raw.db"
    shutil.copy(data_dir / "fieldobs.db", target)
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    visits = conn.execute("SELECT * FROM visits WHERE location_id = ?", [location_id]).fetchall()
    revisions = conn.execute(
        "SELECT * FROM visit_revisions WHERE visit_id IN"
        " (SELECT id FROM visits WHERE location_id = ?)",
        [location_id],
    ).fetchall()
    conn.execute("BEGIN")
    conn.execute(
        "DELETE FROM visit_revisions"
        " WHERE visit_id IN (SELECT id FROM visits WHERE location_id = ?)",
        [location_id],
    )
    conn.execute("DELETE FROM visits WHERE location_id = ?", [location_id])
    conn.execute("COMMIT")
    conn.execute("VACUUM")
    visit_marks = ", ".join("?" * len(visits[0]))
    revision_marks = ", ".join("?" * len(revisions[0]))
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO visits VALUES ({visit_marks})", visits)
    conn.executemany(f"INSERT INTO visit_revisions VALUES ({revision_marks})", revisions)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(visits) / elapsed


def db_bytes(data_dir: Path) -> int:
    """Return the size of the database and its WAL."""
    return sum(p.stat().st_size for p in data_dir.glob("fieldobs.db*"))


def manifest_figures(sizes: list[int]) -> None:
    """Print the seconds one PUT takes whose photo manifest has N entries, in-process."""
    # In-process (Flask's test client): a server's worker timeout would cut the slow case short.
    from fieldobs import create_app

    data_dir = Path(tempfile.mkdtemp(prefix="fieldobs-bench-"))
    env = {**os.environ, "FIELDOBS_DATA_DIR": str(data_dir)}
    run("init-db", env=env)
    run("demo", env=env)
    run("users", "create", "bench", "--role", "shopper", "--password", PASSWORD, env=env)
    client = create_app({"DATA_DIR": str(data_dir), "AUTO_INIT": False}).test_client()
    login = client.post("/api/v1/auth/token", json={"username": "bench", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.get_json()['token']}"}
    checklist = client.get("/api/v1/checklists/mystery-shop", headers=headers).get_json()
    print("PUT /api/v1/visits/<id> with an N-photo manifest (one request, in-process):")
    for size in sizes:
        [visit] = make_visits(checklist, 1, 1)
        visit["photos"] = [
            {
                "id": str(uuid.uuid4()),
                "sha256": f"{n:064x}",
                "size": 1000 + n,
                "content_type": "image/jpeg",
            }
            for n in range(size)
        ]
        body = json.dumps(visit).encode()
        start = time.perf_counter()
        response = client.put(
            f"/api/v1/visits/{visit['id']}",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        elapsed = time.perf_counter() - start
        print(
            f"  N = {size:>7,}: {elapsed:8.3f} s  ({len(body) / 1e6:.1f} MB body,"
            f" status {response.status_code})"
        )
    shutil.rmtree(data_dir, ignore_errors=True)
    # Beyond the limit a PUT is refused by the manifest's length alone; to see that validating
    # what is accepted costs linear time, the schema loads the same manifests with it lifted.
    from fieldobs.visits.schema import VisitSchema

    print("VisitSchema().load of the same visit with the manifest limit lifted:")
    for size in sizes:
        [visit] = make_visits(checklist, 1, 1)
        visit["photos"] = [
            {
                "id": str(uuid.uuid4()),
                "sha256": f"{n:064x}",
                "size": 1 + n,
                "content_type": "image/png",
            }
            for n in range(size)
        ]
        schema = VisitSchema()
        photos = schema.fields["photos"]
        setattr(photos, "max_items", size)  # noqa: B010 - an attribute of our BoundedList only
        photos.validators = []
        start = time.perf_counter()
        schema.load(visit)
        elapsed = time.perf_counter() - start
        print(f"  N = {size:>7,}: {elapsed:8.3f} s  ({elapsed / size * 1e6:.1f} µs per entry)")


def main() -> None:
    """Run the benchmark and print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--manifest",
        type=int,
        nargs="*",
        metavar="N",
        help="only time PUTs of visits with N-photo manifests (e.g. 10000 50000)",
    )
    parser.add_argument("--put-visits", type=int, default=1500)
    parser.add_argument("--batch-visits", type=int, default=10000)
    # The server runs as the README's production section says; each client thread is a phone.
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--worker-threads", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=5, help="batch runs and raw runs; medians are printed"
    )
    args = parser.parse_args()
    if args.manifest:
        manifest_figures(args.manifest)
        return

    data_dir = Path(tempfile.mkdtemp(prefix="fieldobs-bench-"))
    env = {**os.environ, "FIELDOBS_DATA_DIR": str(data_dir)}
    run("init-db", env=env)
    run("demo", env=env)
    run("users", "create", "bench", "--role", "shopper", "--password", PASSWORD, env=env)
    port = free_port()
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            str(args.workers),
            "-k",
            args.worker_class,
            "--threads",
            str(args.worker_threads),
            "-b",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(200):
            try:
                if Client(port).call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        _, login = Client(port).call(
            "POST", "/api/v1/auth/token", {"username": "bench", "password": PASSWORD}
        )
        token = login["token"]
        checklist = Client(port, token).call("GET", "/api/v1/checklists/mystery-shop")[1]
        put_visits = make_visits(checklist, 1, args.put_visits)
        # Encoded up front, as a phone's outbox holds them: the client measures the server.
        rounds = [
            [json.dumps({"visits": chunk[i : i + 100]}).encode() for i in range(0, len(chunk), 100)]
            for chunk in (make_visits(checklist, 2, args.batch_visits) for _ in range(args.rounds))
        ]
        put_bodies = [(v["id"], json.dumps(v).encode()) for v in put_visits]

        def put_worker(chunk: list[tuple[str, bytes]]) -> None:
            client = Client(port, token)
            for visit_id, body in chunk:
                status, _ = client.call("PUT", f"/api/v1/visits/{visit_id}", body)
                assert status == 201, status

        def batch_worker(chunk: list[bytes]) -> None:
            client = Client(port, token)
            for batch in chunk:
                status, body = client.call("POST", "/api/v1/sync/visits", batch)
                assert status == 200, body
                assert all(r["status"] in (200, 201) for r in body["results"]), body

        put_rate = len(put_visits) / parallel(put_bodies, put_worker, args.threads)
        batch_rates = [
            args.batch_visits / parallel(batches, batch_worker, args.threads) for batches in rounds
        ]
        batch_rate = statistics.median(batch_rates)
        size_before = db_bytes(data_dir)
        replay_rate = args.batch_visits / parallel(rounds[-1], batch_worker, args.threads)
        replay_growth = db_bytes(data_dir) - size_before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    # The same rows the batches stored, re-inserted `rounds` times (each into a fresh copy).
    limits = [raw_limit(data_dir, location_id=2) for _ in range(args.rounds)]
    limit = statistics.median(limits)
    shutil.rmtree(data_dir, ignore_errors=True)

    answers = len(answers_for(checklist))
    print(
        f"fieldobs ingest benchmark: {answers} answers per visit, synchronous=FULL, WAL, "
        f"gunicorn {args.workers} {args.worker_class} workers,"
        f" {args.threads} client threads, 2 cores shared"
    )
    print(
        f"  raw sqlite3 executemany of the same rows, one transaction (the limit):"
        f" {limit:,.0f} visits/s (median of {', '.join(f'{r:,.0f}' for r in limits)})"
    )
    print(
        f"  PUT /api/v1/visits/<id>, one visit per request:       {put_rate:10,.0f} visits/s"
        f"  ({put_rate / limit:6.1%} of the limit)"
    )
    print(
        f"  POST /api/v1/sync/visits, 100 per request:            {batch_rate:10,.0f} visits/s"
        f"  ({batch_rate / limit:6.1%} of the limit; target >= 25%)"
    )
    print(f"    rounds of {args.batch_visits:,}: {', '.join(f'{r:,.0f}' for r in batch_rates)}")
    print(
        f"  replayed batches (all 200):                           {replay_rate:10,.0f} visits/s"
        f"  (database grew by {replay_growth} bytes: a replay writes nothing)"
    )
    print(f"  batch / PUT: {batch_rate / put_rate:.1f}x")


if __name__ == "__main__":
    main()
