"""A real `bocage` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_bocage(command: str, data: Path, *, cwd: Path | None = None) -> Iterator[str]:
    """Start `bocage <command>` on a free port; yield its base URL once ready."""
    port = free_port()
    env = {**os.environ, "BOCAGE_DATABASE_URL": f"sqlite:///{data}/bocage.db"}
    log_path = data / f"{command}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bocage.cli", command, "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
                if proc.poll() is not None:
                    raise RuntimeError(f"bocage {command} died:\n{log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bocage {command} not ready in 30 s")
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
