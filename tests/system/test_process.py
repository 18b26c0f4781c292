"""The server as a real process: crash safety, audit chain verification, configuration errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_PASSWORD
from tests.peers.server import ROOT, ServerProcess


def call(url: str, method: str = "GET", body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def login(url: str, username: str) -> str:
    status, body = call(url + "/api/v1/auth/login", "POST", {"username": username, "password": DEMO_PASSWORD})
    assert status == 200, body
    return body["access_token"]


def cli(var_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    e = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    e.update({"ECS_VAR_DIR": str(var_dir), **(env or {})})
    return subprocess.run([sys.executable, "-m", "command_server", *args], cwd=ROOT, env=e, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    srv = ServerProcess(tmp_path / "var", env={"ECS_SEED_DEMO_CITY": "false"}).start()
    yield srv
    srv.stop()


def test_kill_9_loses_nothing_acknowledged(server: ServerProcess) -> None:
    token = login(server.url, "operator")
    acked = []
    for i in range(30):
        status, body = call(server.url + "/api/v1/bulletins", "POST", {"text": f"值班通报 {i}"}, token)
        assert status == 201
        acked.append(body["id"])
    server.kill9()
    server.start()
    token = login(server.url, "operator")
    status, body = call(server.url + f"/api/v1/events?after={acked[0] - 1}&type=bulletin.&limit=100", token=token)
    assert status == 200
    assert [e["id"] for e in body["items"]] == acked
    server.stop()
    res = cli(server.var_dir, "audit", "verify")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "intact" in res.stdout


def test_audit_verify_names_the_first_altered_or_deleted_row(server: ServerProcess) -> None:
    token = login(server.url, "operator")
    for i in range(5):
        call(server.url + "/api/v1/bulletins", "POST", {"text": f"n{i}"}, token)
    server.stop()
    db = server.var_dir / "ecs.db"
    assert cli(server.var_dir, "audit", "verify").returncode == 0
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id FROM audit_log ORDER BY id").fetchall()
    assert len(rows) >= 10
    victim = rows[len(rows) // 2][0]
    con.execute("UPDATE audit_log SET detail = ? WHERE id = ?", (json.dumps({"text": "forged"}), victim))
    con.commit()
    res = cli(server.var_dir, "audit", "verify")
    assert res.returncode == 1
    assert f"row {victim}" in res.stdout
    # Deleting a row instead (after restoring nothing: the chain is already broken at victim, so delete earlier)
    earlier = rows[2][0]
    con.execute("DELETE FROM audit_log WHERE id = ?", (earlier,))
    con.commit()
    con.close()
    res = cli(server.var_dir, "audit", "verify")
    assert res.returncode == 1
    assert f"row {earlier}" in res.stdout and "missing" in res.stdout


def test_bad_configuration_stops_start_with_one_line(tmp_path: Path) -> None:
    res = cli(tmp_path, env={"ECS_PORT": "eighty"})
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "ECS_PORT" in lines[0]
    res = cli(tmp_path, env={"ECS_SM4_KEY": "xyz"})
    assert res.returncode == 2 and "ECS_SM4_KEY" in res.stderr
    res = cli(tmp_path, env={"DATABASE_URL": "mysql://x"})
    assert res.returncode == 2 and "DATABASE_URL" in res.stderr


def test_production_refuses_demo_secrets(tmp_path: Path) -> None:
    res = cli(tmp_path, env={"ECS_ENV": "production"})
    assert res.returncode == 2
    assert "ECS_SECRET_KEY" in res.stderr
    res = cli(tmp_path, env={"ECS_ENV": "production", "ECS_SECRET_KEY": "x" * 40,
                             "ECS_SM4_KEY": "a" * 32})
    assert res.returncode == 2 and "demo" in res.stderr


def test_production_refuses_while_demo_accounts_keep_demo_passwords(server: ServerProcess) -> None:
    server.stop()
    prod = {"ECS_ENV": "production", "ECS_SECRET_KEY": "s" * 40, "ECS_SM4_KEY": "a1" * 16,
            "ECS_SEED_DEMO": "false", "ECS_DEMO_PASSWORD": "Other-Pass-2026"}
    res = cli(server.var_dir, env=prod)
    assert res.returncode == 2
    assert "demo accounts" in res.stderr and "operator" in res.stderr
