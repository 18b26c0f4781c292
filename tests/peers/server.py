"""Runs the real command server as a separate process (``python -m command_server``) for tests that need
one: crash recovery (kill -9), two processes sharing Redis, the browser tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    def __init__(self, var_dir: Path, *, port: int | None = None, env: dict[str, str] | None = None,
                 own_session: bool = False) -> None:
        """``own_session``: start the server in a session of its own (``setsid``), as a service manager
        would; the kernel's automatic task groups then share the CPU between it and its caller's session
        instead of counting them as one (bench/api_latency.py, whose load generator is that caller)."""
        self.var_dir = var_dir
        self.own_session = own_session
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "ECS_VAR_DIR": str(var_dir),
            "ECS_PORT": str(self.port),
            "ECS_HOST": "127.0.0.1",
            "ECS_ARGON2_TIME_COST": "1",
            "ECS_ARGON2_MEMORY_KIB": "8192",
            "ECS_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        for key in ("DATABASE_URL", "REDIS_URL"):  # a test states its backends explicitly
            if env is None or key not in env:
                self.env.pop(key, None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = var_dir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "command_server"], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=self.own_session)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not become ready: {self.log_path.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
