"""The PostgreSQL server the PostgreSQL bench runs on, and a fresh database per measure.

One throwaway PostgreSQL 15 cluster (tests/postgres_server.py: initdb in a temp dir, a free port on
127.0.0.1, trust auth) with durable settings: fsync on, synchronous_commit on, full_page_writes on
(the defaults, spelled out). Ours, the raw driver and the peer all run on this one server, each
measure in its own new database, so only the client libraries differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests/postgres_server.py
    sys.path.insert(0, str(ROOT))

from tests.postgres_server import PostgresServer  # noqa: E402

DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def start_server() -> PostgresServer:
    return PostgresServer(settings=dict(DURABLE)).start()


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url`` (any database's URL)."""
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


async def fresh_database(server_url: str, name: str) -> str:
    """Drop and create database ``name``; return its URL. A checkpoint first, so a previous
    measure's dirty pages are not written during this one."""
    admin = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.execute("CHECKPOINT")
    finally:
        await admin.close()
    return database_url(server_url, name)


async def settings(server_url: str) -> dict[str, str]:
    """The server's version and durability settings, as it reports them."""
    conn = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        out = {"server_version": str(await conn.fetchval("SHOW server_version"))}
        for name in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "wal_level"):
            out[name] = str(await conn.fetchval(f"SHOW {name}"))
        return out
    finally:
        await conn.close()
