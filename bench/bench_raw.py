"""The hardware limits the stores are measured against: raw commit rates and raw Valkey command rates.

Run: python bench/bench_raw.py [--seconds 3]
- SQLite: one-row transactions on a plain sqlite3 connection, WAL, synchronous=FULL (one fsync per commit).
- PostgreSQL: one-row INSERTs in autocommit on one psycopg connection (one WAL flush per commit).
- Valkey/Redis: round trips of raw redis-py commands on one connection: LPUSH+RPOP (what a queue hop needs at
  least) and SET NX PX + DEL (what a lock acquire + release needs at least).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from results_file import write
from stores import POSTGRES_URL, VALKEY_URL


def rate(seconds: float, once: Callable[[], object]) -> float:
    count, end = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < end:
        once()
        count += 1
    return count / (time.perf_counter() - started)


def sqlite_commits(seconds: float) -> float:
    folder = tempfile.mkdtemp(prefix="wfe-bench-raw-")
    try:
        conn = sqlite3.connect(Path(folder) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")

        def commit() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (v) VALUES ('x')")
            conn.execute("COMMIT")

        result = rate(seconds, commit)
        conn.close()
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def postgres_commits(seconds: float) -> float:
    import psycopg

    table = f"wfe_bench_raw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, v text)")
        try:
            return rate(seconds, lambda: conn.execute(f"INSERT INTO {table} (v) VALUES ('x')"))
        finally:
            conn.execute(f"DROP TABLE {table}")


def valkey_rates(seconds: float) -> dict[str, float]:
    import redis

    client = redis.Redis.from_url(VALKEY_URL)
    key = f"wfe-bench-raw-{uuid.uuid4().hex[:8]}"
    try:
        queue = rate(seconds, lambda: (client.lpush(key, "x"), client.rpop(key)))
        lock = rate(seconds, lambda: (client.set(key, "x", nx=True, px=30000), client.delete(key)))
        ping = rate(seconds, client.ping)
    finally:
        client.delete(key)
        client.close()
    return {"queue_roundtrips_per_s": queue, "lock_cycles_per_s": lock, "ping_per_s": ping}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    write("raw_sqlite", {"commits_per_s": sqlite_commits(args.seconds)})
    write("raw_postgres", {"commits_per_s": postgres_commits(args.seconds)})
    write("raw_valkey", valkey_rates(args.seconds))


if __name__ == "__main__":
    main()
